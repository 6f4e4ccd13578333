// The pure parts of the real-engine test: what the stand-in providers compute and compare, the host state made from
// the offline engine, and the reading of the engine's preview output.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMPUTED_MARK, SECRET_MARK, evaluateStack } from "../../ops/engine";
import { differences, typeAndName } from "./compare-inputs";
import { UNKNOWN, exchangesOf, knownPart } from "./grpc-log";
import { checkPluginCoverage, type PackageSchema } from "./plugin-coverage";
import { asDeployment, emptyOf, settle } from "./real-state";
import { dummySecrets } from "../helpers/config";
import { hostStateFrom } from "./host-state";
import { describePreview, readPreview } from "./preview-output";
import { computedOutputNames, computedOutputs, placeholderFor } from "./sdk-outputs";
import { changedKeys, generatedSecretValues, standinProvider, typeOf } from "./standin-provider";

const MODULES = join(__dirname, "..", "..", "node_modules");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { specialSigKey, specialSecretSig } = require("@pulumi/pulumi/runtime/rpc");

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

describe("the stand-in random provider", () => {
  const urn = (type: string, name: string) => `urn:pulumi:it::p::${type}::${name}`;
  const PASSWORD = "random:index/randomPassword:RandomPassword";
  const ID = "random:index/randomId:RandomId";

  it("generates new values at each create, of the asked length, and keeps them through an update", async () => {
    const p = standinProvider("4.0.0");
    const a = (await p.create!(urn(PASSWORD, "pw"), { length: 40, special: false })).outs!;
    const b = (await p.create!(urn(PASSWORD, "pw"), { length: 40, special: false })).outs!;
    expect(a.result).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(b.result).not.toBe(a.result);
    const key = (await p.create!(urn(ID, "key"), { byteLength: 32 })).outs!;
    expect(key.hex).toMatch(/^[0-9a-f]{64}$/);
    expect(Buffer.from(key.b64Std as string, "base64").toString("hex")).toBe(key.hex);
    const updated = (await p.update!("id", urn(PASSWORD, "pw"), a, { length: 40, special: false, keepers: {} })).outs!;
    expect(updated.result).toBe(a.result);
  });

  it("finds the generated values in an exported state, secrets unwrapped", () => {
    const secret = (v: string) => ({ [specialSigKey]: specialSecretSig, plaintext: JSON.stringify(v) });
    const state = {
      deployment: {
        resources: [
          { type: PASSWORD, outputs: { result: secret("pw-value") } },
          { type: ID, outputs: { hex: "00ff" } },
          { type: "proxmoxve:index/vmLegacy:VmLegacy", outputs: { result: "not generated" } },
        ],
      },
    };
    expect(generatedSecretValues(state)).toEqual(["pw-value", "00ff"]);
  });
});

