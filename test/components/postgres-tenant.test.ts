// The PostgreSQL tenant provider against a real PostgreSQL server (Debian's postgresql), started on loopback.
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { __test, pgTenantProvider as p, type PgTenantInputs, type PgTenantState } from "../../components/providers/postgres-tenant";
import { tenantObjects } from "../../lib/tenancy";
import { startPostgres, type Postgres } from "../helpers/servers";
import { keepingData } from "../helpers/keep-data";

let pg: Postgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => pg?.stop());

const admin = () => ({ host: pg.host, port: pg.port, user: pg.user, password: pg.password });
function inputs(name: string, extra: Partial<PgTenantInputs> = {}): PgTenantInputs {
  const o = tenantObjects(name);
  return {
    tenant: name,
    role: o.pgRole,
    database: o.pgDatabase,
    password: `pw-${name}-0123456789abcdef`,
    connectionLimit: 5,
    onDelete: "retain",
    admin: admin(),
    ...extra,
  };
}
async function sql(q: string, database = "postgres", as?: { user: string; password: string }) {
  const c = new Client({ host: pg.host, port: pg.port, user: as?.user ?? pg.user, password: as?.password ?? pg.password, database });
  await c.connect();
  try {
    return await c.query(q);
  } finally {
    await c.end();
  }
}

