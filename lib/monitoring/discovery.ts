// What the Proxmox node itself runs for monitoring, installed by the host stack over SSH:
// - guest discovery: a timer asks the node's own API (pvesh, as root, no token and no port opened) for every guest
//   tagged managed-by-ai-dualstack, reads each one's address from its config, and writes Prometheus file_sd target
//   files (node exporter on every guest; DCGM exporter and cAdvisor on GPU VMs) into the monitoring container with
//   `pct push`. An environment's guest added, moved or removed changes its targets within a minute, without the host
//   stack knowing the environment stacks. The platform's own guests are written by the program (node-platform.json).
// - prometheus-pve-exporter (PyPI, pinned, in a venv) with a read-only PVEAuditor token, and node exporter, for
//   the host's own metrics; the firewall admits their ports from the monitoring container only.
import { SCRIPT_PRELUDE, aptInstallMissing, enableAndStart, putFile, readStdinBundle } from "../shell";
import { EXPORTER_PORTS, TARGETS_DIR } from "./prometheus";
import { MANAGED_BY, ENV_TAG_PREFIX } from "../tags";
import { TEXTFILE_DIR } from "./telemetry";

export const DISCOVERY_SCRIPT = "/usr/local/lib/ai-dualstack/discover-guests";
export const PVE_EXPORTER_DIR = "/opt/ai-dualstack/pve-exporter";
export const PVE_EXPORTER_CONFIG = "/etc/ai-dualstack/pve-exporter.yml";
/** Guests the discovery leaves out: the never-started holder VMs of data disks. */
export const UNSCRAPED_TAGS = ["data-holder"] as const;
/** Guests whose GPU exporters are scraped. */
export const GPU_TAG = "gpu";

export interface DiscoveryLayout {
  /** The monitoring container's VMID (pct push target). */
  monitoringVmId: number;
  /** Where the discovery records its own success (node exporter's textfile directory on the node). */
  metricsDir?: string;
}

/**
 * The discovery script. Reads `pvesh` JSON; writes node-discovered.json, gpu-discovered.json and
 * containers-discovered.json; pushes each into the monitoring container only when it changed. Exits non-zero (and
 * records ai_dualstack_discovery_success 0) when the API or the push fails, keeping the previous files.
 */
