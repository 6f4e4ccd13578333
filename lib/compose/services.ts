// The compose stack of each environment, rendered from its config: Ollama (GPU) with every server setting explicit,
// then the private assistant UI and Chroma, or the public chatbot, Qdrant and the TLS ingress; in both, the TLS gateway
// that serves every other published port with a certificate from the environment CA, and the GPU's exporter.
import { ipOf } from "../net";
import { OLLAMA_VOLUME } from "../ollama-store";
import { SERVICE_DEFAULTS, type EnvironmentConfig, type HostConfig, type ModelDeploymentConfig, type OllamaConfig } from "../config/schema";
import { urlEgress, type Egress } from "../egress";
import { renderCaddyfile, renderGatewayCaddyfile } from "./caddyfile";
import { healthcheck, type ServiceSpec, type StackSpec } from "./spec";
import { EXPORTER_PORTS } from "../monitoring/prometheus";
import { POSTGRES_PORT, REDIS_PORT } from "../data-services";
import { resolveCatalog, catalogHostnames, enabledEntries, type CatalogPlan } from "../catalog/resolve";
import { CA_FILE } from "../catalog/types";
import { VECTOR_DBS, VECTOR_DB_OF } from "../catalog/vector-dbs";
import { servedNameOf, VLLM_PORT } from "../catalog/gpu-workloads";
import { VLLM_API_KEY } from "../catalog/wiring";
import { OAUTH2_PROXY } from "../catalog/identity";

export const OLLAMA_PORT = 11434;
export const QDRANT_PORT = 6333;

/** Ollama's server settings as environment variables; nothing is left to its VRAM-dependent defaults. */
export function ollamaEnvironment(o: OllamaConfig): Record<string, string> {
  return {
    OLLAMA_HOST: `0.0.0.0:${OLLAMA_PORT}`,
    OLLAMA_CONTEXT_LENGTH: String(o.contextLength),
    OLLAMA_NUM_PARALLEL: String(o.numParallel),
    OLLAMA_MAX_LOADED_MODELS: String(o.maxLoadedModels),
    OLLAMA_KV_CACHE_TYPE: o.kvCacheType,
    OLLAMA_FLASH_ATTENTION: o.flashAttention ? "1" : "0",
    OLLAMA_KEEP_ALIVE: o.keepAlive,
    OLLAMA_GPU_OVERHEAD: String(o.gpuOverheadMiB * 1024 ** 2),
    OLLAMA_MAX_QUEUE: String(o.maxQueue),
  };
}

/** Ollama's own registry, where a model name without a registry host is pulled from. */
export const OLLAMA_REGISTRY = "https://registry.ollama.ai";

/** What Ollama contacts to pull the deployed models (a derived model pulls the one it is made `from`). */
export function modelEgress(models: readonly ModelDeploymentConfig[]): Egress[] {
  const registryOf = (name: string) => {
    const first = name.split("/")[0];
    return name.includes("/") && (first.includes(".") || first.includes(":")) ? `https://${first}` : OLLAMA_REGISTRY;
  };
  const registries = [...new Set(models.map((m) => registryOf(m.from ?? m.name)))].sort();
  return registries.map((r) => urlEgress(`Ollama: models from ${new URL(r).host}`, r));
}

function ollamaService(o: OllamaConfig, gpu: boolean): ServiceSpec {
  return {
    name: "ollama",
    image: o.image,
    environment: ollamaEnvironment(o),
    // Loopback only (the model probe); the model deployments reach it through the TLS gateway on the VM's address.
    ports: [{ container: OLLAMA_PORT, host: OLLAMA_PORT, bind: "127.0.0.1" }],
    volumes: [{ volume: OLLAMA_VOLUME, path: "/root/.ollama" }],
    healthcheck: healthcheck(["CMD", "ollama", "list"]),
    restart: "unless-stopped",
    // One runtime owns the GPU: with vLLM enabled, Ollama serves from the CPU.
    gpu,
    dependsOnHealthy: [],
    networks: ["ai"],
  };
}

