// A dynamic provider for one tenant's PostgreSQL database and login role, through `pg`. `read` reports what the
// server really has (role, database, owner, connection limit, whether the password still logs in), so `pulumi
// refresh` shows drift; `delete` keeps a tenant's data unless the tenant was configured for deletion.
//
// Serialisation rules (DESIGN.md): everything is `require`d inside the functions; credentials come from inputs
// marked secret, never from captured variables.
import * as pulumi from "@pulumi/pulumi";
import { destroyKeepsData } from "./keep-data";

export const PG_TENANT_PROVIDER_VERSION = "2";

export interface PgAdmin {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The maintenance database to connect to (default "postgres"). */
  database?: string;
  /** PEM of the CA of the server's certificate: TLS with verification (the data LXC accepts nothing else remotely). */
  caCert?: string;
}

export interface PgTenantInputs {
  tenant: string;
  role: string;
  database: string;
  password: string;
  connectionLimit: number;
  onDelete: "retain" | "delete";
  admin: PgAdmin;
  /** Take over a role and database of this name that already exist (a catalog service's, kept when it was removed). */
  adoptExisting?: boolean;
  providerVersion?: string;
}

export interface PgTenantObserved {
  roleExists: boolean;
  canLogin: boolean;
  connectionLimit: number | null;
  databaseExists: boolean;
  owner: string | null;
  passwordWorks: boolean;
  tables: number;
}

