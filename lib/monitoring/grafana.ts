// Grafana in the monitoring LXC: its settings (TLS 1.3 with a certificate from the platform CA, no sign-up, no
// anonymous access, no phoning home; the admin password read from a file the install script writes from stdin) and
// its provisioning files (data sources and the dashboards folder). Pure renderers.
import { stringify } from "yaml";
import type { AptRepository } from "../apt-repo";
import { LOG_TENANTS, LOKI_PORT } from "./loki";
import { EXPORTER_PORTS } from "./prometheus";

export const GRAFANA_PORT = 3000;
export const GRAFANA_DIR = "/etc/grafana";
export const GRAFANA_DASHBOARDS_DIR = "/var/lib/grafana-dashboards/ai-dualstack";
/** The data sources' uids: the dashboards refer to them. */
export const DATASOURCE_UIDS = { prometheus: "prometheus", loki: "loki" } as const;

export interface GrafanaLayout {
  ip: string;
  /** Grafana's database and plugins (the data volume). */
  dataDir: string;
  certFile: string;
  keyFile: string;
  passwordFile: string;
}

/** grafana.ini: only what differs from the package's defaults. */
export function renderGrafanaIni(g: GrafanaLayout): string {
  for (const f of [g.dataDir, g.certFile, g.keyFile, g.passwordFile])
    if (!/^\/[A-Za-z0-9._/-]+$/.test(f)) throw new Error(`renderGrafanaIni: invalid path ${JSON.stringify(f)}`);
  if (!/^[0-9.]+$/.test(g.ip)) throw new Error(`renderGrafanaIni: invalid address ${JSON.stringify(g.ip)}`);
  const sections: Record<string, Record<string, string | number | boolean>> = {
    paths: { data: g.dataDir, logs: "/var/log/grafana", provisioning: `${GRAFANA_DIR}/provisioning` },
    server: { protocol: "https", http_addr: g.ip, http_port: GRAFANA_PORT, cert_file: g.certFile, cert_key: g.keyFile, min_tls_version: "TLS1.3" },
    // The admin password is set on the first start from this file; rotate it with `grafana cli admin reset-admin-password`.
    security: {
      admin_user: "admin",
      admin_password: `$__file{${g.passwordFile}}`,
      cookie_secure: true,
      disable_gravatar: true,
      disable_initial_admin_creation: false,
    },
    users: { allow_sign_up: false, allow_org_create: false },
    "auth.anonymous": { enabled: false },
    analytics: { reporting_enabled: false, check_for_updates: false, check_for_plugin_updates: false, feedback_links_enabled: false },
    log: { mode: "console" },
  };
  return `; Managed by ai-dualstack.\n${Object.entries(sections)
    .map(
      ([name, kv]) =>
        `[${name}]\n${Object.entries(kv)
          .map(([k, v]) => `${k} = ${v}`)
          .join("\n")}\n`,
    )
    .join("\n")}`;
}

/** Data sources: Prometheus and Loki on the loopback; Loki across every environment's tenant. */
export function renderDatasources(): string {
  return `# Managed by ai-dualstack.\n${stringify(
    {
      apiVersion: 1,
      prune: true,
      datasources: [
        {
          name: "Prometheus",
          uid: DATASOURCE_UIDS.prometheus,
          type: "prometheus",
          access: "proxy",
          url: `http://127.0.0.1:${EXPORTER_PORTS.prometheus}`,
          isDefault: true,
          editable: false,
          jsonData: { timeInterval: "30s" },
        },
        {
          name: "Loki",
          uid: DATASOURCE_UIDS.loki,
          type: "loki",
          access: "proxy",
          url: `http://127.0.0.1:${LOKI_PORT}`,
          editable: false,
          jsonData: { httpHeaderName1: "X-Scope-OrgID", maxLines: 5000 },
          secureJsonData: { httpHeaderValue1: LOG_TENANTS.join("|") },
        },
      ],
    },
    { lineWidth: 0 },
  )}`;
}

/** The dashboard provider: the files in GRAFANA_DASHBOARDS_DIR, read-only in the UI. */
export function renderDashboardProvider(): string {
  return `# Managed by ai-dualstack.\n${stringify(
    {
      apiVersion: 1,
      providers: [
        {
          name: "ai-dualstack",
          folder: "ai-dualstack",
          type: "file",
          disableDeletion: true,
          allowUiUpdates: false,
          updateIntervalSeconds: 60,
          options: { path: GRAFANA_DASHBOARDS_DIR, foldersFromFilesStructure: false },
        },
      ],
    },
    { lineWidth: 0 },
  )}`;
}

/**
 * Grafana's apt repository (Grafana, Loki, Alloy). Its signing key's fingerprint as published at https://apt.grafana.com
 * since the 2023-08-24 rotation (config `platform.monitoring.aptKeyFingerprints` replaces it after a rotation).
 */
export const GRAFANA_KEY_FINGERPRINTS = ["B53AE77BADB630A683046005963FA27710458545"];
export const grafanaAptRepository = (fingerprints: readonly string[]): AptRepository => ({
  name: "grafana",
  publisher: "Grafana Labs",
  keyUrl: "https://apt.grafana.com/gpg-full.key",
  source: "https://apt.grafana.com stable main",
  fingerprints,
});
