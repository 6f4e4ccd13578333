// The monitoring LXC's install script: Prometheus, Alertmanager, the node and blackbox exporters from Debian's
// packages, with the configuration, rules and target files the program renders; restarts only what changed.
// Stdin: the CA certificates the blackbox exporter trusts (PEM), so no file is pasted into the script by hand.
import { SCRIPT_PRELUDE, aptInstallUnless, hasPackage, putFile, readStdinBundle } from "../shell";
import { PROMETHEUS_DIR, TARGETS_DIR, renderAlertRules, renderBlackboxConfig, renderPrometheusConfig, renderTargets, type PrometheusLayout, type TargetGroup } from "./prometheus";

export const MONITORING_PACKAGES = ["prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "prometheus-blackbox-exporter"] as const;
export const CA_BUNDLE = "/etc/ssl/ai-dualstack/cas.pem";

export interface MonitoringLayout extends PrometheusLayout {
  /** How long the time series are kept: "30d". */
  retention: string;
  /** Where the time series live: the container's data volume. */
  dataDir: string;
  /** Target files the program writes (targets/<name>.json); discovery may add more. */
  targets: Record<string, TargetGroup[]>;
}

export function renderMonitoringInstallScript(l: MonitoringLayout): string {
  for (const name of Object.keys(l.targets)) if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`renderMonitoringInstallScript: invalid target file name ${JSON.stringify(name)}`);
  return `${SCRIPT_PRELUDE}
${readStdinBundle({ need: ["CERTIFICATE 1"] })}
# 1. Debian's packages.
missing=""
for p in ${MONITORING_PACKAGES.join(" ")}; do ${hasPackage('"$p"')} || missing="$missing $p"; done
${aptInstallUnless('[ -z "$missing" ]', ["$missing"], { noRecommends: true, changed: true })}
# 2. Prometheus: configuration, rules, targets; the time series on the data volume.
mkdir -p "$ROOT${l.dataDir}/prometheus"; chown prometheus:prometheus "$ROOT${l.dataDir}/prometheus"
${putFile(`${PROMETHEUS_DIR}/prometheus.yml`, "0644", "root:root", renderPrometheusConfig(l))}${putFile(`${PROMETHEUS_DIR}/rules/ai-dualstack.yml`, "0644", "root:root", renderAlertRules())}${Object.entries(l.targets).map(([name, groups]) => putFile(`${TARGETS_DIR}/${name}.json`, "0644", "root:root", renderTargets(groups))).join("")}${putFile("/etc/default/prometheus", "0644", "root:root", `# Managed by ai-dualstack.\nARGS="--storage.tsdb.path=${l.dataDir}/prometheus --storage.tsdb.retention.time=${l.retention} --web.listen-address=0.0.0.0:9090"\n`)}
prom_changed=$changed; changed=0

# 3. The blackbox exporter: certificate expiry of the TLS endpoints, trusting the platform and environment CAs.
part="$(mktemp)"; awk '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/' "$bundle" > "$part"; put ${CA_BUNDLE} 0644 root:root < "$part"; rm -f "$part"
${putFile("/etc/prometheus/blackbox.yml", "0644", "root:root", renderBlackboxConfig(CA_BUNDLE))}
blackbox_changed=$changed

# 4. Configuration checked by the real tools before anything restarts.
promtool check config "$ROOT${PROMETHEUS_DIR}/prometheus.yml" >/dev/null

systemctl enable prometheus prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter >/dev/null
if [ "$prom_changed" = 1 ]; then systemctl restart prometheus; else systemctl start prometheus; fi
if [ "$blackbox_changed" = 1 ]; then systemctl restart prometheus-blackbox-exporter; else systemctl start prometheus-blackbox-exporter; fi
systemctl start prometheus-alertmanager prometheus-node-exporter
echo "monitoring: prometheus, alertmanager, node and blackbox exporters ready"
`;
}

/** Node exporter on a guest (Debian's package), with a textfile directory for the probes and backup scripts. */
export const TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";
export function renderNodeExporterInstallScript(): string {
  return `${SCRIPT_PRELUDE}
${aptInstallUnless(hasPackage("prometheus-node-exporter"), ["prometheus-node-exporter"], { noRecommends: true })}mkdir -p "$ROOT${TEXTFILE_DIR}"
systemctl enable --now prometheus-node-exporter >/dev/null
echo "node exporter: ready on :9100"
`;
}
