// A stand-in resource provider plugin for the real-engine test, for the providers whose Go modules the module proxy
// refuses to serve (proxmoxve, docker, command, random, tls: see the issue note). The engine talks to it over the
// same gRPC protocol as to the real plugin; it checks nothing provider-specific. What it does:
//   check   passes the inputs through, refusing only values no provider accepts (non-finite numbers)
//   diff    compares old and new inputs by meaning (secret wrappers ignored), so a program-side perpetual diff shows
//   create  echoes the inputs as outputs under a deterministic id (the URN's hash), with the properties the provider
//           computes (read from its Node.js SDK) filled with placeholders of their declared shape; the random
//           provider's generated values are new at each create, as the real provider's are, and kept by an update
//   read    returns the state unchanged, so a refresh sees no drift
// Started by a launcher the test writes as `pulumi-resource-<name>` on PATH: node --import tsx standin-provider.ts <name>
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as provider from "@pulumi/pulumi/provider";
import { computedOutputs, type Placeholder } from "./sdk-outputs";
import { withNestedComputed } from "../../ops/engine";

/** The providers stood in for, with the npm package whose SDK describes each. */
export const STANDIN_PACKAGES: Record<string, string> = {
  proxmoxve: "@muhlba91/pulumi-proxmoxve",
  docker: "@pulumi/docker",
  command: "@pulumi/command",
  random: "@pulumi/random",
  tls: "@pulumi/tls",
};

// The engine's marker of a secret value, from the SDK.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { specialSigKey } = require("@pulumi/pulumi/runtime/rpc");

/** Strips secret wrappers so that a secret and its plain value compare equal (the engine tracks secretness). */
export function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (specialSigKey in o && "value" in o) return plain(o.value);
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, plain(o[k])]),
    );
  }
  return value;
}

/**
 * The top-level keys whose values differ by meaning between the old state and the new inputs. The old state holds
 * the computed outputs too (the engine's Diff gets outputs, not inputs): those are no change when absent from news.
 */
export function changedKeys(olds: Record<string, unknown>, news: Record<string, unknown>, computed: Record<string, unknown> = {}): string[] {
  const keys = new Set([...Object.keys(olds), ...Object.keys(news)]);
  return [...keys]
    .filter((k) => !(k in computed && !(k in news)))
    .filter((k) => JSON.stringify(plain(olds[k])) !== JSON.stringify(plain(news[k])))
    .sort();
}

