// A dynamic provider for one tenant's Redis ACL user, through `ioredis`: access only to `tenant:<name>:*` keys and
// channels, without admin or dangerous commands. `read` compares the live ACL with the declared one (password hash,
// patterns, commands), so `pulumi refresh` shows drift; `delete` keeps the tenant's keys unless configured otherwise.
//
// Serialisation rules (DESIGN.md): everything is `require`d inside the functions; credentials come from inputs
// marked secret.
import * as pulumi from "@pulumi/pulumi";
import { destroyKeepsData } from "./keep-data";

export const REDIS_TENANT_PROVIDER_VERSION = "1";

export interface RedisAdmin {
  host: string;
  port: number;
  /** The admin's ACL user ("default" when only requirepass is set). */
  user?: string;
  password: string;
  /** The environment CA (PEM): Redis speaks TLS only, and its certificate must chain to this. */
  caCert?: string;
}

export interface RedisTenantInputs {
  tenant: string;
  user: string;
  keyPattern: string;
  password: string;
  onDelete: "retain" | "delete";
  admin: RedisAdmin;
  /** Take over an ACL user of this name that already exists (a catalog service's, kept when it was removed). */
  adoptExisting?: boolean;
  providerVersion?: string;
}

export interface RedisTenantObserved {
  exists: boolean;
  enabled: boolean;
  passwordMatches: boolean;
  keys: string[];
  channels: string[];
  commands: string;
  /** How many keys the tenant holds (SCAN over its pattern). */
  keyCount: number;
}

export interface RedisTenantState extends RedisTenantInputs {
  observed: RedisTenantObserved;
}

/** The ACL a tenant gets: reset, then only its own keys and channels, without admin or dangerous commands. */
function aclRules(i: RedisTenantInputs): string[] {
  if (!/^tenant-[a-z0-9-]+$/.test(i.user)) throw new Error(`tenant "${i.tenant}": Redis user ${JSON.stringify(i.user)} is not a tenant user name`);
  if (!/^tenant:[a-z0-9-]+:\*$/.test(i.keyPattern)) throw new Error(`tenant "${i.tenant}": unexpected key pattern ${JSON.stringify(i.keyPattern)}`);
  if (/\s/.test(i.password) || i.password.length < 16)
    throw new Error(`tenant "${i.tenant}": the Redis password must be at least 16 characters without spaces`);
  return ["reset", "on", `>${i.password}`, `~${i.keyPattern}`, `&${i.keyPattern}`, "+@all", "-@admin", "-@dangerous"];
}

type RedisClient = import("ioredis").Redis;

function client(admin: RedisAdmin, readyCheck = true): { c: RedisClient; lastError: () => string | undefined } {
  const mod = require("ioredis") as typeof import("ioredis");
  const Redis = ((mod as unknown as { default?: typeof import("ioredis").Redis }).default ?? mod.Redis) as typeof import("ioredis").Redis;
  let last: string | undefined;
  const c = new Redis({
    host: admin.host,
    port: admin.port,
    username: admin.user,
    password: admin.password,
    // Verified against the environment CA; the certificate names the container's address.
    ...(admin.caCert ? { tls: { ca: admin.caCert, minVersion: "TLSv1.3" as const } } : {}),
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 10_000,
    retryStrategy: () => null,
    // A tenant's own login (acceptsPassword) may not run INFO, which the ready check sends.
    enableReadyCheck: readyCheck,
  });
  // Failures surface through the awaited calls, which only say "Connection is closed." for a TLS refusal: the
  // connection's own error (an untrusted certificate, a refused port) is added to the message.
  c.on("error", (err: Error) => (last = err.message));
  return { c, lastError: () => last };
}

async function withClient<T>(i: { tenant: string; admin: RedisAdmin }, action: string, fn: (c: RedisClient) => Promise<T>): Promise<T> {
  const { c, lastError } = client(i.admin);
  try {
    await c.connect();
    return await fn(c);
  } catch (err) {
    const cause = lastError();
    const message = (err as Error).message + (cause && cause !== (err as Error).message ? ` (${cause})` : "");
    throw new Error(`Redis ${action} for tenant "${i.tenant}" on ${i.admin.host}:${i.admin.port} failed: ${message}`, { cause: err });
  } finally {
    c.disconnect();
  }
}

