// Dynamic providers for Vault's own configuration, over its HTTP API with the host stack's administrator token:
// - VaultConfigObject: an audit device, a KV v2 mount, an ACL policy, an auth method or an AppRole role
//   (lib/vault/access.ts declares them). `read` returns the live object in the declared shape, so `pulumi refresh`
//   shows a policy edited, an audit device disabled or a role loosened by hand; `update` puts it back.
//   Objects that hold data (KV mounts, the AppRole auth method) are adopted when they already exist with the same
//   type, refused when they exist with another, and never deleted by the provider.
// - VaultAppRoleCredentials: an AppRole's role_id and one SecretID, whose accessor `read` looks up (a SecretID
//   destroyed by hand shows as deleted and is issued again).
// Serialisation rules (DESIGN.md): nothing captured from module scope; the token comes from inputs marked secret.
import * as pulumi from "@pulumi/pulumi";
import type { VaultObject } from "../../lib/vault/access";
import { addressFailures, vaultApi, vaultFailure, type VaultBody, type VaultConnection } from "./vault-api";

export const VAULT_CONFIG_PROVIDER_VERSION = "2";

export interface VaultConfigInputs extends VaultConnection {
  token: string;
  object: VaultObject;
  providerVersion?: string;
}

export interface VaultConfigState extends VaultConfigInputs {
  /** The live object in the declared shape (no secrets: configuration only); null when it was not found. */
  observed: Record<string, unknown> | null;
}

const SEGMENT = /^[A-Za-z0-9_.-]+$/;

function identity(o: VaultObject): string {
  return o.kind === "policy" || o.kind === "approle" ? o.name : o.path;
}

function describe(o: VaultObject): string {
  return `${o.kind} ${identity(o)}`;
}

