// From the enabled catalog entries to what a guest runs: placement and dependency checks (a missing dependency is a
// config error naming it), then the entries rendered against their environment, with the databases and Redis users
// they asked for recorded so that the component creates exactly those.
import { CATALOG, CATALOG_BY_KEY } from "./index";
import {
  ENVIRONMENT_NEEDS,
  mergeRendered,
  type CatalogEnv,
  type EnvironmentNeed,
  type PostgresWiring,
  type RedisWiring,
  type Rendered,
  type ServiceContext,
} from "./types";

export type Problem = [(string | number)[], string];

/** The enabled entries among a services config, by key, in catalog order. */
export function enabledEntries(services: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(CATALOG.filter((e) => services[e.key] !== undefined).map((e) => [e.key, services[e.key]]));
}

const NEED_NAMES: Record<EnvironmentNeed, string> = {
  postgres: "the environment's PostgreSQL",
  redis: "the environment's Redis",
  vectorDb: "the environment's vector database",
  llm: "a model runtime (Ollama or vLLM)",
  gpu: "a GPU",
};

/** Every placement and dependency problem of the enabled entries, with its path under `services`. */
export function catalogProblems(env: CatalogEnv, enabled: Record<string, unknown>, provides: ReadonlySet<EnvironmentNeed>): Problem[] {
  const problems: Problem[] = [];
  for (const [key, config] of Object.entries(enabled)) {
    const entry = CATALOG_BY_KEY[key];
    if (!entry.environments.includes(env)) {
      problems.push([
        [key],
        `${entry.title} belongs to the ${entry.environments.join(" or ")} ${entry.environments.length > 1 ? "environments" : entry.environments[0] === "host" ? "stack" : "environment"}, not to ${env}`,
      ]);
      continue;
    }
    for (const need of entry.needs(config)) {
      if ((ENVIRONMENT_NEEDS as readonly string[]).includes(need.what)) {
        if (!provides.has(need.what as EnvironmentNeed))
          problems.push([[key], `needs ${NEED_NAMES[need.what as EnvironmentNeed]} (${need.why}), which the ${env} stack does not provide`]);
      } else if (!(need.what in enabled)) {
        const other = CATALOG_BY_KEY[need.what];
        problems.push([[key], `needs services.${need.what} (${other?.title ?? need.what}: ${need.why}); enable it with \`${need.what}: {}\` or remove ${key}`]);
      }
    }
    for (const [path, message] of entry.check?.(config, { env, enabled }) ?? []) problems.push([[key, ...path], message]);
  }
  return problems;
}

/** The database, role and password secret of a consumer in the environment's PostgreSQL. */
export function serviceDatabase(consumer: string): { database: string; user: string; passwordSecret: string } {
  const ident = `svc_${consumer.replace(/-/g, "_")}`;
  return { database: ident, user: ident, passwordSecret: `pg-${consumer}-password` };
}

/** The ACL user, key prefix and password secret of a consumer in the environment's Redis. */
export function serviceRedisUser(consumer: string): { user: string; keyPrefix: string; passwordSecret: string } {
  return { user: `svc-${consumer}`, keyPrefix: `svc:${consumer}:`, passwordSecret: `redis-${consumer}-password` };
}

export interface CatalogBase extends Omit<ServiceContext, "postgres" | "redis" | "enabled"> {
  postgres?: { host: string; port: number; caFile: string };
  redis?: { host: string; port: number; caFile: string };
}

export interface EntryPlan {
  key: string;
  title: string;
  tier: 1 | 2 | 3;
  services: string[];
  /** Services with a healthcheck (the others: the probe reports them running or not). */
  checked: string[];
  volumes: string[];
  databases: string[];
  redisUsers: string[];
  /** Ports the guest's TLS gateway publishes for it, and the public names the ingress serves it under. */
  gatewayPorts: number[];
  hostnames: string[];
  /** Whether it has a credentials record in Vault (catalog/<key>). */
  vault: boolean;
}

export interface CatalogPlan extends Omit<Rendered, "vault"> {
  entries: EntryPlan[];
  /** Consumers that asked for a database / a Redis user (the component creates them). */
  databases: string[];
  redisUsers: string[];
  /** Credentials for Vault, by entry key. */
  vaultByEntry: Record<string, Rendered["vault"]>;
  /** VRAM the entries that share the GPU keep for themselves. */
  reservedVramMiB: number;
}