export interface PgTenantState extends PgTenantInputs {
  observed: PgTenantObserved;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

type PgClient = import("pg").Client;

async function connect(admin: PgAdmin, database?: string, as?: { user: string; password: string }): Promise<PgClient> {
  const { Client } = require("pg") as typeof import("pg");
  const client = new Client({
    host: admin.host,
    port: admin.port,
    user: as?.user ?? admin.user,
    password: as?.password ?? admin.password,
    database: database ?? admin.database ?? "postgres",
    connectionTimeoutMillis: 10_000,
    ...(admin.caCert ? { ssl: { ca: admin.caCert, rejectUnauthorized: true } } : {}),
  });
  await client.connect();
  return client;
}

/** Whether the role logs in with the tenant's password (its database may be gone: the login is what counts). */
async function acceptsPassword(i: PgTenantInputs): Promise<boolean> {
  try {
    await (await connect(i.admin, i.database, { user: i.role, password: i.password })).end();
    return true;
  } catch (err) {
    // 3D000: no such database, said only after the password was accepted.
    return (err as { code?: string }).code === "3D000";
  }
}

/** An error naming the tenant, the server and what went wrong; never the password or the SQL that carries it. */
function fail(tenant: string, admin: PgAdmin, action: string, err: unknown): Error {
  const e = err as { message?: string; code?: string };
  return new Error(
    `PostgreSQL ${action} for tenant "${tenant}" on ${admin.host}:${admin.port} failed: ${e?.message ?? String(err)}${e?.code ? ` (${e.code})` : ""}`,
  );
}

function checkIdentifiers(i: PgTenantInputs) {
  for (const [k, v] of [
    ["role", i.role],
    ["database", i.database],
  ] as const) {
    if (!IDENT.test(v)) throw new Error(`tenant "${i.tenant}": ${k} ${JSON.stringify(v)} is not a safe identifier`);
  }
}

async function observe(i: PgTenantInputs): Promise<PgTenantObserved> {
  const admin = await connect(i.admin);
  try {
    const role = await admin.query("select rolcanlogin, rolconnlimit from pg_roles where rolname = $1", [i.role]);
    const db = await admin.query("select pg_get_userbyid(datdba) as owner from pg_database where datname = $1", [i.database]);
    let tables = 0;
    if (db.rowCount) {
      const inDb = await connect(i.admin, i.database);
      try {
        tables = Number((await inDb.query("select count(*) as n from pg_tables where schemaname not in ('pg_catalog', 'information_schema')")).rows[0].n);
      } finally {
        await inDb.end();
      }
    }
    let passwordWorks = false;
    if (role.rowCount && db.rowCount) {
      try {
        const asTenant = await connect(i.admin, i.database, { user: i.role, password: i.password });
        await asTenant.end();
        passwordWorks = true;
      } catch {
        passwordWorks = false;
      }
    }
    return {
      roleExists: role.rowCount === 1,
      canLogin: role.rows[0]?.rolcanlogin === true,
      connectionLimit: role.rowCount ? Number(role.rows[0].rolconnlimit) : null,
      databaseExists: db.rowCount === 1,
      owner: db.rows[0]?.owner ?? null,
      passwordWorks,
      tables,
    };
  } finally {
    await admin.end();
  }
}

/** Brings the server to the declared state: creates what is missing, corrects what drifted. */
async function converge(i: PgTenantInputs, creating: boolean): Promise<PgTenantState> {
  checkIdentifiers(i);
  let admin: PgClient;
  try {
    admin = await connect(i.admin);
  } catch (err) {
    throw fail(i.tenant, i.admin, "connection", err);
  }
  let createdRole = false;
  try {
    const role = admin.escapeIdentifier(i.role);
    const exists = (await admin.query("select 1 from pg_roles where rolname = $1", [i.role])).rowCount === 1;
    // A role of this name that accepts the tenant's own password (kept in Vault) is the tenant's, left in place by the
    // rebuild drill's destroy or a lost state: adopted. Any other is someone else's.
    if (exists && creating && !i.adoptExisting && !(await acceptsPassword(i)))
      throw new Error(`role ${i.role} already exists and does not accept the tenant's password; import it or remove it first`);
    const limit = Math.trunc(i.connectionLimit);
    if (!exists) {
      await admin.query(`create role ${role} login password ${admin.escapeLiteral(i.password)} connection limit ${limit}`);
      createdRole = true;
    } else {
      await admin.query(`alter role ${role} login password ${admin.escapeLiteral(i.password)} connection limit ${limit}`);
    }
    // The administrator is no superuser (CREATEDB CREATEROLE): it may give a database to a role only as a member of
    // it (PostgreSQL 15: membership; 16: the SET option, which a plain GRANT gives). Found on a real server.
    await admin.query(`grant ${role} to current_user`);
    const db = await admin.query("select pg_get_userbyid(datdba) as owner from pg_database where datname = $1", [i.database]);
    const database = admin.escapeIdentifier(i.database);
    if (db.rowCount === 0) {
      await admin.query(`create database ${database} owner ${role}`);
    } else if (db.rows[0].owner !== i.role) {
      await admin.query(`alter database ${database} owner to ${role}`);
    }
    // Only the tenant (and the admin) may connect to its database.
    await admin.query(`revoke all on database ${database} from public`);
    await admin.query(`grant connect, create, temporary on database ${database} to ${role}`);
  } catch (err) {
    // A half-finished create leaves nothing behind.
    if (createdRole) await admin.query(`drop role if exists ${admin.escapeIdentifier(i.role)}`).catch(() => undefined);
    await admin.end();
    throw fail(i.tenant, i.admin, creating ? "create" : "update", err);
  }
  await admin.end();
  return { ...i, observed: await observe(i) };
}

function drifted(declared: PgTenantInputs, o: PgTenantObserved | undefined): string[] {
  if (!o) return ["observed"];
  const out: string[] = [];
  if (!o.roleExists) out.push("role");
  if (!o.databaseExists) out.push("database");
  if (o.roleExists && !o.canLogin) out.push("login");
  if (o.connectionLimit !== null && o.connectionLimit !== declared.connectionLimit) out.push("connectionLimit");
  if (o.owner !== null && o.owner !== declared.role) out.push("owner");
  if (o.roleExists && o.databaseExists && !o.passwordWorks) out.push("password");
  return out;
}

export const pgTenantProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: PgTenantInputs, news: PgTenantInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(news.role ?? ""))
      failures.push({ property: "role", reason: `expected a lower-case SQL identifier, got ${JSON.stringify(news.role)}` });
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(news.database ?? ""))
      failures.push({ property: "database", reason: `expected a lower-case SQL identifier, got ${JSON.stringify(news.database)}` });
    if (!(Number.isInteger(news.connectionLimit) && news.connectionLimit >= 1))
      failures.push({ property: "connectionLimit", reason: "expected a whole number ≥ 1" });
    if (news.onDelete !== "retain" && news.onDelete !== "delete") failures.push({ property: "onDelete", reason: 'expected "retain" or "delete"' });
    if (typeof news.password !== "string" || news.password.length < 16)
      failures.push({ property: "password", reason: "expected a generated password of at least 16 characters" });
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: PgTenantState, news: PgTenantInputs) {
    const replaces = (["role", "database"] as const).filter((k) => olds[k] !== news[k]);
    if (olds.admin?.host !== news.admin?.host || olds.admin?.port !== news.admin?.port) replaces.push("admin" as never);
    const changed = (["connectionLimit", "password", "onDelete", "providerVersion"] as const).filter((k) => olds[k] !== news[k]);
    const changes = replaces.length > 0 || changed.length > 0 || drifted(news, olds.observed).length > 0;
    return { changes, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: PgTenantInputs) {
    return { id: `${inputs.database}@${inputs.admin.host}:${inputs.admin.port}`, outs: await converge(inputs, true) };
  },

  async read(id: string, props: PgTenantState) {
    let observed: PgTenantObserved;
    try {
      observed = await observe(props);
    } catch (err) {
      throw fail(props.tenant, props.admin, "read", err);
    }
    if (!observed.roleExists && !observed.databaseExists) return { id: "", props: {} };
    return { id, props: { ...props, observed } };
  },

  async update(_id: string, _olds: PgTenantState, news: PgTenantInputs) {
    return { outs: await converge(news, false) };
  },

  async delete(_id: string, props: PgTenantState) {
    if (destroyKeepsData()) return;
    checkIdentifiers(props);
    const o = await observe(props).catch((err) => {
      throw fail(props.tenant, props.admin, "delete", err);
    });
    if (o.databaseExists && o.tables > 0 && props.onDelete !== "delete") {
      throw new Error(
        `tenant "${props.tenant}" still has ${o.tables} table(s) in database ${props.database}; its data is kept. ` +
          `To delete it, set onDelete: delete for this tenant in ai-dualstack:tenants, run pulumi up, then remove the tenant.`,
      );
    }
    const admin = await connect(props.admin);
    try {
      if (o.databaseExists) {
        await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", [props.database]);
        await admin.query(`drop database if exists ${admin.escapeIdentifier(props.database)}`);
      }
      await admin.query(`drop role if exists ${admin.escapeIdentifier(props.role)}`);
    } catch (err) {
      throw fail(props.tenant, props.admin, "delete", err);
    } finally {
      await admin.end();
    }
  },
};

export interface PgTenantArgs {
  tenant: pulumi.Input<string>;
  role: pulumi.Input<string>;
  database: pulumi.Input<string>;
  password: pulumi.Input<string>;
  connectionLimit: pulumi.Input<number>;
  onDelete: pulumi.Input<"retain" | "delete">;
  admin: pulumi.Input<{ host: pulumi.Input<string>; port: pulumi.Input<number>; user: pulumi.Input<string>; password: pulumi.Input<string> }>;
  adoptExisting?: pulumi.Input<boolean>;
}

/** A tenant's database and login role. Type token: pulumi-nodejs:dynamic/postgres:Tenant. */
export class PgTenant extends pulumi.dynamic.Resource {
  declare public readonly observed: pulumi.Output<PgTenantObserved>;

  constructor(name: string, args: PgTenantArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      pgTenantProvider,
      name,
      { ...args, providerVersion: PG_TENANT_PROVIDER_VERSION, observed: undefined },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["password", "admin"] }),
      "postgres",
      "Tenant",
    );
  }
}

export const __test = { drifted };
