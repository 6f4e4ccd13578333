// Stack configs with the service catalog's tiers enabled: the shipped Pulumi.<stack>.yaml with each tier's entries
// (and what they depend on) laid over it, written beside a host config, for the offline engine.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse, stringify } from "yaml";

const ROOT = resolve(__dirname, "../..");
const EXAMPLE = "apps/example";
const app = (extra: Record<string, unknown> = {}) => ({ build: { context: EXAMPLE }, ...extra });

/** Per environment and tier, the services to enable (dependencies from other tiers included). */
export const TIERS: Record<"private" | "public" | "host", Record<1 | 2 | 3, Record<string, unknown>>> = {
  private: {
    1: {
      vllm: { model: "Qwen/Qwen2.5-14B-Instruct-AWQ" },
      langflow: {},
      apps: { "docs-api": app({ needs: ["llm", "postgres", "vectorDb"], gatewayPort: 8100 }) },
    },
    // The notebooks keep 1 GiB: the two Qwen models co-resident leave no more on the 5090.
    2: {
      rag: app({ gatewayPort: 8101 }),
      unstructured: {},
      workers: { ingest: app({ app: "tasks" }) },
      jupyter: { vramMiB: 1024 },
      langfuse: {},
      minio: {},
      prefect: {},
    },
    3: {
      neo4j: {},
      zep: {},
      minio: { buckets: ["documents"] },
      rclone: { jobs: [{ name: "offsite", from: "minio:documents", to: "offsite:ai-dualstack/documents" }] },
    },
  },
  public: {
    // A 7B AWQ checkpoint needs far less than vLLM's default 16 GiB of host memory.
    1: {
      vllm: { model: "TheBloke/Mistral-7B-Instruct-v0.2-AWQ", memoryMiB: 8192 },
      apps: { api: app({ hostname: "api.example.org", auth: true }) },
      streamlit: app({ command: ["streamlit", "run", "demo.py"], hostname: "demo.example.org" }),
      oauth2Proxy: { issuerUrl: "https://login.example.org/realms/ai" },
    },
    2: { workers: { jobs: app({ app: "tasks" }) }, langfuse: {}, minio: {}, prefect: {}, keycloak: { hostname: "auth.example.org" } },
    3: {
      agent: app({ hostname: "agent.example.org", auth: true }),
      oauth2Proxy: {},
      keycloak: { hostname: "auth.example.org" },
      neo4j: {},
      zep: {},
      minio: {},
      rclone: { jobs: [{ name: "offsite", from: "minio:agent-memory", to: "offsite:ai-dualstack/agent" }] },
    },
  },
  host: { 1: {}, 2: { gitea: {} }, 3: {} },
};

/** The box the tiers are planned on: its RAM, each environment's budget and GPU VM (the every-tier need, rounded up). */
const BIG_BOX = { totalGiB: 256, zfsArcMaxGiB: 16, budgetGiB: { private: 120, public: 64 }, vmGiB: { private: 104, public: 56 } } as const;

/** Alerts by e-mail (tickets), to a webhook (pages; the public environment's pages only there) and a heartbeat. */
const EXAMPLE_ALERTS = {
  email: { to: ["ops@example.org"], from: "alertmanager@example.org", smarthost: "smtp.example.org:587", username: "alertmanager@example.org" },
  webhook: { origin: "https://hooks.example.org" },
  heartbeat: { origin: "https://hc-ping.example.org", interval: "5m" },
  page: ["email", "webhook"],
  ticket: ["email"],
  environments: { public: { page: ["webhook"] } },
};

function overlay(stack: "private" | "public" | "host", tiers: (1 | 2 | 3)[]): Record<string, unknown> {
  const doc = parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, any> };
  const c = doc.config;
  const services = Object.assign({}, ...tiers.map((t) => TIERS[stack][t]));
  if (stack === "host") {
    // Every tier of both environments takes more than the reference box's 128 GB: the examples describe a 256 GB box.
    Object.assign(c["ai-dualstack:nodes"][0].memory, { totalGiB: BIG_BOX.totalGiB, zfsArcMaxGiB: BIG_BOX.zfsArcMaxGiB });
    for (const env of ["private", "public"] as const) c["ai-dualstack:environments"][env].memoryGiB = BIG_BOX.budgetGiB[env];
    c["ai-dualstack:services"] = services;
    c["ai-dualstack:platform"].monitoring = { alerts: EXAMPLE_ALERTS };
    if (services.gitea) c["ai-dualstack:platform"].containers.cicd.features = ["nesting", "keyctl"];
    return doc;
  }
  c["ai-dualstack:services"] = { ...c["ai-dualstack:services"], ...services };
  c["ai-dualstack:gpuVm"].memoryGiB = BIG_BOX.vmGiB[stack];
  // vLLM owns the GPU: the models still deployed to Ollama are served from the CPU, say so, and none is kept warm.
  if (services.vllm) c["ai-dualstack:models"] = c["ai-dualstack:models"].map((m: Record<string, unknown>) => ({ ...m, warm: false, cpu: true }));
  // Tier 3 at the public ingress: certificates from Let's Encrypt.
  if (stack === "public" && tiers.includes(3))
    c["ai-dualstack:services"].ingress = { ...c["ai-dualstack:services"].ingress, tls: "acme", acmeEmail: "ops@example.org" };
  return doc;
}

/** A directory holding Pulumi.<stack>.yaml with the tiers enabled and the host config beside it; the file's path. */
export function tierConfigFile(stack: "private" | "public" | "host", tiers: (1 | 2 | 3)[], hostTiers: (1 | 2 | 3)[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), `tiers-${stack}-`));
  writeFileSync(join(dir, "Pulumi.host.yaml"), stringify(overlay("host", stack === "host" ? tiers : hostTiers)));
  if (stack !== "host") writeFileSync(join(dir, `Pulumi.${stack}.yaml`), stringify(overlay(stack, tiers)));
  return join(dir, `Pulumi.${stack}.yaml`);
}

/** The same with every tier: what examples/catalog/ ships. */
export const everyTier = (stack: "private" | "public" | "host") => overlay(stack, [1, 2, 3]);
