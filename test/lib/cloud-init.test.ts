import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { contentHash, dockerDaemonConfig, renderGpuVmUserData, snippetFileName } from "../../lib/cloud-init";
import { tool } from "../helpers/process";

const input = {
  hostname: "private-gpu",
  fqdn: "private-gpu.private.lan",
  sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN0YWNrLWFkbWluLWV4YW1wbGUta2V5LW5vdC1yZWFs admin@ws"],
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
    expect(doc.fs_setup).toEqual([expect.objectContaining({ device: input.dataDevice, overwrite: false, filesystem: "ext4", label: "aidata" })]);
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

  it("the schema check rejects a broken document (the check can fail)", () => {
    const broken = text.replace("lock_passwd: true", 'lock_passwd: "yes please"');
    expect(schemaCheck(broken).status).not.toBe(0);
  });
});
