// The monitoring LXC's install script: Prometheus, Alertmanager, the node and blackbox exporters and Caddy (the log
// gateway) from Debian's packages; Grafana and Loki from Grafana's repository (key checked, versions pinned and
// held); the configuration, rules, target files, provisioning and dashboards the program renders. Every
// configuration is checked by its own tool before a restart, and only what changed restarts.
// Stdin (monitoringBundle): Grafana's admin password, then Grafana's key and certificate, the log gateway's key and
// certificate, then the CA certificates the blackbox exporter trusts.
import { SCRIPT_PRELUDE, aptInstallMissing, enableAndStart, putFile, putPem, readStdinBundle, stdinBundle } from "../shell";
import { DASHBOARDS, renderDashboard } from "./dashboards";
import { pinnedInstall } from "../apt-repo";
import { GRAFANA_DASHBOARDS_DIR, GRAFANA_DIR, grafanaAptRepository, renderDashboardProvider, renderDatasources, renderGrafanaIni } from "./grafana";
import { LOKI_PORT, renderLogGatewayCaddyfile, renderLokiConfig } from "./loki";
import {
  PROMETHEUS_DIR,
  TARGETS_DIR,
  renderAlertRules,
  renderBlackboxConfig,
  renderPrometheusConfig,
  renderTargets,
  type PrometheusLayout,
  type TargetGroup,
} from "./prometheus";