/** The part of an object Vault can tell us back, in one canonical shape. */
function comparable(o: VaultObject): Record<string, unknown> {
  switch (o.kind) {
    case "audit":
      return { type: o.type, options: o.options };
    case "kv-mount":
      return { type: "kv", version: "2", description: o.description, maxVersions: o.maxVersions };
    case "policy":
      return { policy: o.policy };
    case "auth":
      return { type: o.type, description: o.description };
    case "approle":
      return { ...o.settings };
  }
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

/** Vault answers some reads with the object at the top level and again under `data`; take either. */
function payload(body: VaultBody): Record<string, unknown> {
  return (body.data && typeof body.data === "object" ? body.data : body) as Record<string, unknown>;
}

interface Call {
  (method: string, api: string, body?: unknown): Promise<{ status: number; body: VaultBody }>;
}

function caller(i: VaultConnection & { token: string }): Call {
  return async (method, api, body) => {
    const where = `Vault ${method} ${api} at ${i.address}`;
    const r = await vaultApi(i, where, method, api, i.token, body);
    const missing = r.status === 404 || (r.status === 400 && (r.body.errors ?? []).some((e) => /no (secret engine )?mount|no handler/i.test(e)));
    if (r.status >= 400 && !missing) throw vaultFailure(where, r.status, r.body.errors, `HTTP ${r.status}`);
    return { status: missing ? 404 : r.status, body: r.body };
  };
}

/** The live object in the shape of `comparable`, or null when Vault has none. */
async function observe(i: VaultConfigInputs, call: Call): Promise<Record<string, unknown> | null> {
  const o = i.object;
  switch (o.kind) {
    case "audit": {
      const r = await call("GET", "sys/audit");
      const live = payload(r.body)[`${o.path}/`] as { type?: string; options?: Record<string, string> } | undefined;
      if (!live) return null;
      const options = Object.fromEntries(Object.keys(o.options).map((k) => [k, live.options?.[k]]));
      return { type: live.type, options };
    }
    case "kv-mount": {
      const r = await call("GET", `sys/mounts/${o.path}`);
      if (r.status === 404) return null;
      const live = payload(r.body) as { type?: string; description?: string; options?: { version?: string } | null };
      const config = await call("GET", `${o.path}/config`);
      return {
        type: live.type,
        version: live.options?.version ?? "1",
        description: live.description ?? "",
        maxVersions: (payload(config.body) as { max_versions?: number }).max_versions ?? 0,
      };
    }
    case "policy": {
      const r = await call("GET", `sys/policies/acl/${o.name}`);
      if (r.status === 404) return null;
      return { policy: (payload(r.body) as { policy?: string }).policy };
    }
    case "auth": {
      const r = await call("GET", "sys/auth");
      const live = payload(r.body)[`${o.path}/`] as { type?: string; description?: string } | undefined;
      return live ? { type: live.type, description: live.description ?? "" } : null;
    }
    case "approle": {
      const r = await call("GET", `auth/approle/role/${o.name}`);
      if (r.status === 404) return null;
      const live = payload(r.body);
      // Vault reads a single-address CIDR back as the bare address ("10.10.0.10/32" → "10.10.0.10"): the real server
      // showed it (test/integration/vault.test.ts). Read back in the declared form.
      const cidrs = (v: unknown) => (Array.isArray(v) ? v.map((c) => (typeof c === "string" && !c.includes("/") ? `${c}/32` : c)) : v);
      return Object.fromEntries(Object.keys(o.settings).map((k) => [k, k.endsWith("_cidrs") ? cidrs(live[k]) : live[k]]));
    }
  }
}

/** Writes the object; `live` is what observe found (null: absent). */
async function apply(i: VaultConfigInputs, call: Call, live: Record<string, unknown> | null): Promise<void> {
  const o = i.object;
  switch (o.kind) {
    case "audit":
      // Audit devices cannot be tuned: a changed one is disabled and enabled again (the other device keeps logging).
      if (live) await call("DELETE", `sys/audit/${o.path}`);
      await call("PUT", `sys/audit/${o.path}`, { type: o.type, options: o.options, description: "ai-dualstack" });
      return;
    case "kv-mount":
      if (live && (live.type !== "kv" || live.version !== "2")) {
        throw new Error(
          `Vault ${describe(o)} at ${i.address}: a ${live.type} mount (version ${live.version}) already exists there; refusing to touch it (it may hold secrets). Move it away or choose another environment mount.`,
        );
      }
      if (!live) await call("POST", `sys/mounts/${o.path}`, { type: "kv", options: { version: "2" }, description: o.description });
      else if (live.description !== o.description) await call("POST", `sys/mounts/${o.path}/tune`, { description: o.description });
      await call("POST", `${o.path}/config`, { max_versions: o.maxVersions });
      return;
    case "policy":
      await call("PUT", `sys/policies/acl/${o.name}`, { policy: o.policy });
      return;
    case "auth":
      if (live && live.type !== o.type) {
        throw new Error(
          `Vault ${describe(o)} at ${i.address}: a ${live.type} auth method is already enabled there; refusing to replace it (that would drop its roles)`,
        );
      }
      if (!live) await call("POST", `sys/auth/${o.path}`, { type: o.type, description: o.description });
      else if (live.description !== o.description) await call("POST", `sys/auth/${o.path}/tune`, { description: o.description });
      return;
    case "approle":
      await call("POST", `auth/approle/role/${o.name}`, o.settings);
      return;
  }
}

function checkObject(o: VaultObject | undefined): string | undefined {
  if (!o || typeof o !== "object") return "expected a Vault object";
  if (!["audit", "kv-mount", "policy", "auth", "approle"].includes(o.kind))
    return `unknown Vault object kind ${JSON.stringify((o as { kind?: unknown }).kind)}`;
  const id = identity(o);
  if (typeof id !== "string" || !SEGMENT.test(id)) return `${o.kind} ${JSON.stringify(id)}: expected a plain path segment`;
  return undefined;
}

async function converge(i: VaultConfigInputs): Promise<VaultConfigState> {
  const call = caller(i);
  const live = await observe(i, call);
  if (!live || !same(live, comparable(i.object))) await apply(i, call, live);
  const after = await observe(i, call);
  if (!after || !same(after, comparable(i.object))) {
    throw new Error(
      `Vault ${describe(i.object)} at ${i.address}: written, but Vault reports it differently afterwards (${
        after
          ? Object.keys(after)
              .filter((k) => !same(after[k], comparable(i.object)[k]))
              .join(", ")
          : "missing"
      })`,
    );
  }
  return { ...i, observed: after };
}

function checkConnection(news: { address?: string; token?: string }): pulumi.dynamic.CheckFailure[] {
  const failures: pulumi.dynamic.CheckFailure[] = addressFailures(news.address);
  if (!news.token) failures.push({ property: "token", reason: "expected the host stack's Vault token (secret config vaultToken)" });
  return failures;
}

export const vaultConfigProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: VaultConfigInputs, news: VaultConfigInputs) {
    const failures = checkConnection(news);
    const problem = checkObject(news.object);
    if (problem) failures.push({ property: "object", reason: problem });
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: VaultConfigState, news: VaultConfigInputs) {
    const replaces: string[] = [];
    if (olds.address !== news.address) replaces.push("address");
    if (olds.object.kind !== news.object.kind || identity(olds.object) !== identity(news.object)) replaces.push("object");
    const want = comparable(news.object);
    const changes =
      replaces.length > 0 ||
      olds.providerVersion !== news.providerVersion ||
      !same(comparable(olds.object), want) ||
      !olds.observed ||
      !same(olds.observed, want);
    return { changes, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: VaultConfigInputs) {
    return { id: `${inputs.object.kind}:${identity(inputs.object)}@${inputs.address}`, outs: await converge(inputs) };
  },

  async read(id: string, props: VaultConfigState) {
    const observed = await observe(props, caller(props));
    if (!observed) return { id: "", props: {} };
    return { id, props: { ...props, observed } };
  },

  async update(_id: string, _olds: VaultConfigState, news: VaultConfigInputs) {
    return { outs: await converge(news) };
  },

  async delete(_id: string, props: VaultConfigState) {
    const o = props.object;
    const call = caller(props);
    switch (o.kind) {
      case "audit":
        await call("DELETE", `sys/audit/${o.path}`);
        return;
      case "policy":
        await call("DELETE", `sys/policies/acl/${o.name}`);
        return;
      case "approle":
        await call("DELETE", `auth/approle/role/${o.name}`);
        return;
      default:
        // KV mounts and auth methods hold data: disabling them destroys it. The component also sets retainOnDelete.
        throw new Error(
          `Vault ${describe(o)} at ${props.address}: not deleted by ai-dualstack (it holds data). Disable it by hand if you mean it: vault ${o.kind === "auth" ? "auth" : "secrets"} disable ${identity(o)}`,
        );
    }
  },
};