describe("PostgreSQL tenant", () => {
  it("creates a login role and a database it owns, closed to everyone else", async () => {
    const i = inputs("acme");
    const { id, outs } = (await p.create(i)) as { id: string; outs: PgTenantState };
    expect(id).toBe(`tenant_acme@127.0.0.1:${pg.port}`);
    expect(outs.observed).toEqual({
      roleExists: true,
      canLogin: true,
      connectionLimit: 5,
      databaseExists: true,
      owner: "tenant_acme",
      passwordWorks: true,
      tables: 0,
    });
    // The tenant can work in its database…
    await sql("create table notes (id int); insert into notes values (1)", "tenant_acme", { user: "tenant_acme", password: i.password });
    // …and another tenant cannot even connect to it.
    const other = inputs("globex");
    await p.create(other);
    await expect(sql("select 1", "tenant_acme", { user: "tenant_globex", password: other.password })).rejects.toThrow(
      /permission denied for database "tenant_acme"/,
    );
  });

  it("works as the administrator the install script makes: CREATEDB CREATEROLE, no superuser", async () => {
    // As lib/data-services.ts renderPostgresAdminSql creates it (a superuser would hide what a real box refuses).
    await sql("create role ai_admin_test login createdb createrole password 'admin-password-0123456789'");
    const asAdmin = { ...admin(), user: "ai_admin_test", password: "admin-password-0123456789" };
    const i = inputs("hooli", { admin: asAdmin, onDelete: "delete" });
    const { id, outs } = (await p.create(i)) as { id: string; outs: PgTenantState };
    expect(outs.observed).toMatchObject({ roleExists: true, databaseExists: true, owner: "tenant_hooli", passwordWorks: true });
    await p.delete!(id, outs);
    expect(await p.read!(id, outs)).toEqual({ id: "", props: {} });
  });

  it("read reports drift: password changed, connection limit altered, role dropped", async () => {
    const i = inputs("initech");
    const { id, outs } = (await p.create(i)) as { id: string; outs: PgTenantState };
    expect((await p.diff!(id, outs, i)).changes).toBe(false);
    await sql("alter role tenant_initech password 'changed-out-of-band' connection limit 99");
    const refreshed = (await p.read!(id, outs)).props as PgTenantState;
    expect(refreshed.observed).toMatchObject({ passwordWorks: false, connectionLimit: 99 });
    expect(__test.drifted(i, refreshed.observed)).toEqual(["connectionLimit", "password"]);
    expect(await p.diff!(id, refreshed, i)).toMatchObject({ changes: true, replaces: [] });
    const updated = (await p.update!(id, refreshed, i)).outs as PgTenantState;
    expect(updated.observed).toMatchObject({ passwordWorks: true, connectionLimit: 5 });

    await sql("drop database tenant_initech");
    await sql("drop role tenant_initech");
    expect(await p.read!(id, outs)).toEqual({ id: "", props: {} });
  });

  it("keeps a removed tenant's data unless it was configured for deletion", async () => {
    const i = inputs("umbrella");
    const { id, outs } = (await p.create(i)) as { id: string; outs: PgTenantState };
    await sql("create table orders (id int)", "tenant_umbrella", { user: "tenant_umbrella", password: i.password });
    await expect(p.delete!(id, outs)).rejects.toThrow(
      'tenant "umbrella" still has 1 table(s) in database tenant_umbrella; its data is kept. To delete it, set onDelete: delete for this tenant in ai-dualstack:tenants, run pulumi up, then remove the tenant.',
    );
    expect((await sql("select 1 from pg_database where datname = 'tenant_umbrella'")).rowCount).toBe(1);
    await p.delete!(id, { ...outs, onDelete: "delete" });
    expect((await sql("select 1 from pg_database where datname = 'tenant_umbrella'")).rowCount).toBe(0);
    expect((await sql("select 1 from pg_roles where rolname = 'tenant_umbrella'")).rowCount).toBe(0);
  });

  it("deletes an empty tenant, and tolerates one already gone", async () => {
    const i = inputs("hooli");
    const { id, outs } = (await p.create(i)) as { id: string; outs: PgTenantState };
    await p.delete!(id, outs);
    await p.delete!(id, outs);
    expect((await sql("select 1 from pg_roles where rolname = 'tenant_hooli'")).rowCount).toBe(0);
  });

  it("adopts an existing role and database when told to (a catalog service enabled again), with the new password", async () => {
    const first = inputs("hooli");
    await p.create(first);
    await sql("create table kept (id int); insert into kept values (7)", "tenant_hooli", { user: "tenant_hooli", password: first.password });
    await expect(p.create({ ...first, password: "pw-second-0123456789abcdef" })).rejects.toThrow(/already exists/);
    const again = { ...first, password: "pw-second-0123456789abcdef", adoptExisting: true };
    const { outs } = (await p.create(again)) as { outs: PgTenantState };
    expect(outs.observed).toMatchObject({ passwordWorks: true, tables: 1 });
    expect((await sql("select id from kept", "tenant_hooli", { user: "tenant_hooli", password: again.password })).rows).toEqual([{ id: 7 }]);
  });

  it("adopts its own role and data left in place (the rebuild drill's destroy): the tenant's password proves it", async () => {
    const first = inputs("wayne");
    const { id, outs } = (await p.create(first)) as { id: string; outs: PgTenantState };
    await sql("create table kept (id int); insert into kept values (9)", "tenant_wayne", { user: "tenant_wayne", password: first.password });
    await keepingData(() => p.delete!(id, outs));
    const { outs: again } = (await p.create(first)) as { outs: PgTenantState };
    expect(again.observed).toMatchObject({ passwordWorks: true, tables: 1 });
    expect((await sql("select id from kept", "tenant_wayne", { user: "tenant_wayne", password: first.password })).rows).toEqual([{ id: 9 }]);
  });

  it("refuses hostile names and never runs them as SQL", async () => {
    expect(() => tenantObjects("acme; drop table x")).toThrow(/lower-case DNS label/);
    const hostile = { ...inputs("evil"), role: 'x"; drop database postgres; --', database: "tenant_evil" };
    expect((await p.check!({}, hostile)).failures?.map((f) => f.property)).toEqual(["role"]);
    await expect(p.create(hostile)).rejects.toThrow(/is not a safe identifier/);
    // A password full of quotes is a literal, not SQL.
    const quoted = inputs("quotes", { password: "it's'); drop role admin; --x" });
    const { outs } = (await p.create(quoted)) as { outs: PgTenantState };
    expect(outs.observed.passwordWorks).toBe(true);
    expect((await sql("select 1 from pg_roles where rolname = 'admin'")).rowCount).toBe(1);
  });

  it("a half-finished create leaves nothing behind, and errors never show the password", async () => {
    await sql("create role tenant_taken");
    const err = await p.create(inputs("taken", { password: "secret-password-never-shown-1234" })).catch((e) => e);
    expect(err.message).toContain('PostgreSQL create for tenant "taken"');
    expect(err.message).toContain("role tenant_taken already exists and does not accept the tenant's password");
    expect(err.message).not.toContain("secret-password-never-shown");
    // CREATE DATABASE fails after the role was made (template1 is in use by another session): the role goes again.
    const holder = new Client({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: "template1" });
    await holder.connect();
    try {
      const bad = await p.create(inputs("halfway", { password: "another-secret-password-5678" })).catch((e) => e);
      expect(bad.message).toMatch(
        /PostgreSQL create for tenant "halfway" on 127\.0\.0\.1:\d+ failed: source database "template1" is being accessed by other users/,
      );
      expect(bad.message).not.toContain("another-secret-password");
    } finally {
      await holder.end();
    }
    expect((await sql("select 1 from pg_roles where rolname = 'tenant_halfway'")).rowCount).toBe(0);
    expect((await sql("select 1 from pg_database where datname = 'tenant_halfway'")).rowCount).toBe(0);
  });
});
