// The offline engine: runs the real program for a stack in-process under Pulumi mocks (inputs echoed,
// provider-computed values unknown), evaluating the host stack first to answer StackReferences, and returns the
// resource graph. It serves `dualstack plan` and the whole-stack tests alike.
import * as pulumi from "@pulumi/pulumi";
import { readFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { OFFLINE_SECRET_PLACEHOLDER, PROJECT, type RawConfig } from "../lib/config/load";
import { runProgram } from "../program";

// Internal runtime modules: the monitor, RPC (de)serialisation and the RPC queue. Stable across 3.x.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const rpc = require("@pulumi/pulumi/runtime/rpc");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const outputModule = require("@pulumi/pulumi/output");

export const SECRET_MARK = "[secret]";
export const COMPUTED_MARK = "(known after apply)";
export const HOST_APPLY_PLACEHOLDER = "(known after the host stack's apply)";

export interface PlannedResource {
  urn: string;
  type: string;
  name: string;
  parent?: string;
  custom: boolean;
  /** Inputs as the provider would receive them, secrets replaced by "[secret]". */
  inputs: Record<string, unknown>;
  /** True for a read of an existing resource (a StackReference): nothing is created. */
  read?: boolean;
  /** Resource options the engine receives (the ones policies and DR care about). */
  options: {
    protect: boolean;
    retainOnDelete: boolean;
    deleteBeforeReplace: boolean;
    additionalSecretOutputs: string[];
    dependsOn: string[];
    /** The provider reference ("<urn>::<id>"), when the resource names one. */
    provider?: string;
  };
}

export interface StackOutput {
  value: unknown;
  secret: boolean;
  known: boolean;
}

export interface PlanResult {
  stack: string;
  role: string;
  resources: PlannedResource[];
  outputs: Record<string, StackOutput>;
}

/** The outputs as a person may see them: secret ones as "[secret]" (the values stay for StackReferences only). */
export function shownOutputs(plan: PlanResult): Record<string, unknown> {
  return Object.fromEntries(Object.entries(plan.outputs).map(([k, o]) => [k, o.secret ? SECRET_MARK : o.known ? o.value : COMPUTED_MARK]));
}

export interface EvaluateOptions {
  /** A config file in the Pulumi.<stack>.yaml format, instead of the committed one. */
  configFile?: string;
  /** Where Pulumi.<stack>.yaml files live (the project root by default). */
  projectDir?: string;
  /** A host stack result to answer StackReferences with, instead of evaluating the host stack. */
  host?: PlanResult;
  /** Tests: secret config values (by key without namespace), set as secrets as `pulumi config set --secret` does. */
  secrets?: Record<string, string>;
  /** Tests: the value generated secrets (random passwords, private keys) take, to prove it never shows in plain text. */
  generated?: string;
}

/** Generated secrets by resource type: the output properties that carry them. */
const GENERATED_OUTPUTS: Record<string, string[]> = {
  "random:index/randomPassword:RandomPassword": ["result"],
  "random:index/randomId:RandomId": ["hex", "b64Std", "b64Url", "dec"],
  "tls:index/privateKey:PrivateKey": ["privateKeyPem", "privateKeyOpenssh", "privateKeyPemPkcs8"],
  // What Vault keeps, or the candidate: a generated secret all the same.
  "pulumi-nodejs:dynamic/vault:KeptSecret": ["value"],
};

/**
 * Properties inside a list the provider computes (Optional+Computed in its schema) and the program reads back, by
 * resource type, list and key: unknown until the resource exists, in the offline engine as in a real preview (the
 * bridged plugin plans them unknown), and given a value by the engine test's stand-in on create.
 */
export const NESTED_COMPUTED: Record<string, Record<string, string[]>> = {
  // A VM disk's path in its datastore: the data disk holder's disk, which the GPU VM attaches by that path.
  "proxmoxve:index/vmLegacy:VmLegacy": { disks: ["pathInDatastore"] },
};

/** `inputs` with the NESTED_COMPUTED properties the program left out set to `value` in every item of their list. */
export function withNestedComputed(type: string, inputs: Record<string, unknown>, value: (list: string, key: string) => unknown): Record<string, unknown> {
  const lists = NESTED_COMPUTED[type];
  if (!lists) return inputs;
  const out = { ...inputs };
  for (const [list, keys] of Object.entries(lists)) {
    if (!Array.isArray(out[list])) continue;
    out[list] = (out[list] as Record<string, unknown>[]).map((item) => {
      const filled = { ...item };
      for (const k of keys) if (filled[k] === undefined) filled[k] = value(list, k);
      return filled;
    });
  }
  return out;
}

export class StackFileError extends Error {}

const PROJECT_DIR = resolve(__dirname, "..");

/**
 * The file's text; a StackFileError naming the line and column of the first byte that is not UTF-8 (a Latin-1 "ê",
 * say), which a lenient decoder would turn into U+FFFD and deploy.
 */
export function decodeUtf8(file: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // Byte by byte: `at` is where the sequence the decoder refused began (a lead byte whose continuation is wrong).
    const stream = new TextDecoder("utf-8", { fatal: true });
    let at = 0;
    try {
      for (let i = 0; i < bytes.length; i++) if (stream.decode(bytes.subarray(i, i + 1), { stream: true }) !== "") at = i + 1;
      stream.decode();
    } catch {
      /* refused */
    }
    const lineStart = at === 0 ? 0 : bytes.lastIndexOf(0x0a, at - 1) + 1;
    const line = bytes.subarray(0, lineStart).filter((b) => b === 0x0a).length + 1;
    const column = new TextDecoder("utf-8").decode(bytes.subarray(lineStart, at)).length + 1;
    const byte = at < bytes.length ? `byte 0x${bytes[at].toString(16).padStart(2, "0")}` : "a character cut short at the end";
    throw new StackFileError(`${file}:${line}:${column}: not valid UTF-8 (${byte}); save the file as UTF-8`);
  }
}

