// The data services' install scripts, run by bash with apt-get, systemctl and chown replaced by stubs, against the
// real tools: Redis is then started from the configuration the script wrote (ACL file and all) and the tenancy
// provider works against it; the PostgreSQL script's administrator SQL runs in a real server.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { Client } from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { redisTenantProvider } from "../../components/providers/redis-tenant";
import { POSTGRES_ADMIN, renderPgHba, renderPostgresInstallScript, renderRedisInstallScript } from "../../lib/data-services";
import { stdinBundle } from "../../lib/shell";
import { makeTestCa } from "../helpers/pki";
import { pemBlock, stubTool } from "../helpers/script-stubs";
import { freePort, pgBin, startPostgres, type Postgres } from "../helpers/servers";
import { accepts, startProcess } from "../helpers/process";

const TLS = [pemBlock("PRIVATE KEY", "pg-key"), pemBlock("CERTIFICATE", "pg-cert"), pemBlock("CERTIFICATE", "env-ca")];

let dir: string;
let bin: string;
const stub = (name: string, body: string) => stubTool(bin, `${dir}/calls.log`, name, body);
const calls = () => readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n");
function run(script: string, stdin: string, env: Record<string, string> = {}) {
  const r = spawnSync("bash", ["--norc", "--noprofile", "-c", script], { input: stdin, encoding: "utf8", env: { PATH: `${bin}:${process.env.PATH}`, ...env } });
  return { code: r.status, out: r.stdout + r.stderr };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "data-svc-"));
  bin = join(dir, "stub-bin");
  mkdirSync(bin);
  writeFileSync(join(dir, "calls.log"), "");
  for (const s of ["apt-get", "systemctl", "chown"]) stub(s, "");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("Redis install script", () => {
  it("writes a configuration the real redis-server runs with: TLS only, the admin password, tenants saved and kept across runs", async () => {
    const layout = { ip: "127.0.0.2", port: await freePort(), configDir: join(dir, "etc-redis"), dataDir: join(dir, "data") };
    const ca = makeTestCa();
    const cert = ca.issue("test-redis", { ip: ["127.0.0.2"] });
    const stdin = (password: string) => stdinBundle({ secretLine: password, pems: [cert.keyPem, cert.certPem, ca.certPem] });
    const script = renderRedisInstallScript(layout);
    expect(script).not.toContain("s3cret");
    expect(run(script, stdin("admin-s3cret-0123456789"))).toMatchObject({ code: 0 });
    expect(calls()).toContain("systemctl restart redis-server");
    expect(readFileSync(join(layout.configDir, "users.acl"), "utf8")).not.toContain("admin-s3cret");
    expect(statSync(join(layout.configDir, "tls/server.key")).mode & 0o777).toBe(0o600);

    // Ready once it listens on its TLS port; SIGTERM (a clean shutdown, as systemctl restart does) stops it.
    const start = () =>
      startProcess("redis-server", [join(layout.configDir, "redis.conf")], { ready: () => accepts(layout.port, "127.0.0.2"), stopSignal: "SIGTERM" });
    const connect = async (password: string, username?: string) => {
      for (let i = 0; ; i++) {
        const c = new Redis({
          host: "127.0.0.2",
          port: layout.port,
          username,
          password,
          tls: { ca: ca.certPem },
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        }).on("error", () => undefined);
        try {
          await c.connect();
          return c;
        } catch (err) {
          c.disconnect();
          if (i > 50 || /WRONGPASS|NOAUTH/.test(String(err))) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    let server = await start();
    try {
      const admin = await connect("admin-s3cret-0123456789");
      expect(await admin.config("GET", "appendonly")).toEqual(["appendonly", "yes"]);
      expect(await admin.config("GET", "port")).toEqual(["port", "0"]);
      admin.disconnect();
      const tenant = {
        tenant: "acme",
        user: "tenant-acme",
        keyPattern: "tenant:acme:*",
        password: "pw-acme-0123456789abcdef",
        onDelete: "retain" as const,
        admin: { host: "127.0.0.2", port: layout.port, password: "admin-s3cret-0123456789", caCert: ca.certPem },
      };
      // Plain text gets no answer, and a server certificate from another CA is refused, with the reason.
      await expect(redisTenantProvider.create({ ...tenant, admin: { ...tenant.admin, caCert: undefined } })).rejects.toThrow(
        /Redis create for tenant "acme" on 127.0.0.2/,
      );
      const other = makeTestCa("another CA");
      await expect(redisTenantProvider.create({ ...tenant, admin: { ...tenant.admin, caCert: other.certPem } })).rejects.toThrow(/certificate/);
      other.remove();
      await redisTenantProvider.create(tenant);

      // The same password again: nothing changes, the tenant stays.
      writeFileSync(join(dir, "calls.log"), "");
      expect(run(script, stdin("admin-s3cret-0123456789")).code).toBe(0);
      expect(calls()).toContain("systemctl start redis-server");
      // A new admin password: the default user changes, the tenant is kept; after a restart both work.
      expect(run(script, stdin("rotated-admin-0123456789")).code).toBe(0);
      expect(calls()).toContain("systemctl restart redis-server");
      await server.stop();
      server = await start();
      const rotated = await connect("rotated-admin-0123456789");
      await expect(rotated.call("AUTH", "default", "admin-s3cret-0123456789")).rejects.toThrow(/WRONGPASS/);
      rotated.disconnect();
      const t = await connect(tenant.password, "tenant-acme");
      await t.set("tenant:acme:x", "1");
      t.disconnect();
    } finally {
      await server.stop();
      ca.remove();
    }
  });

  it("refuses to run without the password on stdin, or without the TLS material", () => {
    const r = run(renderRedisInstallScript({ ip: "10.20.0.22", configDir: join(dir, "etc"), dataDir: join(dir, "data") }), "");
    expect(r.code).toBe(1);
    expect(r.out).toContain("stdin: expected the password on the first line");
    const noTls = run(
      renderRedisInstallScript({ ip: "10.20.0.22", configDir: join(dir, "etc"), dataDir: join(dir, "data") }),
      stdinBundle({ secretLine: "admin-0123456789abcdef", pems: [] }),
    );
    expect(noTls.code).toBe(1);
    expect(noTls.out).toContain("PRIVATE KEY 1 is missing");
  });
});

describe("PostgreSQL install script", () => {
  let pg: Postgres;
  beforeEach(async () => {
    pg = await startPostgres();
  });
  afterEach(() => pg.stop());

  it("writes TLS-only network access, the TLS files, and creates or rotates the administrator in the real server", async () => {
    const root = join(dir, "root");
    mkdirSync(join(root, "etc/postgresql/15/main/conf.d"), { recursive: true });
    stub("pg_lsclusters", "");
    // runuser -u postgres -- psql …: run the real psql against the test server instead.
    stub("runuser", `shift 3; exec "${pgBin("psql")}" -h ${pg.host} -p ${pg.port} -U ${pg.user} "\${@:2}"`);
    const layout = { ip: "10.20.0.21", clientCidrs: ["10.20.0.0/24", "192.168.10.0/28"] };
    const script = renderPostgresInstallScript(layout);
    const env = { ROOT: root, PGPASSWORD: pg.password };
    const first = run(script, stdinBundle({ secretLine: "admin-pw-0123456789abcdef", pems: TLS }), env);
    expect(first.out).toContain("postgresql: 15 ready on 10.20.0.21:5432");
    expect(first.code).toBe(0);
    expect(readFileSync(join(root, "etc/postgresql/15/main/pg_hba.conf"), "utf8")).toBe(renderPgHba(layout));
    expect(readFileSync(join(root, "etc/postgresql/15/main/conf.d/ai-dualstack.conf"), "utf8")).toContain("ssl_min_protocol_version = 'TLSv1.3'");
    expect(statSync(join(root, "etc/ssl/ai-dualstack-postgresql/server.key")).mode & 0o777).toBe(0o600);
    expect(calls()).toContain("systemctl restart postgresql");

    const login = async (password: string) => {
      const c = new Client({ host: pg.host, port: pg.port, user: POSTGRES_ADMIN, password, database: "postgres" });
      await c.connect();
      const r = await c.query("SELECT rolcreatedb, rolcreaterole, rolsuper FROM pg_roles WHERE rolname = current_user");
      await c.end();
      return r.rows[0];
    };
    expect(await login("admin-pw-0123456789abcdef")).toEqual({ rolcreatedb: true, rolcreaterole: true, rolsuper: false });
    writeFileSync(join(dir, "calls.log"), "");
    expect(run(script, stdinBundle({ secretLine: "rotated-pw-0123456789abcdef", pems: TLS }), env).code).toBe(0);
    expect(calls()).toContain("systemctl start postgresql");
    await expect(login("admin-pw-0123456789abcdef")).rejects.toThrow(/password authentication failed/);
    expect(await login("rotated-pw-0123456789abcdef")).toMatchObject({ rolcreaterole: true });
  });

  it("a hostile password is data, not SQL", async () => {
    const root = join(dir, "root");
    mkdirSync(join(root, "etc/postgresql/15/main"), { recursive: true });
    stub("pg_lsclusters", "");
    stub("runuser", `shift 3; exec "${pgBin("psql")}" -h ${pg.host} -p ${pg.port} -U ${pg.user} "\${@:2}"`);
    const hostile = "x'; DROP ROLE postgres; --\\gexec";
    expect(
      run(renderPostgresInstallScript({ ip: "10.20.0.21", clientCidrs: ["10.20.0.0/24"] }), stdinBundle({ secretLine: hostile, pems: TLS }), {
        ROOT: root,
        PGPASSWORD: pg.password,
      }).code,
    ).toBe(0);
    const c = new Client({ host: pg.host, port: pg.port, user: POSTGRES_ADMIN, password: hostile, database: "postgres" });
    await c.connect();
    await c.end();
  });
});