/**
 * Open WebUI on the environment's runtime: Ollama, or, when vLLM owns the GPU, vLLM's OpenAI-compatible endpoint with
 * its key (Ollama stays for the embeddings and the models it serves from the CPU).
 */
function openWebui(name: string, image: string, vectorDb: ServiceSpec["environment"], vllm: boolean, extra: Partial<ServiceSpec>): ServiceSpec {
  return {
    name,
    image,
    environment: {
      OLLAMA_BASE_URL: `http://ollama:${OLLAMA_PORT}`,
      WEBUI_SECRET_KEY: { secret: `${name}-secret-key` },
      ...(vllm
        ? { ENABLE_OPENAI_API: "true", OPENAI_API_BASE_URL: `http://vllm:${VLLM_PORT}/v1`, OPENAI_API_KEY: { secret: VLLM_API_KEY } }
        : { ENABLE_OPENAI_API: "false" }),
      ANONYMIZED_TELEMETRY: "false",
      ...vectorDb,
    },
    ports: [],
    volumes: [{ volume: `${name}-data`, path: "/app/backend/data" }],
    healthcheck: healthcheck(["CMD", "curl", "-fsS", "http://localhost:8080/health"], "60s"),
    restart: "unless-stopped",
    gpu: false,
    dependsOnHealthy: ["ollama"],
    networks: ["ai"],
    ...extra,
  };
}

/** A port the VM publishes to the operators' network, served by the TLS gateway with the service's own certificate. */
export interface GatewayRoute {
  service: string;
  port: number;
  upstream: string;
}

/** What each environment publishes on its VM's address: all of it through the gateway, over TLS. */
export function gatewayRoutes(config: EnvironmentConfig, catalog: Pick<CatalogPlan, "routes"> = environmentCatalog(config, "")): GatewayRoute[] {
  const s = config.services;
  const ollama: GatewayRoute = { service: "ollama", port: OLLAMA_PORT, upstream: `ollama:${OLLAMA_PORT}` };
  const core =
    config.role === "private"
      ? [
          ollama,
          { service: "open-webui", port: (s.openWebui ?? SERVICE_DEFAULTS.openWebui).port, upstream: "open-webui:8080" },
          { service: "chroma", port: (s.chroma ?? SERVICE_DEFAULTS.chroma).port, upstream: "chroma:8000" },
        ]
      : [ollama, { service: "qdrant", port: QDRANT_PORT, upstream: `qdrant:${QDRANT_PORT}` }];
  return [...core, ...catalog.routes];
}

/** The catalog services of an environment, rendered against what the environment provides. */
export function environmentCatalog(config: EnvironmentConfig, project: string): CatalogPlan {
  const vmIp = ipOf(config.gpuVm.address);
  const v = config.services.vllm;
  const chat = config.models[0].name;
  const embedding = config.models.find((m) => /embed/.test(m.name))?.name ?? chat;
  const enabled = enabledEntries(config.services);
  return resolveCatalog(enabled, {
    env: config.role,
    project,
    guestIp: vmIp,
    postgres: { host: ipOf(config.containers.postgres.address), port: POSTGRES_PORT, caFile: CA_FILE },
    redis: { host: ipOf(config.containers.redis.address), port: REDIS_PORT, caFile: CA_FILE },
    llm: v
      ? {
          runtime: "vllm",
          openaiBaseUrl: `http://vllm:${VLLM_PORT}/v1`,
          ollamaBaseUrl: `http://ollama:${OLLAMA_PORT}`,
          model: servedNameOf(v),
          embeddingModel: embedding,
        }
      : {
          runtime: "ollama",
          openaiBaseUrl: `http://ollama:${OLLAMA_PORT}/v1`,
          ollamaBaseUrl: `http://ollama:${OLLAMA_PORT}`,
          model: chat,
          embeddingModel: embedding,
        },
    vectorDb: VECTOR_DBS[VECTOR_DB_OF[config.role]],
    publicHostnames: [...(config.services.ingress ? [config.services.ingress.hostname] : []), ...catalogHostnames(enabled)],
  });
}

