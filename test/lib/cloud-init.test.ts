import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { contentHash, dockerDaemonConfig, gpuVmUserDataInput, renderGpuVmUserData, snippetFileName, type GpuVmUserDataInput } from "../../lib/cloud-init";
import { GUEST_OS } from "../../lib/guest-os";
import type { EnvironmentConfig } from "../../lib/config/schema";
import { loadConfig } from "../../lib/config/load";
import { committedConfig, edit } from "../helpers/config";
import { tool } from "../helpers/process";

const input: GpuVmUserDataInput = {
  hostname: "private-gpu",
  fqdn: "private-gpu.private.lan",
  sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN0YWNrLWFkbWluLWV4YW1wbGUta2V5LW5vdC1yZWFs admin@ws"],
  os: "ubuntu-24.04",
  nvidia: true,
  nvidiaDriverPackage: "nvidia-driver-570-server-open",
  dataDevice: "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drive-scsi1",
  dataMountPoint: "/srv/data",
  env: "private",
};

function schemaCheck(content: string) {
  const dir = mkdtempSync(join(tmpdir(), "cloud-init-"));
  const file = join(dir, "user-data.yaml");
  writeFileSync(file, content);
  return spawnSync(tool("cloud-init"), ["schema", "--config-file", file], { encoding: "utf8" });
}

