// Grafana dashboards as files (provisioned read-only): the host and its guests, the GPUs, the models, the backups,
// and the logs. Every query is generated here, so the tests can hand each one to the real query parsers.
import { DATASOURCE_UIDS } from "./grafana";

type Unit = "percentunit" | "bytes" | "Bps" | "celsius" | "watt" | "short" | "s" | "dateTimeFromNow" | "none";

export interface Query {
  expr: string;
  legend?: string;
}

export interface PanelSpec {
  title: string;
  kind: "timeseries" | "stat" | "table" | "logs";
  queries: Query[];
  unit?: Unit;
  /** Thresholds for stat panels: [value, colour] from low to high. */
  thresholds?: [number | null, string][];
  /** Grid width (of 24); the height is fixed per kind. */
  width?: number;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  panels: PanelSpec[];
  /** Environment selector (variable $env over the `env` label). */
  envVariable: boolean;
}

const ENV = 'env=~"$env"';
const FS = 'fstype!~"tmpfs|overlay|squashfs|ramfs"';

export const DASHBOARDS: DashboardSpec[] = [
  {
    uid: "ai-dualstack-host",
    title: "Host and guests",
    description: "The Proxmox host, its storage and every guest: availability, CPU, memory, disks, network.",
    envVariable: true,
    panels: [
      {
        title: "Targets down",
        kind: "stat",
        queries: [{ expr: `count(up{${ENV}} == 0) or vector(0)` }],
        thresholds: [
          [null, "green"],
          [1, "red"],
        ],
        width: 6,
      },
      { title: "Guests running (Proxmox)", kind: "stat", queries: [{ expr: 'count(pve_up{id=~"(qemu|lxc)/.*"} == 1) or vector(0)' }], width: 6 },
      { title: "Host CPU", kind: "stat", unit: "percentunit", queries: [{ expr: 'pve_cpu_usage_ratio{id=~"node/.*"}', legend: "{{id}}" }], width: 6 },
      {
        title: "Host memory",
        kind: "stat",
        unit: "percentunit",
        queries: [{ expr: 'pve_memory_usage_bytes{id=~"node/.*"} / pve_memory_size_bytes{id=~"node/.*"}', legend: "{{id}}" }],
        width: 6,
      },
      {
        title: "Storage used (ZFS pools and datastores)",
        kind: "timeseries",
        unit: "percentunit",
        queries: [{ expr: 'pve_disk_usage_bytes{id=~"storage/.*"} / pve_disk_size_bytes{id=~"storage/.*"}', legend: "{{id}}" }],
        width: 12,
      },
      {
        title: "Guest CPU",
        kind: "timeseries",
        unit: "percentunit",
        queries: [
          { expr: `1 - avg by (instance, service) (rate(node_cpu_seconds_total{mode="idle", ${ENV}}[$__rate_interval]))`, legend: "{{service}} {{instance}}" },
        ],
        width: 12,
      },
      {
        title: "Guest memory used",
        kind: "timeseries",
        unit: "percentunit",
        queries: [{ expr: `1 - node_memory_MemAvailable_bytes{${ENV}} / node_memory_MemTotal_bytes{${ENV}}`, legend: "{{service}} {{instance}}" }],
        width: 12,
      },
      {
        title: "Filesystem free",
        kind: "timeseries",
        unit: "percentunit",
        queries: [{ expr: `node_filesystem_avail_bytes{${FS}, ${ENV}} / node_filesystem_size_bytes{${FS}, ${ENV}}`, legend: "{{instance}} {{mountpoint}}" }],
        width: 12,
      },
      {
        title: "Network",
        kind: "timeseries",
        unit: "Bps",
        queries: [
          { expr: `sum by (instance) (rate(node_network_receive_bytes_total{device!="lo", ${ENV}}[$__rate_interval]))`, legend: "in {{instance}}" },
          { expr: `sum by (instance) (rate(node_network_transmit_bytes_total{device!="lo", ${ENV}}[$__rate_interval]))`, legend: "out {{instance}}" },
        ],
        width: 12,
      },
      {
        title: "Containers: CPU",
        kind: "timeseries",
        unit: "percentunit",
        queries: [
          {
            expr: `sum by (instance, container_label_com_docker_compose_service) (rate(container_cpu_usage_seconds_total{${ENV}, container_label_com_docker_compose_service!=""}[$__rate_interval]))`,
            legend: "{{container_label_com_docker_compose_service}} {{instance}}",
          },
        ],
        width: 12,
      },
      {
        title: "Containers: memory",
        kind: "timeseries",
        unit: "bytes",
        queries: [
          {
            expr: `sum by (instance, container_label_com_docker_compose_service) (container_memory_working_set_bytes{${ENV}, container_label_com_docker_compose_service!=""})`,
            legend: "{{container_label_com_docker_compose_service}} {{instance}}",
          },
        ],
        width: 12,
      },
      {
        title: "Certificates: days left",
        kind: "table",
        unit: "s",
        queries: [{ expr: "probe_ssl_earliest_cert_expiry - time()", legend: "{{instance}}" }],
        width: 12,
      },
    ],
  },
  {
    uid: "ai-dualstack-gpus",
    title: "GPUs",
    description: "Each passed-through GPU through its VM's DCGM exporter: temperature, power, VRAM, utilisation.",
    envVariable: true,
    panels: [
      {
        title: "Temperature",
        kind: "timeseries",
        unit: "celsius",
        queries: [{ expr: `DCGM_FI_DEV_GPU_TEMP{${ENV}}`, legend: "{{modelName}} ({{env}})" }],
        width: 12,
      },
      {
        title: "Power",
        kind: "timeseries",
        unit: "watt",
        queries: [{ expr: `DCGM_FI_DEV_POWER_USAGE{${ENV}}`, legend: "{{modelName}} ({{env}})" }],
        width: 12,
      },
      {
        title: "VRAM used",
        kind: "timeseries",
        unit: "percentunit",
        queries: [{ expr: `DCGM_FI_DEV_FB_USED{${ENV}} / (DCGM_FI_DEV_FB_USED{${ENV}} + DCGM_FI_DEV_FB_FREE{${ENV}})`, legend: "{{modelName}} ({{env}})" }],
        width: 12,
      },
      {
        title: "Utilisation",
        kind: "timeseries",
        unit: "percentunit",
        queries: [{ expr: `DCGM_FI_DEV_GPU_UTIL{${ENV}} / 100`, legend: "{{modelName}} ({{env}})" }],
        width: 12,
      },
    ],
  },
  {
    uid: "ai-dualstack-models",
    title: "Models",
    description: "Ollama in each environment: is it answering, which models are loaded, how much of each sits in VRAM.",
    envVariable: true,
    panels: [
      {
        title: "Ollama answering",
        kind: "stat",
        queries: [{ expr: `ai_dualstack_ollama_up{${ENV}}`, legend: "{{env}}" }],
        thresholds: [
          [null, "red"],
          [1, "green"],
        ],
        width: 8,
      },
      {
        title: "Warm models not loaded",
        kind: "stat",
        queries: [
          { expr: `count(ai_dualstack_ollama_model_expected{${ENV}} == 1 unless on (instance, model) ai_dualstack_ollama_model_loaded == 1) or vector(0)` },
        ],
        thresholds: [
          [null, "green"],
          [1, "red"],
        ],
        width: 8,
      },
      {
        title: "Models partly on the CPU",
        kind: "stat",
        queries: [{ expr: `count(ai_dualstack_ollama_model_vram_ratio{${ENV}} < 1) or vector(0)` }],
        thresholds: [
          [null, "green"],
          [1, "orange"],
        ],
        width: 8,
      },
      {
        title: "Share of each model in VRAM",
        kind: "timeseries",
        unit: "percentunit",
        queries: [{ expr: `ai_dualstack_ollama_model_vram_ratio{${ENV}}`, legend: "{{model}} ({{env}})" }],
        width: 24,
      },
    ],
  },
  {
    uid: "ai-dualstack-backups",
    title: "Backups",
    description: "File-level backups (restic) per source and repository checks; image-level backups run as vzdump jobs to PBS.",
    envVariable: false,
    panels: [
      {
        title: "Failed backups",
        kind: "stat",
        queries: [{ expr: "count(ai_dualstack_backup_success == 0) or vector(0)" }],
        thresholds: [
          [null, "green"],
          [1, "red"],
        ],
        width: 8,
      },
      {
        title: "Failed repository checks",
        kind: "stat",
        queries: [{ expr: "count(ai_dualstack_restic_check_success == 0) or vector(0)" }],
        thresholds: [
          [null, "green"],
          [1, "red"],
        ],
        width: 8,
      },
      { title: "Oldest backup", kind: "stat", unit: "s", queries: [{ expr: "max(time() - ai_dualstack_backup_last_success_timestamp_seconds)" }], width: 8 },
      {
        title: "Last good backup per source",
        kind: "table",
        unit: "dateTimeFromNow",
        queries: [{ expr: "ai_dualstack_backup_last_success_timestamp_seconds * 1000", legend: "{{repository}} {{source}}" }],
        width: 12,
      },
      {
        title: "Last check per repository",
        kind: "table",
        unit: "dateTimeFromNow",
        queries: [{ expr: "ai_dualstack_restic_check_timestamp_seconds * 1000", legend: "{{repository}}" }],
        width: 12,
      },
      { title: "Backup and check logs", kind: "logs", queries: [{ expr: '{unit=~"ai-dualstack-restic.*"}' }], width: 24 },
    ],
  },
  {
    uid: "ai-dualstack-logs",
    title: "Logs",
    description: "Every guest's journal and container output, per environment (Loki tenant).",
    envVariable: true,
    panels: [
      {
        title: "Errors per guest",
        kind: "timeseries",
        queries: [{ expr: `sum by (env, host) (count_over_time({${ENV}, level=~"err|crit|alert|emerg"}[$__auto]))`, legend: "{{env}} {{host}}" }],
        width: 24,
      },
      { title: "Containers", kind: "logs", queries: [{ expr: `{${ENV}, job="docker"}` }], width: 24 },
      { title: "Journal", kind: "logs", queries: [{ expr: `{${ENV}, job="journal"}` }], width: 24 },
    ],
  },
];

