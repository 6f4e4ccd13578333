// Graph knowledge and conversational memory: Neo4j Community, and Zep's open-source memory core. Zep's Community
// Edition server was discontinued in 2025 (its repository archived; later versions are cloud-only); Graphiti, the
// temporal knowledge graph it was built on, ships a REST server image, which this entry runs on Neo4j with the
// environment's own models through their OpenAI-compatible API.
import { z } from "zod";
import { gatewayPort, image, limits } from "./fields";
import { SERVICE_BASE, httpCheck, type CatalogEntry } from "./types";
import { llmEnvironment } from "./wiring";

const neo4jSchema = z.strictObject({
  image: image("neo4j:5.26.16-community"),
  /** The browser (HTTP) published to the operators; Bolt stays on the internal network. */
  gatewayPort: gatewayPort(7474),
  heapMiB: z.number().int().min(256).max(262_144).default(1024),
  pageCacheMiB: z.number().int().min(128).max(1_048_576).default(1024),
  ...limits(4096, 2),
});

export const neo4j: CatalogEntry<z.infer<typeof neo4jSchema>> = {
  key: "neo4j",
  title: "Neo4j Community (graph knowledge)",
  tier: 3,
  environments: ["private", "public"],
  schema: neo4jSchema,
  needs: () => [],
  check: (c) =>
    c.heapMiB + c.pageCacheMiB + 512 > c.memoryMiB
      ? [[["memoryMiB"], `expected at least heapMiB + pageCacheMiB + 512 = ${c.heapMiB + c.pageCacheMiB + 512} MiB`]]
      : [],
  render: (c) => ({
    services: [
      {
        ...SERVICE_BASE,
        name: "neo4j",
        image: c.image,
        environment: {
          NEO4J_AUTH: { template: "neo4j/{{neo4j-password}}" },
          NEO4J_server_memory_heap_initial__size: `${c.heapMiB}m`,
          NEO4J_server_memory_heap_max__size: `${c.heapMiB}m`,
          NEO4J_server_memory_pagecache_size: `${c.pageCacheMiB}m`,
          NEO4J_dbms_usage__report_enabled: "false",
        },
        volumes: [{ volume: "neo4j-data", path: "/data" }],
        healthcheck: httpCheck("bash", "http://127.0.0.1:7474/", "90s"),
        memoryMiB: c.memoryMiB,
        cpus: c.cpus,
      },
    ],
    volumes: ["neo4j-data"],
    routes: [{ service: "neo4j", port: c.gatewayPort, upstream: "neo4j:7474" }],
    sites: [],
    vault: { NEO4J_URI: "bolt://neo4j:7687", NEO4J_USERNAME: "neo4j", NEO4J_PASSWORD: { template: "{{neo4j-password}}" } },
  }),
};

const zepSchema = z.strictObject({
  // The graphiti server image is published by upstream's release workflow, tagged with graphiti-core's version; its
  // README (getzep/graphiti server/README.md) gives 0.22.1, and 0.22.0 predates the workflow.
  image: image("zepai/graphiti:0.22.1"),
  gatewayPort: gatewayPort(8003),
  ...limits(1024, 1),
});

export const zep: CatalogEntry<z.infer<typeof zepSchema>> = {
  key: "zep",
  title: "Zep memory (Graphiti server)",
  tier: 3,
  environments: ["private", "public"],
  schema: zepSchema,
  needs: () => [
    { what: "neo4j", why: "Graphiti keeps its temporal knowledge graph in Neo4j" },
    { what: "llm", why: "facts are extracted and embedded by the environment's models" },
  ],
  render: (c, ctx) => {
    const llm = llmEnvironment(ctx);
    return {
      services: [
        {
          ...SERVICE_BASE,
          name: "zep",
          image: c.image,
          environment: {
            OPENAI_API_KEY: llm.OPENAI_API_KEY,
            OPENAI_BASE_URL: llm.OPENAI_BASE_URL,
            MODEL_NAME: ctx.llm!.model,
            EMBEDDING_MODEL_NAME: ctx.llm!.embeddingModel,
            NEO4J_URI: "bolt://neo4j:7687",
            NEO4J_USER: "neo4j",
            NEO4J_PASSWORD: { secret: "neo4j-password" },
            PORT: "8000",
          },
          healthcheck: httpCheck("python", "http://localhost:8000/healthcheck", "60s"),
          dependsOnHealthy: ["neo4j"],
          memoryMiB: c.memoryMiB,
          cpus: c.cpus,
        },
      ],
      volumes: [],
      routes: [{ service: "zep", port: c.gatewayPort, upstream: "zep:8000" }],
      sites: [],
      vault: { ZEP_API_URL: "http://zep:8000" },
    };
  },
};