/** Renders the enabled entries (their problems must have been checked: the config schema does). */
export function resolveCatalog(enabled: Record<string, unknown>, base: CatalogBase): CatalogPlan {
  const databases = new Set<string>();
  const redisUsers = new Set<string>();
  // What the entry being rendered asked for.
  let asked = { databases: new Set<string>(), redisUsers: new Set<string>() };
  const ctx: ServiceContext = {
    ...base,
    enabled,
    postgres: base.postgres
      ? (consumer): PostgresWiring => {
          databases.add(consumer);
          asked.databases.add(consumer);
          return { ...base.postgres!, ...serviceDatabase(consumer) };
        }
      : undefined,
    redis: base.redis
      ? (consumer): RedisWiring => {
          redisUsers.add(consumer);
          asked.redisUsers.add(consumer);
          return { ...base.redis!, ...serviceRedisUser(consumer) };
        }
      : undefined,
  };
  const parts = Object.entries(enabled).map(([key, config]) => {
    asked = { databases: new Set(), redisUsers: new Set() };
    const rendered = CATALOG_BY_KEY[key].render(config, ctx);
    return { key, entry: CATALOG_BY_KEY[key], config, rendered, asked };
  });
  const { vault: _merged, ...all } = mergeRendered(parts.map((p) => p.rendered));
  return {
    ...all,
    vaultByEntry: Object.fromEntries(parts.filter((p) => Object.keys(p.rendered.vault).length > 0).map((p) => [p.key, p.rendered.vault])),
    entries: parts.map((p) => ({
      key: p.key,
      title: p.entry.title,
      tier: p.entry.tier,
      services: p.rendered.services.map((s) => s.name),
      checked: p.rendered.services.filter((s) => s.healthcheck).map((s) => s.name),
      volumes: p.rendered.volumes,
      databases: [...p.asked.databases].map((c) => serviceDatabase(c).database).sort(),
      redisUsers: [...p.asked.redisUsers].map((c) => serviceRedisUser(c).user).sort(),
      gatewayPorts: p.rendered.routes.map((r) => r.port),
      hostnames: p.rendered.sites.map((x) => x.hostname),
      vault: Object.keys(p.rendered.vault).length > 0,
    })),
    databases: [...databases].sort(),
    redisUsers: [...redisUsers].sort(),
    reservedVramMiB: parts.reduce((sum, p) => sum + (p.entry.vramMiB?.(p.config) ?? 0), 0),
  };
}

/** The public host names the enabled entries serve. */
export function catalogHostnames(enabled: Record<string, unknown>): string[] {
  return Object.entries(enabled).flatMap(([key, config]) => CATALOG_BY_KEY[key].sitesOf?.(config) ?? []);
}

/** The catalog part of `dualstack plan`: each entry, what it runs and how it is wired, backed up and watched. */
export function renderCatalogTable(entries: EntryPlan[], where: { vaultMount?: string; backups: boolean; credentials?: string }): string {
  if (entries.length === 0) return "no catalog services enabled";
  return entries
    .map((e) => {
      const lines = [
        `tier ${e.tier}  ${e.key} — ${e.title}`,
        `  runs         ${e.services.join(", ")}${e.checked.length < e.services.length ? ` (healthchecks: ${e.checked.join(", ") || "none"})` : " (each with a healthcheck)"}`,
        ...(e.databases.length ? [`  PostgreSQL   ${e.databases.join(", ")} (own database and login role, TLS verify-full)`] : []),
        ...(e.redisUsers.length ? [`  Redis        ${e.redisUsers.join(", ")} (own ACL user, own key prefix)`] : []),
        ...(where.credentials ? [`  credentials  ${where.credentials}`] : e.vault ? [`  Vault        ${where.vaultMount}/catalog/${e.key}`] : []),
        ...(e.gatewayPorts.length ? [`  operators    TLS gateway port ${e.gatewayPorts.join(", ")}`] : []),
        ...(e.hostnames.length ? [`  public       https://${e.hostnames.join(", https://")}`] : []),
        `  backups      ${e.volumes.length ? `${e.volumes.join(", ")} → restic${where.backups ? "" : " (off: no restic credentials)"}` : "no volumes"}${e.databases.length ? "; databases in the PostgreSQL dump" : ""}`,
        "  monitoring   service probe (ServiceDown, ServiceUnhealthy)",
      ];
      return lines.join("\n");
    })
    .join("\n");
}
