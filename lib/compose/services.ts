// The compose stack of each environment, rendered from its config: Ollama (GPU) with every server setting explicit,
// then the private assistant UI and Chroma, or the public chatbot, Qdrant and the TLS ingress.
import { ipOf } from "../net";
import { SERVICE_DEFAULTS, type EnvironmentConfig, type OllamaConfig } from "../config/schema";
import { renderCaddyfile } from "./caddyfile";
import type { ServiceSpec, StackSpec } from "./spec";

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

const healthcheck = (test: string[], startPeriod = "30s") => ({ test, interval: "30s", timeout: "10s", retries: 5, startPeriod });

function ollamaService(o: OllamaConfig, vmIp: string): ServiceSpec {
  return {
    name: "ollama",
    image: o.image,
    environment: ollamaEnvironment(o),
    // On the VM's own address: the model deployments reach it from the management network (firewalled to it).
    ports: [{ container: OLLAMA_PORT, host: OLLAMA_PORT, bind: vmIp }],
    volumes: [{ volume: "ollama-models", path: "/root/.ollama" }],
    healthcheck: healthcheck(["CMD", "ollama", "list"]),
    restart: "unless-stopped",
    gpu: true,
    dependsOnHealthy: [],
    networks: ["ai"],
  };
}

function openWebui(name: string, image: string, vectorDb: ServiceSpec["environment"], extra: Partial<ServiceSpec>): ServiceSpec {
  return {
    name,
    image,
    environment: {
      OLLAMA_BASE_URL: `http://ollama:${OLLAMA_PORT}`,
      WEBUI_SECRET_KEY: { secret: `${name}-secret-key` },
      ENABLE_OPENAI_API: "false",
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

export function environmentStack(config: EnvironmentConfig, project: string): StackSpec {
  const vmIp = ipOf(config.gpuVm.address);
  const s = config.services;
  if (config.role === "private") {
    const ui = s.openWebui ?? SERVICE_DEFAULTS.openWebui;
    const chroma = s.chroma ?? SERVICE_DEFAULTS.chroma;
    return {
      project,
      networks: [{ name: "ai", internal: false }],
      volumes: ["ollama-models", "open-webui-data", "chroma-data"],
      services: [
        ollamaService(config.ollama, vmIp),
        {
          name: "chroma",
          image: chroma.image,
          environment: { IS_PERSISTENT: "TRUE", ANONYMIZED_TELEMETRY: "FALSE" },
          ports: [{ container: 8000, host: chroma.port, bind: vmIp }],
          volumes: [{ volume: "chroma-data", path: "/data" }],
          restart: "unless-stopped",
          gpu: false,
          dependsOnHealthy: [],
          networks: ["ai"],
        },
        openWebui("open-webui", ui.image, { VECTOR_DB: "chroma", CHROMA_HTTP_HOST: "chroma", CHROMA_HTTP_PORT: "8000" }, {
          ports: [{ container: 8080, host: ui.port, bind: vmIp }],
        }),
      ],
    };
  }
  const ingress = s.ingress!;
  return {
    project,
    networks: [{ name: "ai", internal: false }, { name: "edge", internal: false }],
    volumes: ["ollama-models", "qdrant-data", "chatbot-data", "ingress-data"],
    services: [
      ollamaService(config.ollama, vmIp),
      {
        name: "qdrant",
        image: (s.qdrant ?? SERVICE_DEFAULTS.qdrant).image,
        environment: { QDRANT__TELEMETRY_DISABLED: "true", QDRANT__SERVICE__API_KEY: { secret: "qdrant-api-key" }, QDRANT__SERVICE__JWT_RBAC: "true" },
        // On the VM's address for the tenants' collections (created from the operator's machine): firewalled to the
        // management IP set like Ollama's port, and every request needs the API key.
        ports: [{ container: QDRANT_PORT, host: QDRANT_PORT, bind: vmIp }],
        volumes: [{ volume: "qdrant-data", path: "/qdrant/storage" }],
        restart: "unless-stopped",
        gpu: false,
        dependsOnHealthy: [],
        networks: ["ai"],
      },
      openWebui("chatbot", (s.chatbot ?? SERVICE_DEFAULTS.chatbot).image, { VECTOR_DB: "qdrant", QDRANT_URI: `http://qdrant:${QDRANT_PORT}`, QDRANT_API_KEY: { secret: "qdrant-api-key" } }, {
        networks: ["ai", "edge"],
      }),
      {
        name: "ingress",
        image: ingress.image,
        environment: {},
        // The only published port of the public environment, on every address.
        ports: [{ container: 443, host: 443, bind: "0.0.0.0" }],
        volumes: [{ volume: "ingress-data", path: "/data" }],
        files: [{ path: "/etc/caddy/Caddyfile", content: renderCaddyfile({ hostname: ingress.hostname, tls: ingress.tls, upstream: "chatbot:8080" }) }],
        restart: "unless-stopped",
        gpu: false,
        dependsOnHealthy: ["chatbot"],
        networks: ["edge"],
      },
    ],
  };
}
