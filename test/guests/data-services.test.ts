// The data LXCs' install scripts, for real: a Debian 12 guest stands in for the PostgreSQL and Redis containers (Proxmox
// makes them from Debian 12's standard template, root reached with the operators' key), and the program's own
// scripts run on it exactly as its command resources send them — the script as the SSH session's command, run by
// root's login shell, the secrets and PEM blocks on standard input: first the apt proxy (the platform's package
// cache), then PostgreSQL's and Redis's installs. Then the real servers are checked from the host through forwarded
// ports, and the tenancy providers run against them. One guest holds both services, to spare a boot.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgTenantProvider } from "../../components/providers/postgres-tenant";
import { redisTenantProvider } from "../../components/providers/redis-tenant";
import { POSTGRES_ADMIN, POSTGRES_PORT, REDIS_PORT, renderPostgresInstallScript, renderRedisInstallScript } from "../../lib/data-services";
import { packageCacheFiles, renderAptProxyScript } from "../../lib/package-cache";
import { stdinBundle } from "../../lib/shell";
import { tenantObjects } from "../../lib/tenancy";
import { makeTestCa, type TestCa } from "../helpers/pki";
import { run } from "../helpers/process";
import {
  APT_PROXY,
  GUEST_ADDRESS,
  asProgram,
  bootVm,
  freePort,
  guestImage,
  lxcStandInUserData,
  startPackageCache,
  testKey,
  waitForFirstBoot,
  type Booted,
  type PackageCache,
} from "./testbed";

const dir = mkdtempSync(join(tmpdir(), "guests-data-"));
const passwords = { postgres: "pg-admin-Zq8vN2kLw5Xr7Tb3", redis: "redis-admin-Hm4Jc9Pd2Vs6Ky1" };
const zone = "10.0.2.0/24";
let cache: PackageCache;
let vm: Booted;
let ca: TestCa;
let ports: { postgres: number; redis: number };
let bundles: { postgres: string; redis: string };
const scripts = {
  postgres: renderPostgresInstallScript({ ip: GUEST_ADDRESS, clientCidrs: [zone] }),
  redis: renderRedisInstallScript({ ip: GUEST_ADDRESS, configDir: "/etc/redis", dataDir: "/var/lib/redis" }),
};

const onGuest = (script: string, input?: string) => asProgram(vm, script, input);
const sh = async (command: string) => (await onGuest(command)).trim();

beforeAll(async () => {
  const [image, key] = await Promise.all([guestImage(), testKey(dir)]);
  cache = await startPackageCache(dir, packageCacheFiles("127.0.0.1"));
  ports = { postgres: await freePort(), redis: await freePort() };
  vm = await bootVm(
    {
      dir: join(dir, "vm"),
      instanceId: "iid-public-data-1",
      hostname: "public-data",
      userData: lxcStandInUserData(key.publicKey),
      dataDisk: join(dir, "unused.qcow2"),
      dataDiskGiB: 1,
      cachePort: cache.port,
      forwards: { [POSTGRES_PORT]: ports.postgres, [REDIS_PORT]: ports.redis },
    },
    image,
    key,
  );
  await waitForFirstBoot(vm, { user: "root" });
  // The certificates as the environment CA issues them (the container's address), and for the forwarded loopback.
  ca = makeTestCa("ai-dualstack public CA (test)");
  const issue = (name: string) => ca.issue(name, { ip: [GUEST_ADDRESS, "127.0.0.1"], dns: [name] });
  const pgCert = issue("public-postgres");
  const redisCert = issue("public-redis");
  bundles = {
    postgres: stdinBundle({ secretLine: passwords.postgres, pems: [pgCert.keyPem, pgCert.certPem, ca.certPem] }),
    redis: stdinBundle({ secretLine: passwords.redis, pems: [redisCert.keyPem, redisCert.certPem, ca.certPem] }),
  };
  await onGuest(renderAptProxyScript(APT_PROXY));
  await onGuest(scripts.postgres, bundles.postgres);
  await onGuest(scripts.redis, bundles.redis);
});

