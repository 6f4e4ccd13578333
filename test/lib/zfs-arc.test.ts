// The ARC script, run for real by /bin/sh against a fake root (/etc/modprobe.d, /proc/cmdline, the zfs module's
// parameter in /sys) with update-initramfs replaced by a stub that records its arguments.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { stubTool } from "../helpers/script-stubs";
import { ARC_CONF, renderArcScript } from "../../lib/zfs-arc";

const EIGHT_GIB = 8 * 1024 ** 3;
let root: string;
let bin: string;

const run = (script: string) => {
  const r = spawnSync("sh", ["-c", script], { encoding: "utf8", env: { PATH: `${bin}:${process.env.PATH}`, ROOT: root } });
  return { code: r.status, out: r.stdout + r.stderr };
};
const read = (path: string) => readFileSync(join(root, path), "utf8");
const file = (path: string, content: string) => {
  mkdirSync(join(root, path, ".."), { recursive: true });
  writeFileSync(join(root, path), content);
};
const calls = () => (existsSync(join(root, "calls.log")) ? read("calls.log").trim().split("\n") : []);
const PARAM = "sys/module/zfs/parameters/zfs_arc_max";

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "zfs-arc-"));
  bin = join(root, "stub-bin");
  mkdirSync(bin);
  stubTool(bin, "$ROOT/calls.log", "update-initramfs");
  // A PVE 8.1 install on a ZFS root: the installer's limit (10% of 128 GiB), and the running module at it.
  file("proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz root=ZFS=rpool/ROOT/pve-1 boot=zfs\n");
  file("etc/modprobe.d/zfs.conf", "options zfs zfs_arc_max=13743895347\n");
  file("etc/modprobe.d/other.conf", "options zfs zfs_arc_min=1073741824 zfs_arc_max=1 zfs_prefetch_disable=1\nblacklist foo\n");
  file(PARAM, "13743895347\n");
  return () => rmSync(root, { recursive: true, force: true });
});

describe("the ZFS ARC maximum", () => {
  it("replaces every other zfs_arc_max, sets the running module and rebuilds the initramfs of a ZFS root", () => {
    const r = run(renderArcScript(EIGHT_GIB));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("RESULT: changed");
    expect(read(ARC_CONF)).toBe(
      `# Managed by ai-dualstack: the ZFS ARC's maximum (ai-dualstack:nodes[].memory.zfsArcMaxGiB).\noptions zfs zfs_arc_max=${EIGHT_GIB}\n`,
    );
    // The installer's line is gone (a bare "options zfs" would be left), other options and lines stay.
    expect(read("etc/modprobe.d/zfs.conf")).toBe("");
    expect(read("etc/modprobe.d/other.conf")).toBe("options zfs zfs_arc_min=1073741824 zfs_prefetch_disable=1\nblacklist foo\n");
    expect(read(PARAM).trim()).toBe(String(EIGHT_GIB));
    expect(calls()).toEqual(["update-initramfs -u -k all"]);
  });

  it("changes nothing the second time", () => {
    expect(run(renderArcScript(EIGHT_GIB)).code).toBe(0);
    rmSync(join(root, "calls.log"));
    const r = run(renderArcScript(EIGHT_GIB));
    expect([r.code, r.out.trim()]).toEqual([0, "RESULT: unchanged"]);
    expect(calls()).toEqual([]);
  });

  it("sets the running limit again when something else changed it, without an initramfs", () => {
    expect(run(renderArcScript(EIGHT_GIB)).code).toBe(0);
    rmSync(join(root, "calls.log"));
    file(PARAM, "0\n");
    const r = run(renderArcScript(EIGHT_GIB));
    expect(r.out).toContain(`running zfs_arc_max: 0 -> ${EIGHT_GIB}`);
    expect(calls()).toEqual([]);
  });

  it("leaves the initramfs alone when the root is not on ZFS", () => {
    file("proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz root=/dev/mapper/pve-root ro quiet\n");
    expect(run(renderArcScript(EIGHT_GIB)).code).toBe(0);
    expect(calls()).toEqual([]);
  });

  it("fails, naming the file, when the zfs module is not loaded", () => {
    rmSync(join(root, "sys"), { recursive: true });
    const r = run(renderArcScript(EIGHT_GIB));
    expect(r.code).toBe(1);
    expect(r.out).toContain(`PROBLEM: the zfs module is not loaded (${root}/${PARAM} is missing)`);
  });

  it("fails when the kernel keeps another limit (a value at or below zfs_arc_min is ignored)", () => {
    // A parameter file that does not take the write: the script reads back what the kernel holds.
    const r = run(renderArcScript(EIGHT_GIB).replace('echo "$want" > "$param"', ": > /dev/null"));
    expect(r.code).toBe(1);
    expect(r.out).toContain(`PROBLEM: the running zfs_arc_max is 13743895347 after setting ${EIGHT_GIB}`);
  });

  it("refuses a limit below 64 MiB", () => {
    expect(() => renderArcScript(1024)).toThrow("expected at least 64 MiB, got 1024");
  });
});
