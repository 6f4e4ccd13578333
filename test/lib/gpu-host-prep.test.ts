// The host-preparation scripts, run for real by /bin/sh and bash against a fake root (/etc, /sys, /proc) with the
// system tools they call replaced by stubs that record their arguments.
import { spawnSync } from "node:child_process";
import { run as runAsync } from "../helpers/process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { stubTool } from "../helpers/script-stubs";
import {
  REBOOT_MARKER,
  renderPrepareScript,
  renderRebootScript,
  renderVerifyScript,
  renderWaitScript,
  vfioIds,
  type HostPrepInput,
} from "../../lib/gpu-host-prep";

const GPUS: HostPrepInput["gpus"] = [
  { mapping: "rtx5090", deviceId: "10de:2b85", companionIds: ["10de:22e8"], path: "0000:02:00", iommuGroup: 14, subsystemId: "10de:2104" },
  { mapping: "rtx3060", deviceId: "10de:2504", companionIds: ["10de:228e"], path: "0000:03:00", iommuGroup: 15, subsystemId: "1458:4074" },
];

let root: string;
let bin: string;

function run(script: string, env: Record<string, string> = {}, shell = "sh") {
  const r = spawnSync(shell, [...(shell === "bash" ? ["--norc", "--noprofile"] : []), "-c", script], {
    encoding: "utf8",
    env: { PATH: `${bin}:${process.env.PATH}`, ROOT: root, ...env },
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

function calls(): string[] {
  const f = join(root, "calls.log");
  return existsSync(f) ? readFileSync(f, "utf8").trim().split("\n") : [];
}

function file(path: string, content: string) {
  mkdirSync(join(root, path, ".."), { recursive: true });
  writeFileSync(join(root, path), content);
}

/** A PCI device in the fake sysfs: ids, IOMMU group, driver. */
function pciDevice(addr: string, ids: { vendor: string; device: string; subVendor: string; subDevice: string }, group: number, driver: string) {
  const dev = join(root, "sys/bus/pci/devices", addr);
  mkdirSync(dev, { recursive: true });
  writeFileSync(join(dev, "vendor"), `0x${ids.vendor}\n`);
  writeFileSync(join(dev, "device"), `0x${ids.device}\n`);
  writeFileSync(join(dev, "subsystem_vendor"), `0x${ids.subVendor}\n`);
  writeFileSync(join(dev, "subsystem_device"), `0x${ids.subDevice}\n`);
  const groupDir = join(root, "sys/kernel/iommu_groups", String(group));
  mkdirSync(join(groupDir, "devices"), { recursive: true });
  symlinkSync(dev, join(groupDir, "devices", addr));
  symlinkSync(groupDir, join(dev, "iommu_group"));
  const drv = join(root, "sys/bus/pci/drivers", driver);
  mkdirSync(drv, { recursive: true });
  symlinkSync(drv, join(dev, "driver"));
}

function healthyHost() {
  file("proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on iommu=pt\n");
  pciDevice("0000:02:00.0", { vendor: "10de", device: "2b85", subVendor: "10de", subDevice: "2104" }, 14, "vfio-pci");
  pciDevice("0000:02:00.1", { vendor: "10de", device: "22e8", subVendor: "10de", subDevice: "2104" }, 14, "vfio-pci");
  pciDevice("0000:03:00.0", { vendor: "10de", device: "2504", subVendor: "1458", subDevice: "4074" }, 15, "vfio-pci");
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "hostprep-"));
  bin = join(root, "stub-bin");
  mkdirSync(bin);
  for (const tool of ["proxmox-boot-tool", "update-grub", "update-initramfs", "systemd-run"]) stubTool(bin, "$ROOT/calls.log", tool);
  return () => rmSync(root, { recursive: true, force: true });
});