export function renderDiscoveryScript(l: DiscoveryLayout): string {
  if (!Number.isInteger(l.monitoringVmId) || l.monitoringVmId < 100) throw new Error(`renderDiscoveryScript: invalid VMID ${l.monitoringVmId}`);
  const metricsDir = l.metricsDir ?? TEXTFILE_DIR;
  return `#!/bin/bash
# Managed by ai-dualstack: Prometheus targets for the environments' guests, from the Proxmox API.
set -euo pipefail
state="\${AI_DUALSTACK_DISCOVERY_STATE:-/var/lib/ai-dualstack/discovery}"
metrics="\${AI_DUALSTACK_METRICS_DIR:-${metricsDir}}"
mkdir -p "$state" "$metrics"
work="$(mktemp -d)"
record() {
  tmp="$(mktemp "$metrics/.discovery.XXXXXX")"
  {
    echo "# HELP ai_dualstack_discovery_success Whether the last guest discovery reached the Proxmox API and the monitoring container."
    echo "# TYPE ai_dualstack_discovery_success gauge"
    echo "ai_dualstack_discovery_success $1"
    echo "# HELP ai_dualstack_discovery_targets Guests the last discovery found."
    echo "# TYPE ai_dualstack_discovery_targets gauge"
    echo "ai_dualstack_discovery_targets $2"
    echo "# HELP ai_dualstack_discovery_timestamp_seconds When the discovery last ran."
    echo "# TYPE ai_dualstack_discovery_timestamp_seconds gauge"
    echo "ai_dualstack_discovery_timestamp_seconds $(date +%s)"
  } > "$tmp"
  chmod 0644 "$tmp"; mv "$tmp" "$metrics/ai-dualstack-discovery.prom"
}
on_exit() {
  rc=$?
  if [ $rc -ne 0 ]; then record 0 0; fi
  rm -rf "$work"
  exit $rc
}
trap on_exit EXIT

pvesh get /cluster/resources --type vm --output-format json > "$work/resources.json"
# Managed guests of the environments (not the platform's, not templates, not the disk holders), one per line.
jq -c '.[] | select((.template // 0) == 0)
  | . + {tags: ((.tags // "") | split(";"))}
  | select(.tags | index("managed-by-${MANAGED_BY}"))
  | select([.tags[] | select(. == ${UNSCRAPED_TAGS.map((t) => `"${t}"`).join(" or . == ")})] | length == 0)
  | select([.tags[] | select(startswith("${ENV_TAG_PREFIX}"))] | length == 1)
  | select((.tags | index("${ENV_TAG_PREFIX}platform")) | not)
  | {vmid, name, node, type, tags, env: ([.tags[] | select(startswith("${ENV_TAG_PREFIX}"))][0] | ltrimstr("${ENV_TAG_PREFIX}"))}' "$work/resources.json" > "$work/guests.jsonl"

: > "$work/found.jsonl"
while IFS= read -r guest; do
  node="$(jq -r .node <<<"$guest")"; type="$(jq -r .type <<<"$guest")"; vmid="$(jq -r .vmid <<<"$guest")"
  pvesh get "/nodes/$node/$type/$vmid/config" --output-format json > "$work/config.json"
  # VMs: ipconfig0 "ip=10.20.0.10/24,gw=…"; containers: net0 "name=eth0,…,ip=10.20.0.11/24,…".
  ip="$(jq -r '(.ipconfig0 // .net0 // "") | split(",")[] | select(startswith("ip=")) | ltrimstr("ip=") | split("/")[0]' "$work/config.json" | head -n 1)"
  if ! [[ "$ip" =~ ^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$ ]]; then
    echo "discovery: $type/$vmid has no static IPv4 address; skipped" >&2
    continue
  fi
  jq -c --arg ip "$ip" '. + {ip: $ip}' <<<"$guest" >> "$work/found.jsonl"
done < "$work/guests.jsonl"

# file_sd groups: labels env, guest, vmid, service (the guest's extra tags: gpu, postgres, redis, …).
targets() { # $1 = port, $2 = jq filter of the guests it applies to
  jq -s --argjson port "$1" '[.[] | select('"$2"') | {
    targets: ["\\(.ip):\\($port)"],
    labels: {env, guest: .name, vmid: (.vmid | tostring), service: ([.tags[] | select((startswith("${ENV_TAG_PREFIX}") or startswith("stack-") or startswith("managed-by-")) | not)] | join(","))}
  }] | sort_by(.labels.vmid)' "$work/found.jsonl"
}
targets ${EXPORTER_PORTS.node} 'true' > "$work/node-discovered.json"
targets ${EXPORTER_PORTS.dcgm} '.tags | index("${GPU_TAG}")' > "$work/gpu-discovered.json"
targets ${EXPORTER_PORTS.cadvisor} '.tags | index("${GPU_TAG}")' > "$work/containers-discovered.json"

for f in node-discovered.json gpu-discovered.json containers-discovered.json; do
  if ! cmp -s "$work/$f" "$state/$f"; then
    pct push ${l.monitoringVmId} "$work/$f" "${TARGETS_DIR}/$f" --perms 0644
    cp "$work/$f" "$state/$f"
  fi
done
trap 'rm -rf "$work"' EXIT
record 1 "$(wc -l < "$work/found.jsonl")"
`;
}

export interface HostMonitoringLayout extends DiscoveryLayout {
  /** The node's address: the exporters listen there. */
  address: string;
  /** prometheus-pve-exporter's version on PyPI. */
  pveExporterVersion: string;
  /** Whether this node runs the discovery (the platform's node: pct push reaches only local containers). */
  discovery: boolean;
}

/**
 * The node's install script: node exporter (Debian package), prometheus-pve-exporter in a venv with the read-only
 * token (stdin, first line "user@realm!name=secret"), and on the platform's node the discovery timer.
 */