/** Reads a Pulumi.<stack>.yaml file into the raw config map; `secure:` values become secret placeholders. */
export function readStackFile(file: string): RawConfig {
  if (!existsSync(file)) throw new StackFileError(`no stack config file at ${file}`);
  let doc: unknown;
  try {
    doc = parseYaml(decodeUtf8(file, readFileSync(file)));
  } catch (err) {
    if (err instanceof StackFileError) throw err;
    throw new StackFileError(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  const config = (doc as { config?: unknown } | null)?.config;
  if (config === undefined || config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new StackFileError(`${file}: expected a top-level "config:" map`);
  }
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    const fullKey = key.includes(":") ? key : `${PROJECT}:${key}`;
    if (value && typeof value === "object" && !Array.isArray(value) && "secure" in value) {
      // Encrypted with a passphrase this engine does not have.
      values[fullKey] = OFFLINE_SECRET_PLACEHOLDER;
      secretKeys.push(fullKey);
    } else {
      values[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  return { values, secretKeys };
}

function isSecretSig(v: unknown): v is { value: unknown } {
  return !!v && typeof v === "object" && (v as Record<string, unknown>)[rpc.specialSigKey] === rpc.specialSecretSig;
}

/** Plain JSON of an input value: secrets redacted, unknowns marked, resources by URN. */
export function sanitize(value: unknown): unknown {
  if (value === outputModule.unknown) return COMPUTED_MARK;
  if (isSecretSig(value)) return SECRET_MARK;
  if (Array.isArray(value)) return value.map(sanitize);
  if (pulumi.Resource.isInstance(value)) return "(resource)";
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sanitize(v)]));
  }
  return value;
}

/** A dynamic resource carries its provider's serialised code as `__provider`: not something to read in a plan. */
export const PROVIDER_CODE_MARK = "(dynamic provider code)";
function withoutProviderCode(inputs: Record<string, unknown>): Record<string, unknown> {
  return "__provider" in inputs ? { ...inputs, __provider: PROVIDER_CODE_MARK } : inputs;
}