afterAll(async () => {
  await vm?.stop();
  await cache?.stop();
  ca?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const pg = (options: { ssl?: object | false; password?: string; user?: string; database?: string } = {}) =>
  new Client({
    host: "127.0.0.1",
    port: ports.postgres,
    user: options.user ?? POSTGRES_ADMIN,
    password: options.password ?? passwords.postgres,
    database: options.database ?? "postgres",
    ssl: options.ssl === undefined ? { ca: ca.certPem, rejectUnauthorized: true } : options.ssl,
  });
const redis = (options: { tls?: object; password?: string; username?: string } = {}) =>
  new Redis({
    host: "127.0.0.1",
    port: ports.redis,
    username: options.username,
    password: options.password ?? passwords.redis,
    ...(options.tls === undefined ? { tls: { ca: ca.certPem } } : Object.keys(options.tls).length ? { tls: options.tls } : {}),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  }).on("error", () => undefined);

/** The addresses a TCP port is listened on in the guest. */
const listening = async (port: number) => (await sh(`ss -ltnH 'sport = :${port}' | awk '{print $4}' | sort`)).split("\n").filter(Boolean);

describe("the data LXCs' install scripts, in a real Debian guest", () => {
  it("PostgreSQL listens on loopback and the container's address only", async () => {
    expect(await listening(POSTGRES_PORT)).toEqual([`${GUEST_ADDRESS}:${POSTGRES_PORT}`, `127.0.0.1:${POSTGRES_PORT}`].sort());
  });

  it("PostgreSQL: TLS 1.3 verified against the environment CA, the administrator with the generated password; plain text, a wrong password and another CA are refused", async () => {
    const c = pg();
    await c.connect();
    const r = await c.query("SELECT current_user AS who, (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS tls");
    await c.end();
    expect(r.rows[0]).toEqual({ who: POSTGRES_ADMIN, tls: "TLSv1.3" });
    await expect(pg({ ssl: false }).connect()).rejects.toThrow(/no pg_hba.conf entry|no encryption/);
    await expect(pg({ password: "not-the-password" }).connect()).rejects.toThrow(/password authentication failed/);
    const other = makeTestCa("another CA");
    await expect(pg({ ssl: { ca: other.certPem, rejectUnauthorized: true } }).connect()).rejects.toThrow(/self[- ]signed|unable to verify|certificate/);
    other.remove();
  });

  it("Redis listens with TLS only, on loopback and the container's address; the administrator logs in with the generated password", async () => {
    expect(await listening(REDIS_PORT)).toEqual([`${GUEST_ADDRESS}:${REDIS_PORT}`, `127.0.0.1:${REDIS_PORT}`].sort());
    const admin = redis();
    await admin.connect();
    expect(await admin.ping()).toBe("PONG");
    expect(await admin.config("GET", "port")).toEqual(["port", "0"]);
    admin.disconnect();
    const plain = redis({ tls: {} });
    await expect(plain.connect().then(() => plain.ping())).rejects.toThrow();
    plain.disconnect();
    // A wrong password, through Redis's own client (TLS verified): refused by the server, not by the connection.
    const caFile = join(dir, "env-ca.pem");
    writeFileSync(caFile, ca.certPem);
    const cli = (password: string) =>
      run("redis-cli", ["--tls", "--cacert", caFile, "-h", "127.0.0.1", "-p", String(ports.redis), "--no-auth-warning", "-a", password, "PING"]);
    expect((await cli(passwords.redis)).stdout.trim()).toBe("PONG");
    expect((await cli("not-the-password")).all).toMatch(/WRONGPASS/);
  });

  it("the tenancy providers create, read and remove a tenant on these servers", async () => {
    const o = tenantObjects("acme");
    const pgTenant = {
      tenant: "acme",
      role: o.pgRole,
      database: o.pgDatabase,
      password: "pw-acme-0123456789abcdef",
      connectionLimit: 5,
      onDelete: "delete" as const,
      admin: { host: "127.0.0.1", port: ports.postgres, user: POSTGRES_ADMIN, password: passwords.postgres, caCert: ca.certPem },
    };
    const created = await pgTenantProvider.create!(pgTenant);
    const read = await pgTenantProvider.read!(created.id, created.outs);
    expect(read.props.observed).toMatchObject({ roleExists: true, canLogin: true, databaseExists: true, owner: o.pgRole, passwordWorks: true });
    const asTenant = pg({ user: o.pgRole, password: pgTenant.password, database: o.pgDatabase });
    await asTenant.connect();
    await asTenant.end();
    await pgTenantProvider.delete!(created.id, read.props);

    const redisTenant = {
      tenant: "acme",
      user: o.redisUser,
      keyPattern: o.redisKeyPattern,
      password: "pw-acme-redis-0123456789",
      onDelete: "delete" as const,
      admin: { host: "127.0.0.1", port: ports.redis, password: passwords.redis, caCert: ca.certPem },
    };
    const made = await redisTenantProvider.create!(redisTenant);
    const seen = await redisTenantProvider.read!(made.id, made.outs);
    expect(seen.props.observed).toMatchObject({ exists: true, enabled: true, passwordMatches: true });
    const asUser = redis({ username: o.redisUser, password: redisTenant.password });
    await asUser.connect();
    await asUser.set(`${o.redisKeyPattern.replace(/\*$/, "")}k`, "v");
    await expect(asUser.set("other:k", "v")).rejects.toThrow(/NOPERM/);
    asUser.disconnect();
    await redisTenantProvider.delete!(made.id, seen.props);
  });

  it("a second run of each script changes nothing: no file rewritten, no service restarted", async () => {
    const state = () =>
      sh(
        "systemctl show -p MainPID --value postgresql@15-main redis-server; sha256sum /etc/postgresql/15/main/conf.d/ai-dualstack.conf /etc/postgresql/15/main/pg_hba.conf /etc/redis/ai-dualstack.conf /etc/redis/redis.conf /etc/apt/apt.conf.d/01ai-dualstack-proxy",
      );
    const before = await state();
    await onGuest(renderAptProxyScript(APT_PROXY));
    await onGuest(scripts.postgres, bundles.postgres);
    await onGuest(scripts.redis, bundles.redis);
    expect(await state()).toBe(before);
  });

  it("installed its packages through the package cache", async () => {
    expect(await sh("cat /etc/apt/apt.conf.d/01ai-dualstack-proxy")).toContain(APT_PROXY);
    for (const pkg of ["postgresql-15", "redis-server"]) expect(cache.served(pkg), `${pkg} through the cache`).toBe(true);
  });
});
