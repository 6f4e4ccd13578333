// Prometheus in the monitoring LXC: its configuration and alert rules, rendered from the inventory. Targets come in
// through file-based discovery (one JSON file per source, written by the program or by the discovery timer), so that
// a guest added to an environment adds its scrape targets without an edit here. Pure renderers; `promtool` checks
// the output in the tests.
import { stringify } from "yaml";

export const PROMETHEUS_DIR = "/etc/prometheus";
export const TARGETS_DIR = `${PROMETHEUS_DIR}/targets`;

/** Exporter ports (Debian's packages and the GPU exporter's defaults). */
export const EXPORTER_PORTS = { node: 9100, dcgm: 9400, cadvisor: 9338, pve: 9221, blackbox: 9115, alertmanager: 9093, prometheus: 9090 } as const;

/** The ports on the guests that the monitoring container scrapes (node exporter, DCGM exporter, cAdvisor). */
export const SCRAPED_PORTS = [EXPORTER_PORTS.node, EXPORTER_PORTS.dcgm, EXPORTER_PORTS.cadvisor] as const;

/** One file_sd group: the targets and the labels they carry (env, stack, service, …). */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export interface PrometheusLayout {
  scrapeInterval: string;
  evaluationInterval: string;
  /** The Proxmox nodes' API endpoints for the PVE exporter ("192.168.10.2"). */
  proxmoxNodes: string[];
  /** https endpoints whose certificates are watched for expiry ("10.10.0.10:8200"). */
  tlsEndpoints: string[];
}

/** The scrape jobs: every one reads its targets from files, except the local services. */
export function renderPrometheusConfig(l: PrometheusLayout): string {
  const fileSd = (name: string) => [{ files: [`${TARGETS_DIR}/${name}-*.json`], refresh_interval: "1m" }];
  const config = {
    global: { scrape_interval: l.scrapeInterval, evaluation_interval: l.evaluationInterval, external_labels: { monitor: "ai-dualstack" } },
    rule_files: [`${PROMETHEUS_DIR}/rules/*.yml`],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${EXPORTER_PORTS.alertmanager}`] }] }] },
    scrape_configs: [
      { job_name: "prometheus", static_configs: [{ targets: [`127.0.0.1:${EXPORTER_PORTS.prometheus}`] }] },
      // Every guest's node exporter; its textfile collector carries the Ollama and backup metrics too.
      { job_name: "node", file_sd_configs: fileSd("node") },
      // NVIDIA's DCGM exporter in each GPU VM.
      { job_name: "gpu", file_sd_configs: fileSd("gpu") },
      // Containers (cAdvisor-style metrics from each Docker engine's exporter).
      { job_name: "containers", file_sd_configs: fileSd("containers") },
      // Each Proxmox node through its own prometheus-pve-exporter (read-only PVEAuditor token), asked about itself.
      {
        job_name: "proxmox",
        metrics_path: "/pve",
        params: { module: ["default"], cluster: ["1"], node: ["1"] },
        static_configs: [{ targets: l.proxmoxNodes, labels: { env: "platform", service: "proxmox" } }],
        relabel_configs: [
          { source_labels: ["__address__"], target_label: "__param_target" },
          { source_labels: ["__param_target"], target_label: "instance" },
          { source_labels: ["__param_target"], target_label: "__address__", replacement: `$1:${EXPORTER_PORTS.pve}` },
        ],
      },
      // Certificate expiry of every TLS endpoint, through the blackbox exporter.
      {
        job_name: "tls",
        metrics_path: "/probe",
        params: { module: ["tls_connect"] },
        static_configs: [{ targets: l.tlsEndpoints }],
        file_sd_configs: fileSd("tls"),
        relabel_configs: [
          { source_labels: ["__address__"], target_label: "__param_target" },
          { source_labels: ["__param_target"], target_label: "instance" },
          { target_label: "__address__", replacement: `127.0.0.1:${EXPORTER_PORTS.blackbox}` },
        ],
      },
    ],
  };
  return `# Managed by ai-dualstack.\n${stringify(config, { lineWidth: 0 })}`;
}

/** The blackbox exporter's module for certificate checks (the CA bundle holds the platform and environment CAs). */
export function renderBlackboxConfig(caFile: string): string {
  return `# Managed by ai-dualstack.\n${stringify({ modules: { tls_connect: { prober: "tcp", timeout: "10s", tcp: { tls: true, tls_config: { ca_file: caFile } } } } })}`;
}

/** A file_sd document. Targets must be host:port; labels plain identifiers. */
export function renderTargets(groups: TargetGroup[]): string {
  for (const g of groups) {
    for (const t of g.targets) if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(t)) throw new Error(`renderTargets: invalid target ${JSON.stringify(t)}`);
    for (const k of Object.keys(g.labels))
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || k.startsWith("__")) throw new Error(`renderTargets: invalid label ${JSON.stringify(k)}`);
  }
  return `${JSON.stringify(groups, null, 2)}\n`;
}

