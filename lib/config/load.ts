// Turns the raw Pulumi config map (what `pulumi.runtime.allConfig()` returns: "project:key" → string, structured
// values as JSON) into a typed, validated configuration, or a ConfigError listing every problem by key path.
// Pure: no Pulumi imports, so the CLI, the program and the tests share it.
import type { z } from "zod";
import {
  ROLES,
  environmentConfigSchema,
  hostConfigSchema,
  secretKeysFor,
  type EnvironmentConfig,
  type EnvironmentName,
  type HostConfig,
  type Role,
} from "./schema";

export const PROJECT = "ai-dualstack";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export interface Secrets {
  /** Secret config values by key. Hold them only inside pulumi.secret(). */
  [key: string]: string | undefined;
}

export type StackConfig = { role: "host"; config: HostConfig; secrets: Secrets } | { role: EnvironmentName; config: EnvironmentConfig; secrets: Secrets };

export interface RawConfig {
  /** Every config value, keyed "namespace:key". */
  values: Record<string, string>;
  /** Keys ("namespace:key") that Pulumi holds as secrets. */
  secretKeys: string[];
}

export interface LoadOptions {
  /**
   * The offline engine cannot decrypt secrets: encrypted secret keys, and required ones that are absent, get a
   * placeholder instead of an error. The real program never sets this.
   */
  offline?: boolean;
}

export const OFFLINE_SECRET_PLACEHOLDER = "offline-placeholder-not-a-secret";

function decode(value: string): unknown {
  const trimmed = value.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return value; // the schema will say what it expected
    }
  }
  return value;
}

export function keyPath(path: readonly PropertyKey[]): string {
  let out = `${PROJECT}:`;
  path.forEach((seg, i) => {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += i === 0 ? String(seg) : `.${String(seg)}`;
  });
  return out;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function show(value: unknown): string {
  if (value === undefined) return "nothing (the key is required)";
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/** The keys an object schema accepts at `path`, for "unknown key" messages. */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  // zod 4 keeps its definition under _zod.def; unwrap defaults/optionals/pipes, descend objects/arrays/records.
  type Def = { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType>; element?: z.ZodType; valueType?: z.ZodType; in?: z.ZodType };
  const def = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;
  let cur: z.ZodType | undefined = schema;
  const unwrap = () => {
    while (cur) {
      const d = def(cur);
      if (d.innerType) cur = d.innerType;
      else if (d.type === "pipe" && d.in) cur = d.in;
      else break;
    }
  };
  for (const seg of path) {
    unwrap();
    if (!cur) return undefined;
    const d = def(cur);
    if (d.type === "object" && d.shape) cur = d.shape[String(seg)];
    else if (d.type === "array") cur = d.element;
    else if (d.type === "record") cur = d.valueType;
    else return undefined;
  }
  unwrap();
  const d = cur ? def(cur) : undefined;
  return d?.type === "object" && d.shape ? Object.keys(d.shape) : undefined;
}

const TYPE_FORMS: Record<string, string> = {
  object: "a map of settings",
  array: "a list",
  string: "a string",
  number: "a number",
  boolean: "true or false",
};

/** Our fields carry their own "expected …" text; structural checks (objects, lists) get one here. */
function describeGeneric(iss: z.core.$ZodIssue): string {
  if (iss.code === "invalid_type") return `expected ${TYPE_FORMS[iss.expected] ?? iss.expected}`;
  if (iss.code === "too_small" && iss.origin === "array") return `expected at least ${iss.minimum} item(s)`;
  if (iss.code === "too_big" && iss.origin === "array") return `expected at most ${iss.maximum} item(s)`;
  return `expected a valid value (${iss.message})`;
}

export function formatIssues(schema: z.ZodType, data: unknown, issues: readonly z.core.$ZodIssue[]): string[] {
  const problems: string[] = [];
  for (const iss of issues) {
    if (iss.code === "unrecognized_keys") {
      const allowed = keysAt(schema, iss.path);
      for (const k of iss.keys) {
        problems.push(`${keyPath([...iss.path, k])}: unknown key${allowed ? `; expected one of: ${allowed.join(", ")}` : ""}`);
      }
      continue;
    }
    if (iss.code === "custom" && !iss.message.startsWith("expected ")) {
      problems.push(`${keyPath(iss.path)}: ${iss.message}`); // cross-field rules say everything themselves
      continue;
    }
    const value = valueAt(data, iss.path);
    const base = iss.message.startsWith("expected ") ? iss.message : describeGeneric(iss);
    const message = base.includes(", got ") ? base : `${base}, got ${show(value)}`;
    problems.push(`${keyPath(iss.path)}: ${message}`);
  }
  return problems;
}

/** Validates the raw config of a stack. Throws ConfigError with every problem found. */
export function loadConfig(raw: RawConfig, options: LoadOptions = {}): StackConfig {
  const prefix = `${PROJECT}:`;
  const secretSet = new Set(raw.secretKeys);
  const data: Record<string, unknown> = {};
  const secretValues = new Map<string, { value: string; isSecret: boolean }>();
  const problems: string[] = [];

  const roleValue = raw.values[`${prefix}role`];
  if (!ROLES.includes(roleValue as Role)) {
    throw new ConfigError([`${prefix}role: expected one of ${ROLES.map((r) => `"${r}"`).join(", ")}, got ${show(roleValue)}`]);
  }
  const role = roleValue as Role;
  const schema = role === "host" ? hostConfigSchema : environmentConfigSchema;

  for (const [fullKey, value] of Object.entries(raw.values)) {
    if (!fullKey.startsWith(prefix)) continue; // other namespaces (pulumi:tags, …) are not ours
    const key = fullKey.slice(prefix.length);
    data[key] = decode(value);
    secretValues.set(key, { value, isSecret: secretSet.has(fullKey) });
  }

  // Secret keys come out of the data before validation, so that no error message can echo them.
  const declared = secretKeysFor(role, data as Parameters<typeof secretKeysFor>[1]);
  const secrets: Secrets = {};
  for (const { key, required, form } of declared) {
    const entry = secretValues.get(key);
    delete data[key];
    if (entry === undefined) {
      // Offline, a required secret the engine cannot decrypt is a placeholder; an optional one left out stays out,
      // as on a real deployment (a PBS storage without pbsEncryptionKey has Proxmox generate the key).
      if (options.offline && required) secrets[key] = OFFLINE_SECRET_PLACEHOLDER;
      else if (required) problems.push(`${prefix}${key}: expected ${form}, got nothing (the key is required)`);
      continue;
    }
    if (!entry.isSecret) {
      problems.push(`${prefix}${key}: must be set as a secret (pulumi config set --secret ${key} …); a plain value was found and is not shown`);
      continue;
    }
    secrets[key] = entry.value;
  }

  const result = schema.safeParse(data);
  if (!result.success) problems.push(...formatIssues(schema, data, result.error.issues));
  if (problems.length > 0) throw new ConfigError(problems);

  const config = result.data!;
  return role === "host" ? { role, config: config as HostConfig, secrets } : { role, config: config as EnvironmentConfig, secrets };
}
