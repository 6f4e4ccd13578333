// `pulumi up` for real: the integration program (test/integration/program: the project's ModelDeployment,
// VaultSecrets and Tenants, unchanged) under the real engine (scripts/pulumi-toolchain.sh) with a local backend,
// against the real Ollama (and its registry), Vault, PostgreSQL and Redis started here (Qdrant is the stand-in).
// A second up changes nothing; out-of-band changes are what `dualstack drift` reports; the drill destroys and
// rebuilds it with its RTO measured (a tenant's rows, a Neo4j-style database and data encrypted under a generated key
// all readable afterwards with the credentials the rebuilt stack gives); destroy removes what it should and keeps what
// a tenant still holds.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRoleCredentialsProvider, vaultConfigProvider, type AppRoleCredentialsState } from "../../components/providers/vault-config";
import { appRoleOf, vaultObjects } from "../../lib/vault/access";
import { detectDrift } from "../../ops/drift";
import { renderDrillReport, runDrill, type DrillPlan } from "../../ops/drill";
import { takeInventory } from "../../ops/drill-live";
import { automationWorkspace } from "../../ops/workspace";
import { Workspace } from "../engine/workspace";
import { startFakeQdrant, type FakeQdrant } from "../helpers/fake-qdrant";
import { tinyLlamaGguf } from "../helpers/gguf";
import { makeTestCa, type TestCa } from "../helpers/pki";
import { publishTinyModel, startBlobServer, startOllama, startRegistry, type RealOllama, type RealRegistry } from "../helpers/real-ollama";
import { startVault, type RealVault } from "../helpers/real-vault";
import { postgresVolume, startPostgres, startRedis, type Postgres, type Redis } from "../helpers/servers";
import { generatedSecretValues } from "../engine/standin-provider";
import { tool } from "../helpers/process";

const ROOT = resolve(__dirname, "..", "..");
const STACK = "it";
let dir: string;
let ca: TestCa;
let registry: RealRegistry;
let blobs: { host: string; stop: () => Promise<void> };
let ollama: RealOllama;
let vault: RealVault;
let pg: Postgres;
let graph: Postgres | undefined;
let graphVolume: string | undefined;
let redis: Redis;
let qdrant: FakeQdrant;
let ws: Workspace;
let model: string;
const savedEnv = { ...process.env };

const psql = (sql: string) =>
  execFileSync(tool("psql"), ["-X", "-q", "-t", "-A", "-h", pg.host, "-p", String(pg.port), "-U", pg.user, "-d", "postgres", "-c", sql], {
    env: { ...process.env, PGPASSWORD: pg.password },
    encoding: "utf8",
  }).trim();
