// Docker on a platform container (the cicd LXC, for Gitea and its runner): Debian's docker.io, logs rotated, live
// restore on. Unprivileged LXCs run it with nesting and keyctl. The service probe comes with the guest's telemetry.
import { SCRIPT_PRELUDE, aptInstallUnless, enableAndStart, hasPackage, putFile } from "./shell";

export function renderDockerEngineScript(): string {
  const daemon = `${JSON.stringify({ "log-driver": "json-file", "log-opts": { "max-size": "50m", "max-file": "3" }, "live-restore": true, "no-new-privileges": true }, null, 2)}\n`;
  return `${SCRIPT_PRELUDE}
${aptInstallUnless(hasPackage("docker.io"), ["docker.io", "jq"], { noRecommends: true })}${putFile("/etc/docker/daemon.json", "0644", "root:root", daemon)}docker_changed=$changed; changed=0
${enableAndStart("docker", "docker_changed")}echo "docker engine ready"
`;
}