export function renderHostMonitoringScript(h: HostMonitoringLayout): string {
  if (!/^[0-9.]+$/.test(h.address)) throw new Error(`renderHostMonitoringScript: invalid address ${JSON.stringify(h.address)}`);
  if (!/^\d+\.\d+\.\d+$/.test(h.pveExporterVersion)) throw new Error(`renderHostMonitoringScript: invalid version ${JSON.stringify(h.pveExporterVersion)}`);
  const unit = `[Unit]
Description=ai-dualstack: prometheus-pve-exporter (read-only token)
After=network-online.target pve-cluster.service

[Service]
User=pve-exporter
Environment=REQUESTS_CA_BUNDLE=/etc/pve/pve-root-ca.pem
ExecStart=${PVE_EXPORTER_DIR}/bin/pve_exporter --config.file=${PVE_EXPORTER_CONFIG} --web.listen-address=${h.address}:${EXPORTER_PORTS.pve}
Restart=on-failure
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
`;
  const discovery = h.discovery
    ? `
# 4. Guest discovery every minute.
${putFile(DISCOVERY_SCRIPT, "0755", "root:root", renderDiscoveryScript(h))}${putFile("/etc/systemd/system/ai-dualstack-discovery.service", "0644", "root:root", "[Unit]\nDescription=ai-dualstack: Prometheus targets of the environments' guests\n\n[Service]\nType=oneshot\nExecStart=" + DISCOVERY_SCRIPT + "\n")}${putFile("/etc/systemd/system/ai-dualstack-discovery.timer", "0644", "root:root", "[Unit]\nDescription=ai-dualstack: guest discovery\n\n[Timer]\nOnBootSec=2min\nOnUnitActiveSec=1min\n\n[Install]\nWantedBy=timers.target\n")}systemctl daemon-reload
systemctl enable --now ai-dualstack-discovery.timer >/dev/null
`
    : "";
  return `${SCRIPT_PRELUDE}
${readStdinBundle({ secretLine: true, need: [] })}case "$secret" in
  *@*!*=*) ;;
  *) echo "stdin: expected the monitoring token as user@realm!name=secret" >&2; exit 1 ;;
esac
# 1. node exporter (Debian's package) with its textfile directory; jq for the discovery; python3-venv for the exporter.
${aptInstallMissing(["prometheus-node-exporter", "jq", "python3-venv"], { noRecommends: true })}mkdir -p "$ROOT${TEXTFILE_DIR}"
${putFile("/etc/default/prometheus-node-exporter", "0644", "root:root", `# Managed by ai-dualstack.\nARGS="--web.listen-address=${h.address}:${EXPORTER_PORTS.node} --collector.textfile.directory=${TEXTFILE_DIR}"\n`)}node_changed=$changed; changed=0
${enableAndStart("prometheus-node-exporter", "node_changed")}
# 2. prometheus-pve-exporter ${h.pveExporterVersion} in its own venv, as its own user.
id pve-exporter >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin pve-exporter
if [ "$("$ROOT${PVE_EXPORTER_DIR}/bin/pip" show prometheus-pve-exporter 2>/dev/null | sed -n 's/^Version: //p')" != "${h.pveExporterVersion}" ]; then
  python3 -m venv "$ROOT${PVE_EXPORTER_DIR}"
  "$ROOT${PVE_EXPORTER_DIR}/bin/pip" install --quiet --disable-pip-version-check "prometheus-pve-exporter==${h.pveExporterVersion}"
  changed=1
fi
# The token, split into the exporter's fields; readable by the exporter only.
user="\${secret%%!*}"; rest="\${secret#*!}"; name="\${rest%%=*}"; value="\${rest#*=}"
part="$(mktemp)"; printf 'default:\\n  user: "%s"\\n  token_name: "%s"\\n  token_value: "%s"\\n  verify_ssl: true\\n' "$user" "$name" "$value" > "$part"
put ${PVE_EXPORTER_CONFIG} 0600 pve-exporter:root < "$part"; rm -f "$part"
${putFile("/etc/systemd/system/ai-dualstack-pve-exporter.service", "0644", "root:root", unit)}pve_changed=$changed; changed=0
systemctl daemon-reload
${enableAndStart("ai-dualstack-pve-exporter", "pve_changed")}${discovery}
echo "host monitoring: node exporter, pve exporter${h.discovery ? ", guest discovery" : ""} ready on ${h.address}"
`;
}