const ollamaNames = async () => ((await (await fetch(`${ollama.url}/api/tags`)).json()) as { models: { name: string }[] }).models.map((m) => m.name).sort();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "engine-it-"));
  ca = makeTestCa("test CA");
  mkdirSync(join(dir, "ollama"));
  mkdirSync(join(dir, "vault"));
  execFileSync("bash", ["-c", `cat > ${join(dir, "ca.pem")}`], { input: ca.certPem });
  mkdirSync(join(dir, "registry"));
  blobs = await startBlobServer(dir, join(dir, "registry"), ca);
  registry = await startRegistry(dir, ca, `https://${blobs.host.replace("127.0.0.1", "localhost")}`);
  ollama = await startOllama(join(dir, "ollama"), join(dir, "ca.pem"));
  model = await publishTinyModel(ollama, registry, tinyLlamaGguf(11));
  vault = await startVault(join(dir, "vault"), ca);
  const connection = { address: vault.address, token: vault.rootToken, caCert: ca.certPem };
  for (const { object } of vaultObjects(["private", "public"], [{ name: "file-test", path: join(dir, "audit.log") }], ["127.0.0.0/8"], "127.0.0.1"))
    await vaultConfigProvider.create!({ ...connection, object });
  const approle = (await appRoleCredentialsProvider.create!({ ...connection, role: appRoleOf("public") })).outs as AppRoleCredentialsState;
  pg = await startPostgres();
  const redisCert = ca.issue("redis", { ip: ["127.0.0.1"] });
  redis = await startRedis({ tls: { caCert: ca.certPem, certPem: redisCert.certPem, keyPem: redisCert.keyPem } });
  qdrant = await startFakeQdrant();

  const toolchain = execFileSync("bash", [join(ROOT, "scripts", "pulumi-toolchain.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    .trim()
    .split("\n")
    .pop()!;
  ws = new Workspace(ROOT, toolchain, "test/integration/program");
  ws.must(["stack", "init", STACK, "--secrets-provider", "passphrase"]);
  const set = (key: string, value: string, secret = false) => ws.must(["config", "set", "--stack", STACK, ...(secret ? ["--secret"] : []), `it:${key}`], value);
  set("ollamaUrl", ollama.url);
  set("model", model);
  set("vaultAddress", vault.address);
  set("vaultCaCert", ca.certPem);
  set("vaultAppRole", JSON.stringify({ roleId: approle.roleId, secretId: approle.secretId }), true);
  set("appSecret", "app-secret-value", true);
  set("pgPort", String(pg.port));
  set("pgUser", pg.user);
  set("pgPassword", pg.password, true);
  set("redisPort", String(redis.port));
  set("redisPassword", redis.password, true);
  set("redisCaCert", ca.certPem);
  set("qdrantUrl", qdrant.url);
  set("qdrantApiKey", qdrant.apiKey, true);
  // The Automation API (drift, the drill) runs the same CLI with the same backend.
  Object.assign(process.env, ws.env);
}, 600_000);

afterAll(async () => {
  process.env = savedEnv;
  if (ws && !process.env.KEEP_ENGINE_WORKSPACE) ws.remove();
  await qdrant?.close();
  await redis?.stop();
  pg?.stop();
  graph?.stop();
  if (graphVolume) rmSync(graphVolume, { recursive: true, force: true });
  await vault?.stop();
  await ollama?.stop();
  await registry?.stop();
  await blobs?.stop();
  ca?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe("pulumi up against the real servers", () => {
  it("creates the models, the secrets and a tenant; a second up changes nothing", async () => {
    const up = await ws.pulumiAsync(["up", "--stack", STACK, "--yes", "--skip-preview"]);
    expect(up.code, up.out).toBe(0);
    {
      expect(await ollamaNames()).toEqual([model, "tiny-assistant:latest"].sort());
      expect((await vault.call("GET", "kv-public/data/services/app", vault.rootToken)).body.data.data).toEqual({ value: "app-secret-value" });
      expect(psql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'tenant_acme%'")).toBe("tenant_acme");
      expect(qdrant.collections.has("tenant_acme")).toBe(true);
      const again = await ws.pulumiAsync(["preview", "--stack", STACK, "--expect-no-changes", "--diff"]);
      expect(again.code, again.out).toBe(0);
      // No secret in the clear in the state.
      const state = (await ws.pulumiAsync(["stack", "export", "--stack", STACK, "--show-secrets=false"])).out;
      for (const needle of ["app-secret-value", pg.password, redis.password, qdrant.apiKey]) expect(state).not.toContain(needle);
    }
  });

  it("out-of-band changes (a model deleted, a secret overwritten, a tenant's role dropped) are what dualstack drift reports; up repairs them", async () => {
    await fetch(`${ollama.url}/api/delete`, { method: "DELETE", body: JSON.stringify({ model: "tiny-assistant:latest" }) });
    await vault.call("POST", "kv-public/data/services/app", vault.rootToken, { data: { value: "overwritten" } });
    psql("REASSIGN OWNED BY tenant_acme TO admin; DROP OWNED BY tenant_acme; DROP ROLE tenant_acme");
    const report = await detectDrift(automationWorkspace(ws.programDir), STACK);
    expect(report.drifted).toBe(true);
    expect(report.resources.map((r) => `${r.op} ${r.urn.split("::").at(-1)} ${r.properties.join(",")}`).sort()).toEqual([
      "delete model-1-model ",
      "update secrets-services-app observed",
      "update tenants-acme-postgres observed",
    ]);
    const up = await ws.pulumiAsync(["up", "--stack", STACK, "--yes", "--skip-preview", "--refresh"]);
    expect(up.code, up.out).toBe(0);
    expect(await ollamaNames()).toContain("tiny-assistant:latest");
    expect((await vault.call("GET", "kv-public/data/services/app", vault.rootToken)).body.data.data).toEqual({ value: "app-secret-value" });
    expect(psql("SELECT count(*) FROM pg_roles WHERE rolname = 'tenant_acme'")).toBe("1");
    const after = await detectDrift(automationWorkspace(ws.programDir), STACK);
    expect(after.drifted, JSON.stringify(after.resources)).toBe(false);
  });

  it("the drill on this testbed: destroy (protected kept), rebuild, the inventory verified; every credential over kept data unchanged, the data identical; RTO measured", async () => {
    const kept = async () => (await vault.call("GET", "kv-public/data/kept/tenants-acme-postgres-password", vault.rootToken)).body.data?.data?.value as string;
    const record = async () => (await vault.call("GET", "kv-public/data/tenants/acme", vault.rootToken)).body.data?.data as Record<string, string>;
    const before = await kept();
    expect(before).toBeTruthy();
    expect((await record()).POSTGRES_URL).toContain(before);
    // What the stack gives its services (as the compose stack gives them their environment), and what it generated.
    const given = () => JSON.parse(ws.must(["stack", "output", "--stack", STACK, "--json", "--show-secrets"])) as { graphPassword: string; ledgerKey: string };
    const generated = () => generatedSecretValues(JSON.parse(ws.must(["stack", "export", "--stack", STACK, "--show-secrets"])));
    const first = given();
    expect(first.ledgerKey).toMatch(/^[0-9a-f]{64}$/);
    expect(generated()).toEqual(expect.arrayContaining([first.graphPassword, first.ledgerKey]));
    // A Neo4j-style service: a database whose password is set from what it is given at its first start only, then
    // held in its data; its rows sealed with the encryption key, as Langfuse seals what it stores (pgcrypto, AES).
    graphVolume = postgresVolume();
    const graphData = join(graphVolume, "data");
    graph = await startPostgres({ data: graphData, password: first.graphPassword });
    const asGraph = (password: string, sql: string, key?: string) =>
      execFileSync(
        tool("psql"),
        [
          "-X",
          "-q",
          "-t",
          "-A",
          "-v",
          "ON_ERROR_STOP=1",
          "-v",
          `key=${key ?? ""}`,
          "-h",
          graph!.host,
          "-p",
          String(graph!.port),
          "-U",
          "admin",
          "-d",
          "postgres",
          "-f",
          "-",
        ],
        {
          env: { ...process.env, PGPASSWORD: password },
          input: sql,
          encoding: "utf8",
          stdio: ["pipe", "pipe", "pipe"],
        },
      ).trim();
    asGraph(
      first.graphPassword,
      "CREATE EXTENSION pgcrypto; CREATE TABLE sealed (id int, body bytea); INSERT INTO sealed SELECT g, pgp_sym_encrypt('note ' || md5(g::text), :'key', 'cipher-algo=aes256') FROM generate_series(1, 300) g;",
      first.ledgerKey,
    );
    const unsealed = (password: string, key: string) =>
      asGraph(password, "SELECT md5(string_agg(id || ':' || pgp_sym_decrypt(body, :'key'), ',' ORDER BY id)) FROM sealed;", key);
    const sealedBefore = unsealed(first.graphPassword, first.ledgerKey);
    expect(asGraph(first.graphPassword, "SELECT md5(string_agg(g || ':note ' || md5(g::text), ',' ORDER BY g)) FROM generate_series(1, 300) g;")).toBe(
      sealedBefore,
    );
    const plan: DrillPlan = {
      stack: STACK,
      guests: [],
      models: [model, "tiny-assistant:latest"],
      collections: ["tenant_acme"],
      resticRepository: STACK,
      resticOnGpuVm: false,
      maxBackupAgeHours: 26,
    };
    // A tenant holding data: the drill's destroy must neither fail on it nor drop it.
    const asTenant = (sql: string) =>
      execFileSync(tool("psql"), ["-X", "-q", "-t", "-A", "-h", pg.host, "-p", String(pg.port), "-U", "tenant_acme", "-d", "tenant_acme", "-c", sql], {
        env: { ...process.env, PGPASSWORD: before },
        encoding: "utf8",
      }).trim();
    asTenant("CREATE TABLE drill_rows (id int, note text); INSERT INTO drill_rows SELECT g, md5(g::text) FROM generate_series(1, 500) g");
    const rowsHash = () => asTenant("SELECT md5(string_agg(id || ':' || note, ',' ORDER BY id)) FROM drill_rows");
    const hashBefore = rowsHash();
    // What Ollama holds between the destroy and the rebuild: the models stay (nothing is downloaded again).
    let modelsAfterDestroy: string[] | undefined;
    const real = automationWorkspace(ws.programDir);
    const workspace = {
      ...real,
      up: async (...a: Parameters<typeof real.up>) => {
        modelsAfterDestroy = await ollamaNames();
        return real.up(...a);
      },
    };
    const lines: string[] = [];
    const targets = { ollamaUrl: ollama.url, services: { ollama: ollama.url, qdrant: qdrant.url }, qdrant: { url: qdrant.url, apiKey: qdrant.apiKey } };
    const report = await runDrill(plan, {
      workspace,
      // No guests on this testbed (no Proxmox here): the image-backup steps have nothing to do.
      proxmox: {
        latestBackup: async () => undefined,
        protectedBackup: async () => {
          throw new Error("no guests");
        },
        restoreIfMissing: async () => "present",
        release: async () => {
          throw new Error("no guests");
        },
        isProtected: async () => {
          throw new Error("no guests");
        },
      },
      restic: { check: async () => true },
      verify: { inventory: () => takeInventory(targets) },
      now: () => Date.now() / 1000,
      log: (l) => lines.push(l),
    });
    process.stdout.write(renderDrillReport(report));
    expect(report.ok, renderDrillReport(report)).toBe(true);
    expect(report.rtoSeconds).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes("delete"))).toBe(true);
    expect(await ollamaNames()).toEqual([model, "tiny-assistant:latest"].sort());
    // The destroy took the random resource with it and the rebuild generated a new candidate (the stand-in random
    // provider's are all alike, so the proof is where the value came from): the kept secret adopted Vault's value,
    // wrote no new version, and that value is the one the tenant's role accepts and its record gives its apps.
    expect(await kept()).toBe(before);
    const state = JSON.parse(ws.must(["stack", "export", "--stack", STACK]));
    const keptState = state.deployment.resources.find((r: { urn: string }) => r.urn.endsWith("::tenants-acme-postgres-password-kept"));
    expect(keptState.outputs.observed).toEqual({ version: 1, source: "adopted" });
    const meta = await vault.call("GET", "kv-public/metadata/kept/tenants-acme-postgres-password", vault.rootToken);
    expect(meta.body.data.current_version).toBe(1);
    expect((await record()).POSTGRES_URL).toContain(before);
    // The destroy took the tenant and the models out of the state only: the rebuild adopted them as they were.
    expect(
      lines.some((l) => /delete .*postgres:Tenant|delete .*Tenant/i.test(l)),
      lines.join("\n"),
    ).toBe(true);
    expect(modelsAfterDestroy).toEqual([model, "tiny-assistant:latest"].sort());
    expect(rowsHash()).toBe(hashBefore);
    asTenant("DROP TABLE drill_rows");

    // The rebuild generated new candidates for the services' secrets (the random resources went with the destroy)
    // and gives the services the kept values: the database, started again on its kept data as a new container would
    // be (the password it is given now is read by no one), takes the password it was given, and the key unseals
    // every row. A regenerated secret would fail both.
    const rebuilt = given();
    expect(generated()).not.toContain(first.graphPassword);
    expect(generated()).not.toContain(first.ledgerKey);
    graph.stop();
    graph = await startPostgres({ data: graphData, password: rebuilt.graphPassword });
    expect(unsealed(rebuilt.graphPassword, rebuilt.ledgerKey)).toBe(sealedBefore);
    expect(rebuilt).toEqual(first);
    for (const secret of ["services-neo4j-password", "services-langfuse-encryption-key-hex"])
      expect((await vault.call("GET", `kv-public/metadata/kept/${secret}`, vault.rootToken)).body.data.current_version, secret).toBe(1);
  });

  it("destroy refuses to drop a tenant that still holds data, and removes everything once it is empty", async () => {
    execFileSync(
      tool("psql"),
      [
        "-X",
        "-q",
        "-h",
        pg.host,
        "-p",
        String(pg.port),
        "-U",
        pg.user,
        "-d",
        "tenant_acme",
        "-c",
        "CREATE TABLE orders (id int); INSERT INTO orders VALUES (1)",
      ],
      { env: { ...process.env, PGPASSWORD: pg.password } },
    );
    const refused = await ws.pulumiAsync(["destroy", "--stack", STACK, "--yes", "--skip-preview"]);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/tenant_acme|acme/);
    expect(psql("SELECT count(*) FROM pg_database WHERE datname = 'tenant_acme'")).toBe("1");
    execFileSync(tool("psql"), ["-X", "-q", "-h", pg.host, "-p", String(pg.port), "-U", pg.user, "-d", "tenant_acme", "-c", "DROP TABLE orders"], {
      env: { ...process.env, PGPASSWORD: pg.password },
    });
    const destroy = await ws.pulumiAsync(["destroy", "--stack", STACK, "--yes", "--skip-preview"]);
    expect(destroy.code, destroy.out).toBe(0);
    expect(await ollamaNames()).toEqual([]);
    expect(psql("SELECT count(*) FROM pg_database WHERE datname = 'tenant_acme'")).toBe("0");
    // The service secret: soft-deleted, its versions kept (recoverable).
    const meta = await vault.call("GET", "kv-public/metadata/services/app", vault.rootToken);
    expect(meta.status).toBe(200);
  });
});
