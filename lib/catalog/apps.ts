// Your own code as catalog services: LangChain/FastAPI apps, Streamlit demos, the agent service, the RAG service and
// Celery workers. The image is yours (a registry image, or built on the guest from a directory of this repository);
// the catalog wires it to its environment, checks its health, keeps its data and publishes it where it belongs.
import { z } from "zod";
import { bool, hostPort, imageRef, oneOf, pattern, wholeNumber } from "../config/fields";
import { healthcheck, type EnvValue, type ServiceSpec } from "../compose/spec";
import { build, command, healthPath, hostname, plainEnvironment, serviceName, version, limits } from "./fields";
import {
  SERVICE_BASE,
  CA_FILE,
  caFile,
  httpCheck,
  redisUrl,
  type CatalogEntry,
  type CatalogEnv,
  type EnvironmentNeed,
  type Need,
  imageSource,
  imageSourceProblems,
  mergeRendered,
  type Rendered,
  type ServiceContext,
} from "./types";
import { WIRING_KEYS, vaultOf, wiringEnvironment } from "./wiring";

const APP_NEEDS = ["postgres", "redis", "vectorDb", "llm"] as const;
const dataPath = pattern(
  /^\/(?!$)(?!(etc|proc|sys|dev|run|boot|bin|sbin|lib|usr)(\/|$))[A-Za-z0-9._/-]+$/,
  'an absolute path inside the container such as "/app/data" (not a system directory)',
);

function appShape(d: { port: number; health: string; needs: (typeof APP_NEEDS)[number][]; memoryMiB: number; auth: boolean }) {
  return {
    /** A registry image with an explicit tag … */
    image: imageRef.optional(),
    /** … or a directory of this repository with a Dockerfile, built on the guest's engine. */
    build: build.optional(),
    /** The tag a built image gets: ai-dualstack/<service>:<version>. */
    version: version.default("1.0.0"),
    port: wholeNumber(1, 65_535, "the port the app listens on inside its container").default(d.port),
    health: healthPath.default(d.health),
    command: command.optional(),
    environment: plainEnvironment,
    needs: z.array(oneOf(APP_NEEDS)).default(d.needs),
    /** Served to the internet by the public ingress under this name (public environment only). */
    hostname: hostname.optional(),
    /** Behind the OAuth2 proxy: a browser signs in, an API client brings a JWT from the identity provider. */
    auth: bool.default(d.auth),
    /** Published to the operators through the guest's TLS gateway. */
    gatewayPort: hostPort.optional(),
    /** A directory kept in a volume (and backed up). */
    dataPath: dataPath.optional(),
    ...limits(d.memoryMiB, 1),
  };
}
const appSchema = (d: Parameters<typeof appShape>[0]) => z.strictObject(appShape(d));
export type AppConfig = z.infer<ReturnType<typeof appSchema>>;

const APP_DEFAULTS = { port: 8000, health: "/health", needs: ["llm"] as (typeof APP_NEEDS)[number][], memoryMiB: 1024, auth: false };

function appNeeds(c: AppConfig): Need[] {
  return [
    ...c.needs.map((n) => ({ what: n, why: `the app asks for it (needs: [${c.needs.join(", ")}])` })),
    ...(c.auth ? [{ what: "oauth2Proxy", why: "auth: true puts it behind the OAuth2 proxy at the ingress" }] : []),
  ];
}

function appChecks(c: AppConfig, env: CatalogEnv): [string[], string][] {
  const problems: [string[], string][] = [];
  problems.push(...imageSourceProblems(c));
  if (c.hostname && env !== "public") problems.push([["hostname"], `only the public environment serves the internet; reach a ${env} app through gatewayPort`]);
  if (c.auth && !c.hostname) problems.push([["auth"], "auth guards a public site: set hostname as well"]);
  const wired = new Set(["PORT", ...c.needs.flatMap((n) => WIRING_KEYS[n])]);
  for (const key of Object.keys(c.environment).filter((k) => wired.has(k)))
    problems.push([["environment", key], `${key} is set by the catalog's wiring (needs: [${c.needs.join(", ")}]); leave it out`]);
  return problems;
}

