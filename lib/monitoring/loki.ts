// Loki in the monitoring LXC, and the log gateway in front of it. Loki listens on the container's loopback only and
// keeps one tenant per environment (platform, private, public). Guests push through the gateway (Caddy): one TLS
// port per environment, reachable only from that environment's zone (firewall), which accepts nothing but the push
// API and sets the tenant itself — so a guest can neither read logs nor write into another environment's.
// Grafana reads all tenants on the loopback. Pure renderers; the tests run the real Loki and Caddy when present.
import { stringify } from "yaml";
import { HTTP1_AND_2 } from "../compose/caddyfile";

export const LOKI_PORT = 3100;
export const LOKI_GRPC_PORT = 9096;
/** The log gateway's port per environment (tenant). */
export const LOG_GATEWAY_PORTS = { platform: 3101, private: 3102, public: 3103 } as const;
export type LogTenant = keyof typeof LOG_GATEWAY_PORTS;
export const LOG_TENANTS = Object.keys(LOG_GATEWAY_PORTS) as LogTenant[];
export const LOKI_PUSH_PATH = "/loki/api/v1/push";

export interface LokiLayout {
  /** Loki's data directory (on the container's data volume). */
  dataDir: string;
  /** How long logs are kept: "31d". */
  retention: string;
}

/** Hours in a Prometheus-style retention ("31d", "4w", "1y"), as Loki wants a duration in hours. */
export function retentionHours(retention: string): number {
  const m = /^(\d+)(d|w|y)$/.exec(retention);
  if (!m) throw new Error(`retention: expected a duration such as "31d", "4w" or "1y", got ${JSON.stringify(retention)}`);
  return Number(m[1]) * { d: 24, w: 24 * 7, y: 24 * 365 }[m[2] as "d" | "w" | "y"];
}

/** Single-binary Loki: filesystem storage, TSDB index, retention by the compactor, tenants required. */
export function renderLokiConfig(l: LokiLayout): string {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(l.dataDir)) throw new Error(`renderLokiConfig: invalid directory ${JSON.stringify(l.dataDir)}`);
  const config = {
    auth_enabled: true,
    server: {
      http_listen_address: "127.0.0.1",
      http_listen_port: LOKI_PORT,
      grpc_listen_address: "127.0.0.1",
      grpc_listen_port: LOKI_GRPC_PORT,
      log_level: "warn",
    },
    common: {
      instance_addr: "127.0.0.1",
      path_prefix: l.dataDir,
      storage: { filesystem: { chunks_directory: `${l.dataDir}/chunks`, rules_directory: `${l.dataDir}/rules` } },
      replication_factor: 1,
      ring: { kvstore: { store: "inmemory" } },
    },
    schema_config: { configs: [{ from: "2024-01-01", store: "tsdb", object_store: "filesystem", schema: "v13", index: { prefix: "index_", period: "24h" } }] },
    limits_config: { retention_period: `${retentionHours(l.retention)}h`, reject_old_samples: true, reject_old_samples_max_age: "168h" },
    compactor: { working_directory: `${l.dataDir}/compactor`, retention_enabled: true, delete_request_store: "filesystem" },
    // Grafana asks for every tenant at once ("platform|private|public").
    querier: { multi_tenant_queries_enabled: true },
    analytics: { reporting_enabled: false },
  };
  return `# Managed by ai-dualstack.\n${stringify(config, { lineWidth: 0 })}`;
}

export interface LogGatewayLayout {
  /** Where the gateway listens: the monitoring container's address. */
  ip: string;
  certFile: string;
  keyFile: string;
  /** Loki on the loopback: "127.0.0.1:3100". */
  upstream: string;
}

/** The log gateway's Caddyfile: per tenant, a TLS 1.3 port that forwards POSTs to the push API with that tenant. */
export function renderLogGatewayCaddyfile(g: LogGatewayLayout, ports: Record<LogTenant, number> = LOG_GATEWAY_PORTS): string {
  if (!/^[0-9.]+$/.test(g.ip)) throw new Error(`renderLogGatewayCaddyfile: invalid address ${JSON.stringify(g.ip)}`);
  if (!/^[a-z0-9.-]+:\d+$/.test(g.upstream)) throw new Error(`renderLogGatewayCaddyfile: invalid upstream ${JSON.stringify(g.upstream)}`);
  for (const f of [g.certFile, g.keyFile])
    if (!/^\/[A-Za-z0-9._/-]+$/.test(f)) throw new Error(`renderLogGatewayCaddyfile: invalid file path ${JSON.stringify(f)}`);
  const sites = LOG_TENANTS.map((tenant) =>
    [
      `# ${tenant}: only its own zone reaches this port (firewall)`,
      `https://:${ports[tenant]} {`,
      `\tbind ${g.ip}`,
      `\ttls ${g.certFile} ${g.keyFile} {`,
      "\t\tprotocols tls1.3",
      "\t}",
      "\theader {",
      "\t\t-Server",
      "\t\t-Via",
      "\t}",
      "\t@push {",
      "\t\tmethod POST",
      `\t\tpath ${LOKI_PUSH_PATH}`,
      "\t}",
      "\thandle @push {",
      "\t\trequest_body {",
      "\t\t\tmax_size 16MB",
      "\t\t}",
      `\t\treverse_proxy ${g.upstream} {`,
      // The tenant is the port's, whatever the client sent.
      `\t\t\theader_up X-Scope-OrgID ${tenant}`,
      "\t\t}",
      "\t}",
      "\thandle {",
      '\t\trespond "only log pushes are accepted here" 403',
      "\t}",
      "}",
    ].join("\n"),
  );
  return [
    "# Managed by ai-dualstack: the log gateway (push only, one port and tenant per environment).",
    "{",
    "\tadmin off",
    "\tauto_https off",
    ...HTTP1_AND_2,
    "}",
    "",
    sites.join("\n\n"),
    "",
  ].join("\n");
}
