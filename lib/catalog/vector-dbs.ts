// The vector database slot: which store an environment's services are wired to. Chroma (private) and Qdrant (public)
// are the core services of lib/compose/services.ts; an alternative that fills the same slot (Weaviate, Milvus) is one
// entry here — its wiring — plus its compose service, and its name in VECTOR_DB_OF.
import type { VectorDbWiring } from "./types";
import type { EnvironmentName } from "../config/schema";

export const VECTOR_DBS: Record<string, VectorDbWiring> = {
  chroma: { kind: "chroma", url: "http://chroma:8000", environment: { CHROMA_HOST: "chroma", CHROMA_PORT: "8000", CHROMA_URL: "http://chroma:8000" } },
  // Qdrant requires its API key on every request; the environment's services share the instance's key.
  qdrant: { kind: "qdrant", url: "http://qdrant:6333", environment: { QDRANT_URL: "http://qdrant:6333", QDRANT_API_KEY: { secret: "qdrant-api-key" } } },
};

/** The store each environment runs. */
export const VECTOR_DB_OF: Record<EnvironmentName, keyof typeof VECTOR_DBS> = { private: "chroma", public: "qdrant" };
