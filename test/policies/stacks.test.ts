// Configurations that cross the line, each caught by `dualstack policy` with the rule meant for it (exit 1).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../ops/cli";
import { stackFile } from "../helpers/config";

async function policy(stack: string, files: { host?: (t: string) => string; env?: (t: string) => string }) {
  const dir = mkdtempSync(join(tmpdir(), "policy-"));
  writeFileSync(join(dir, "Pulumi.host.yaml"), (files.host ?? ((t) => t))(readFileSync(stackFile("host"), "utf8")));
  writeFileSync(join(dir, `Pulumi.${stack}.yaml`), (files.env ?? ((t) => t))(readFileSync(stackFile(stack as "public"), "utf8")));
  let out = "";
  let err = "";
  const code = await main(["policy", stack, "--json", "--config", join(dir, `Pulumi.${stack}.yaml`)], { out: (t) => (out += t), err: (t) => (err += t) });
  if (err) throw new Error(err);
  const { violations } = JSON.parse(out) as { violations: { policy: string; enforcement: string; message: string }[] };
  return { code, mandatory: [...new Set(violations.filter((v) => v.enforcement === "mandatory").map((v) => v.policy))].sort(), violations };
}

describe("configurations that cross the line", () => {
  it("the shipped stacks pass: exit 0", async () => {
    for (const stack of ["private", "public"]) expect((await policy(stack, {})).code).toBe(0);
  });

  it("every rule can judge the shipped stacks during a preview: none trips over a value known only after apply", async () => {
    for (const stack of ["private", "public"]) {
      const cannot = (await policy(stack, {})).violations.filter((v) => v.message.includes("can't run policy"));
      expect(cannot, stack).toEqual([]);
    }
  });

  it("a public VM on the private bridge (zones swapped in the host config) → nic-in-own-zone", async () => {
    const swap = (t: string) =>
      t.replace("bridge: vmbr20", "bridge: vmbrX").replace("bridge: vmbr30", "bridge: vmbr20").replace("bridge: vmbrX", "bridge: vmbr30");
    const r = await policy("public", { host: swap });
    expect(r.code).toBe(1);
    expect(r.mandatory).toEqual(["nic-in-own-zone"]);
    expect(r.violations.find((v) => v.policy === "nic-in-own-zone")!.message).toContain("is on vmbr20, the private zone's bridge");
  });

  it("the private GPU mapped into the public VM (assignments swapped) → gpu-of-own-environment", async () => {
    const swap = (t: string) =>
      t
        .replace("environment: private", "environment: TMP")
        .replace("environment: public", "environment: private")
        .replace("environment: TMP", "environment: public");
    const r = await policy("public", { host: swap });
    expect(r.code).toBe(1);
    expect(r.mandatory).toEqual(["gpu-of-own-environment"]);
    expect(r.violations[0].message).toContain("uses the GPU mapping rtx5090, which belongs to the private environment");
  });

  it("a privileged LXC → lxc-unprivileged", async () => {
    const r = await policy("public", { env: (t) => t.replace("      vmId: 310\n", "      vmId: 310\n      privileged: true\n") });
    expect(r).toMatchObject({ code: 1, mandatory: ["lxc-unprivileged"] });
  });

  it("a NIC firewall turned off → nic-firewall-on", async () => {
    const r = await policy("private", { env: (t) => t.replace("    agentTimeout: 15m\n", "    agentTimeout: 15m\n    nicFirewall: false\n") });
    expect(r).toMatchObject({ code: 1, mandatory: ["nic-firewall-on"] });
  });

  it("a model that does not fit → model-fits-gpu", async () => {
    const r = await policy("public", { env: (t) => t.replace("    - name: mistral:7b\n", "    - name: qwen2.5:32b\n") });
    expect(r.code).toBe(1);
    expect(r.mandatory).toEqual(["model-fits-gpu", "models-fit-together"]);
  });

  it("human output names rule, resource and level; --policy-config lowers a rule", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pc-"));
    // A privileged LXC, its rule lowered to advisory: reported, exit 0.
    writeFileSync(join(dir, "Pulumi.host.yaml"), readFileSync(stackFile("host"), "utf8"));
    writeFileSync(
      join(dir, "Pulumi.public.yaml"),
      readFileSync(stackFile("public"), "utf8").replace("      vmId: 310\n", "      vmId: 310\n      privileged: true\n"),
    );
    writeFileSync(join(dir, "levels.json"), JSON.stringify({ "lxc-unprivileged": "advisory" }));
    let out = "";
    const code = await main(["policy", "public", "--config", join(dir, "Pulumi.public.yaml"), "--policy-config", join(dir, "levels.json")], {
      out: (t) => (out += t),
      err: () => {},
    });
    expect(code).toBe(0);
    expect(out).toContain("[advisory] lxc-unprivileged: public-postgres-ct (proxmoxve:index/containerLegacy:ContainerLegacy): ");
    expect(out.trim().split("\n").at(-1)).toBe("29 policies: 0 mandatory and 1 advisory violation(s)");
    let plain = "";
    expect(await main(["policy", "host"], { out: (t) => (plain += t), err: () => {} })).toBe(0);
    expect(plain.trim()).toBe("29 policies: 0 mandatory and 0 advisory violation(s)");
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ "no-such-rule": "mandatory", "nic-firewall-on": "sometimes" }));
    let err = "";
    expect(await main(["policy", "private", "--policy-config", join(dir, "bad.json")], { out: () => {}, err: (t) => (err += t) })).toBe(2);
    expect(err).toContain("no-such-rule: no such policy");
    expect(err).toContain('nic-firewall-on: expected one of advisory, mandatory, remediate, disabled, got "sometimes"');
  });

  it("plan shows the verdicts", async () => {
    let out = "";
    await main(["plan", "public"], { out: (t) => (out += t), err: () => {} });
    expect(out).toContain("Policies:\n");
    expect(out).toContain("29 policies: 0 mandatory");
  });
});