describe("prepare", () => {
  const input: HostPrepInput = { cpuVendor: "intel", bootloader: "auto", gpus: GPUS };

  it("on a systemd-boot (ZFS root) host: cmdline, vfio ids, blacklist, initramfs, reboot marker; then idempotent", () => {
    mkdirSync(join(root, "sys/firmware/efi"), { recursive: true });
    file("etc/kernel/cmdline", "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n");
    const first = run(renderPrepareScript(input));
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain("bootloader: systemd-boot");
    expect(first.out).toContain("RESULT: changed, reboot required");
    expect(readFileSync(join(root, "etc/kernel/cmdline"), "utf8")).toBe("root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on iommu=pt\n");
    expect(readFileSync(join(root, "etc/modprobe.d/ai-dualstack-vfio.conf"), "utf8")).toContain(
      "options vfio-pci ids=10de:228e,10de:22e8,10de:2504,10de:2b85 disable_vga=1",
    );
    expect(readFileSync(join(root, "etc/modprobe.d/ai-dualstack-blacklist-gpu.conf"), "utf8")).toContain("blacklist nouveau");
    expect(readFileSync(join(root, "etc/modules-load.d/ai-dualstack-vfio.conf"), "utf8")).toBe("vfio\nvfio_iommu_type1\nvfio_pci\n");
    expect(calls()).toEqual(["proxmox-boot-tool refresh", "update-initramfs -u -k all"]);
    expect(existsSync(join(root, REBOOT_MARKER))).toBe(true);

    rmSync(join(root, REBOOT_MARKER));
    const second = run(renderPrepareScript(input));
    expect(second.code, second.out).toBe(0);
    expect(second.out).toContain("RESULT: unchanged");
    expect(calls()).toHaveLength(2);
    expect(existsSync(join(root, REBOOT_MARKER))).toBe(false);
  });

  it("on a GRUB host: edits GRUB_CMDLINE_LINUX_DEFAULT once and runs update-grub", () => {
    file("etc/default/grub", 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n');
    const first = run(renderPrepareScript(input));
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain("bootloader: grub");
    expect(readFileSync(join(root, "etc/default/grub"), "utf8")).toContain('GRUB_CMDLINE_LINUX_DEFAULT="quiet intel_iommu=on iommu=pt"');
    expect(calls()).toContain("update-grub ");
    const second = run(renderPrepareScript(input));
    expect(second.out).toContain("RESULT: unchanged");
    expect(readFileSync(join(root, "etc/default/grub"), "utf8").match(/intel_iommu=on/g)).toHaveLength(1);
  });

  it("honours an explicit bootloader and AMD's arguments", () => {
    file("etc/kernel/cmdline", "root=ZFS=rpool/ROOT/pve-1\n");
    const r = run(renderPrepareScript({ ...input, cpuVendor: "amd", bootloader: "systemd-boot" }));
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(join(root, "etc/kernel/cmdline"), "utf8")).toBe("root=ZFS=rpool/ROOT/pve-1 iommu=pt\n");
  });

  it("fails loudly (set -e) when a tool fails, leaving no reboot marker", () => {
    file("etc/kernel/cmdline", "root=ZFS=rpool/ROOT/pve-1\n");
    mkdirSync(join(root, "sys/firmware/efi"), { recursive: true });
    writeFileSync(join(bin, "proxmox-boot-tool"), "#!/bin/sh\necho 'refresh failed' >&2; exit 3\n");
    const r = run(renderPrepareScript(input));
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("refresh failed");
    expect(existsSync(join(root, REBOOT_MARKER))).toBe(false);
  });

  it("collects the vfio ids of every GPU function once", () => {
    expect(vfioIds(GPUS)).toEqual(["10de:228e", "10de:22e8", "10de:2504", "10de:2b85"]);
    expect(() => renderPrepareScript({ ...input, gpus: [] })).toThrow(/no GPU/);
  });
});

