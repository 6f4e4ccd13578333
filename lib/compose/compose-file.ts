// An environment's services as a Compose file (`dualstack compose <stack>`): what ComposeStack creates on the VM's
// engine, in the form operators read and debug with (`docker compose -p <project> ps|logs|config`). The same spec,
// the same container names, labels, limits and options (lib/compose/container.ts is what both take them from). No
// secret is in it: a secret is `${NAME}`, interpolated by Compose from the environment of whoever runs it (the values
// are in Vault, kv-<env>/services/<name>), and key material is a file under ./materials/. `$` in literal text is `$$`.
import { stringify } from "yaml";
import { dockerLabels, type GuestEnvironment } from "../tags";
import { CONTAINER_LOGGING, CONTAINER_SECURITY_OPTS, containerName } from "./container";
import { TEMPLATE_SECRET, composeLabels, type EnvValue, type ServiceFile, type ServiceSpec, type StackSpec } from "./spec";

/** The variable a secret is interpolated from: "qdrant-api-key" → QDRANT_API_KEY. */
export const secretVariable = (secret: string) => secret.toUpperCase().replace(/[^A-Z0-9]+/g, "_");

/** `${NAME:?…}`: Compose refuses to start with the variable unset, and says where the value is. */
const interpolate = (secret: string) => `\${${secretVariable(secret)}:?the stack secret ${secret}}`;
/** Literal text for Compose: its `$` doubled, so that nothing in it is interpolated. */
const literal = (text: string) => text.replace(/\$/g, "$$$$");

function envValue(v: EnvValue): string {
  if (typeof v === "string") return literal(v);
  if ("secret" in v) return interpolate(v.secret);
  return literal(v.template).replace(new RegExp(TEMPLATE_SECRET.source, "g"), (_, name: string) => interpolate(name));
}

/** A file's Compose config (text, or a template over secrets) or secret (key material, from ./materials/<name>). */
const fileKey = (service: string, f: ServiceFile) => `${service}-${f.path.replace(/^\//, "").replace(/[^A-Za-z0-9]+/g, "-")}`;

function service(spec: StackSpec, s: ServiceSpec, env: GuestEnvironment, stack: string): Record<string, unknown> {
  const files = s.files ?? [];
  const configs = files.filter((f) => !("material" in f));
  const secrets = files.filter((f) => "material" in f);
  return {
    ...(s.build
      ? { image: s.image, build: { context: s.build.context, dockerfile: s.build.dockerfile ?? "Dockerfile", ...(s.build.args ? { args: s.build.args } : {}) } }
      : { image: s.image }),
    container_name: containerName(spec.project, s.name),
    hostname: s.name,
    ...(s.entrypoint ? { entrypoint: s.entrypoint.map(literal) } : {}),
    ...(s.command ? { command: s.command.map(literal) } : {}),
    ...(Object.keys(s.environment).length > 0 ? { environment: Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, envValue(v)])) } : {}),
    ...(s.ports.length > 0 ? { ports: s.ports.map((p) => `${p.bind}:${p.host}:${p.container}/${p.protocol ?? "tcp"}`) } : {}),
    ...(s.volumes.length > 0 || s.dockerSocket
      ? {
          volumes: [
            ...s.volumes.map((v) => ({ type: "volume", source: v.volume, target: v.path, ...(v.readOnly ? { read_only: true } : {}) })),
            ...(s.dockerSocket ? [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }] : []),
          ],
        }
      : {}),
    ...(configs.length > 0 ? { configs: configs.map((f) => ({ source: fileKey(s.name, f), target: f.path })) } : {}),
    ...(secrets.length > 0 ? { secrets: secrets.map((f) => ({ source: fileKey(s.name, f), target: f.path })) } : {}),
    ...(s.healthcheck
      ? {
          healthcheck: {
            test: s.healthcheck.test.map(literal),
            interval: s.healthcheck.interval,
            timeout: s.healthcheck.timeout,
            retries: s.healthcheck.retries,
            start_period: s.healthcheck.startPeriod,
          },
        }
      : {}),
    restart: s.restart,
    ...(s.gpu ? { gpus: "all" } : {}),
    ...(s.memoryMiB !== undefined ? { mem_limit: `${s.memoryMiB}m` } : {}),
    ...(s.cpus !== undefined ? { cpus: s.cpus } : {}),
    ...(s.shmSizeMiB !== undefined ? { shm_size: `${s.shmSizeMiB}m` } : {}),
    ...(s.dependsOnHealthy.length > 0 ? { depends_on: Object.fromEntries(s.dependsOnHealthy.map((d) => [d, { condition: "service_healthy" }])) } : {}),
    networks: Object.fromEntries(s.networks.map((n) => [n, { aliases: [s.name] }])),
    // Compose sets its own com.docker.compose.* labels; these are the rest of what ComposeStack sets.
    labels: { ...dockerLabels(env, stack), ...withoutComposeOwn(composeLabels(spec.project, s.name)) },
    logging: CONTAINER_LOGGING,
    security_opt: [...CONTAINER_SECURITY_OPTS],
  };
}

/** The labels Compose itself sets on its containers are left to it. */
function withoutComposeOwn(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith("com.docker.compose.")));
}

/** The stack spec as a Compose file (YAML). */
export function renderComposeFile(spec: StackSpec, options: { env: GuestEnvironment; stack: string }): string {
  const files = spec.services.flatMap((s) => (s.files ?? []).map((f) => ({ key: fileKey(s.name, f), f })));
  const configs = files.filter(({ f }) => !("material" in f));
  const secrets = files.filter(({ f }) => "material" in f);
  const doc = {
    name: spec.project,
    services: Object.fromEntries(spec.services.map((s) => [s.name, service(spec, s, options.env, options.stack)])),
    networks: Object.fromEntries(spec.networks.map((n) => [n.name, { name: `${spec.project}_${n.name}`, ...(n.internal ? { internal: true } : {}) }])),
    volumes: Object.fromEntries(spec.volumes.map((v) => [v, { name: `${spec.project}_${v}`, labels: dockerLabels(options.env, options.stack) }])),
    ...(configs.length > 0
      ? {
          configs: Object.fromEntries(
            configs.map(({ key, f }) => [key, { content: "content" in f ? literal(f.content) : envValue({ template: (f as { template: string }).template }) }]),
          ),
        }
      : {}),
    ...(secrets.length > 0
      ? { secrets: Object.fromEntries(secrets.map(({ key, f }) => [key, { file: `./materials/${(f as { material: string }).material}` }])) }
      : {}),
  };
  return `# ai-dualstack: the ${spec.project} project as ComposeStack runs it (dualstack compose). Secrets are \${VARIABLES}
# (their values are in Vault); key material is read from ./materials/.
${stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
