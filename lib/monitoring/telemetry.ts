// What every guest runs for the monitoring LXC: node exporter (Debian/Ubuntu package, with the textfile directory the
// model probe and the restic scripts write to), Grafana Alloy shipping its logs to the environment's log gateway,
// and where Docker runs cAdvisor for container metrics. GPU VMs also get the model probe on a timer. The scripts are
// idempotent and restart only what changed. Stdin: the platform CA certificate (the log gateway's), PEM.
import { SCRIPT_PRELUDE, aptInstallUnless, enableAndStart, hasPackage, putFile, putPem, readStdinBundle } from "../shell";
import { renderAlloyConfig } from "./alloy";
import { aptRepositoryEgress, pinnedInstall } from "../apt-repo";
import type { Egress } from "../egress";
import { grafanaAptRepository } from "./grafana";
import type { LogTenant } from "./loki";
import { renderOllamaProbeScript, type OllamaProbe } from "./ollama-probe";
import { EXPORTER_PORTS } from "./prometheus";
import { SERVICE_PROBE, renderServiceProbeScript } from "./service-probe";

export const TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";
const ALLOY_CA = "/etc/alloy/ai-dualstack-ca.pem";
const PROBE = "/usr/local/lib/ai-dualstack/ollama-probe";

export interface GuestTelemetry {
  tenant: LogTenant;
  /** The guest's name in the logs: "private-gpu". */
  host: string;
  /** The guest's own address: cAdvisor listens there only. */
  ip: string;
  /** The environment's log gateway push URL. */
  pushUrl: string;
  alloyVersion: string;
  aptKeyFingerprints: readonly string[];
  /** The guest runs Docker: container logs and cAdvisor. */
  docker: boolean;
  /** cAdvisor where Docker runs (default); off where nothing scrapes it (a platform container). */
  cadvisor?: boolean;
  /** The model probe (GPU VMs): its URL and the models deployed warm. */
  probe?: Omit<OllamaProbe, "metricsDir">;
  /** The compose project whose containers' health the service probe reports (guests that run Docker). */
  composeProject?: string;
}

/** A probe script run every 30 s by a systemd timer (its output is for node exporter's textfile collector). */
function probeOnTimer(p: { unit: string; path: string; script: string; service: string; timer: string }): string {
  return `${putFile(p.path, "0755", "root:root", p.script)}${putFile(`/etc/systemd/system/${p.unit}.service`, "0644", "root:root", `[Unit]\nDescription=ai-dualstack: ${p.service}\n\n[Service]\nType=oneshot\nExecStart=${p.path}\n`)}${putFile(`/etc/systemd/system/${p.unit}.timer`, "0644", "root:root", `[Unit]\nDescription=ai-dualstack: ${p.timer}\n\n[Timer]\nOnBootSec=1min\nOnUnitActiveSec=30s\nAccuracySec=5s\n\n[Install]\nWantedBy=timers.target\n`)}systemctl daemon-reload
systemctl enable --now ${p.unit}.timer >/dev/null
`;
}

/** What the telemetry install contacts beyond the guest's distribution (node exporter, cAdvisor): Grafana's repository (Alloy). */
export function telemetryEgress(aptKeyFingerprints: readonly string[], who: string): Egress[] {
  return aptRepositoryEgress(grafanaAptRepository(aptKeyFingerprints), `${who}'s log agent`);
}

export function renderTelemetryInstallScript(t: GuestTelemetry): string {
  if (!/^[0-9.]+$/.test(t.ip)) throw new Error(`renderTelemetryInstallScript: invalid address ${JSON.stringify(t.ip)}`);
  const alloy = renderAlloyConfig({ pushUrl: t.pushUrl, caFile: ALLOY_CA, env: t.tenant, host: t.host, docker: t.docker });
  const withCadvisor = t.docker && t.cadvisor !== false;
  const cadvisor = withCadvisor
    ? `
# 3. cAdvisor: per-container CPU, memory, I/O; on the guest's own address only (the firewall admits the monitoring LXC).
${aptInstallUnless(hasPackage("cadvisor"), ["cadvisor"], { noRecommends: true })}${putFile("/etc/systemd/system/cadvisor.service.d/ai-dualstack.conf", "0644", "root:root", `[Service]\nExecStart=\nExecStart=/usr/bin/cadvisor -listen_ip=${t.ip} -port=${EXPORTER_PORTS.cadvisor} -docker_only=true -store_container_labels=false -whitelisted_container_labels=com.docker.compose.service,com.docker.compose.project\n`)}cadvisor_changed=$changed; changed=0
`
    : "";
  const dockerLogs = t.docker
    ? `# Alloy reads the containers' output through the Docker socket.
getent group docker >/dev/null && usermod -aG docker alloy
`
    : "";
  const probe = t.probe
    ? `
# 4. The model probe, every 30 s.
${probeOnTimer({ unit: "ai-dualstack-ollama-probe", path: PROBE, script: renderOllamaProbeScript({ ...t.probe, metricsDir: TEXTFILE_DIR }), service: "Ollama's loaded models for Prometheus", timer: "Ollama model probe" })}`
    : "";
  const services = t.composeProject
    ? `
# 5. The service probe: the compose services' state and health, every 30 s.
${probeOnTimer({ unit: "ai-dualstack-service-probe", path: SERVICE_PROBE, script: renderServiceProbeScript({ project: t.composeProject, metricsDir: TEXTFILE_DIR }), service: "compose services' health for Prometheus", timer: "service probe" })}`
    : "";
  return `${SCRIPT_PRELUDE}
${readStdinBundle({ need: ["CERTIFICATE 1"] })}
# 1. node exporter, with the textfile directory for the probes and backup scripts.
${aptInstallUnless(hasPackage("prometheus-node-exporter"), ["prometheus-node-exporter"], { noRecommends: true })}mkdir -p "$ROOT${TEXTFILE_DIR}"
systemctl enable --now prometheus-node-exporter >/dev/null

# 2. Grafana Alloy (Grafana's repository, its key checked), shipping the journal${t.docker ? " and the containers' output" : ""}.
${pinnedInstall(grafanaAptRepository(t.aptKeyFingerprints), { alloy: t.alloyVersion })}${putPem("CERTIFICATE", 1, ALLOY_CA, "0644", "root:root")}${putFile("/etc/alloy/config.alloy", "0644", "root:root", alloy)}usermod -aG systemd-journal alloy
alloy_changed=$changed; changed=0
${cadvisor}${dockerLogs}${probe}${services}
systemctl daemon-reload
${enableAndStart("alloy", "alloy_changed")}${withCadvisor ? `${enableAndStart("cadvisor", "cadvisor_changed")}` : ""}echo "telemetry: node exporter, alloy${withCadvisor ? ", cadvisor" : ""}${t.probe ? ", model probe" : ""}${t.composeProject ? ", service probe" : ""} ready"
`;
}