async function resolveOutput(value: unknown): Promise<StackOutput> {
  if (pulumi.Output.isInstance(value)) {
    const o = value as unknown as { promise(withUnknowns?: boolean): Promise<unknown>; isSecret: Promise<boolean>; isKnown: Promise<boolean> };
    const [v, secret, known] = await Promise.all([o.promise(true), o.isSecret, o.isKnown]);
    return { value: v === outputModule.unknown ? undefined : v, secret, known };
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveOutput(v)] as const));
    return {
      value: Object.fromEntries(entries.map(([k, r]) => [k, r.value])),
      secret: entries.some(([, r]) => r.secret),
      known: entries.every(([, r]) => r.known),
    };
  }
  return { value, secret: false, known: true };
}

/**
 * The URN the Pulumi engine gives a resource: its parent's whole qualified type chain, then its own type (the root
 * stack's type left out). The mock monitor keeps only the parent's last type, so a nested resource's mock URN is
 * not the one in a real state (`stack export`, `--target`, `state unprotect`).
 */
export function engineUrn(stack: string, project: string, parent: string | undefined, type: string, name: string): string {
  const parentType = parent?.split("::")[2];
  const qualified = parentType && parentType !== "pulumi:pulumi:Stack" ? `${parentType}$${type}` : type;
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

/**
 * Records every resource registration (type, name, parent, URN, sanitised inputs, options) by wrapping the mock
 * monitor, with the URNs the real engine would give them (engineUrn; parents, dependencies and provider references
 * alike). Call after setMocks; the returned array fills as resources register.
 */
export function recordRegistrations(): PlannedResource[] {
  const recorded: PlannedResource[] = [];
  const monitor = settings.getMonitor();
  // Mock URN → engine URN, for every answered registration: a child's request names its parent by the mock's.
  const engineUrns = new Map<string, string>();
  const real = (mockUrn: string) => engineUrns.get(mockUrn) ?? mockUrn;
  const realProvider = (ref: string) => {
    const at = ref.lastIndexOf("::");
    return at < 0 ? ref : `${real(ref.slice(0, at))}${ref.slice(at)}`;
  };
  // Wraps one monitor method so that each answered request is recorded as `toRecord` describes it.
  // The monitor's requests and responses are generated protobuf classes the SDK does not export types for.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  const wrap = (method: "registerResource" | "readResource", toRecord: (req: any, urn: string) => PlannedResource) => {
    const original = monitor[method].bind(monitor);
    monitor[method] = (req: any, callback: (err: unknown, resp: any) => void) => {
      original(req, (err: unknown, resp: any) => {
        if (!err && resp) {
          const mockUrn: string = resp.getUrn();
          const [, stack, project] = /^urn:pulumi:(.*?)::(.*?)::/.exec(mockUrn) ?? [];
          const urn =
            stack === undefined ? mockUrn : engineUrn(stack, project, req.getParent() ? real(req.getParent()) : undefined, req.getType(), req.getName());
          engineUrns.set(mockUrn, urn);
          recorded.push(toRecord(req, urn));
        }
        callback(err, resp);
      });
    };
  };
  /* eslint-enable @typescript-eslint/no-explicit-any */
  wrap("registerResource", (req, urn) => ({
    urn,
    type: req.getType(),
    name: req.getName(),
    parent: req.getParent() ? real(req.getParent()) : undefined,
    custom: req.getCustom(),
    inputs: withoutProviderCode(sanitize(rpc.deserializeProperties(req.getObject())) as Record<string, unknown>),
    options: {
      protect: req.getProtect() === true,
      retainOnDelete: req.getRetainondelete() === true,
      deleteBeforeReplace: req.getDeletebeforereplace() === true,
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      dependsOn: (req.getDependenciesList() as string[]).map(real),
      ...(req.getProvider() ? { provider: realProvider(req.getProvider()) } : {}),
    },
  }));
  // Reads (StackReferences, `.get`s) create nothing but belong in the graph: they are what a stack depends on.
  wrap("readResource", (req, urn) => ({
    urn,
    type: req.getType(),
    name: req.getName(),
    parent: req.getParent() ? real(req.getParent()) : undefined,
    custom: true,
    inputs: { id: req.getId() },
    options: { protect: false, retainOnDelete: false, deleteBeforeReplace: false, additionalSecretOutputs: [], dependsOn: [] },
    read: true,
  }));
  return recorded;
}