/** Whether the ACL user logs in with the tenant's password. */
async function acceptsPassword(i: RedisTenantInputs): Promise<boolean> {
  const { c } = client({ ...i.admin, user: i.user, password: i.password }, false);
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

function sha256(text: string): string {
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  return createHash("sha256").update(text).digest("hex");
}

async function countKeys(c: RedisClient, pattern: string): Promise<number> {
  let cursor = "0";
  let n = 0;
  do {
    const [next, keys] = await c.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== "0");
  return n;
}

async function observe(i: RedisTenantInputs): Promise<RedisTenantObserved> {
  return withClient(i, "read", async (c) => {
    const raw = (await c.call("ACL", "GETUSER", i.user)) as unknown[] | null;
    const keyCount = await countKeys(c, i.keyPattern);
    if (!raw) return { exists: false, enabled: false, passwordMatches: false, keys: [], channels: [], commands: "", keyCount };
    const fields: Record<string, unknown> = {};
    for (let k = 0; k + 1 < raw.length; k += 2) fields[String(raw[k])] = raw[k + 1];
    const flags = (fields.flags as string[]) ?? [];
    const passwords = (fields.passwords as string[]) ?? [];
    const split = (v: unknown) => (typeof v === "string" ? v.split(" ").filter(Boolean) : Array.isArray(v) ? v.map(String) : []);
    return {
      exists: true,
      enabled: flags.includes("on"),
      passwordMatches: passwords.length === 1 && passwords[0] === sha256(i.password),
      keys: split(fields.keys),
      channels: split(fields.channels),
      commands: String(fields.commands ?? ""),
      keyCount,
    };
  });
}

async function apply(i: RedisTenantInputs): Promise<RedisTenantState> {
  const rules = aclRules(i);
  await withClient(i, "ACL update", async (c) => {
    await c.call("ACL", "SETUSER", i.user, ...rules);
    // Persisted in the ACL file (lib/data-services.ts configures one): without it a restart forgets the tenant.
    await c.call("ACL", "SAVE");
  });
  return { ...i, observed: await observe(i) };
}

function drifted(declared: RedisTenantInputs, o: RedisTenantObserved | undefined): string[] {
  if (!o) return ["observed"];
  if (!o.exists) return ["user"];
  const out: string[] = [];
  if (!o.enabled) out.push("enabled");
  if (!o.passwordMatches) out.push("password");
  if (JSON.stringify(o.keys) !== JSON.stringify([`~${declared.keyPattern}`])) out.push("keys");
  if (JSON.stringify(o.channels) !== JSON.stringify([`&${declared.keyPattern}`])) out.push("channels");
  // Redis normalises the rules (-@admin is inside -@dangerous): compare meaning, not text. Everything but the
  // dangerous commands, and nothing allowed back afterwards.
  const commands = o.commands.split(" ").filter(Boolean);
  if (commands[0] !== "+@all" || !commands.includes("-@dangerous") || !commands.slice(1).every((c) => c.startsWith("-"))) out.push("commands");
  return out;
}

export const redisTenantProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: RedisTenantInputs, news: RedisTenantInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    try {
      aclRules(news);
    } catch (err) {
      failures.push({ property: "user", reason: (err as Error).message });
    }
    if (news.onDelete !== "retain" && news.onDelete !== "delete") failures.push({ property: "onDelete", reason: 'expected "retain" or "delete"' });
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: RedisTenantState, news: RedisTenantInputs) {
    const replaces = (["user"] as const).filter((k) => olds[k] !== news[k]) as string[];
    if (olds.admin?.host !== news.admin?.host || olds.admin?.port !== news.admin?.port) replaces.push("admin");
    const changed = (["keyPattern", "password", "onDelete", "providerVersion"] as const).filter((k) => olds[k] !== news[k]);
    return { changes: replaces.length > 0 || changed.length > 0 || drifted(news, olds.observed).length > 0, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: RedisTenantInputs) {
    const exists = await withClient(inputs, "create", async (c) => (await c.call("ACL", "GETUSER", inputs.user)) !== null);
    // A user of this name that accepts the tenant's own password (kept in Vault) is the tenant's, left in place by the
    // rebuild drill's destroy or a lost state: adopted. Any other is someone else's.
    if (exists && !inputs.adoptExisting && !(await acceptsPassword(inputs)))
      throw new Error(
        `Redis create for tenant "${inputs.tenant}" on ${inputs.admin.host}:${inputs.admin.port} failed: user ${inputs.user} already exists and does not accept the tenant's password; import it or remove it first`,
      );
    return { id: `${inputs.user}@${inputs.admin.host}:${inputs.admin.port}`, outs: await apply(inputs) };
  },

  async read(id: string, props: RedisTenantState) {
    const observed = await observe(props);
    if (!observed.exists && observed.keyCount === 0) return { id: "", props: {} };
    return { id, props: { ...props, observed } };
  },

  async update(_id: string, _olds: RedisTenantState, news: RedisTenantInputs) {
    return { outs: await apply(news) };
  },

  async delete(_id: string, props: RedisTenantState) {
    if (destroyKeepsData()) return;
    await withClient(props, "delete", async (c) => {
      const keys = await countKeys(c, props.keyPattern);
      if (keys > 0 && props.onDelete !== "delete") {
        throw new Error(
          `tenant "${props.tenant}" still has ${keys} key(s) under ${props.keyPattern}; they are kept. To delete them, ` +
            `set onDelete: delete for this tenant in ai-dualstack:tenants, run pulumi up, then remove the tenant.`,
        );
      }
      let cursor = "0";
      do {
        const [next, batch] = await c.scan(cursor, "MATCH", props.keyPattern, "COUNT", 1000);
        cursor = next;
        if (batch.length > 0) await c.unlink(...batch);
      } while (cursor !== "0");
      await c.call("ACL", "DELUSER", props.user);
      await c.call("ACL", "SAVE");
    });
  },
};

export interface RedisTenantArgs {
  tenant: pulumi.Input<string>;
  user: pulumi.Input<string>;
  keyPattern: pulumi.Input<string>;
  password: pulumi.Input<string>;
  onDelete: pulumi.Input<"retain" | "delete">;
  admin: pulumi.Input<{
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    user?: pulumi.Input<string>;
    password: pulumi.Input<string>;
    caCert?: pulumi.Input<string>;
  }>;
  adoptExisting?: pulumi.Input<boolean>;
}

/** A tenant's Redis ACL user. Type token: pulumi-nodejs:dynamic/redis:Tenant. */
export class RedisTenant extends pulumi.dynamic.Resource {
  declare public readonly observed: pulumi.Output<RedisTenantObserved>;

  constructor(name: string, args: RedisTenantArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      redisTenantProvider,
      name,
      { ...args, providerVersion: REDIS_TENANT_PROVIDER_VERSION, observed: undefined },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["password", "admin"] }),
      "redis",
      "Tenant",
    );
  }
}

export const __test = { drifted, aclRules };
