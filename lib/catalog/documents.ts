// The Unstructured API: document parsing (PDF, Office, HTML, images) for the RAG service, API-key protected, on the
// internal network only.
import { z } from "zod";
import { hostPort } from "../config/fields";
import { image, limits } from "./fields";
import { SERVICE_BASE, httpCheck, type CatalogEntry } from "./types";

const schema = z.strictObject({
  image: image("quay.io/unstructured-io/unstructured-api:0.0.82"),
  /** Published to the operators through the TLS gateway as well, when set. */
  gatewayPort: hostPort.optional(),
  ...limits(4096, 2),
});

export const unstructured: CatalogEntry<z.infer<typeof schema>> = {
  key: "unstructured",
  title: "Unstructured API (document processing)",
  tier: 2,
  environments: ["private"],
  schema,
  needs: () => [],
  render: (c) => ({
    services: [
      {
        ...SERVICE_BASE,
        name: "unstructured",
        image: c.image,
        environment: { UNSTRUCTURED_API_KEY: { secret: "unstructured-api-key" }, SCARF_NO_ANALYTICS: "true", DO_NOT_TRACK: "true" },
        volumes: [],
        healthcheck: httpCheck("python", "http://localhost:8000/healthcheck", "120s"),
        memoryMiB: c.memoryMiB,
        cpus: c.cpus,
      },
    ],
    volumes: [],
    routes: c.gatewayPort ? [{ service: "unstructured", port: c.gatewayPort, upstream: "unstructured:8000" }] : [],
    sites: [],
    vault: { UNSTRUCTURED_API_URL: "http://unstructured:8000/general/v0/general", UNSTRUCTURED_API_KEY: { template: "{{unstructured-api-key}}" } },
  }),
};
