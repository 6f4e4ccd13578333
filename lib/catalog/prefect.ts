// Prefect 3: the orchestration server (its state in the environment's PostgreSQL over verified TLS, its API behind
// basic auth) and a process worker polling one work pool.
import { z } from "zod";
import type { ServiceSpec } from "../compose/spec";
import { pattern } from "../config/fields";
import { SERVICE_BASE, CA_FILE, caFile, httpCheck, pgUrl, type CatalogEntry } from "./types";
import { cpus, gatewayPort, image, memoryMiB } from "./fields";
import { llmEnvironment } from "./wiring";

const schema = z.strictObject({
  image: image("prefecthq/prefect:3.4.24-python3.12"),
  /** The work pool the worker polls (created on first start). */
  pool: pattern(/^[a-z][a-z0-9-]{0,62}$/, 'a work pool name such as "default"').default("default"),
  gatewayPort: gatewayPort(4200),
  memoryMiB: memoryMiB(2048),
  workerMemoryMiB: memoryMiB(2048),
  cpus: cpus(2),
});

export const prefect: CatalogEntry<z.infer<typeof schema>> = {
  key: "prefect",
  title: "Prefect server and worker",
  tier: 2,
  environments: ["private", "public"],
  schema,
  needs: () => [
    { what: "postgres", why: "the Prefect server keeps its state in PostgreSQL" },
    { what: "llm", why: "flows call the environment's models" },
  ],
  render: (c, ctx) => {
    const db = ctx.postgres!("prefect");
    const auth = { template: "admin:{{prefect-auth-password}}" };
    const services: ServiceSpec[] = [
      {
        ...SERVICE_BASE,
        name: "prefect-server",
        image: c.image,
        command: ["prefect", "server", "start", "--host", "0.0.0.0", "--port", "4200"],
        environment: {
          PREFECT_API_DATABASE_CONNECTION_URL: { template: pgUrl.asyncpg(db) },
          PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_ENABLED: "true",
          PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_CA_FILE: CA_FILE,
          PREFECT_SERVER_API_AUTH_STRING: auth,
          PREFECT_UI_API_URL: `https://${ctx.guestIp}:${c.gatewayPort}/api`,
          PREFECT_SERVER_ANALYTICS_ENABLED: "false",
        },
        files: [caFile],
        healthcheck: httpCheck("python", "http://localhost:4200/api/health", "90s"),
        memoryMiB: c.memoryMiB,
        cpus: c.cpus,
      },
      {
        ...SERVICE_BASE,
        name: "prefect-worker",
        image: c.image,
        command: ["prefect", "worker", "start", "--pool", c.pool, "--type", "process", "--with-healthcheck"],
        environment: {
          PREFECT_API_URL: "http://prefect-server:4200/api",
          PREFECT_API_AUTH_STRING: auth,
          PREFECT_WORKER_WEBSERVER_HOST: "127.0.0.1",
          PREFECT_WORKER_WEBSERVER_PORT: "8080",
          ...llmEnvironment(ctx),
        },
        healthcheck: httpCheck("python", "http://127.0.0.1:8080/health", "90s"),
        dependsOnHealthy: ["prefect-server"],
        memoryMiB: c.workerMemoryMiB,
        cpus: c.cpus,
      },
    ];
    return {
      services,
      volumes: [],
      routes: [{ service: "prefect", port: c.gatewayPort, upstream: "prefect-server:4200" }],
      sites: [],
      vault: { PREFECT_API_URL: "http://prefect-server:4200/api", PREFECT_API_AUTH_STRING: auth },
    };
  },
};