export interface VaultConfigObjectArgs {
  address: pulumi.Input<string>;
  token: pulumi.Input<string>;
  caCert?: pulumi.Input<string>;
  object: VaultObject;
}

/** One Vault configuration object. Type token: pulumi-nodejs:dynamic/vault:ConfigObject. */
export class VaultConfigObject extends pulumi.dynamic.Resource {
  declare public readonly observed: pulumi.Output<Record<string, unknown> | null>;

  constructor(name: string, args: VaultConfigObjectArgs, opts?: pulumi.CustomResourceOptions) {
    const holdsData = args.object.kind === "kv-mount" || args.object.kind === "auth";
    super(
      vaultConfigProvider,
      name,
      { ...args, providerVersion: VAULT_CONFIG_PROVIDER_VERSION, observed: undefined },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["token"], ...(holdsData ? { retainOnDelete: true, protect: true } : {}) }),
      "vault",
      "ConfigObject",
    );
  }
}

// ---- AppRole credentials -------------------------------------------------------------------------------------

export interface AppRoleCredentialsInputs extends VaultConnection {
  token: string;
  role: string;
  providerVersion?: string;
}

export interface AppRoleCredentialsState extends AppRoleCredentialsInputs {
  roleId: string;
  secretId: string;
  accessor: string;
}