export const MONITORING_PACKAGES = ["prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "prometheus-blackbox-exporter", "caddy"] as const;
export const CA_BUNDLE = "/etc/ssl/ai-dualstack/cas.pem";
const GRAFANA_TLS = { cert: `${GRAFANA_DIR}/tls/grafana.crt`, key: `${GRAFANA_DIR}/tls/grafana.key` };
const GATEWAY_TLS = { cert: "/etc/caddy/tls/logs.crt", key: "/etc/caddy/tls/logs.key" };
const GRAFANA_PASSWORD_FILE = `${GRAFANA_DIR}/admin-password`;

export interface MonitoringLayout extends PrometheusLayout {
  /** The container's address: Grafana and the log gateway listen there. */
  ip: string;
  /** How long the time series are kept: "30d"; and the logs. */
  retention: string;
  logRetention: string;
  /** Where the time series, logs and Grafana's database live: the container's data volume. */
  dataDir: string;
  /** Target files the program writes (targets/<name>.json); the discovery adds more. */
  targets: Record<string, TargetGroup[]>;
  /** Package versions from Grafana's repository, and the fingerprints its key may have. */
  versions: { grafana: string; loki: string };
  aptKeyFingerprints: readonly string[];
}

/** What the install script reads on stdin. */
export function monitoringBundle(b: {
  grafanaPassword: string;
  grafana: { keyPem: string; certPem: string };
  logGateway: { keyPem: string; certPem: string };
  caCerts: string[];
}): string {
  return stdinBundle({ secretLine: b.grafanaPassword, pems: [b.grafana.keyPem, b.grafana.certPem, b.logGateway.keyPem, b.logGateway.certPem, ...b.caCerts] });
}

export function renderMonitoringInstallScript(l: MonitoringLayout): string {
  for (const name of Object.keys(l.targets))
    if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`renderMonitoringInstallScript: invalid target file name ${JSON.stringify(name)}`);
  const grafanaData = `${l.dataDir}/grafana`;
  const lokiData = `${l.dataDir}/loki`;
  return `${SCRIPT_PRELUDE}
${readStdinBundle({ secretLine: true, need: ["PRIVATE KEY 1", "CERTIFICATE 1", "PRIVATE KEY 2", "CERTIFICATE 2", "CERTIFICATE 3"] })}
# 1. Debian's packages; Grafana and Loki from Grafana's repository.
${aptInstallMissing(MONITORING_PACKAGES, { noRecommends: true, changed: true })}${pinnedInstall(grafanaAptRepository(l.aptKeyFingerprints), { grafana: l.versions.grafana, loki: l.versions.loki })}changed=0

# 2. Prometheus: configuration, rules, targets; the time series on the data volume.
mkdir -p "$ROOT${l.dataDir}/prometheus"; chown prometheus:prometheus "$ROOT${l.dataDir}/prometheus"
${putFile(`${PROMETHEUS_DIR}/prometheus.yml`, "0644", "root:root", renderPrometheusConfig(l))}${putFile(`${PROMETHEUS_DIR}/rules/ai-dualstack.yml`, "0644", "root:root", renderAlertRules())}${Object.entries(
    l.targets,
  )
    .map(([name, groups]) => putFile(`${TARGETS_DIR}/${name}.json`, "0644", "root:root", renderTargets(groups)))
    .join(
      "",
    )}${putFile("/etc/default/prometheus", "0644", "root:root", `# Managed by ai-dualstack.\nARGS="--storage.tsdb.path=${l.dataDir}/prometheus --storage.tsdb.retention.time=${l.retention} --web.listen-address=0.0.0.0:9090"\n`)}
prom_changed=$changed; changed=0

# 3. The blackbox exporter: certificate expiry of the TLS endpoints, trusting the platform and environment CAs.
part="$(mktemp)"; awk '/-----BEGIN CERTIFICATE-----/ { n++; p = (n > 2) } p { print } /-----END CERTIFICATE-----/ { p = 0 }' "$bundle" > "$part"; put ${CA_BUNDLE} 0644 root:root < "$part"; rm -f "$part"
${putFile("/etc/prometheus/blackbox.yml", "0644", "root:root", renderBlackboxConfig(CA_BUNDLE))}blackbox_changed=$changed; changed=0

# 4. Loki on the loopback (one tenant per environment), its data on the data volume.
mkdir -p "$ROOT${lokiData}"; chown loki:nogroup "$ROOT${lokiData}" 2>/dev/null || chown loki "$ROOT${lokiData}"
${putFile("/etc/loki/config.yml", "0644", "root:root", renderLokiConfig({ dataDir: lokiData, retention: l.logRetention }))}loki_changed=$changed; changed=0

# 5. The log gateway (Caddy): push only, one TLS port and tenant per environment.
${putPem("PRIVATE KEY", 2, GATEWAY_TLS.key, "0640", "root:caddy")}${putPem("CERTIFICATE", 2, GATEWAY_TLS.cert, "0644", "root:caddy")}${putFile("/etc/caddy/Caddyfile", "0644", "root:root", renderLogGatewayCaddyfile({ ip: l.ip, certFile: GATEWAY_TLS.cert, keyFile: GATEWAY_TLS.key, upstream: `127.0.0.1:${LOKI_PORT}` }))}caddy_changed=$changed; changed=0

# 6. Grafana: TLS, the admin password from stdin, data sources and dashboards as files.
mkdir -p "$ROOT${grafanaData}"; chown grafana:grafana "$ROOT${grafanaData}"
part="$(mktemp)"; printf '%s' "$secret" > "$part"; put ${GRAFANA_PASSWORD_FILE} 0640 root:grafana < "$part"; rm -f "$part"
${putPem("PRIVATE KEY", 1, GRAFANA_TLS.key, "0640", "root:grafana")}${putPem("CERTIFICATE", 1, GRAFANA_TLS.cert, "0644", "root:grafana")}${putFile(`${GRAFANA_DIR}/grafana.ini`, "0640", "root:grafana", renderGrafanaIni({ ip: l.ip, dataDir: grafanaData, certFile: GRAFANA_TLS.cert, keyFile: GRAFANA_TLS.key, passwordFile: GRAFANA_PASSWORD_FILE }))}${putFile(`${GRAFANA_DIR}/provisioning/datasources/ai-dualstack.yml`, "0640", "root:grafana", renderDatasources())}${putFile(`${GRAFANA_DIR}/provisioning/dashboards/ai-dualstack.yml`, "0640", "root:grafana", renderDashboardProvider())}${DASHBOARDS.map((d) => putFile(`${GRAFANA_DASHBOARDS_DIR}/${d.uid}.json`, "0644", "root:root", renderDashboard(d))).join("")}grafana_changed=$changed

# 7. Configuration checked by the real tools before anything restarts.
promtool check config "$ROOT${PROMETHEUS_DIR}/prometheus.yml" >/dev/null
loki -config.file="$ROOT/etc/loki/config.yml" -verify-config >/dev/null
caddy validate --adapter caddyfile --config "$ROOT/etc/caddy/Caddyfile" >/dev/null

${enableAndStart("prometheus", "prom_changed")}${enableAndStart("prometheus-blackbox-exporter", "blackbox_changed")}${enableAndStart("loki", "loki_changed")}${enableAndStart("caddy", "caddy_changed")}${enableAndStart("grafana-server", "grafana_changed")}systemctl enable prometheus-alertmanager prometheus-node-exporter >/dev/null
systemctl start prometheus-alertmanager prometheus-node-exporter
echo "monitoring: prometheus, alertmanager, exporters, loki, the log gateway and grafana ready"
`;
}