/** One app as a compose service: `extra` adds preset wiring (the RAG service's document API, the agent's memory). */
function renderApp(service: string, c: AppConfig, ctx: ServiceContext, extra: Record<string, EnvValue> = {}): Rendered {
  const wiring = { ...wiringEnvironment(c.needs, ctx, service), ...extra };
  const volume = `${service}-data`;
  const spec: ServiceSpec = {
    ...SERVICE_BASE,
    name: service,
    ...imageSource(service, c),
    ...(c.command ? { command: c.command } : {}),
    environment: { ...wiring, ...c.environment, PORT: String(c.port) },
    volumes: c.dataPath ? [{ volume, path: c.dataPath }] : [],
    files: c.needs.some((n) => n === "postgres" || n === "redis") ? [caFile] : [],
    healthcheck: httpCheck("python", `http://localhost:${c.port}${c.health}`),
    networks: c.hostname ? ["ai", "edge"] : ["ai"],
    memoryMiB: c.memoryMiB,
    cpus: c.cpus,
  };
  return {
    services: [spec],
    volumes: c.dataPath ? [volume] : [],
    routes: c.gatewayPort ? [{ service, port: c.gatewayPort, upstream: `${service}:${c.port}` }] : [],
    sites: c.hostname ? [{ service, hostname: c.hostname, upstream: `${service}:${c.port}`, auth: c.auth }] : [],
    vault: vaultOf(wiring),
  };
}

const prefixed = (path: string[], problems: [string[], string][]) => problems.map(([p, m]): [string[], string] => [[...path, ...p], m]);

const appsSchema = z.record(serviceName, appSchema(APP_DEFAULTS));
/** Tier 1: LangChain-based and FastAPI applications, any number, each with its own name. */
export const apps: CatalogEntry<z.infer<typeof appsSchema>> = {
  key: "apps",
  title: "LangChain / FastAPI applications (generic app)",
  tier: 1,
  environments: ["private", "public"],
  schema: appsSchema,
  needs: (c) => Object.values(c).flatMap(appNeeds),
  check: (c, { env }) => Object.entries(c).flatMap(([name, app]) => prefixed([name], appChecks(app, env))),
  render: (c, ctx) => mergeRendered(Object.entries(c).map(([name, app]) => renderApp(`app-${name}`, app, ctx))),
  sitesOf: (c) => Object.values(c).flatMap((a) => (a.hostname ? [a.hostname] : [])),
};

/** An app with a preset: its own key and defaults, what else it needs, and the wiring it adds to the app's. */
function appEntry(o: {
  key: string;
  title: string;
  tier: 1 | 2 | 3;
  environments: readonly CatalogEnv[];
  defaults: Parameters<typeof appShape>[0];
  needs?: Need[];
  /** Served publicly only: a host name is required. */
  requireHostname?: string;
  extra?: (c: AppConfig, ctx: ServiceContext) => Record<string, EnvValue>;
}): CatalogEntry<AppConfig> {
  return {
    key: o.key,
    title: o.title,
    tier: o.tier,
    environments: o.environments,
    schema: appSchema(o.defaults),
    needs: (c) => [...appNeeds(c), ...(o.needs ?? [])],
    check: (c, { env }) => [...appChecks(c, env), ...(o.requireHostname && !c.hostname ? [[["hostname"], o.requireHostname] as [string[], string]] : [])],
    render: (c, ctx) => renderApp(o.key, c, ctx, o.extra?.(c, ctx)),
    sitesOf: (c) => (c.hostname ? [c.hostname] : []),
  };
}

/** Tier 1: a Streamlit demo app (public proof of concept). */
export const streamlit = appEntry({
  key: "streamlit",
  title: "Streamlit demo app",
  tier: 1,
  environments: ["public"],
  defaults: { port: 8501, health: "/_stcore/health", needs: ["llm"], memoryMiB: 1024, auth: false },
  requireHostname: 'expected the public name the demo is served under, such as "demo.example.org"',
  extra: (c) => ({
    STREAMLIT_SERVER_PORT: String(c.port),
    STREAMLIT_SERVER_ADDRESS: "0.0.0.0",
    STREAMLIT_SERVER_HEADLESS: "true",
    STREAMLIT_BROWSER_GATHER_USAGE_STATS: "false",
  }),
});

/** Tier 3: the CrewAI/LangGraph agent service behind the agentic chatbot, wired to memory when it is there. */
export const agent = appEntry({
  key: "agent",
  title: "CrewAI / LangGraph agent service",
  tier: 3,
  environments: ["public"],
  defaults: { port: 8000, health: "/health", needs: ["llm", "vectorDb", "redis"], memoryMiB: 2048, auth: true },
  extra: (_c, ctx) => ({
    ...("zep" in ctx.enabled ? { ZEP_API_URL: "http://zep:8000", GRAPHITI_URL: "http://zep:8000" } : {}),
    ...("neo4j" in ctx.enabled ? { NEO4J_URI: "bolt://neo4j:7687", NEO4J_USERNAME: "neo4j", NEO4J_PASSWORD: { secret: "neo4j-password" } } : {}),
    ...("langfuse" in ctx.enabled
      ? {
          LANGFUSE_HOST: "http://langfuse-web:3000",
          LANGFUSE_PUBLIC_KEY: "pk-lf-ai-dualstack",
          LANGFUSE_SECRET_KEY: { template: "sk-lf-{{langfuse-project-secret}}" },
        }
      : {}),
  }),
});