export interface AlertThresholds {
  /** GPU core temperature (°C) that pages. */
  gpuTemperatureC: number;
  /** Share of VRAM in use that pages (0–1). */
  vramUsedRatio: number;
  /** Filesystem free share below which a fill forecast pages. */
  diskFreeRatio: number;
  /** Hours a file-level backup may be old (its schedule plus a margin). */
  backupMaxAgeHours: number;
  /** Hours a repository check may be old. */
  checkMaxAgeHours: number;
  /** Days before a certificate expires that it pages. */
  certificateDays: number;
}

export const DEFAULT_THRESHOLDS: AlertThresholds = {
  gpuTemperatureC: 85,
  vramUsedRatio: 0.97,
  diskFreeRatio: 0.15,
  backupMaxAgeHours: 26,
  checkMaxAgeHours: 50,
  certificateDays: 21,
};

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: Severity };
  annotations: { summary: string; description: string };
}

/** "page": someone acts now; "ticket": within a day; "none": the watchdog, which only proves the path works. */
type Severity = "page" | "ticket" | "none";

const rule = (alert: string, expr: string, forDuration: string, severity: Severity, summary: string, description: string): Rule => ({
  alert,
  expr,
  for: forDuration,
  labels: { severity },
  annotations: { summary, description },
});

