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
  const labels = `{ env = ${q(a.env)}, host = ${q(a.host)} }`;
  const journal = `// The systemd journal: unit and priority as labels.
loki.relabel "journal" {
  forward_to = []
  rule {
    source_labels = ["__journal__systemd_unit"]
    target_label  = "unit"
  }
  rule {
    source_labels = ["__journal_priority_keyword"]
    target_label  = "level"
  }
}

loki.source.journal "journal" {
  max_age       = "12h"
  relabel_rules = loki.relabel.journal.rules
  labels        = ${labels.replace(" }", `, job = "journal" }`)}
  forward_to    = [loki.write.gateway.receiver]
}
`;
  const docker = `
// Every container's output, with its compose service and container name.
discovery.docker "containers" {
  host = "unix:///var/run/docker.sock"
}

discovery.relabel "containers" {
  targets = discovery.docker.containers.targets
  rule {
    source_labels = ["__meta_docker_container_name"]
    regex         = "/(.*)"
    target_label  = "container"
  }
  rule {
    source_labels = ["__meta_docker_container_label_com_docker_compose_service"]
    target_label  = "service"
  }
}

loki.source.docker "containers" {
  host          = "unix:///var/run/docker.sock"
  targets       = discovery.docker.containers.targets
  relabel_rules = discovery.relabel.containers.rules
  labels        = ${labels.replace(" }", `, job = "docker" }`)}
  forward_to    = [loki.write.gateway.receiver]
}
`;
  const write = `
// The environment's port of the log gateway (TLS 1.3, push only; the gateway sets the tenant).
loki.write "gateway" {
  endpoint {
    url = ${q(a.pushUrl)}
    tls_config {
      ca_file     = ${q(a.caFile)}
      min_version = "TLS13"
    }
  }
}
`;
  return `// Managed by ai-dualstack.\n${journal}${a.docker ? docker : ""}${write}`;
}
