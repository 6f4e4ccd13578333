// The service probe on every guest that runs a compose project: a timer asks Docker for each of the project's
// containers whether it is running and what its healthcheck says, and leaves the answer for node exporter's textfile
// collector. ServiceUnhealthy fires on a container that is down or failing its check; a setup job that ran to
// completion (exit 0) counts as healthy.

export const SERVICE_PROBE = "/usr/local/lib/ai-dualstack/service-probe";

export interface ServiceProbe {
  /** The compose project (container label com.docker.compose.project). */
  project: string;
  metricsDir: string;
}

export function renderServiceProbeScript(p: ServiceProbe): string {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(p.project)) throw new Error(`renderServiceProbeScript: invalid project ${JSON.stringify(p.project)}`);
  if (!/^\/[A-Za-z0-9._/-]+$/.test(p.metricsDir)) throw new Error(`renderServiceProbeScript: invalid directory ${JSON.stringify(p.metricsDir)}`);
  return `#!/bin/bash
# Managed by ai-dualstack: the health of compose project ${p.project}'s containers, for Prometheus.
set -uo pipefail
out="${p.metricsDir}/services.prom"
tmp="$(mktemp "${p.metricsDir}/.services.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
{
  echo "# HELP ai_dualstack_service_up Whether the service's container is running (a finished setup job: exited 0)."
  echo "# TYPE ai_dualstack_service_up gauge"
  echo "# HELP ai_dualstack_service_healthy Whether the service passes its healthcheck (running, without one)."
  echo "# TYPE ai_dualstack_service_healthy gauge"
  echo "# HELP ai_dualstack_service_probe_success Whether the probe could ask Docker."
  echo "# TYPE ai_dualstack_service_probe_success gauge"
  if ids="$(docker ps -aq --filter 'label=com.docker.compose.project=${p.project}')"; then
    echo "ai_dualstack_service_probe_success 1"
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      docker inspect $ids | jq -r '
        .[] | (.Config.Labels["com.docker.compose.service"] // .Name) as $s
        | (.State.Status) as $st | (.State.ExitCode) as $code | (.State.Health.Status // "none") as $h
        | (if $st == "running" or ($st == "exited" and $code == 0 and (.HostConfig.RestartPolicy.Name == "no")) then 1 else 0 end) as $up
        | (if $up == 1 and ($h == "healthy" or $h == "none") then 1 else 0 end) as $ok
        | "ai_dualstack_service_up{service=\\"\\($s)\\"} \\($up)", "ai_dualstack_service_healthy{service=\\"\\($s)\\"} \\($ok)"'
    fi
  else
    echo "ai_dualstack_service_probe_success 0"
  fi
} > "$tmp" || exit 1
chmod 0644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
`;
}
