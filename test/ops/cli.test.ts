// `dualstack plan` as a user runs it: through main() for most checks, and once through the package bin.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
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
    ["a wrong type", (t: string) => t.replace("memoryGiB: 40", "memoryGiB: lots"), "ai-dualstack:gpuVm.memoryGiB: expected a whole number"],
    ["an unknown key", (t: string) => t.replace("cores: 16", "coers: 16"), "ai-dualstack:gpuVm.coers: unknown key"],
    ["a missing required key", (t: string) => t.replace(/ {2}ai-dualstack:node: pve1\n/, ""), "ai-dualstack:node: expected a lower-case DNS label"],
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
    for (const m of report.models)
      expect(Object.keys(m)).toEqual(expect.arrayContaining(["weightsBytes", "kvBytes", "totalBytes", "vramBytes", "fits", "ceilingTokensPerSecond"]));
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
      model: "qwen2.5:14b",
      gpu: "rtx-3060-12gb",
      context: 8192,
      parallel: 1,
      kvCacheType: "f16",
      weightsBytes: 8_988_124_298,
      kvBytes: 1536 * 1024 ** 2,
      totalBytes: 8_988_124_298 + 1536 * 1024 ** 2 + 1024 ** 3,
      vramBytes: 12 * 1024 ** 3,
      fits: true,
      ceilingTokensPerSecond: 360e9 / 8_988_124_298,
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
  });

  it("without a stack shows the whole box: RAM per node and environment, VRAM per GPU", async () => {
    const r = await dualstack("capacity");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^node pve1: 128 GiB of RAM — fits\n/);
    expect(r.out).toMatch(/\n {2}private +52 {2}budget; its guests take 50 GiB \(gpu-vm 40 GiB, postgres 8 GiB, redis 2 GiB\)\n/);
    expect(r.out).toMatch(/\n {2}unassigned +13\n/);
    expect(r.out).toContain("rtx5090 (NVIDIA GeForce RTX 5090) on pve1 → private: Ollama, up to 2 of 2 model(s) loaded: 30.61 GiB of 31.84 GiB VRAM — fits");
    expect(r.out).toContain("rtx3060 (NVIDIA GeForce RTX 3060 12GB) on pve1 → public:");
    const box = JSON.parse((await dualstack("capacity", "--json")).out);
    expect(box.nodes.map((n: any) => [n.node, n.usedBytes / 1024 ** 3, n.totalBytes / 1024 ** 3])).toEqual([["pve1", 115, 128]]);
    // The every-tier examples describe a bigger box; both environments' files beside the host's are read.
    const big = await dualstack("capacity", "--config", join(ROOT, "examples/catalog/Pulumi.host.yaml"));
    expect(big.code).toBe(0);
    expect(big.out).toContain("vLLM serves Qwen/Qwen2.5-14B-Instruct-AWQ");
    // An environment over its budget: exit 1, and the table says which.
    const file = withConfig("private", (t) => t.replace("    memoryGiB: 40\n", "    memoryGiB: 60\n"));
    const over = await dualstack("capacity", "--config", join(file, "..", "Pulumi.host.yaml"));
    expect(over.code).toBe(1);
    expect(over.out).toContain("budget; its guests take 70 GiB (gpu-vm 60 GiB, postgres 8 GiB, redis 2 GiB) — OVER BUDGET");
    // An invalid environment file beside the host's: the box is still shown, that environment named as unusable.
    const broken = withConfig("public", (t) => t.replace("    memoryGiB: 24\n", "    memoryGiB: lots\n"));
    const partial = await dualstack("capacity", "--config", join(broken, "..", "Pulumi.host.yaml"));
    expect(partial.code).toBe(1);
    expect(partial.out).toMatch(
      /\n {2}public +32 {2}budget; .*Pulumi\.public\.yaml is not a valid public stack config \(1 problem\(s\): `dualstack plan public` lists them\)\n/,
    );
  });

  it("the host stack deploys no models", async () => {
    const r = await dualstack("capacity", "host");
    expect(r).toMatchObject({ code: 0, out: "stack host (role host) deploys no models\n" });
  });

  it("plan shows the same table", async () => {
    const r = await dualstack("plan", "public");
    expect(r.out).toContain("Capacity:\nGPU rtx-3060-12gb");
    expect(r.out).toContain("host memory on pve1: gpu-vm 24 GiB + postgres 4 GiB + redis 2 GiB = 30 GiB of the 32 GiB budget — fits");
    const host = await dualstack("plan", "host");
    expect(host.out).toContain("Capacity (the whole box):\nnode pve1: 128 GiB of RAM — fits");
  });
});