/** Waits until every outstanding registration has been answered. */
export function settle(): Promise<void> {
  return settings.waitForRPCs();
}

export function roleOf(raw: RawConfig): string {
  return raw.values[`${PROJECT}:role`] ?? "";
}

/** Evaluates a stack under mocks. Throws ConfigError (invalid config) or StackFileError (unreadable file). */
export async function evaluateStack(stack: string, options: EvaluateOptions = {}): Promise<PlanResult> {
  const projectDir = options.projectDir ?? PROJECT_DIR;
  const file = options.configFile ?? join(projectDir, `Pulumi.${stack}.yaml`);
  const raw = readStackFile(file);
  for (const [key, value] of Object.entries(options.secrets ?? {})) {
    raw.values[`${PROJECT}:${key}`] = value;
    raw.secretKeys.push(`${PROJECT}:${key}`);
  }
  const role = roleOf(raw);

  let host = options.host;
  if (role !== "host" && role !== "" && !host) {
    // The host stack lives beside the environment's file (or in the project), as Pulumi.host.yaml.
    const beside = join(dirname(file), "Pulumi.host.yaml");
    host = await evaluateStack("host", { configFile: existsSync(beside) ? beside : join(projectDir, "Pulumi.host.yaml"), projectDir });
  }

  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      if (args.type === "pulumi:pulumi:StackReference") {
        // A real environment preview runs after `pulumi up` of the host, when its outputs are known; values the
        // host computes only at apply (the tokens) get a placeholder, because one unknown would hide them all.
        const outputs: Record<string, unknown> = {};
        for (const [k, o] of Object.entries(host?.outputs ?? {})) {
          const v = o.known ? o.value : HOST_APPLY_PLACEHOLDER;
          outputs[k] = o.secret ? { [rpc.specialSigKey]: rpc.specialSecretSig, value: v } : v;
        }
        return { id: String(args.inputs.name ?? args.name), state: { ...args.inputs, outputs, secretOutputNames: [] } };
      }
      // An empty id reads as unknown during preview, as a real preview of a new resource shows it.
      const generated = options.generated === undefined ? {} : Object.fromEntries((GENERATED_OUTPUTS[args.type] ?? []).map((k) => [k, options.generated]));
      return { id: "", state: { ...withNestedComputed(args.type, args.inputs, () => outputModule.unknown), ...generated } };
    },
    call() {
      return {};
    },
  };
  await pulumi.runtime.setMocks(mocks, PROJECT, stack, true);

  const recorded = recordRegistrations();
  pulumi.runtime.setAllConfig(raw.values, raw.secretKeys);

  let programOutputs: Record<string, unknown> = {};
  let failure: unknown;
  // Without an engine the SDK prints the program's info and debug messages with console.log: to stderr with them,
  // so that stdout holds only what the CLI prints (plan --json must stay JSON).
  const consoleLog = console.log;
  console.log = (...args: unknown[]) => console.error(...args);
  try {
    await pulumi.runtime.runInPulumiStack(async () => {
      try {
        programOutputs = await runProgram({ offline: true });
      } catch (err) {
        failure = err;
      }
      return {};
    });
    await settle();
  } finally {
    console.log = consoleLog;
  }
  if (failure) throw failure;

  const outputs: Record<string, StackOutput> = {};
  for (const [k, v] of Object.entries(programOutputs)) outputs[k] = await resolveOutput(v);
  return { stack, role, resources: recorded, outputs };
}