describe("GPU VM user-data", () => {
  const text = renderGpuVmUserData(input);
  const doc = parse(text);

  it("logs in with SSH keys only: no password anywhere, password auth off", () => {
    expect(doc.ssh_pwauth).toBe(false);
    expect(doc.disable_root).toBe(true);
    expect(doc.users[0]).toMatchObject({ lock_passwd: true, ssh_authorized_keys: input.sshKeys });
    expect(text).not.toMatch(/^\s*-?\s*(passwd|hashed_passwd|plain_text_passwd|password|chpasswd):/m);
    const sshd = doc.write_files.find((f: { path: string }) => f.path.startsWith("/etc/ssh/sshd_config.d/"));
    expect(sshd.content).toContain("PasswordAuthentication no");
  });

  it("installs the driver, Docker with the cgroupfs fix, the container toolkit, the agent and node exporter", () => {
    expect(doc.packages).toEqual(expect.arrayContaining(["nvidia-driver-570-server-open", "docker.io", "qemu-guest-agent", "prometheus-node-exporter"]));
    const daemon = JSON.parse(doc.write_files.find((f: { path: string }) => f.path === "/etc/docker/daemon.json").content);
    expect(daemon).toEqual(dockerDaemonConfig("/srv/data"));
    expect(daemon["exec-opts"]).toContain("native.cgroupdriver=cgroupfs");
    const cmds = doc.runcmd.map((c: string[]) => c.join(" ")).join("\n");
    expect(cmds).toContain("nvidia-ctk runtime configure --runtime=docker");
    expect(cmds).toContain("systemctl enable --now qemu-guest-agent");
    // The toolkit repository is added after its key, in the same command.
    expect(cmds).toMatch(/gpg --batch --yes --dearmor -o \S+ && printf/);
  });

  it("formats the data disk only if it has no filesystem, and mounts it by label", () => {
    // "auto", not "none": cloud-init formats a raw device given as "none" on every new instance (test/guests).
    expect(doc.fs_setup).toEqual([
      expect.objectContaining({ device: input.dataDevice, partition: "auto", overwrite: false, filesystem: "ext4", label: "aidata" }),
    ]);
    expect(doc.mounts[0].slice(0, 2)).toEqual(["LABEL=aidata", "/srv/data"]);
    expect(doc.mounts[0][3]).toContain("nofail");
  });

  it("refuses to render without an SSH key", () => {
    expect(() => renderGpuVmUserData({ ...input, sshKeys: [] })).toThrow(/SSH key/);
  });

  it("names snippets by content", () => {
    expect(snippetFileName("private-gpu", text)).toBe(`private-gpu-user-data-${contentHash(text)}.yaml`);
    expect(contentHash(renderGpuVmUserData({ ...input, nvidiaDriverPackage: "nvidia-driver-575-open" }))).not.toBe(contentHash(text));
    expect(contentHash(renderGpuVmUserData(input))).toBe(contentHash(text));
  });

  it("is valid for the real cloud-init schema, with no deprecations", () => {
    try {
      execFileSync(tool("cloud-init"), ["--version"]);
    } catch {
      throw new Error("cloud-init is not installed: `apt-get install cloud-init` (this test checks user-data with the real tool; .ci/run installs it)");
    }
    const result = schemaCheck(text);
    expect(result.stderr + result.stdout).toContain("Valid cloud-config");
    expect(result.status).toBe(0);
    expect(result.stdout + result.stderr).not.toMatch(/deprecat/i);
  });

  it("names the packages of the guest OS: Compose v2 where the release has it, Debian's driver from non-free", () => {
    const packages = (os: GpuVmUserDataInput["os"], driver: string) => parse(renderGpuVmUserData({ ...input, os, nvidiaDriverPackage: driver }));
    expect(packages("ubuntu-24.04", "nvidia-driver-570-server-open").packages).toContain("docker-compose-v2");
    const trixie = packages("debian-13", "nvidia-driver");
    expect(trixie.packages).toEqual(expect.arrayContaining(["docker-compose", "nvidia-driver"]));
    expect(trixie.apt.sources["ai-dualstack-driver"].source).toBe("deb $MIRROR $RELEASE contrib non-free non-free-firmware");
    const bookworm = packages("debian-12", "nvidia-driver");
    expect(bookworm.packages.filter((p: string) => p.startsWith("docker-compose"))).toEqual([]);
    expect(parse(text).apt).toEqual({ conf: 'APT::Install-Recommends "false";\n' });
  });

  it("without a GPU leaves out the driver, the toolkit and the reboot, and nothing else", () => {
    const off = parse(renderGpuVmUserData({ ...input, nvidia: false }));
    const on = parse(text);
    const cmds = (d: { runcmd: string[][] }) => d.runcmd.map((c) => c.join(" "));
    expect(off.packages).toEqual(on.packages.filter((p: string) => p !== input.nvidiaDriverPackage));
    expect(cmds(off)).toEqual(cmds(on).filter((c) => !/nvidia/.test(c)));
    expect(off.power_state).toBeUndefined();
    expect({ ...off, packages: 0, runcmd: 0 }).toEqual({ ...on, packages: 0, runcmd: 0, power_state: undefined });
  });

  it("fetches packages through the package cache when one is given", () => {
    const cached = parse(renderGpuVmUserData({ ...input, aptProxy: "http://10.10.0.16:3142" }));
    expect(cached.apt).toEqual({ conf: 'APT::Install-Recommends "false";\n', proxy: "http://10.10.0.16:3142" });
  });

  it("comes from the environment's config: the OS's default driver, and a driver of another OS is a config error", () => {
    const load = (gpuVm: Record<string, unknown>) => {
      const raw = committedConfig("public");
      const current = JSON.parse(raw.values["ai-dualstack:gpuVm"]);
      delete current.nvidiaDriverPackage;
      return loadConfig(edit(raw, "gpuVm", [], { ...current, ...gpuVm })).config as EnvironmentConfig;
    };
    expect(gpuVmUserDataInput(load({}))).toMatchObject({
      hostname: "public-gpu",
      os: "ubuntu-24.04",
      nvidia: true,
      nvidiaDriverPackage: "nvidia-driver-570-server-open",
    });
    expect(gpuVmUserDataInput(load({ os: "debian-12" })).nvidiaDriverPackage).toBe("nvidia-driver");
    expect(gpuVmUserDataInput(load({ os: "debian-12" }), "http://10.10.0.16:3142").aptProxy).toBe("http://10.10.0.16:3142");
    expect(() => load({ os: "debian-13", nvidiaDriverPackage: "nvidia-driver-570-server-open" })).toThrow(
      /ai-dualstack:gpuVm\.nvidiaDriverPackage: "nvidia-driver-570-server-open" is not an NVIDIA driver package of debian-13: expected one such as "nvidia-driver"/,
    );
    expect(() => load({ os: "debian-13", nvidia: false, nvidiaDriverPackage: "nvidia-driver-570-server-open" })).not.toThrow();
    expect(() => load({ os: "windows" })).toThrow(/ai-dualstack:gpuVm\.os: expected one of "ubuntu-24.04", "debian-12", "debian-13"/);
  });

  it.each(GUEST_OS.flatMap((os) => [true, false].map((nvidia) => [os, nvidia] as const)))(
    "%s (nvidia %s) is valid for the real cloud-init schema",
    (os, nvidia) => {
      const doc = renderGpuVmUserData({
        ...input,
        os,
        nvidia,
        nvidiaDriverPackage: os.startsWith("debian") ? "nvidia-driver" : input.nvidiaDriverPackage,
        aptProxy: "http://10.10.0.16:3142",
      });
      const result = schemaCheck(doc);
      expect(result.stderr + result.stdout).toContain("Valid cloud-config");
      expect(result.stdout + result.stderr).not.toMatch(/deprecat/i);
    },
  );

  it("the schema check rejects a broken document (the check can fail)", () => {
    const broken = text.replace("lock_passwd: true", 'lock_passwd: "yes please"');
    expect(schemaCheck(broken).status).not.toBe(0);
  });
});