/** The key material names of a route's certificate, as ComposeStack's `materials` takes them. */
export const gatewayMaterial = (service: string) => ({ cert: `tls-${service}-cert`, key: `tls-${service}-key` });

function gatewayService(config: EnvironmentConfig, vmIp: string, catalog: CatalogPlan): ServiceSpec {
  const routes = gatewayRoutes(config, catalog);
  const dir = "/etc/caddy/tls";
  return {
    name: "gateway",
    image: (config.services.gateway ?? SERVICE_DEFAULTS.gateway).image,
    environment: {},
    // The VM's own address only; the firewall admits the management IP set (publishedPortRules).
    ports: routes.map((r) => ({ container: r.port, host: r.port, bind: vmIp })),
    volumes: [],
    files: [
      {
        path: "/etc/caddy/Caddyfile",
        content: renderGatewayCaddyfile(routes.map((r) => ({ ...r, certFile: `${dir}/${r.service}.crt`, keyFile: `${dir}/${r.service}.key` }))),
      },
      ...routes.flatMap((r) => [
        { path: `${dir}/${r.service}.crt`, material: gatewayMaterial(r.service).cert },
        { path: `${dir}/${r.service}.key`, material: gatewayMaterial(r.service).key },
      ]),
    ],
    restart: "unless-stopped",
    gpu: false,
    dependsOnHealthy: [],
    networks: ["ai"],
  };
}

/** NVIDIA's DCGM exporter: the GPU's metrics on the VM's address, for the monitoring container (firewall). */
function gpuExporterService(config: EnvironmentConfig, vmIp: string): ServiceSpec {
  return {
    name: "gpu-exporter",
    image: (config.services.gpuExporter ?? SERVICE_DEFAULTS.gpuExporter).image,
    environment: { DCGM_EXPORTER_LISTEN: `:${EXPORTER_PORTS.dcgm}` },
    ports: [{ container: EXPORTER_PORTS.dcgm, host: EXPORTER_PORTS.dcgm, bind: vmIp }],
    volumes: [],
    restart: "unless-stopped",
    gpu: true,
    dependsOnHealthy: [],
    networks: ["ai"],
  };
}

/** The environment's compose stack: its core services, then the catalog's (computed here unless the caller has it). */
export function environmentStack(config: EnvironmentConfig, project: string, catalog: CatalogPlan = environmentCatalog(config, project)): StackSpec {
  const core = coreStack(config, project, catalog);
  return { ...core, volumes: [...core.volumes, ...catalog.volumes], services: [...core.services, ...catalog.services] };
}

