// Langfuse v3 (LLM observability) with what that version requires: its web and worker containers, PostgreSQL (the
// environment's, its own database), ClickHouse for traces, Redis for its queues and S3 for raw events (MinIO). Its
// queues get a Redis of their own: BullMQ's keys cannot be confined to a prefix by an ACL, and the environment's
// Redis holds the tenants' key spaces. Sign-up is off; the first organisation, project, API keys and admin user are
// created headlessly and kept in Vault.
import { z } from "zod";
import { healthcheck, type EnvValue, type ServiceSpec } from "../compose/spec";
import { bool } from "../config/fields";
import { cpus, gatewayPort, hostname, image, memoryMiB } from "./fields";
import { minioUser } from "./object-storage";
import { SERVICE_BASE, caFile, httpCheck, pgUrl, type CatalogEntry } from "./types";

const schema = z.strictObject({
  image: image("langfuse/langfuse:3.124.1"),
  workerImage: image("langfuse/langfuse-worker:3.124.1"),
  clickhouseImage: image("clickhouse/clickhouse-server:25.8.10.7"),
  redisImage: image("redis:7.4.6-alpine"),
  gatewayPort: gatewayPort(3002),
  /** Served publicly (public environment) under this name, when set. */
  hostname: hostname.optional(),
  auth: bool.default(false),
  adminEmail: z.email({ error: () => "expected the admin's e-mail address" }).default("admin@ai-dualstack.local"),
  memoryMiB: memoryMiB(2048),
  clickhouseMemoryMiB: memoryMiB(4096),
  cpus: cpus(2),
});
type LangfuseConfig = z.infer<typeof schema>;

const BUCKET = "langfuse";