/** Tier 2: the LlamaIndex/LangChain RAG and document-analysis service, with the Unstructured API for parsing. */
export const rag = appEntry({
  key: "rag",
  title: "LlamaIndex / LangChain RAG and document analysis",
  tier: 2,
  environments: ["private"],
  defaults: { port: 8000, health: "/health", needs: ["llm", "vectorDb", "postgres"], memoryMiB: 2048, auth: false },
  needs: [{ what: "unstructured", why: "documents are parsed by the Unstructured API" }],
  extra: () => ({ UNSTRUCTURED_API_URL: "http://unstructured:8000/general/v0/general", UNSTRUCTURED_API_KEY: { secret: "unstructured-api-key" } }),
});

const workerSchema = z.strictObject({
  image: imageRef.optional(),
  build: build.optional(),
  version: version.default("1.0.0"),
  /** The Celery application module ("tasks", "myapp.celery"). */
  app: pattern(/^[A-Za-z_][A-Za-z0-9_.:]*$/, 'a Celery app module such as "tasks"'),
  queues: z
    .array(pattern(/^[A-Za-z0-9_.-]+$/, "a queue name"))
    .min(1)
    .default(["celery"]),
  concurrency: wholeNumber(1, 256, "worker processes").default(2),
  /** More than the broker: the worker's own database, vector DB or model endpoint. */
  needs: z.array(oneOf(APP_NEEDS)).default(["redis"]),
  environment: plainEnvironment,
  ...limits(1024, 1),
});
const workersSchema = z.record(serviceName, workerSchema);

function renderWorker(name: string, c: z.infer<typeof workerSchema>, ctx: ServiceContext): Rendered {
  const service = `worker-${name}`;
  const r = ctx.redis!(service);
  // The broker and result backend are the environment's Redis, as the worker's own ACL user: every key under its
  // prefix (Celery's global_keyprefix transport option, which the app sets from CELERY_BROKER_TRANSPORT_OPTIONS).
  const tls = `?ssl_cert_reqs=required&ssl_ca_certs=${CA_FILE}`;
  const wiring: Record<string, EnvValue> = {
    ...wiringEnvironment([...new Set(["redis" as EnvironmentNeed, ...c.needs])], ctx, service),
    CELERY_BROKER_URL: { template: `${redisUrl(r)}${tls}` },
    CELERY_RESULT_BACKEND: { template: `${redisUrl(r)}${tls}` },
    CELERY_BROKER_TRANSPORT_OPTIONS: JSON.stringify({ global_keyprefix: r.keyPrefix }),
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS: JSON.stringify({ global_keyprefix: r.keyPrefix }),
  };
  return {
    services: [
      {
        ...SERVICE_BASE,
        name: service,
        ...imageSource(service, c),
        command: ["celery", "-A", c.app, "worker", "--loglevel=INFO", `--concurrency=${c.concurrency}`, "-Q", c.queues.join(","), "-n", `${service}@%h`],
        environment: { ...wiring, ...c.environment },
        volumes: [],
        files: [caFile],
        // Answers a ping through the broker: the worker is up and the broker reachable.
        healthcheck: healthcheck(["CMD-SHELL", `celery -A ${c.app} inspect ping -d ${service}@$(hostname) --timeout 10 | grep -q pong`], "60s"),
        memoryMiB: c.memoryMiB,
        cpus: c.cpus,
      },
    ],
    volumes: [],
    routes: [],
    sites: [],
    vault: vaultOf(wiring),
  };
}

/** Tier 2: Celery workers on the environment's Redis, any number. */
export const workers: CatalogEntry<z.infer<typeof workersSchema>> = {
  key: "workers",
  title: "Redis + Celery workers (generic worker)",
  tier: 2,
  environments: ["private", "public"],
  schema: workersSchema,
  needs: (c) =>
    Object.values(c).flatMap((w) => [
      { what: "redis", why: "Redis is the Celery broker" },
      ...w.needs.map((n) => ({ what: n, why: `the worker asks for it (needs: [${w.needs.join(", ")}])` })),
    ]),
  check: (c) => Object.entries(c).flatMap(([name, w]) => prefixed([name], imageSourceProblems(w))),
  render: (c, ctx) => mergeRendered(Object.entries(c).map(([name, w]) => renderWorker(name, w, ctx))),
};
