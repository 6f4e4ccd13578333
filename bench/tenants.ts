// bench/tenants: what the tenancy providers cost against doing the same by hand, and how the public stack's offline
// plan grows with tenants. Creates N tenants (default N = 1, 10, 100, 1000; BENCH_N="1,10" to choose) in a real
// PostgreSQL and Redis started on loopback: through the providers' create (with their read-back and checks), then the
// same objects through raw SQL / ACL commands on one connection (Redis with TLS as deployed, both ways); prints both times and the ratio per N, then the time
// of `dualstack plan public` with N tenants in the config. Run: npm run bench:tenants
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import Redis from "ioredis";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { pgTenantProvider, type PgTenantInputs } from "../components/providers/postgres-tenant";
import { redisTenantProvider, type RedisTenantInputs } from "../components/providers/redis-tenant";
import { evaluateStack } from "../ops/engine";
import { tenantObjects } from "../lib/tenancy";
import { makeTestCa } from "../test/helpers/pki";
import { startPostgres, startRedis, type Postgres, type Redis as RedisServer } from "../test/helpers/servers";

const ROOT = join(__dirname, "..");
const PASSWORD = "bench-password-0123456789abcdef";
const names = (n: number, run: string) => Array.from({ length: n }, (_, i) => `${run}${String(i).padStart(4, "0")}`);

async function time(f: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function pgInputs(pg: Postgres, name: string): PgTenantInputs {
  const o = tenantObjects(name);
  return {
    tenant: name,
    role: o.pgRole,
    database: o.pgDatabase,
    password: PASSWORD,
    connectionLimit: 20,
    onDelete: "delete",
    admin: { host: pg.host, port: pg.port, user: pg.user, password: pg.password },
  };
}

function redisInputs(r: RedisServer, name: string): RedisTenantInputs {
  const o = tenantObjects(name);
  return {
    tenant: name,
    user: o.redisUser,
    keyPattern: o.redisKeyPattern,
    password: PASSWORD,
    onDelete: "delete",
    admin: { host: r.host, port: r.port, password: r.password, caCert: r.caCert },
  };
}

async function benchPostgres(pg: Postgres, n: number): Promise<[number, number]> {
  const viaProvider = await time(async () => {
    for (const name of names(n, "p")) await pgTenantProvider.create(pgInputs(pg, name));
  });
  const admin = new Client({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: "postgres" });
  await admin.connect();
  const raw = await time(async () => {
    for (const name of names(n, "r")) {
      const { pgRole: role, pgDatabase: db } = tenantObjects(name);
      await admin.query(`create role ${role} login password '${PASSWORD}' connection limit 20`);
      await admin.query(`create database ${db} owner ${role}`);
      await admin.query(`revoke all on database ${db} from public`);
      await admin.query(`grant connect, create, temporary on database ${db} to ${role}`);
    }
  });
  for (const name of [...names(n, "p"), ...names(n, "r")]) {
    const { pgRole, pgDatabase } = tenantObjects(name);
    await admin.query(`drop database if exists ${pgDatabase}`);
    await admin.query(`drop role if exists ${pgRole}`);
  }
  await admin.end();
  return [viaProvider, raw];
}

async function benchRedis(r: RedisServer, n: number): Promise<[number, number]> {
  const viaProvider = await time(async () => {
    for (const name of names(n, "p")) await redisTenantProvider.create(redisInputs(r, name));
  });
  const admin = new Redis({ host: r.host, port: r.port, password: r.password, lazyConnect: true, ...(r.caCert ? { tls: { ca: r.caCert } } : {}) });
  await admin.connect();
  const raw = await time(async () => {
    for (const name of names(n, "r")) {
      const o = tenantObjects(name);
      await admin.call(
        "ACL",
        "SETUSER",
        o.redisUser,
        "reset",
        "on",
        `>${PASSWORD}`,
        `~${o.redisKeyPattern}`,
        `&${o.redisKeyPattern}`,
        "+@all",
        "-@admin",
        "-@dangerous",
      );
    }
  });
  for (const name of [...names(n, "p"), ...names(n, "r")]) await admin.call("ACL", "DELUSER", tenantObjects(name).redisUser);
  admin.disconnect();
  return [viaProvider, raw];
}

/** The offline plan of the public stack with n generated tenants in its config. */
async function planTime(n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "bench-tenants-"));
  writeFileSync(join(dir, "Pulumi.host.yaml"), readFileSync(join(ROOT, "Pulumi.host.yaml")));
  const doc = parseYaml(readFileSync(join(ROOT, "Pulumi.public.yaml"), "utf8"));
  doc.config["ai-dualstack:tenants"] = names(n, "t").map((name) => ({ name }));
  writeFileSync(join(dir, "Pulumi.public.yaml"), stringifyYaml(doc));
  return time(async () => {
    await evaluateStack("public", { configFile: join(dir, "Pulumi.public.yaml") });
  });
}

async function main() {
  const counts = (process.env.BENCH_N ?? "1,10,100,1000").split(",").map(Number);
  const pg = await startPostgres();
  const ca = makeTestCa("bench CA");
  const redis = await startRedis({ tls: { caCert: ca.certPem, ...ca.issue("bench-redis", { ip: ["127.0.0.1"] }) } });
  const rows: string[] = [];
  try {
    rows.push(["N", "pg provider ms", "pg raw ms", "pg ratio", "redis provider ms", "redis raw ms", "redis ratio", "plan public ms"].join("\t"));
    for (const n of counts) {
      const [pgP, pgR] = await benchPostgres(pg, n);
      const [rP, rR] = await benchRedis(redis, n);
      const plan = await planTime(n);
      rows.push([n, pgP.toFixed(0), pgR.toFixed(0), (pgP / pgR).toFixed(2), rP.toFixed(0), rR.toFixed(0), (rP / rR).toFixed(2), plan.toFixed(0)].join("\t"));
      process.stderr.write(`N=${n} done\n`);
    }
  } finally {
    pg.stop();
    await redis.stop();
    ca.remove();
  }
  process.stdout.write(`${rows.join("\n")}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
