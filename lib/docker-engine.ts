// Docker on a platform container (the cicd LXC, for Gitea and its runner): Debian's docker.io, logs rotated, live
// restore on, and the service probe on a timer. Unprivileged LXCs run it with nesting and keyctl.
import { SCRIPT_PRELUDE, aptInstallUnless, hasPackage, putFile } from "./shell";
import { SERVICE_PROBE, renderServiceProbeScript, serviceProbeUnits } from "./monitoring/service-probe";
import { TEXTFILE_DIR } from "./monitoring/telemetry";

export function renderDockerEngineScript(project: string): string {
  const daemon = `${JSON.stringify({ "log-driver": "json-file", "log-opts": { "max-size": "50m", "max-file": "3" }, "live-restore": true, "no-new-privileges": true }, null, 2)}\n`;
  const units = serviceProbeUnits();
  return `${SCRIPT_PRELUDE}
${aptInstallUnless(hasPackage("docker.io"), ["docker.io", "jq"], { noRecommends: true })}${putFile("/etc/docker/daemon.json", "0644", "root:root", daemon)}docker_changed=$changed; changed=0
systemctl enable docker >/dev/null
if [ "$docker_changed" = 1 ]; then systemctl restart docker; else systemctl start docker; fi
mkdir -p "$ROOT${TEXTFILE_DIR}"
${putFile(SERVICE_PROBE, "0755", "root:root", renderServiceProbeScript({ project, metricsDir: TEXTFILE_DIR }))}${putFile(units.service.path, "0644", "root:root", units.service.content)}${putFile(units.timer.path, "0644", "root:root", units.timer.content)}systemctl daemon-reload
systemctl enable --now ai-dualstack-service-probe.timer >/dev/null
echo "docker engine ready"
`;
}