export const langfuse: CatalogEntry<LangfuseConfig> = {
  key: "langfuse",
  title: "Langfuse (LLM observability)",
  tier: 2,
  environments: ["private", "public"],
  schema,
  needs: (c) => [
    { what: "postgres", why: "Langfuse keeps its projects, users and prompts in PostgreSQL" },
    { what: "minio", why: "Langfuse v3 writes raw events to S3 before ClickHouse" },
    ...(c.auth ? [{ what: "oauth2Proxy", why: "auth: true puts it behind the OAuth2 proxy at the ingress" }] : []),
  ],
  check: (c, { env }) => [
    ...(c.hostname && env !== "public"
      ? ([[["hostname"], `only the public environment serves the internet; reach ${env}'s Langfuse through gatewayPort`]] as [string[], string][])
      : []),
    ...(c.auth && !c.hostname ? ([[["auth"], "auth guards a public site: set hostname as well"]] as [string[], string][]) : []),
  ],
  sitesOf: (c) => (c.hostname ? [c.hostname] : []),
  render: (c, ctx) => {
    const db = ctx.postgres!("langfuse");
    const s3 = minioUser("langfuse");
    const common: Record<string, EnvValue> = {
      DATABASE_URL: { template: pgUrl.prisma(db) },
      NEXTAUTH_URL: c.hostname ? `https://${c.hostname}` : `https://${ctx.guestIp}:${c.gatewayPort}`,
      NEXTAUTH_SECRET: { secret: "langfuse-nextauth-secret" },
      SALT: { secret: "langfuse-salt" },
      ENCRYPTION_KEY: { secret: "langfuse-encryption-key-hex" },
      TELEMETRY_ENABLED: "false",
      AUTH_DISABLE_SIGNUP: "true",
      CLICKHOUSE_MIGRATION_URL: "clickhouse://langfuse-clickhouse:9000",
      CLICKHOUSE_URL: "http://langfuse-clickhouse:8123",
      CLICKHOUSE_USER: "langfuse",
      CLICKHOUSE_PASSWORD: { secret: "langfuse-clickhouse-password" },
      CLICKHOUSE_CLUSTER_ENABLED: "false",
      REDIS_HOST: "langfuse-redis",
      REDIS_PORT: "6379",
      REDIS_AUTH: { secret: "langfuse-redis-password" },
      LANGFUSE_S3_EVENT_UPLOAD_BUCKET: BUCKET,
      LANGFUSE_S3_EVENT_UPLOAD_REGION: "us-east-1",
      LANGFUSE_S3_EVENT_UPLOAD_ENDPOINT: "http://minio:9000",
      LANGFUSE_S3_EVENT_UPLOAD_ACCESS_KEY_ID: s3.user,
      LANGFUSE_S3_EVENT_UPLOAD_SECRET_ACCESS_KEY: { secret: s3.secret },
      LANGFUSE_S3_EVENT_UPLOAD_FORCE_PATH_STYLE: "true",
    };
    const init: Record<string, EnvValue> = {
      LANGFUSE_INIT_ORG_ID: "ai-dualstack",
      LANGFUSE_INIT_ORG_NAME: "ai-dualstack",
      LANGFUSE_INIT_PROJECT_ID: `${ctx.env}`,
      LANGFUSE_INIT_PROJECT_NAME: `${ctx.env} environment`,
      LANGFUSE_INIT_PROJECT_PUBLIC_KEY: "pk-lf-ai-dualstack",
      LANGFUSE_INIT_PROJECT_SECRET_KEY: { template: "sk-lf-{{langfuse-project-secret}}" },
      LANGFUSE_INIT_USER_EMAIL: c.adminEmail,
      LANGFUSE_INIT_USER_NAME: "admin",
      LANGFUSE_INIT_USER_PASSWORD: { secret: "langfuse-admin-password" },
    };
    const base = SERVICE_BASE;
    const services: ServiceSpec[] = [
      {
        ...base,
        name: "langfuse-clickhouse",
        image: c.clickhouseImage,
        environment: { CLICKHOUSE_DB: "default", CLICKHOUSE_USER: "langfuse", CLICKHOUSE_PASSWORD: { secret: "langfuse-clickhouse-password" } },
        // Its logs go to the container's output (Alloy ships them); only the data is kept and backed up.
        volumes: [{ volume: "langfuse-clickhouse-data", path: "/var/lib/clickhouse" }],
        healthcheck: httpCheck("wget", "http://localhost:8123/ping", "60s"),
        dependsOnHealthy: [],
        memoryMiB: c.clickhouseMemoryMiB,
        cpus: c.cpus,
      },
      {
        ...base,
        name: "langfuse-redis",
        image: c.redisImage,
        command: ["redis-server", "/usr/local/etc/redis/redis.conf"],
        environment: {},
        volumes: [{ volume: "langfuse-redis-data", path: "/data" }],
        // Queues must not lose jobs: no eviction, append-only.
        files: [
          {
            path: "/usr/local/etc/redis/redis.conf",
            template: "requirepass {{langfuse-redis-password}}\nmaxmemory-policy noeviction\nappendonly yes\nprotected-mode yes\n",
          },
        ],
        healthcheck: healthcheck(
          ["CMD-SHELL", "redis-cli --no-auth-warning -a \"$(sed -n 's/^requirepass //p' /usr/local/etc/redis/redis.conf)\" ping | grep -q PONG"],
          "20s",
        ),
        dependsOnHealthy: [],
        memoryMiB: 512,
        cpus: 1,
      },
      {
        ...base,
        name: "langfuse-worker",
        image: c.workerImage,
        environment: common,
        files: [caFile],
        healthcheck: httpCheck("wget", "http://localhost:3030/api/health", "120s"),
        dependsOnHealthy: ["langfuse-clickhouse", "langfuse-redis", "minio-setup"],
        memoryMiB: c.memoryMiB,
        cpus: c.cpus,
      },
      {
        ...base,
        name: "langfuse-web",
        image: c.image,
        environment: { ...common, ...init },
        files: [caFile],
        healthcheck: httpCheck("wget", "http://localhost:3000/api/public/health", "120s"),
        dependsOnHealthy: ["langfuse-clickhouse", "langfuse-redis", "minio-setup"],
        networks: c.hostname ? ["ai", "edge"] : ["ai"],
        memoryMiB: c.memoryMiB,
        cpus: c.cpus,
      },
    ];
    return {
      services,
      volumes: ["langfuse-clickhouse-data", "langfuse-redis-data"],
      routes: [{ service: "langfuse", port: c.gatewayPort, upstream: "langfuse-web:3000" }],
      sites: c.hostname ? [{ service: "langfuse", hostname: c.hostname, upstream: "langfuse-web:3000", auth: c.auth }] : [],
      vault: {
        LANGFUSE_HOST: c.hostname ? `https://${c.hostname}` : `https://${ctx.guestIp}:${c.gatewayPort}`,
        LANGFUSE_PUBLIC_KEY: "pk-lf-ai-dualstack",
        LANGFUSE_SECRET_KEY: { template: "sk-lf-{{langfuse-project-secret}}" },
        ADMIN_EMAIL: c.adminEmail,
        ADMIN_PASSWORD: { template: "{{langfuse-admin-password}}" },
      },
    };
  },
};