function coreStack(config: EnvironmentConfig, project: string, catalog: CatalogPlan): StackSpec {
  const vmIp = ipOf(config.gpuVm.address);
  const s = config.services;
  // A VM without the NVIDIA stack (gpuVm.nvidia false) has no GPU for Docker to hand out: `gpus: all` would fail
  // every container that asks (found by the real guests), so Ollama runs on the CPU and the DCGM exporter is left out.
  const gpu = config.gpuVm.nvidia;
  const ollamaOnGpu = gpu && s.vllm === undefined;
  const gpuExporter = gpu ? [gpuExporterService(config, vmIp)] : [];
  // Ollama leaves the VRAM the notebooks keep (its overhead), as the capacity planner counts it.
  const ollama = { ...config.ollama, gpuOverheadMiB: config.ollama.gpuOverheadMiB + catalog.reservedVramMiB };
  if (config.role === "private") {
    const ui = s.openWebui ?? SERVICE_DEFAULTS.openWebui;
    const chroma = s.chroma ?? SERVICE_DEFAULTS.chroma;
    return {
      project,
      networks: [{ name: "ai", internal: false }],
      volumes: [OLLAMA_VOLUME, "open-webui-data", "chroma-data"],
      services: [
        ollamaService(ollama, ollamaOnGpu),
        {
          name: "chroma",
          image: chroma.image,
          environment: { IS_PERSISTENT: "TRUE", ANONYMIZED_TELEMETRY: "FALSE" },
          // Reached by the operators through the gateway (TLS), by the UI on the internal network.
          ports: [],
          volumes: [{ volume: "chroma-data", path: "/data" }],
          restart: "unless-stopped",
          gpu: false,
          dependsOnHealthy: [],
          networks: ["ai"],
        },
        openWebui("open-webui", ui.image, { VECTOR_DB: "chroma", CHROMA_HTTP_HOST: "chroma", CHROMA_HTTP_PORT: "8000" }, s.vllm !== undefined, {}),
        gatewayService(config, vmIp, catalog),
        ...gpuExporter,
      ],
    };
  }
  const ingress = s.ingress!;
  return {
    project,
    networks: [
      { name: "ai", internal: false },
      { name: "edge", internal: false },
    ],
    volumes: [OLLAMA_VOLUME, "qdrant-data", "chatbot-data", "ingress-data"],
    services: [
      ollamaService(ollama, ollamaOnGpu),
      {
        name: "qdrant",
        image: (s.qdrant ?? SERVICE_DEFAULTS.qdrant).image,
        environment: { QDRANT__TELEMETRY_DISABLED: "true", QDRANT__SERVICE__API_KEY: { secret: "qdrant-api-key" }, QDRANT__SERVICE__JWT_RBAC: "true" },
        // Published through the gateway (TLS) for the tenants' collections, created from the operator's machine and
        // used by the tenants' applications; every request needs the API key or a tenant's JWT.
        ports: [],
        volumes: [{ volume: "qdrant-data", path: "/qdrant/storage" }],
        restart: "unless-stopped",
        gpu: false,
        dependsOnHealthy: [],
        networks: ["ai"],
      },
      openWebui(
        "chatbot",
        (s.chatbot ?? SERVICE_DEFAULTS.chatbot).image,
        { VECTOR_DB: "qdrant", QDRANT_URI: `http://qdrant:${QDRANT_PORT}`, QDRANT_API_KEY: { secret: "qdrant-api-key" } },
        s.vllm !== undefined,
        {
          networks: ["ai", "edge"],
        },
      ),
      {
        name: "ingress",
        image: ingress.image,
        environment: {},
        // The only published port of the public environment, on every address.
        ports: [{ container: 443, host: 443, bind: "0.0.0.0" }],
        volumes: [{ volume: "ingress-data", path: "/data" }],
        files: [{ path: "/etc/caddy/Caddyfile", content: renderCaddyfile(ingressInput(config, catalog)) }],
        restart: "unless-stopped",
        gpu: false,
        dependsOnHealthy: ["chatbot"],
        networks: ["edge"],
      },
      gatewayService(config, vmIp, catalog),
      ...gpuExporter,
    ],
  };
}

/** What the public ingress serves: the chatbot under its host name, then every public site of the catalog. */
export function ingressInput(
  config: EnvironmentConfig,
  catalog: Pick<CatalogPlan, "sites"> = environmentCatalog(config, ""),
): Parameters<typeof renderCaddyfile>[0] {
  const ingress = config.services.ingress!;
  const sites = [{ hostname: ingress.hostname, upstream: "chatbot:8080", auth: ingress.auth }, ...catalog.sites];
  return {
    sites,
    tls: ingress.tls,
    acmeEmail: ingress.acmeEmail,
    acmeCa: ingress.acmeCa,
    authUpstream: config.services.oauth2Proxy ? `${OAUTH2_PROXY.service}:${OAUTH2_PROXY.port}` : undefined,
  };
}

/** The compose project of the cicd container (Gitea and its runner). */
export const CICD_PROJECT = "cicd";

/** The host's compose project: Gitea and its runner in Docker in the cicd container, when services.gitea is on. */
export function platformStack(c: HostConfig): { plan: CatalogPlan; spec: StackSpec } | undefined {
  if (!c.services.gitea) return undefined;
  const plan = resolveCatalog(
    { gitea: c.services.gitea },
    { env: "host", project: CICD_PROJECT, guestIp: ipOf(c.platform.containers.cicd.address), publicHostnames: [] },
  );
  return { plan, spec: { project: CICD_PROJECT, networks: [{ name: "ai", internal: false }], volumes: plan.volumes, services: plan.services } };
}
