// The environment variables that wire a service to what its environment provides: the names the LangChain,
// LlamaIndex and OpenAI client libraries read, so that an app built on them needs no glue of its own.
import type { EnvValue } from "../compose/spec";
import { CA_FILE, pgUrl, redisUrl, type EnvironmentNeed, type ServiceContext, type VaultRecord } from "./types";
import { VECTOR_DBS } from "./vector-dbs";

/** The wiring a need contributes, for `consumer` (its database and Redis user are its own). */
export function wiringEnvironment(needs: readonly EnvironmentNeed[], ctx: ServiceContext, consumer: string): Record<string, EnvValue> {
  const env: Record<string, EnvValue> = {};
  for (const need of needs) {
    if (need === "postgres") {
      const p = ctx.postgres!(consumer);
      env.DATABASE_URL = { template: pgUrl.libpq(p) };
      env.PGSSLROOTCERT = CA_FILE;
    } else if (need === "redis") {
      const r = ctx.redis!(consumer);
      env.REDIS_URL = { template: redisUrl(r) };
      env.REDIS_KEY_PREFIX = r.keyPrefix;
      env.REDIS_CA_CERT = CA_FILE;
    } else if (need === "llm") {
      Object.assign(env, llmEnvironment(ctx));
    } else if (need === "vectorDb") {
      const v = ctx.vectorDb!;
      Object.assign(env, { VECTOR_DB: v.kind, VECTOR_DB_URL: v.url, ...v.environment });
    }
  }
  return env;
}

/** OpenAI-compatible settings (LangChain's ChatOpenAI, LlamaIndex's OpenAILike) and Ollama's own when it serves. */
export function llmEnvironment(ctx: ServiceContext): Record<string, EnvValue> {
  const l = ctx.llm!;
  return {
    OPENAI_BASE_URL: l.openaiBaseUrl,
    OPENAI_API_BASE: l.openaiBaseUrl,
    OPENAI_API_KEY: l.runtime === "vllm" ? { secret: VLLM_API_KEY } : "ollama",
    LLM_MODEL: l.model,
    EMBEDDING_MODEL: l.embeddingModel,
    ...(l.ollamaBaseUrl ? { OLLAMA_BASE_URL: l.ollamaBaseUrl, OLLAMA_HOST: l.ollamaBaseUrl } : {}),
  };
}

/** The variables each need sets (an app's own environment may not set them as well). */
export const WIRING_KEYS: Record<EnvironmentNeed, string[]> = {
  postgres: ["DATABASE_URL", "PGSSLROOTCERT"],
  redis: ["REDIS_URL", "REDIS_KEY_PREFIX", "REDIS_CA_CERT"],
  llm: ["OPENAI_BASE_URL", "OPENAI_API_BASE", "OPENAI_API_KEY", "LLM_MODEL", "EMBEDDING_MODEL", "OLLAMA_BASE_URL", "OLLAMA_HOST"],
  // Whichever store fills the slot (a store added to VECTOR_DBS adds its names here too).
  vectorDb: ["VECTOR_DB", "VECTOR_DB_URL", ...new Set(Object.values(VECTOR_DBS).flatMap((v) => Object.keys(v.environment)))],
  gpu: [],
};

/** vLLM's API key (a compose secret): its clients in the environment get it as OPENAI_API_KEY. */
export const VLLM_API_KEY = "vllm-api-key";

/** What of a wiring goes to Vault for the service's operators and its other clients: everything but the CA path. */
export function vaultOf(env: Record<string, EnvValue>): VaultRecord {
  return Object.fromEntries(
    Object.entries(env).flatMap(([k, v]): [string, VaultRecord[string]][] => {
      if (typeof v === "string") return v.startsWith("/") ? [] : [[k, v]];
      return [[k, "secret" in v ? { template: `{{${v.secret}}}` } : v]];
    }),
  );
}
