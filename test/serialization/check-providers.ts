// Run by test/serialization/providers.test.ts in a plain node process (node --import tsx), never inside vitest:
// Vite's SSR transform changes how modules are captured (DESIGN.md). Serialises each dynamic provider exactly as
// pulumi.dynamic.Resource does, revives it as the provider host does, and drives the revived copy for real.
import * as pulumi from "@pulumi/pulumi";
import { ollamaModelProvider } from "../../components/providers/ollama-model";
import { pgTenantProvider } from "../../components/providers/postgres-tenant";
import { redisTenantProvider } from "../../components/providers/redis-tenant";
import { qdrantCollectionProvider } from "../../components/providers/qdrant-collection";
import { vaultKvProvider } from "../../components/providers/vault-kv";
import { keptSecretProvider } from "../../components/providers/kept-secret";
import { appRoleCredentialsProvider, vaultConfigProvider } from "../../components/providers/vault-config";
import { startFakeQdrant } from "../helpers/fake-qdrant";
import { startFakeVault } from "../helpers/fake-vault";
import { startFakeOllama } from "../helpers/fake-ollama";
import { freePort, startPostgres, startRedis } from "../helpers/servers";
import { firstBootProvider } from "../../components/providers/first-boot";
import { startFirstBootStandIn } from "../engine/first-boot-standin";
import { ed25519KeyPair } from "../helpers/ssh-keys";

type Provider = pulumi.dynamic.ResourceProvider;

async function revive(provider: Provider) {
  const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: false });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const requireFromString = require("require-from-string") as (code: string) => { handler: () => Provider };
  return {
    revived: requireFromString(serialized.text).handler(),
    facts: {
      bytes: serialized.text.length,
      containsSecrets: serialized.containsSecrets,
      capturesViteModules: serialized.text.includes("__vite_ssr"),
      requires: [...new Set(serialized.text.match(/require\("[^"]+"\)/g) ?? [])].sort(),
    },
  };
}

/** create → read → delete with the revived copy; returns what it observed. */
async function lifecycle(provider: Provider, inputs: Record<string, unknown>) {
  const { revived, facts } = await revive(provider);
  const created = await revived.create(inputs);
  const read = await revived.read!(created.id, created.outs);
  await revived.delete!(created.id, { ...created.outs, onDelete: "delete" });
  const gone = await revived.read!(created.id, created.outs);
  return { ...facts, created: created.id, observed: (read.props as { observed: unknown }).observed, goneAfterDelete: gone.id === "" };
}

async function main() {
  const results: Record<string, unknown> = {};
  const ollama = await startFakeOllama();
  try {
    results.ollama = await lifecycle(ollamaModelProvider, { host: ollama.url, name: "mistral:7b" });
  } finally {
    await ollama.close();
  }
  const vault = await startFakeVault();
  try {
    results.vault = await lifecycle(vaultKvProvider, { address: vault.url, token: vault.token, mount: "kv-public", path: "services/x", data: { k: "v" } });
    const connection = { address: vault.url, token: vault.token };
    results.vaultConfig = await lifecycle(vaultConfigProvider, {
      ...connection,
      object: { kind: "policy", name: "ai-public", policy: 'path "kv-public/data/*" { capabilities = ["read"] }' },
    });
    const { revived } = await revive(vaultConfigProvider);
    await revived.create({ ...connection, object: { kind: "auth", path: "approle", type: "approle", description: "" } });
    await revived.create({ ...connection, object: { kind: "approle", name: "ai-public", settings: { token_policies: ["ai-public"] } } });
    const credentials = await revive(appRoleCredentialsProvider);
    const issued = await credentials.revived.create({ ...connection, role: "ai-public" });
    await credentials.revived.delete!(issued.id, issued.outs);
    results.vaultAppRole = {
      ...credentials.facts,
      issued: typeof issued.outs.secretId === "string",
      goneAfterDelete: (await credentials.revived.read!(issued.id, issued.outs)).id === "",
    };
    // A kept secret outlives its resource: deleted, then created again with another candidate, it keeps its value.
    const keptRevived = await revive(keptSecretProvider);
    const place = { address: vault.url, token: vault.token, mount: "kv-public", path: "kept/x" };
    const first = await keptRevived.revived.create({ ...place, candidate: "candidate-one-0123456789" });
    await keptRevived.revived.delete!(first.id, first.outs);
    const again = await keptRevived.revived.create({ ...place, candidate: "candidate-two-0123456789" });
    results.kept = { ...keptRevived.facts, value: again.outs.value, source: again.outs.observed.source };
  } finally {
    await vault.close();
  }
  const qdrant = await startFakeQdrant();
  try {
    results.qdrant = await lifecycle(qdrantCollectionProvider, {
      tenant: "acme",
      url: qdrant.url,
      apiKey: qdrant.apiKey,
      collection: "tenant_acme",
      vectorSize: 8,
      distance: "Cosine",
      onDelete: "retain",
    });
  } finally {
    await qdrant.close();
  }
  const pg = await startPostgres();
  try {
    results.postgres = await lifecycle(pgTenantProvider, {
      tenant: "acme",
      role: "tenant_acme",
      database: "tenant_acme",
      password: "pw-acme-0123456789abcdef",
      connectionLimit: 5,
      onDelete: "retain",
      admin: { host: pg.host, port: pg.port, user: pg.user, password: pg.password },
    });
  } finally {
    pg.stop();
  }
  const redis = await startRedis();
  try {
    results.redis = await lifecycle(redisTenantProvider, {
      tenant: "acme",
      user: "tenant-acme",
      keyPattern: "tenant:acme:*",
      password: "pw-acme-0123456789abcdef",
      onDelete: "retain",
      admin: { host: redis.host, port: redis.port, password: redis.password },
    });
  } finally {
    await redis.stop();
  }
  // The first boot's provider against an SSH stand-in that answers the check with "ready".
  const sshPort = await freePort();
  const ssh = await startFirstBootStandIn(["127.0.0.1"], sshPort);
  try {
    const { revived, facts } = await revive(firstBootProvider);
    const created = await revived.create({
      host: "127.0.0.1",
      port: sshPort,
      user: "ops",
      privateKey: ed25519KeyPair().private,
      check: "true",
      timeoutSeconds: 30,
      trigger: "t",
    });
    results.firstBoot = { ...facts, bootId: created.outs.bootId };
  } finally {
    await ssh.close();
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
