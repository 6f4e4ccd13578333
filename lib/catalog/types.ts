// The service catalog's shape: an entry knows its config schema (image and version with a pinned default, resources),
// where it may run, what it needs from its environment, and how it renders into compose services. Entries are plain
// data and functions; lib/catalog/resolve.ts checks dependencies and assembles them, components realise them.
import type { z } from "zod";
import { healthcheck, type ServiceSpec } from "../compose/spec";

export type CatalogEnv = "private" | "public" | "host";

/** What the environment itself provides to an entry. */
export const ENVIRONMENT_NEEDS = ["postgres", "redis", "vectorDb", "llm", "gpu"] as const;
export type EnvironmentNeed = (typeof ENVIRONMENT_NEEDS)[number];

/** A dependency: something the environment provides, or another catalog entry (by its config key). */
export interface Need {
  /** An environment need, or the key of another entry ("minio"). */
  what: EnvironmentNeed | string;
  /** Why it is needed, for the error when it is missing. */
  why: string;
}

/** Where a service's database lives and how to reach it (the component creates the role and database). */
export interface PostgresWiring {
  host: string;
  port: number;
  database: string;
  user: string;
  /** The name of the compose secret holding the password (templates use `{{name}}`). */
  passwordSecret: string;
  /** The environment CA inside the container, for verify-full. */
  caFile: string;
}

export interface RedisWiring {
  host: string;
  port: number;
  user: string;
  passwordSecret: string;
  /** The only keys its ACL user may touch start with this. */
  keyPrefix: string;
  caFile: string;
}

/** An OpenAI-compatible endpoint (Ollama's /v1 or vLLM's), and Ollama's native one when Ollama serves it. */
export interface LlmWiring {
  runtime: "ollama" | "vllm";
  openaiBaseUrl: string;
  ollamaBaseUrl?: string;
  /** The model a service uses unless told otherwise. */
  model: string;
  /** Served embeddings (Ollama), when an embedding-capable model is deployed; else the chat model. */
  embeddingModel: string;
}

/** The environment's vector database (lib/catalog/vector-dbs.ts): the slot an alternative like Weaviate fills. */
export interface VectorDbWiring {
  kind: string;
  /** Inside the compose network: "http://chroma:8000". */
  url: string;
  /** Environment variables a client library reads (CHROMA_HOST, QDRANT_URL, QDRANT_API_KEY, …). */
  environment: ServiceSpec["environment"];
}

export interface ServiceContext {
  env: CatalogEnv;
  /** The compose project: volume names are `${project}_${volume}`. */
  project: string;
  /** The guest's own address (ports bound to it are reachable through the firewall only). */
  guestIp: string;
  /** A database and login role of the environment's PostgreSQL for a consumer ("langfuse", "app-docs"). */
  postgres?: (consumer: string) => PostgresWiring;
  /** An ACL user of the environment's Redis for a consumer, confined to its key prefix. */
  redis?: (consumer: string) => RedisWiring;
  llm?: LlmWiring;
  vectorDb?: VectorDbWiring;
  /** The other enabled entries' configs, by key: how an entry finds the one it depends on. */
  enabled: Record<string, unknown>;
  /** Every public host name the ingress serves (the identity provider registers their sign-in callbacks). */
  publicHostnames: string[];
}

/** A port the guest publishes to the operators through its TLS gateway (certificate from the environment CA). */
export interface CatalogRoute {
  service: string;
  port: number;
  upstream: string;
}

/** A public site of the ingress: a host name, the service behind it, and whether the OAuth2 proxy guards it. */
export interface IngressSite {
  service: string;
  hostname: string;
  upstream: string;
  auth: boolean;
  /** Paths the public site refuses (an admin console that only the operators reach, through the gateway). */
  deny?: string[];
}

/** A credential set written to Vault under `catalog/<entry>`: literal text or templates over the stack's secrets. */
export type VaultRecord = Record<string, string | { template: string }>;

export interface Rendered {
  services: ServiceSpec[];
  volumes: string[];
  routes: CatalogRoute[];
  sites: IngressSite[];
  vault: VaultRecord;
}

/** Where a service's image comes from: a registry image, else one built from `build` as ai-dualstack/<service>:<version>. */
export function imageSource(
  service: string,
  c: { image?: string; build?: { context: string; dockerfile: string; args: Record<string, string> }; version: string },
): Pick<ServiceSpec, "image" | "build"> {
  if (c.image || !c.build) return { image: c.image ?? `ai-dualstack/${service}:${c.version}` };
  return { image: `ai-dualstack/${service}:${c.version}`, build: { context: c.build.context, dockerfile: c.build.dockerfile, args: c.build.args } };
}