/** The alert rules: availability, disks, GPUs, models, backups and certificates. */
export function alertRules(t: AlertThresholds = DEFAULT_THRESHOLDS): { name: string; rules: Rule[] }[] {
  return [
    {
      name: "availability",
      rules: [
        // Always firing: Alertmanager sends it to the heartbeat, whose silence means the alerting path is broken.
        rule(
          "Watchdog",
          "vector(1)",
          "0m",
          "none",
          "the alerting pipeline works",
          "Always firing, by design: the heartbeat receiver raises the alarm when it stops.",
        ),
        rule(
          "GuestDown",
          'up{job="node"} == 0',
          "3m",
          "page",
          "guest {{ $labels.guest }} ({{ $labels.env }}) is down",
          "Its node exporter has not answered for 3 minutes: the guest is stopped, hung or cut off. Other alerts about it are held back meanwhile.",
        ),
        rule(
          "TargetDown",
          'up{job!="node"} == 0',
          "5m",
          "page",
          "{{ $labels.job }} target {{ $labels.instance }} is down",
          "Prometheus has not scraped {{ $labels.instance }} ({{ $labels.env }}) for 5 minutes.",
        ),
        rule(
          "DiscoveryFailing",
          "ai_dualstack_discovery_success == 0 or time() - ai_dualstack_discovery_timestamp_seconds > 600",
          "10m",
          "ticket",
          "guest discovery on {{ $labels.instance }} is failing",
          "The environments' scrape targets are no longer updated from the Proxmox API: see journalctl -u ai-dualstack-discovery on the node.",
        ),
      ],
    },
    {
      name: "disks",
      rules: [
        rule(
          "DiskFilling",
          `(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"} < ${t.diskFreeRatio}) and predict_linear(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"}[6h], 24 * 3600) < 0`,
          "30m",
          "page",
          "{{ $labels.mountpoint }} on {{ $labels.instance }} fills within a day",
          "Less than " + `${Math.round(t.diskFreeRatio * 100)}` + "% free and the last 6 hours' trend reaches zero within 24 hours.",
        ),
      ],
    },
    {
      name: "gpus",
      rules: [
        rule(
          "GpuTemperatureHigh",
          `DCGM_FI_DEV_GPU_TEMP > ${t.gpuTemperatureC}`,
          "10m",
          "page",
          "GPU {{ $labels.gpu }} on {{ $labels.instance }} at {{ $value }} °C",
          `Above ${t.gpuTemperatureC} °C for 10 minutes: check airflow and the power limit.`,
        ),
        rule(
          "GpuVramNearlyFull",
          `DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) > ${t.vramUsedRatio}`,
          "15m",
          "ticket",
          "VRAM of GPU {{ $labels.gpu }} on {{ $labels.instance }} nearly full",
          "A model load or a longer context may spill to the CPU.",
        ),
      ],
    },
    {
      name: "models",
      rules: [
        rule(
          "ModelNotLoaded",
          "ai_dualstack_ollama_model_expected == 1 unless on (instance, model) ai_dualstack_ollama_model_loaded == 1",
          "10m",
          "page",
          "{{ $labels.model }} is not loaded on {{ $labels.instance }}",
          "The model is deployed warm (keep-alive) but Ollama does not hold it.",
        ),
        rule(
          "ModelOnCpu",
          "ai_dualstack_ollama_model_vram_ratio < 1 and on (instance, model) ai_dualstack_ollama_model_loaded == 1",
          "5m",
          "page",
          "{{ $labels.model }} runs partly on the CPU on {{ $labels.instance }}",
          "Only {{ $value | humanizePercentage }} of the model is in VRAM: decode speed drops by an order of magnitude.",
        ),
        rule(
          "OllamaProbeFailing",
          "ai_dualstack_ollama_up == 0",
          "5m",
          "page",
          "Ollama does not answer on {{ $labels.instance }}",
          "The model probe could not reach Ollama's API.",
        ),
      ],
    },
    {
      name: "services",
      rules: [
        rule(
          "ServiceDown",
          "ai_dualstack_service_up == 0",
          "5m",
          "page",
          "{{ $labels.service }} is down on {{ $labels.instance }}",
          "Its container is not running (or a setup job failed): docker compose -p <project> ps and logs on the guest.",
        ),
        rule(
          "ServiceUnhealthy",
          "ai_dualstack_service_healthy == 0 and on (instance, service) ai_dualstack_service_up == 1",
          "10m",
          "page",
          "{{ $labels.service }} fails its healthcheck on {{ $labels.instance }}",
          "The container runs but its healthcheck fails: docker inspect shows the last checks' output.",
        ),
        rule(
          "ServiceProbeFailing",
          "ai_dualstack_service_probe_success == 0",
          "10m",
          "ticket",
          "the service probe cannot ask Docker on {{ $labels.instance }}",
          "The timer runs but Docker did not answer.",
        ),
      ],
    },
    {
      name: "backups",
      rules: [
        rule(
          "BackupFailed",
          "ai_dualstack_backup_success == 0",
          "0m",
          "page",
          "backup of {{ $labels.source }} ({{ $labels.repository }}) failed",
          "The last run of the restic backup failed; the previous snapshot is still the latest.",
        ),
        rule(
          "BackupTooOld",
          `time() - ai_dualstack_backup_last_success_timestamp_seconds > ${t.backupMaxAgeHours} * 3600`,
          "0m",
          "page",
          "backup of {{ $labels.source }} ({{ $labels.repository }}) is {{ $value | humanizeDuration }} old",
          `Older than its daily schedule allows (${t.backupMaxAgeHours} h).`,
        ),
        rule(
          "ResticCheckFailed",
          "ai_dualstack_restic_check_success == 0",
          "0m",
          "page",
          "restic check of {{ $labels.repository }} failed",
          "The repository's structure or data did not verify: do not prune; investigate before the next backup.",
        ),
        rule(
          "ResticCheckTooOld",
          `time() - ai_dualstack_restic_check_timestamp_seconds > ${t.checkMaxAgeHours} * 3600`,
          "0m",
          "ticket",
          "restic check of {{ $labels.repository }} has not run for {{ $value | humanizeDuration }}",
          "The verification timer is not running.",
        ),
      ],
    },
    {
      name: "certificates",
      rules: [
        rule(
          "CertificateExpiringSoon",
          `probe_ssl_earliest_cert_expiry - time() < ${t.certificateDays} * 86400`,
          "1h",
          "ticket",
          "the certificate of {{ $labels.instance }} expires in {{ $value | humanizeDuration }}",
          "Run pulumi up: certificates are re-issued from 30 days before expiry.",
        ),
      ],
    },
  ];
}

export function renderAlertRules(t: AlertThresholds = DEFAULT_THRESHOLDS): string {
  return `# Managed by ai-dualstack.\n${stringify({ groups: alertRules(t) }, { lineWidth: 0 })}`;
}