async function issue(i: AppRoleCredentialsInputs): Promise<AppRoleCredentialsState> {
  const call = caller(i);
  const role = await call("GET", `auth/approle/role/${i.role}/role-id`);
  const roleId = (payload(role.body) as { role_id?: string }).role_id;
  if (role.status === 404 || !roleId) throw new Error(`Vault AppRole ${i.role} at ${i.address}: no such role`);
  const secret = await call("POST", `auth/approle/role/${i.role}/secret-id`, { metadata: JSON.stringify({ issuedBy: "ai-dualstack" }) });
  const { secret_id: secretId, secret_id_accessor: accessor } = payload(secret.body) as { secret_id?: string; secret_id_accessor?: string };
  if (!secretId || !accessor) throw new Error(`Vault AppRole ${i.role} at ${i.address}: no SecretID in the answer`);
  return { ...i, roleId, secretId, accessor };
}

export const appRoleCredentialsProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: AppRoleCredentialsInputs, news: AppRoleCredentialsInputs) {
    const failures = checkConnection(news);
    if (!SEGMENT.test(news.role ?? "")) failures.push({ property: "role", reason: `expected an AppRole name, got ${JSON.stringify(news.role)}` });
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: AppRoleCredentialsState, news: AppRoleCredentialsInputs) {
    const replaces = (["address", "role"] as const).filter((k) => olds[k] !== news[k]);
    if (!olds.secretId) replaces.push("role");
    return { changes: replaces.length > 0 || olds.providerVersion !== news.providerVersion, replaces, deleteBeforeReplace: false };
  },

  async create(inputs: AppRoleCredentialsInputs) {
    const outs = await issue(inputs);
    return { id: `approle:${inputs.role}:${outs.accessor}@${inputs.address}`, outs };
  },

  async read(id: string, props: AppRoleCredentialsState) {
    const call = caller(props);
    const role = await call("GET", `auth/approle/role/${props.role}/role-id`);
    const roleId = (payload(role.body) as { role_id?: string }).role_id;
    // Vault answers an unknown accessor with 404, or (older versions) an error naming it: both mean gone.
    const where = `Vault AppRole ${props.role} SecretID lookup at ${props.address}`;
    const lookup = await vaultApi(props, where, "POST", `auth/approle/role/${props.role}/secret-id-accessor/lookup`, props.token, {
      secret_id_accessor: props.accessor,
    });
    const gone =
      lookup.status === 404 || (lookup.status >= 400 && (lookup.body.errors ?? []).some((e) => /failed to find|not found|invalid accessor/i.test(e)));
    if (lookup.status >= 400 && !gone) throw vaultFailure(where, lookup.status, lookup.body.errors, `HTTP ${lookup.status}`);
    if (role.status === 404 || !roleId || roleId !== props.roleId || gone) return { id: "", props: {} };
    return { id, props };
  },

  async delete(_id: string, props: AppRoleCredentialsState) {
    const call = caller(props);
    await call("POST", `auth/approle/role/${props.role}/secret-id-accessor/destroy`, { secret_id_accessor: props.accessor });
  },
};

export interface VaultAppRoleCredentialsArgs {
  address: pulumi.Input<string>;
  token: pulumi.Input<string>;
  caCert?: pulumi.Input<string>;
  role: pulumi.Input<string>;
}

/** An AppRole's role_id and one SecretID (both secret). Type token: pulumi-nodejs:dynamic/vault:AppRoleCredentials. */
export class VaultAppRoleCredentials extends pulumi.dynamic.Resource {
  declare public readonly roleId: pulumi.Output<string>;
  declare public readonly secretId: pulumi.Output<string>;
  declare public readonly accessor: pulumi.Output<string>;

  constructor(name: string, args: VaultAppRoleCredentialsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      appRoleCredentialsProvider,
      name,
      { ...args, providerVersion: VAULT_CONFIG_PROVIDER_VERSION, roleId: undefined, secretId: undefined, accessor: undefined },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["token", "roleId", "secretId"] }),
      "vault",
      "AppRoleCredentials",
    );
  }
}

export const __test = { comparable, canonical };
