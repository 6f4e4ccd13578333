// LangFlow, visual prototyping of LLM flows (private): its flows in the environment's PostgreSQL, its models from the
// environment's runtime, sign-in required (no auto-login), its superuser's password generated and kept in Vault.
import { z } from "zod";
import { SERVICE_BASE, caFile, httpCheck, pgUrl, type CatalogEntry } from "./types";
import { gatewayPort, image, limits } from "./fields";
import { llmEnvironment } from "./wiring";

const schema = z.strictObject({
  image: image("langflowai/langflow:1.6.4"),
  gatewayPort: gatewayPort(7860),
  ...limits(4096, 2),
});

export const langflow: CatalogEntry<z.infer<typeof schema>> = {
  key: "langflow",
  title: "LangFlow (visual prototyping)",
  tier: 1,
  environments: ["private"],
  schema,
  needs: () => [
    { what: "postgres", why: "LangFlow keeps its flows and users in PostgreSQL" },
    { what: "llm", why: "flows call the environment's models" },
  ],
  render: (c, ctx) => {
    const db = ctx.postgres!("langflow");
    return {
      services: [
        {
          ...SERVICE_BASE,
          name: "langflow",
          image: c.image,
          environment: {
            LANGFLOW_DATABASE_URL: { template: pgUrl.libpq(db) },
            LANGFLOW_CONFIG_DIR: "/app/langflow",
            LANGFLOW_HOST: "0.0.0.0",
            LANGFLOW_PORT: "7860",
            LANGFLOW_AUTO_LOGIN: "false",
            LANGFLOW_NEW_USER_IS_ACTIVE: "false",
            LANGFLOW_SUPERUSER: "admin",
            LANGFLOW_SUPERUSER_PASSWORD: { secret: "langflow-admin-password" },
            LANGFLOW_SECRET_KEY: { secret: "langflow-secret-key" },
            DO_NOT_TRACK: "true",
            ...llmEnvironment(ctx),
          },
          volumes: [{ volume: "langflow-data", path: "/app/langflow" }],
          files: [caFile],
          healthcheck: httpCheck("python", "http://localhost:7860/health", "120s"),
          memoryMiB: c.memoryMiB,
          cpus: c.cpus,
        },
      ],
      volumes: ["langflow-data"],
      routes: [{ service: "langflow", port: c.gatewayPort, upstream: "langflow:7860" }],
      sites: [],
      vault: { USER: "admin", PASSWORD: { template: "{{langflow-admin-password}}" } },
    };
  },
};