describe("the host state for StackReferences", () => {
  it("puts the offline host plan's known outputs on the root stack, secrets in plaintext form, unknowns left out", async () => {
    const host = await evaluateStack("host", { secrets: dummySecrets("host") });
    const exported = { version: 3, deployment: { manifest: { version: "v3.248.0" }, secrets_providers: { type: "passphrase" } } };
    const { deployment, unknown } = hostStateFrom(exported, host, "ai-dualstack");
    // Without pbsEncryptionKey in the config, Proxmox generates the key: known only after the apply.
    expect(unknown).toEqual(["grafanaAdminPassword", "pbsEncryptionKey", "platformCaCert", "resticCredentials", "tokens", "vaultAppRoles"]);
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

describe("the real proxmoxve plugin's side of the engine test", () => {
  const secret = (value: unknown) => ({ [specialSigKey]: specialSecretSig, value });
  const schema: PackageSchema = {
    name: "proxmoxve",
    provider: { inputProperties: { endpoint: { type: "string" } } },
    resources: {
      "proxmoxve:index/vmLegacy:VmLegacy": {
        inputProperties: { vmId: { type: "integer" }, disks: { type: "array", items: { $ref: "#/types/proxmoxve:index/VmLegacyDisk:VmLegacyDisk" } } },
      },
    },
    types: { "proxmoxve:index/VmLegacyDisk:VmLegacyDisk": { properties: { size: { type: "integer" }, pathInDatastore: { type: "string" } } } },
  };
  const plan = (type: string, inputs: Record<string, unknown>) =>
    ({
      stack: "s",
      role: "private",
      outputs: {},
      resources: [{ urn: `urn:pulumi:s::p::${type}::r`, type, name: "r", custom: true, inputs, options: {} }],
    }) as any;

  it("the coverage check names an unknown type and an unknown property at any depth, and passes what the schema has", () => {
    const vm = "proxmoxve:index/vmLegacy:VmLegacy";
    expect(checkPluginCoverage(schema, [plan(vm, { vmId: 200, disks: [{ size: 64, pathInDatastore: "(known after apply)" }] })]).problems).toEqual([]);
    expect(checkPluginCoverage(schema, [plan(vm, { vmId: 200, disk: [], disks: [{ sise: 64 }] })]).problems).toEqual([
      `${vm}.disk: not a property the plugin knows`,
      `${vm}.disks[].sise: not a property the plugin knows`,
    ]);
    expect(checkPluginCoverage(schema, [plan("proxmoxve:index/acl:Acl", {})]).problems).toEqual(["proxmoxve:index/acl:Acl: not a resource of the plugin"]);
    expect(checkPluginCoverage(schema, [plan("pulumi:providers:proxmoxve", { endpoint: "https://x", apiTokn: "[secret]" })]).problems).toEqual([
      "pulumi:providers:proxmoxve.apiTokn: not a property the plugin knows",
    ]);
  });

  it("reads Check and preview Create from the engine's gRPC log, by URN; unknowns are left out of the known part", () => {
    const dir = mkdtempSync(join(tmpdir(), "grpc-"));
    const urn = "urn:pulumi:s::p::proxmoxve:index/vmLegacy:VmLegacy::vm";
    const line = (method: string, request: object, response: object, name = "proxmoxve") =>
      JSON.stringify({ method: `/pulumirpc.ResourceProvider/${method}`, progress: "response_completed", metadata: { name }, request, response });
    writeFileSync(
      join(dir, "log.json"),
      [
        JSON.stringify({ method: "/pulumirpc.ResourceProvider/Check", progress: "request_started", metadata: { name: "proxmoxve" }, request: { urn } }),
        line("Check", { urn, news: { vmId: 200 } }, { inputs: { vmId: 200, __defaults: ["started"], started: true } }),
        line("Create", { urn, preview: true }, { properties: { vmId: 200, macAddresses: UNKNOWN, disks: [{ pathInDatastore: UNKNOWN, size: 64 }] } }),
        line("Check", { urn: "urn:pulumi:s::p::command:remote:Command::c", news: {} }, { inputs: {} }, "command"),
      ].join("\n"),
    );
    const x = exchangesOf(join(dir, "log.json"), "proxmoxve");
    expect([...x.keys()]).toEqual([urn]);
    expect(x.get(urn)).toMatchObject({ news: { vmId: 200 }, inputs: { vmId: 200, started: true } });
    expect(knownPart(x.get(urn)!.planned)).toEqual({ vmId: 200, disks: [{ size: 64 }] });
  });

  it("the state it writes: unknowns from the stand-in, else the schema type's empty value; a secret stays one", () => {
    const types = (ref: string) => schema.types[ref.replace("#/types/", "")]?.properties;
    const spec = {
      properties: { ...schema.resources["proxmoxve:index/vmLegacy:VmLegacy"].inputProperties, tags: { type: "array" }, token: { type: "string" } },
    } as any;
    const standIn = { disks: [{ pathInDatastore: "standin:path" }], token: { [specialSigKey]: specialSecretSig, ciphertext: "x" } };
    const planned = { vmId: 200, tags: UNKNOWN, disks: [{ size: 64, pathInDatastore: UNKNOWN }], token: "t0k3n", other: UNKNOWN };
    expect(settle(planned, standIn, spec, types)).toEqual({
      vmId: 200,
      tags: [],
      disks: [{ size: 64, pathInDatastore: "standin:path" }],
      token: { [specialSigKey]: specialSecretSig, plaintext: '"t0k3n"' },
    });
    expect(emptyOf({ type: "boolean" })).toBe(false);
    expect(asDeployment({ a: [secret("s")] })).toEqual({ a: [{ [specialSigKey]: specialSecretSig, plaintext: '"s"' }] });
  });

  it("compares the offline plan with what the engine sent: secrets by place, computed values skipped, anything else exactly", () => {
    expect(differences({ a: SECRET_MARK, b: COMPUTED_MARK, c: [1, { d: "x" }] }, { a: secret("pw"), c: [1, { d: "x" }] })).toEqual([]);
    expect(differences({ a: SECRET_MARK, c: [1, { d: "x" }], e: "" }, { c: [1, { d: "y" }] })).toEqual([
      "a: a secret offline, nothing sent",
      'c[1].d: "x" offline, "y" sent',
      'e: "" offline, undefined sent',
    ]);
    expect(typeAndName("urn:pulumi:s::p::a:b:C$d:e:F$proxmoxve:index/acl:Acl::n")).toBe("proxmoxve:index/acl:Acl::n");
  });
});
