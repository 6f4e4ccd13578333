// The pure parts of the real-engine test: what the stand-in providers compute and compare, the host state made from
// the offline engine, and the reading of the engine's preview output.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluateStack } from "../../ops/engine";
import { hostStateFrom } from "./host-state";
import { describePreview, readPreview } from "./preview-output";
import { computedOutputNames, computedOutputs, placeholderFor } from "./sdk-outputs";
import { changedKeys, typeOf } from "./standin-provider";

const MODULES = join(__dirname, "..", "..", "node_modules");

describe("computed outputs read from the providers' Node.js SDKs", () => {
  it("knows what the command and proxmoxve providers compute, with placeholders of the declared shape", () => {
    const command = computedOutputs(join(MODULES, "@pulumi/command"));
    expect(command.get("command:remote:Command")).toEqual({ stdout: "standin:command:remote:Command:stdout", stderr: "standin:command:remote:Command:stderr" });
    const proxmox = computedOutputs(join(MODULES, "@muhlba91/pulumi-proxmoxve"));
    expect(proxmox.size).toBeGreaterThan(100);
    expect(proxmox.get("proxmoxve:index/vmLegacy:VmLegacy")).toMatchObject({ ipv4Addresses: [], networkInterfaceNames: [] });
    expect(proxmox.get("proxmoxve:user/token:Token")).toHaveProperty("value");
  });

  it("reads both generator styles and skips assets", () => {
    const negated = `if (!opts.id) {\n resourceInputs["a"] = args ? args.a : undefined;\n resourceInputs["b"] = undefined /*out*/;\n}\nelse {\n resourceInputs["a"] = undefined /*out*/;\n}`;
    expect(computedOutputNames(negated)).toEqual(["b"]);
    const stateFirst = `if (opts.id) {\n resourceInputs["a"] = state?.a;\n}\nelse {\n resourceInputs["c"] = undefined /*out*/;\n}\nopts = pulumi.mergeOptions(x);`;
    expect(computedOutputNames(stateFirst)).toEqual(["c"]);
    expect(placeholderFor("pulumi.asset.Archive | undefined", "archive", "t")).toBeUndefined();
    expect(placeholderFor("number", "n", "t")).toBe(0);
    expect(placeholderFor("outputs.Foo[] | undefined", "l", "t")).toEqual([]);
  });
});

describe("the stand-in provider's diff", () => {
  it("sees changed inputs, not computed outputs held in the old state, nor secret wrapping", () => {
    const secret = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "s" };
    expect(changedKeys({ a: 1, stdout: "x" }, { a: 1 }, { stdout: "x" })).toEqual([]);
    expect(changedKeys({ a: 1, stdout: "x" }, { a: 2 }, { stdout: "x" })).toEqual(["a"]);
    expect(changedKeys({ a: 1, gone: true }, { a: 1 })).toEqual(["gone"]);
    expect(changedKeys({ p: "s", o: { y: 1, x: 2 } }, { p: secret, o: { x: 2, y: 1 } })).toEqual([]);
    expect(typeOf("urn:pulumi:s::p::a:b:C$command:remote:Command::n")).toBe("command:remote:Command");
  });
});

describe("the host state for StackReferences", () => {
  it("puts the offline host plan's known outputs on the root stack, secrets in plaintext form, unknowns left out", async () => {
    const host = await evaluateStack("host");
    const exported = { version: 3, deployment: { manifest: { version: "v3.248.0" }, secrets_providers: { type: "passphrase" } } };
    const { deployment, unknown } = hostStateFrom(exported, host, "ai-dualstack");
    expect(unknown).toEqual(["grafanaAdminPassword", "platformCaCert", "resticCredentials", "tokens", "vaultAppRoles"]);
    const root = deployment.deployment.resources![0] as { urn: string; outputs: Record<string, any> };
    expect(root.urn).toBe("urn:pulumi:host::ai-dualstack::pulumi:pulumi:Stack::ai-dualstack-host");
    expect(root.outputs.environments.private.pool).toBe("ai-private");
    expect(deployment.deployment.secrets_providers).toEqual({ type: "passphrase" });
    expect(() => hostStateFrom({ ...exported, version: 2 }, host, "ai-dualstack")).toThrow(/version 3/);
  });
});

describe("reading the engine's output", () => {
  it("counts and policy verdicts", () => {
    const out = [
      "Policies:",
      "    ❌ ai-dualstack@v0.1.0 (local: policies)",
      "        - [mandatory]  lxc-unprivileged  (proxmoxve:index/containerLegacy:ContainerLegacy: private-postgres-ct)",
      "          Guests run unprivileged.",
      "        - [advisory]  backup-coverage  (proxmoxve:index/vmLegacy:VmLegacy: private-gpu-vm)",
      "",
      "Resources:",
      "    + 91 to create",
      "    ~ 1 to update",
      "    1 unchanged",
      "",
      "Duration: 3s",
    ].join("\n");
    const s = readPreview(out);
    expect(s.counts).toEqual({ create: 91, update: 1, unchanged: 1 });
    expect(s.verdicts).toEqual([
      { level: "mandatory", policy: "lxc-unprivileged", resource: "proxmoxve:index/containerLegacy:ContainerLegacy: private-postgres-ct" },
      { level: "advisory", policy: "backup-coverage", resource: "proxmoxve:index/vmLegacy:VmLegacy: private-gpu-vm" },
    ]);
    expect(describePreview(s)).toBe("91 create, 1 update, 1 unchanged; policies: 1 mandatory, 1 advisory (lxc-unprivileged ×1, backup-coverage ×1)");
  });
});