/** An app's or worker's image: exactly one of a registry image or a build context. */
export function imageSourceProblems(c: { image?: string; build?: unknown }): [string[], string][] {
  return !c.image === !c.build
    ? [[[c.image ? "build" : "image"], "expected exactly one of image (a registry image) or build (a directory of this repository with a Dockerfile)"]]
    : [];
}

/** Several renderings as one (an entry's instances, or every entry of an environment). */
export const mergeRendered = (parts: Rendered[]): Rendered => ({
  services: parts.flatMap((p) => p.services),
  volumes: [...new Set(parts.flatMap((p) => p.volumes))],
  routes: parts.flatMap((p) => p.routes),
  sites: parts.flatMap((p) => p.sites),
  vault: Object.assign({}, ...parts.map((p) => p.vault)),
});

export interface CatalogEntry<C = Record<string, unknown>> {
  /** The config key under ai-dualstack:services. */
  key: string;
  title: string;
  tier: 1 | 2 | 3;
  /** Where the seed places it (an entry enabled anywhere else is a config error). */
  environments: readonly CatalogEnv[];
  /** The entry's config: image (with its pinned default), resources, options. */
  schema: z.ZodType<C>;
  /** What it needs, given its config (optional dependencies appear only when configured). */
  needs: (config: C) => Need[];
  /** Cross-field checks of its own config, as [path under the entry, message]. */
  check?: (config: C, ctx: { env: CatalogEnv; enabled: Record<string, unknown> }) => [string[], string][];
  render: (config: C, ctx: ServiceContext) => Rendered;
  /** The public host names it is served under (the identity provider registers their callbacks). */
  sitesOf?: (config: C) => string[];
  /** VRAM the entry keeps for itself on a GPU it shares (the planner reserves it). */
  vramMiB?: (config: C) => number;
}

/** What a catalog service is unless it says otherwise: restarted unless stopped, no GPU, no published port, on the internal network. */
export const SERVICE_BASE = {
  ports: [],
  volumes: [],
  restart: "unless-stopped",
  gpu: false,
  dependsOnHealthy: [],
  networks: ["ai"],
} satisfies Partial<ServiceSpec>;

/** An HTTP check with what the image has: curl, wget, or bash's /dev/tcp when it has neither. */
export const httpCheck = (tool: "curl" | "wget" | "python" | "bash", url: string, startPeriod = "60s") => {
  const u = new URL(url);
  const test =
    tool === "curl"
      ? ["CMD", "curl", "-fsS", "-o", "/dev/null", url]
      : tool === "wget"
        ? ["CMD", "wget", "-q", "-O", "/dev/null", url]
        : tool === "python"
          ? ["CMD", "python", "-c", `import urllib.request,sys; urllib.request.urlopen(${JSON.stringify(url)}, timeout=5)`]
          : [
              "CMD-SHELL",
              `exec 3<>/dev/tcp/${u.hostname}/${u.port} && printf 'GET ${u.pathname} HTTP/1.0\\r\\nHost: ${u.hostname}\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '`,
            ];
  return healthcheck(test, startPeriod);
};

/** The environment CA inside every container that talks TLS to the data services (ComposeStack material "env-ca"). */
export const CA_FILE = "/etc/ai-dualstack/ca.pem";
export const CA_MATERIAL = "env-ca";
export const caFile = { path: CA_FILE, material: CA_MATERIAL };

/** Connection URLs to the service's database, in the dialects the images speak. */
export const pgUrl = {
  libpq: (p: PostgresWiring, scheme = "postgresql") =>
    `${scheme}://${p.user}:{{${p.passwordSecret}}}@${p.host}:${p.port}/${p.database}?sslmode=verify-full&sslrootcert=${p.caFile}`,
  /** Prisma: sslcert is the server's CA, sslaccept=strict checks it. */
  prisma: (p: PostgresWiring) =>
    `postgresql://${p.user}:{{${p.passwordSecret}}}@${p.host}:${p.port}/${p.database}?sslmode=require&sslcert=${p.caFile}&sslaccept=strict`,
  /** JDBC without credentials (Keycloak takes them apart). */
  jdbc: (p: PostgresWiring) => `jdbc:postgresql://${p.host}:${p.port}/${p.database}?sslmode=verify-full&sslrootcert=${p.caFile}`,
  /** SQLAlchemy over asyncpg: TLS settings go apart (Prefect's connect_args). */
  asyncpg: (p: PostgresWiring) => `postgresql+asyncpg://${p.user}:{{${p.passwordSecret}}}@${p.host}:${p.port}/${p.database}`,
};
export const redisUrl = (r: RedisWiring, db = 0) => `rediss://${r.user}:{{${r.passwordSecret}}}@${r.host}:${r.port}/${db}`;

export const NO_ROUTES = { routes: [] as CatalogRoute[], sites: [] as IngressSite[] };
