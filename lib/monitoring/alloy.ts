// Grafana Alloy on every guest: the systemd journal (and, where Docker runs, every container's output) pushed to the
// log gateway of the guest's environment. Alloy replaces Promtail, which reached its end of life on 2026-03-02.
// Pure renderer of Alloy's configuration language.
import type { LogTenant } from "./loki";

export interface AlloyLayout {
  /** The environment's log gateway push URL: "https://10.10.0.12:3102/loki/api/v1/push". */
  pushUrl: string;
  /** The CA the gateway's certificate chains to (the platform CA). */
  caFile: string;
  /** Labels every line carries. */
  env: LogTenant;
  host: string;
  /** Whether the guest runs Docker: its containers' output is collected too. */
  docker: boolean;
}

const q = (s: string) => JSON.stringify(s);

export function renderAlloyConfig(a: AlloyLayout): string {
  if (!/^https:\/\/[0-9.]+:\d+\/loki\/api\/v1\/push$/.test(a.pushUrl)) throw new Error(`renderAlloyConfig: invalid push URL ${q(a.pushUrl)}`);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(a.host)) throw new Error(`renderAlloyConfig: invalid host name ${q(a.host)}`);
  if (!/^\/[A-Za-z0-9._/-]+$/.test(a.caFile)) throw new Error(`renderAlloyConfig: invalid CA path ${q(a.caFile)}`);
  // Written in the canonical form `alloy fmt` prints (tabs, a blank line before a nested block), which
  // scripts/alloy-syntax holds it to.
  const labels = (job: string) => `{env = ${q(a.env)}, host = ${q(a.host)}, job = ${q(job)}}`;
  const journal = `// The systemd journal: unit and priority as labels.
loki.relabel "journal" {
\tforward_to = []

\trule {
\t\tsource_labels = ["__journal__systemd_unit"]
\t\ttarget_label  = "unit"
\t}

\trule {
\t\tsource_labels = ["__journal_priority_keyword"]
\t\ttarget_label  = "level"
\t}
}

loki.source.journal "journal" {
\tmax_age       = "12h"
\trelabel_rules = loki.relabel.journal.rules
\tlabels        = ${labels("journal")}
\tforward_to    = [loki.write.gateway.receiver]
}
`;
  const docker = `
// Every container's output, with its compose service and container name.
discovery.docker "containers" {
\thost = "unix:///var/run/docker.sock"
}

discovery.relabel "containers" {
\ttargets = discovery.docker.containers.targets

\trule {
\t\tsource_labels = ["__meta_docker_container_name"]
\t\tregex         = "/(.*)"
\t\ttarget_label  = "container"
\t}

\trule {
\t\tsource_labels = ["__meta_docker_container_label_com_docker_compose_service"]
\t\ttarget_label  = "service"
\t}
}

loki.source.docker "containers" {
\thost          = "unix:///var/run/docker.sock"
\ttargets       = discovery.docker.containers.targets
\trelabel_rules = discovery.relabel.containers.rules
\tlabels        = ${labels("docker")}
\tforward_to    = [loki.write.gateway.receiver]
}
`;
  const write = `
// The environment's port of the log gateway (TLS 1.3, push only; the gateway sets the tenant).
loki.write "gateway" {
\tendpoint {
\t\turl = ${q(a.pushUrl)}

\t\ttls_config {
\t\t\tca_file     = ${q(a.caFile)}
\t\t\tmin_version = "TLS13"
\t\t}
\t}
}
`;
  return `// Managed by ai-dualstack.\n${journal}${a.docker ? docker : ""}${write}`;
}