/** Which data source a panel queries: logs panels and LogQL aggregations go to Loki. */
export const isLogQuery = (expr: string) => /^\s*(\{|sum by \([^)]*\) \(count_over_time\(\{)/.test(expr);

const HEIGHT = { timeseries: 8, table: 8, stat: 4, logs: 10 } as const;

/** Grafana's JSON model of a dashboard. */
export function renderDashboard(d: DashboardSpec): string {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  const panels = d.panels.map((p, i) => {
    const w = p.width ?? 12;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { x, y, w, h: HEIGHT[p.kind] };
    x += w;
    rowHeight = Math.max(rowHeight, HEIGHT[p.kind]);
    const loki = p.queries.every((q) => isLogQuery(q.expr));
    const datasource = { type: loki ? "loki" : "prometheus", uid: loki ? DATASOURCE_UIDS.loki : DATASOURCE_UIDS.prometheus };
    return {
      id: i + 1,
      type: p.kind,
      title: p.title,
      gridPos,
      datasource,
      targets: p.queries.map((q, j) => ({
        refId: String.fromCharCode(65 + j),
        datasource,
        expr: q.expr,
        ...(q.legend ? { legendFormat: q.legend } : {}),
        ...(p.kind === "table" ? { instant: true, format: "table" } : {}),
      })),
      fieldConfig: {
        defaults: {
          ...(p.unit ? { unit: p.unit } : {}),
          ...(p.thresholds ? { thresholds: { mode: "absolute", steps: p.thresholds.map(([value, color]) => ({ value, color })) } } : {}),
        },
        overrides: [],
      },
      options: p.kind === "logs" ? { showTime: true, wrapLogMessage: true, sortOrder: "Descending" } : {},
    };
  });
  const templating = d.envVariable
    ? [
        {
          name: "env",
          label: "Environment",
          type: "custom",
          query: "platform,private,public",
          includeAll: true,
          multi: true,
          allValue: ".*",
          current: { text: ["All"], value: ["$__all"] },
          options: [],
        },
      ]
    : [];
  return `${JSON.stringify(
    {
      uid: d.uid,
      title: d.title,
      description: d.description,
      tags: ["ai-dualstack"],
      editable: false,
      timezone: "browser",
      schemaVersion: 39,
      version: 1,
      refresh: "1m",
      time: { from: "now-6h", to: "now" },
      templating: { list: templating },
      annotations: { list: [] },
      panels,
    },
    null,
    2,
  )}\n`;
}
