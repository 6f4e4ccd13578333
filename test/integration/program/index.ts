// The integration program: the project's components and dynamic providers, unchanged, pointed at the real servers
// the integration test starts on loopback (Ollama with its registry, Vault, PostgreSQL, Redis; Qdrant is the
// stand-in). Stack config (namespace "it") carries the addresses and credentials. Two of the catalog's generated
// service secrets, made as the compose stack makes them, stand for the services that hold data under a credential:
// Neo4j's password (read by the database only at its first start) and Langfuse's encryption key (over what it stores).
import * as pulumi from "@pulumi/pulumi";
import { keptServiceSecret } from "../../../components/kept-secrets";
import { ModelDeployment, deployModels } from "../../../components/model-deployment";
import { Tenants } from "../../../components/tenants";
import { VaultSecrets } from "../../../components/vault-secrets";
import type { ModelRow } from "../../../lib/capacity/report";
import type { ModelDeploymentConfig, TenantConfig } from "../../../lib/config/schema";

/** The tiny model's capacity row: what the policy pack would check at preview (it fits anything). */
function tinyRow(name: string, context: number): ModelRow {
  return {
    name,
    catalogModel: "tiny",
    context,
    parallel: 1,
    kvCacheType: "f16",
    layers: 2,
    kvHeads: 4,
    headDim: 16,
    gpu: "cpu",
    gpuOverheadBytes: 0,
    maxLoaded: 1,
    servedBy: "Ollama (CPU)",
    weightsBytes: 500_000,
    kvBytes: 2 * 2 * 4 * 16 * context * 2,
    graphBytes: 1_000_000,
    modelBytes: 1_600_000,
    totalBytes: 2_000_000,
    vramBytes: 8 * 1024 ** 3,
    fits: true,
    ceilingTokensPerSecond: 1000,
  };
}

export = async () => {
  const c = new pulumi.Config("it");
  const ollamaUrl = c.require("ollamaUrl");
  const base = c.require("model");
  const deployments: ModelDeploymentConfig[] = [
    { name: base, warm: false } as ModelDeploymentConfig,
    { name: "tiny-assistant:latest", from: base, parameters: { temperature: 0 }, system: "Answer briefly.", warm: false } as ModelDeploymentConfig,
  ];
  const models = deployModels(
    deployments,
    (d, i, after) =>
      new ModelDeployment(
        `model-${i}`,
        { host: ollamaUrl, deployment: d, capacity: tinyRow(d.name, 256), keepAlive: "5m", stallSeconds: 60 },
        { dependsOn: after },
      ),
  );

  const vault = {
    address: c.require("vaultAddress"),
    mount: "kv-public",
    appRole: c.requireSecretObject<{ roleId: string; secretId: string }>("vaultAppRole"),
    caCert: c.require("vaultCaCert"),
  };
  new VaultSecrets("secrets", { vault, secrets: { "services/app": { value: c.requireSecret("appSecret") } } });

  const tenants: TenantConfig[] = [{ name: "acme", maxDbConnections: 5, onDelete: "retain", vectors: { size: 4, distance: "Cosine" } }];
  new Tenants(
    "tenants",
    {
      tenants,
      postgres: { host: "127.0.0.1", port: c.requireNumber("pgPort"), user: c.require("pgUser"), password: c.requireSecret("pgPassword") },
      redis: { host: "127.0.0.1", port: c.requireNumber("redisPort"), password: c.requireSecret("redisPassword"), caCert: c.require("redisCaCert") },
      qdrant: { url: c.require("qdrantUrl"), apiKey: c.requireSecret("qdrantApiKey") },
      vault,
    },
    { dependsOn: models },
  );

  // Generated and kept as the compose stack "services" makes them (components/compose-stack.ts), in the same mount.
  const services = new pulumi.ComponentResource("it:index:Services", "services");
  const graphPassword = keptServiceSecret("services", "neo4j-password", { vault }, services);
  const ledgerKey = keptServiceSecret("services", "langfuse-encryption-key-hex", { vault }, services);

  return { models: deployments.map((d) => d.name), graphPassword, ledgerKey };
};