describe("the CLI's edges", () => {
  const bin = join(ROOT, "ops/bin/dualstack.js");

  it("nothing it prints is cut, whatever stdout is: a slow pipe gets the whole plan --json, as a file does", () => {
    const dir = mkdtempSync(join(tmpdir(), "out-"));
    const toFile = spawnSync("bash", ["-c", `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} plan host --json > ${dir}/plan.json`], {
      cwd: ROOT,
      timeout: 60_000,
    });
    expect(toFile.status).toBe(0);
    const size = statSync(join(dir, "plan.json")).size;
    expect(size).toBeGreaterThan(65_536 * 2);
    // The reader starts late, so the pipe's buffer is full while the CLI finishes; before, it exited with 128 KiB of
    // the output written and the rest lost.
    const piped = spawnSync("bash", ["-c", `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} plan host --json | (sleep 2; wc -c)`], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(Number(piped.stdout.trim())).toBe(size);
  }, 90_000);

  it("a stack file that is not UTF-8 is refused with exit 2, naming the file, line and column", async () => {
    const dir = mkdtempSync(join(tmpdir(), "enc-"));
    const file = join(dir, "Pulumi.private.yaml");
    const text = readFileSync(stackFile("private"), "utf8").replace("ai-dualstack:role: private", "ai-dualstack:role: private\n  # caf\u00e9");
    writeFileSync(file, Buffer.from(text, "latin1"));
    writeFileSync(join(dir, "Pulumi.host.yaml"), readFileSync(stackFile("host")));
    const line = text.split("\n").findIndex((l) => l.includes("caf")) + 1;
    const r = await dualstack("plan", "private", "--config", file);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`error: ${file}:${line}:8: not valid UTF-8 (byte 0xe9); save the file as UTF-8\n`);
    // A valid UTF-8 é in the same place is fine.
    writeFileSync(file, text);
    expect((await dualstack("plan", "private", "--config", file)).code).toBe(0);
  });

  it("drift, both drills and bench without the Pulumi CLI say what to install: exit 2, one line, no stack trace", async () => {
    const saved = process.env.PATH;
    process.env.PATH = mkdtempSync(join(tmpdir(), "nopath-"));
    try {
      for (const args of [
        ["drift", "host"],
        ["drill", "rebuild", "public", "--yes"],
        ["drill", "restore", "public"],
        ["bench", "public"],
      ]) {
        const r = await dualstack(...args);
        expect(r.code, args.join(" ")).toBe(2);
        expect(r.err).toMatch(/^error: the Pulumi CLI is not on PATH: install it \(https:\/\/www\.pulumi\.com\/docs\/install\/\).*\n$/);
      }
    } finally {
      process.env.PATH = saved;
    }
  });

  it("an internal error is one line, its stack trace only with --debug; exit 1", () => {
    const script = (debug: boolean) =>
      `require("tsx/cjs"); require(${JSON.stringify(join(ROOT, "ops/cli.ts"))}).run(["drift", "host"${debug ? ', "--debug"' : ""}], { workspace: { refreshPreview: async () => { throw new Error("the engine fell over"); } } });`;
    const plain = spawnSync(process.execPath, ["-e", script(false)], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(plain.status).toBe(1);
    expect(plain.stderr).toBe("dualstack: internal error: the engine fell over (--debug shows where)\n");
    const debug = spawnSync(process.execPath, ["-e", script(true)], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(debug.status).toBe(1);
    expect(debug.stderr).toMatch(/^dualstack: internal error: Error: the engine fell over\n\s+at /);
  }, 90_000);

  it('--version prints the package\'s version; argument errors are not headed "invalid configuration"', async () => {
    const v = await dualstack("--version");
    expect(v.code).toBe(0);
    expect(v.out).toBe(`${JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version}\n`);
    for (const [args, message] of [
      [["bench", "public", "--tokens", "lots"], 'error: --tokens: expected a whole number from 1 to 4096, got "lots"\n'],
      [["plan", "no/such"], 'error: stack: expected a stack name such as "host", "private" or "public", got "no/such"\n'],
      [
        ["capacity", "--model", "qwen2.5:14b"],
        "error: capacity: give a stack (private, public), both --model and --gpu for an ad-hoc answer, or neither for the whole box\n",
      ],
      [["bench", "public", "--url", "http://127.0.0.1:1", "--ca", "/nonexistent/ca.pem"], "error: --ca: cannot read /nonexistent/ca.pem: ENOENT\n"],
    ] as const) {
      const r = await dualstack(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toBe(message);
    }
  });
});