function nonFinite(value: unknown, path: string, out: provider.CheckFailure[]): void {
  if (typeof value === "number" && !Number.isFinite(value)) out.push({ property: path, reason: `${path}: ${value} is not a number any provider accepts` });
  else if (Array.isArray(value)) value.forEach((v, i) => nonFinite(v, `${path}[${i}]`, out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) nonFinite(v, path ? `${path}.${k}` : k, out);
}

/** The type token of a URN (`urn:pulumi:stack::project::parent$type::name`). */
export function typeOf(urn: string): string {
  return urn.split("::")[2]?.split("$").pop() ?? "";
}

/**
 * Ids shaped as the real provider makes them, where another resource's input takes the id and the real provider
 * validates its form (a VM's user-data file id is "datastore:snippets/name"); others get the URN's hash.
 */
const ID_FORMS: Record<string, (inputs: Record<string, any>) => string | undefined> = {
  "proxmoxve:index/fileLegacy:FileLegacy": (i) => {
    const file =
      i.sourceRaw?.fileName ??
      i.sourceFile?.fileName ??
      String(i.sourceFile?.path ?? "")
        .split("/")
        .pop();
    return i.datastoreId && i.contentType && file ? `${i.datastoreId}:${i.contentType}/${file}` : undefined;
  },
  "proxmoxve:download/file:File": (i) => (i.datastoreId && i.contentType && i.fileName ? `${i.datastoreId}:${i.contentType}/${i.fileName}` : undefined),
};

export function idFor(urn: string, inputs: Record<string, unknown>): string {
  return ID_FORMS[typeOf(urn)]?.(inputs) ?? createHash("sha256").update(urn).digest("hex").slice(0, 16);
}

/**
 * Outputs the test gives instead of placeholders, by type and key (AI_DUALSTACK_STANDIN_OUTPUTS, JSON): a real CA's
 * PEM as every self-signed certificate, so that what the program trusts with it verifies a test server's TLS.
 */
export function outputOverrides(json: string | undefined): Record<string, Record<string, unknown>> {
  return json ? (JSON.parse(json) as Record<string, Record<string, unknown>>) : {};
}

/**
 * What the random provider generates, new at each create: a RandomPassword's result (letters and digits, its length)
 * and bcrypt hash, a RandomId's hex and encodings (its byte length), a RandomString's result. With the same value for
 * every create, a secret generated again after a teardown could not be told from the one kept.
 */
export function generatedValues(type: string, inputs: Record<string, unknown>): Record<string, string> {
  if (!type.startsWith("random:")) return {};
  if (type === "random:index/randomId:RandomId") {
    const bytes = randomBytes(Number(inputs.byteLength ?? 8));
    return {
      hex: bytes.toString("hex"),
      b64Std: bytes.toString("base64"),
      b64Url: bytes.toString("base64url"),
      dec: BigInt(`0x${bytes.toString("hex") || "0"}`).toString(),
    };
  }
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const result = [...randomBytes(Number(inputs.length ?? 16))].map((b) => alphabet[b % alphabet.length]).join("");
  return type === "random:index/randomPassword:RandomPassword" ? { result, bcryptHash: `standin-bcrypt:${randomBytes(16).toString("hex")}` } : { result };
}

/** A state value as `pulumi stack export --show-secrets` gives it: a secret's plaintext (JSON) unwrapped. */
function revealed(value: unknown): unknown {
  if (value && typeof value === "object" && specialSigKey in value && "plaintext" in value)
    return JSON.parse(String((value as { plaintext: string }).plaintext));
  return value;
}

/** The values the random provider generated in an exported state (`--show-secrets`): the secrets to look for elsewhere. */
export function generatedSecretValues(state: { deployment: { resources?: { type: string; outputs?: Record<string, unknown> }[] } }): string[] {
  return (state.deployment.resources ?? [])
    .flatMap((r) =>
      r.type === "random:index/randomPassword:RandomPassword"
        ? [revealed(r.outputs?.result)]
        : r.type === "random:index/randomId:RandomId"
          ? [revealed(r.outputs?.hex)]
          : [],
    )
    .filter((v): v is string => typeof v === "string" && v.length > 0);
}

export function standinProvider(
  version: string,
  computed: Map<string, Record<string, Placeholder>> = new Map(),
  overrides: Record<string, Record<string, unknown>> = {},
): provider.Provider {
  const outputs = (urn: string, inputs: Record<string, unknown>) => {
    const type = typeOf(urn);
    return { ...(computed.get(type) ?? {}), ...(overrides[type] ?? {}), ...withNestedComputed(type, inputs, (list, key) => `standin:${type}:${list}:${key}`) };
  };
  return {
    version,
    async check(_urn, _olds, news) {
      const failures: provider.CheckFailure[] = [];
      nonFinite(news, "", failures);
      return { inputs: news, failures };
    },
    async diff(_id, urn, olds, news) {
      return { changes: changedKeys(olds, news, computed.get(typeOf(urn))).length > 0 };
    },
    async create(urn, inputs) {
      return { id: idFor(urn, inputs), outs: { ...outputs(urn, inputs), ...generatedValues(typeOf(urn), inputs) } };
    },
    async read(id, _urn, props) {
      return { id, props };
    },
    async update(_id, urn, olds, news) {
      const kept = Object.keys(generatedValues(typeOf(urn), news)).filter((k) => k in olds);
      return { outs: { ...outputs(urn, news), ...Object.fromEntries(kept.map((k) => [k, olds[k]])) } };
    },
    async delete() {},
  };
}

if (require.main === module) {
  const name = process.argv[2] ?? "";
  const pkg = STANDIN_PACKAGES[name];
  if (!pkg) {
    console.error(`standin-provider: unknown provider "${name}"; expected one of ${Object.keys(STANDIN_PACKAGES).join(", ")}`);
    process.exit(2);
  }
  const dir = join(__dirname, "..", "..", "node_modules", pkg);
  const { version } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  void provider.main(standinProvider(version, computedOutputs(dir), outputOverrides(process.env.AI_DUALSTACK_STANDIN_OUTPUTS)), process.argv.slice(3));
}
