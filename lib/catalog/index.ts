// The service catalog: every system of the seed's architecture table that the program deploys, by config key. Each
// entry is enabled by one line under ai-dualstack:services (e.g. `langflow: {}`); README.md lists them.
import { agent, apps, rag, streamlit, workers } from "./apps";
import { unstructured } from "./documents";
import { gitea } from "./gitea";
import { jupyter, vllm } from "./gpu-workloads";
import { neo4j, zep } from "./graph-memory";
import { keycloak, oauth2Proxy } from "./identity";
import { langflow } from "./langflow";
import { langfuse } from "./langfuse";
import { minio, rclone } from "./object-storage";
import { prefect } from "./prefect";
import type { CatalogEntry } from "./types";

export const CATALOG = [
  vllm,
  langflow,
  apps,
  streamlit,
  oauth2Proxy,
  rag,
  unstructured,
  workers,
  jupyter,
  langfuse,
  prefect,
  keycloak,
  gitea,
  agent,
  neo4j,
  zep,
  minio,
  rclone,
] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const CATALOG_BY_KEY: Record<string, CatalogEntry<any>> = Object.fromEntries(CATALOG.map((e) => [e.key, e]));
export const CATALOG_KEYS = CATALOG.map((e) => e.key);
export {
  agent,
  apps,
  gitea,
  jupyter,
  keycloak,
  langflow,
  langfuse,
  minio,
  neo4j,
  oauth2Proxy,
  prefect,
  rag,
  rclone,
  streamlit,
  unstructured,
  vllm,
  workers,
  zep,
};
