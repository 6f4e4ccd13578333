// `dualstack plan` as a user runs it: through main() for most checks, and once through the package bin.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../ops/cli";
import { ROOT, stackFile } from "../helpers/config";

async function dualstack(...args: string[]) {
  let out = "";
  let err = "";
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

function withConfig(stack: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), "cfg-"));
  const file = join(dir, `Pulumi.${stack}.yaml`);
  writeFileSync(file, edit(readFileSync(stackFile(stack as "host"), "utf8")));
  writeFileSync(join(dir, "Pulumi.host.yaml"), readFileSync(stackFile("host"), "utf8"));
  return file;
}

describe("dualstack plan", () => {
  it.each(["host", "private", "public"])("%s prints a tree and counts, exit 0", async (stack) => {
    const r = await dualstack("plan", stack);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^pulumi:Stack ai-dualstack-${stack}`));
    expect(r.out).toMatch(new RegExp(`\\d+ resources in stack ${stack} \\(role ${stack}\\):`));
  });

  it("--json for private holds the VM on the private GPU mapping, unprivileged LXCs and firewalled NICs", async () => {
    const r = await dualstack("plan", "private", "--json");
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.out);
    expect(plan.stack).toBe("private");
    const vms = plan.resources.filter((x: any) => x.type === "proxmoxve:index/vmLegacy:VmLegacy" && x.inputs.hostpcis?.length);
    expect(vms).toHaveLength(1);
    expect(vms[0].inputs.hostpcis[0].mapping).toBe("rtx5090");
    const cts = plan.resources.filter((x: any) => x.type === "proxmoxve:index/containerLegacy:ContainerLegacy");
    expect(cts.length).toBeGreaterThan(0);
    for (const ct of cts) expect(ct.inputs.unprivileged).toBe(true);
    const nics = [...vms, ...cts].flatMap((g: any) => g.inputs.networkDevices ?? g.inputs.networkInterfaces);
    expect(nics.length).toBe(3);
    for (const nic of nics) expect(nic.firewall).toBe(true);
    for (const res of plan.resources) expect(Object.keys(res).sort()).toEqual(["inputs", "name", "options", "parent", "type", "urn"]);
    expect(r.out).toContain('"apiToken": "[secret]"');
  });

  it("--diagram prints a mermaid flowchart of zones, guests and GPUs", async () => {
    const r = await dualstack("plan", "host", "--diagram");
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe("flowchart LR");
    expect(r.out).toContain('subgraph zone_vmbr20["private zone · vmbr20"]');
    expect(r.out).toContain("gpu_rtx5090 -.->|reserved for| zone_vmbr20");
    const priv = await dualstack("plan", "private", "--diagram");
    expect(priv.out).toContain("gpu_rtx5090 ==>|passthrough| VM_200_private_gpu");
  });

  it.each([
    ["a wrong type", (t: string) => t.replace("memoryGiB: 64", "memoryGiB: lots"), "ai-dualstack:gpuVm.memoryGiB: expected a whole number"],
    ["an unknown key", (t: string) => t.replace("cores: 16", "coers: 16"), "ai-dualstack:gpuVm.coers: unknown key"],
    ["a missing required key", (t: string) => t.replace(/  ai-dualstack:node: pve1\n/, ""), "ai-dualstack:node: expected a lower-case DNS label"],
    ["an out-of-range value", (t: string) => t.replace("vmId: 200", "vmId: 7"), "ai-dualstack:gpuVm.vmId: expected a whole number from 100"],
  ])("--config with %s exits 2 naming the key, with no stack trace", async (_what, edit, message) => {
    const r = await dualstack("plan", "private", "--config", withConfig("private", edit));
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain(message);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it("bad arguments and missing files exit 2", async () => {
    expect((await dualstack("plan")).code).toBe(2);
    expect((await dualstack("plan", "host", "--bogus")).code).toBe(2);
    expect((await dualstack("frobnicate")).code).toBe(2);
    const missing = await dualstack("plan", "staging");
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("no stack config file");
    const traversal = await dualstack("plan", "../etc/passwd");
    expect(traversal.code).toBe(2);
  });

  it("--help exits 0", async () => {
    const r = await dualstack("plan", "--help");
    expect(r.code).toBe(0);
    expect(r.out).toContain("--diagram");
  });

  it("works through the package bin in a fresh process", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "ops/bin/dualstack.js"), "plan", "public", "--json"], { encoding: "utf8", cwd: ROOT });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).resources.length).toBeGreaterThan(10);
    const bad = spawnSync(process.execPath, [join(ROOT, "ops/bin/dualstack.js"), "plan", "public", "--config", "/nonexistent.yaml"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
  }, 60_000);
});

describe("dualstack capacity", () => {
  it.each(["private", "public"])("%s prints the table and exits 0 (every shipped deployment fits)", async (stack) => {
    const r = await dualstack("capacity", stack);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^GPU rtx-/);
    expect(r.out).toContain("— fits");
  });

  it("--json holds every deployment with its numbers", async () => {
    const r = await dualstack("capacity", "private", "--json");
    const report = JSON.parse(r.out);
    expect(report.stack).toBe("private");
    expect(report.models.map((m: any) => m.name)).toEqual(["qwen2.5:14b", "second-brain:32b"]);
    for (const m of report.models) expect(Object.keys(m)).toEqual(expect.arrayContaining(["weightsBytes", "kvBytes", "totalBytes", "vramBytes", "fits", "ceilingTokensPerSecond"]));
  });

  it("exits 1 when a deployment does not fit", async () => {
    const file = withConfig("public", (t) => t.replace("    - name: mistral:7b\n", "    - name: qwen2.5:32b\n"));
    const r = await dualstack("capacity", "public", "--config", file);
    expect(r.code).toBe(1);
    expect(r.out).toContain("NO");
  });

  it("answers ad hoc for any catalog pair", async () => {
    const r = await dualstack("capacity", "--model", "qwen2.5:14b", "--gpu", "rtx-3060-12gb", "--ctx", "8192", "--parallel", "1", "--kv", "f16", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      model: "qwen2.5:14b", gpu: "rtx-3060-12gb", context: 8192, parallel: 1, kvCacheType: "f16",
      weightsBytes: 8_988_124_298, kvBytes: 1536 * 1024 ** 2, totalBytes: 8_988_124_298 + 1536 * 1024 ** 2 + 1024 ** 3,
      vramBytes: 12 * 1024 ** 3, fits: true, ceilingTokensPerSecond: 360e9 / 8_988_124_298,
    });
    expect((await dualstack("capacity", "--model", "qwen2.5:32b", "--gpu", "rtx-3060-12gb")).code).toBe(1);
  });

  it("names the known entries for an unknown model or GPU, and checks its numbers", async () => {
    const m = await dualstack("capacity", "--model", "llama3:70b", "--gpu", "rtx-5090");
    expect(m.code).toBe(2);
    expect(m.err).toContain("known: mistral:7b, qwen2.5:14b, qwen2.5:32b");
    const g = await dualstack("capacity", "--model", "mistral:7b", "--gpu", "h100");
    expect(g.err).toContain("known: rtx-3060-12gb, rtx-4090, rtx-5090");
    expect((await dualstack("capacity", "--model", "mistral:7b", "--gpu", "rtx-5090", "--ctx", "lots")).code).toBe(2);
    expect((await dualstack("capacity", "--model", "mistral:7b", "--gpu", "rtx-5090", "--kv", "fp8")).code).toBe(2);
    expect((await dualstack("capacity")).code).toBe(2);
  });

  it("the host stack deploys no models", async () => {
    const r = await dualstack("capacity", "host");
    expect(r).toMatchObject({ code: 0, out: "stack host (role host) deploys no models\n" });
  });

  it("plan shows the same table", async () => {
    const r = await dualstack("plan", "public");
    expect(r.out).toContain("Capacity:\nGPU rtx-3060-12gb");
  });
});