describe("reboot", () => {
  it("reboots only when prepare left its marker", () => {
    expect(run(renderRebootScript()).out).toContain("NO_REBOOT");
    expect(calls()).toEqual([]);
    file(REBOOT_MARKER.slice(1), "");
    expect(run(renderRebootScript()).out).toContain("REBOOTING");
    expect(calls()).toEqual(["systemd-run --on-active=5 --unit=ai-dualstack-reboot /bin/systemctl reboot"]);
  });
});

describe("verify", () => {
  const input: HostPrepInput = { cpuVendor: "intel", bootloader: "auto", gpus: GPUS };

  it("passes on a host where every GPU is alone in its group and bound to vfio-pci", () => {
    healthyHost();
    const r = run(renderVerifyScript(input));
    expect(r.out).toContain("OK: 2 GPU(s) ready for passthrough");
    expect(r.code).toBe(0);
  });

  it("names each problem: shared IOMMU group, wrong driver, wrong group, wrong subsystem, missing cmdline arg", () => {
    healthyHost();
    pciDevice("0000:00:1c.0", { vendor: "8086", device: "7a38", subVendor: "8086", subDevice: "7270" }, 15, "pcieport");
    file("proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz root=ZFS=rpool/ROOT/pve-1 iommu=pt\n");
    const bad = GPUS.map((g) => (g.mapping === "rtx5090" ? { ...g, iommuGroup: 13, subsystemId: "10de:0000" } : g));
    const r = run(renderVerifyScript({ ...input, gpus: bad }));
    expect(r.code).toBe(1);
    expect(r.out).toContain("PROBLEM: kernel command line lacks intel_iommu=on");
    expect(r.out).toContain("PROBLEM: GPU rtx5090: IOMMU group is 14, the mapping says 13");
    expect(r.out).toContain("PROBLEM: GPU rtx5090: subsystem id is 10de:2104, the mapping says 10de:0000");
    expect(r.out).toContain("PROBLEM: GPU rtx3060: IOMMU group 15 also holds 0000:00:1c.0");
    expect(r.out).not.toContain("OK:");
  });

  it("reports a GPU still bound to the host driver, and a missing device", () => {
    file("proc/cmdline", "intel_iommu=on iommu=pt\n");
    pciDevice("0000:02:00.0", { vendor: "10de", device: "2b85", subVendor: "10de", subDevice: "2104" }, 14, "nvidia");
    const r = run(renderVerifyScript(input));
    expect(r.code).toBe(1);
    expect(r.out).toContain("PROBLEM: GPU rtx5090: bound to nvidia, expected vfio-pci");
    expect(r.out).toContain("PROBLEM: GPU rtx3060: no PCI device at 0000:03:00.0");
  });
});

describe("wait", () => {
  it("returns at once when no reboot was scheduled", () => {
    const r = run(renderWaitScript(), { HOST: "127.0.0.1", REBOOT_STATUS: "NO_REBOOT" }, "bash");
    expect(r).toEqual({ code: 0, out: "no reboot was needed\n" });
  });

  it("waits for the port to go down and come back", async () => {
    const listen = (port: number) =>
      new Promise<Server>((resolve) => {
        const s = createServer((c) => c.destroy());
        s.listen(port, "127.0.0.1", () => resolve(s));
      });
    let server = await listen(0);
    const port = (server.address() as { port: number }).port;
    const started = Date.now();
    const child = runAsync("bash", ["--norc", "--noprofile", "-c", renderWaitScript()], {
      env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), SETTLE: "0", REBOOT_STATUS: "REBOOTING" },
      timeoutMs: 25_000,
    });
    await new Promise((r) => setTimeout(r, 1500));
    await new Promise((r) => server.close(r)); // the host goes down…
    await new Promise((r) => setTimeout(r, 3000));
    server = await listen(port); // …and comes back
    const result = await child;
    server.close();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("127.0.0.1 is back");
    expect(Date.now() - started).toBeGreaterThan(4000);
  }, 30_000);
});
