import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { HostConfig } from "../lib/config/schema";
import { renderHostMonitoringScript } from "../lib/monitoring/discovery";
import { GRAFANA_PORT } from "../lib/monitoring/grafana";
import { LOG_GATEWAY_PORTS, LOKI_PUSH_PATH } from "../lib/monitoring/loki";
import { EXPORTER_PORTS, type TargetGroup } from "../lib/monitoring/prometheus";
import { monitoringBundle, renderMonitoringInstallScript } from "../lib/monitoring/server";
import { renderAlertmanagerConfig, renderAlertmanagerScript, type AlertSecrets } from "../lib/monitoring/alertmanager";
import { renderTelemetryInstallScript } from "../lib/monitoring/telemetry";
import { stdinBundle } from "../lib/shell";
import type { CertificateAuthority } from "./certificate-authority";
import { keptPassword, type SecretKeeper } from "./kept-secrets";

export interface MonitoredGuest {
  key: string;
  hostname: string;
  ip: string;
  stack: string;
  service: string;
  /** The compose project the guest runs in Docker (the cicd container with Gitea): its containers' logs, cAdvisor
   * and the service probe; set up once Docker is there (`after`). */
  compose?: { project: string; after: pulumi.Resource };
}

export interface MonitoringArgs {
  /** The monitoring container: its address, VMID and data volume. */
  ip: string;
  vmId: number;
  dataPath: string;
  /** SSH as root to the platform containers and to the Proxmox nodes. */
  connection: (ip: string) => command.types.input.remote.ConnectionArgs;
  /** The platform's guests: each gets node exporter and Alloy, and a target. */
  guests: MonitoredGuest[];
  /** The Proxmox nodes; the discovery runs on `platformNode` (pct push reaches its containers only). */
  nodes: { name: string; address: string }[];
  platformNode: string;
  tlsEndpoints: string[];
  /** The platform CA: Grafana's and the log gateway's certificates; the TLS probes trust it and `caCerts`. */
  ca: CertificateAuthority;
  caCerts: pulumi.Input<string>[];
  settings: HostConfig["platform"]["monitoring"];
  /** The alert receivers' secrets: the webhook and heartbeat URLs, the SMTP password. */
  alertSecrets: pulumi.Input<AlertSecrets>;
  /** Where Grafana's admin password is kept (it is set in Grafana's database at its first start). */
  keeper?: SecretKeeper;
}

/** The read-only identity of the node's exporter: a PVE user and a privilege-separated token with PVEAuditor on /. */
export const MONITORING_USER = "ai-dualstack-monitoring@pve";

/**
 * Monitoring from the inventory: Prometheus, Alertmanager, Loki, Grafana and the log gateway in the monitoring LXC
 * (lib/monitoring); on each Proxmox node its exporters and, on the platform's node, the discovery of the
 * environments' guests; on every platform guest node exporter and Alloy.
 */
export class Monitoring extends pulumi.ComponentResource {
  public readonly prometheusUrl: string;
  public readonly grafanaUrl: string;
  /** Grafana's admin password (secret): set on Grafana's first start. */
  public readonly grafanaAdminPassword: pulumi.Output<string>;
  /** Per environment, the log gateway's push URL. */
  public readonly logPushUrls: Record<keyof typeof LOG_GATEWAY_PORTS, string>;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:monitoring:Monitoring", name, {}, opts);
    const s = args.settings;
    this.logPushUrls = Object.fromEntries(
      Object.entries(LOG_GATEWAY_PORTS).map(([tenant, port]) => [tenant, `https://${args.ip}:${port}${LOKI_PUSH_PATH}`]),
    ) as Monitoring["logPushUrls"];

    // Every platform guest: node exporter and Alloy, pushing to the platform's port of the log gateway.
    const exporters = args.guests.map(
      (g) =>
        new command.remote.Command(
          `${name}-${g.key}-telemetry`,
          {
            connection: args.connection(g.ip),
            create: renderTelemetryInstallScript({
              tenant: "platform",
              host: g.hostname,
              ip: g.ip,
              pushUrl: this.logPushUrls.platform,
              alloyVersion: s.alloyVersion,
              aptKeyFingerprints: s.aptKeyFingerprints,
              docker: g.compose !== undefined,
              cadvisor: false,
              composeProject: g.compose?.project,
            }),
            stdin: args.ca.certPem,
          },
          { parent: this, dependsOn: g.compose ? [g.compose.after] : [] },
        ),
    );

    // The nodes: node exporter, prometheus-pve-exporter with a read-only token, the discovery on the platform's node.
    const user = new proxmoxve.UserLegacy(
      `${name}-pve-user`,
      { userId: MONITORING_USER, comment: "ai-dualstack monitoring (read-only)", enabled: true },
      { parent: this },
    );
    const token = new proxmoxve.user.Token(
      `${name}-pve-token`,
      { userId: user.userId, tokenName: "exporter", privilegesSeparation: true, comment: "prometheus-pve-exporter (read-only)" },
      { parent: this },
    );
    const acl = new proxmoxve.Acl(
      `${name}-pve-acl`,
      { path: "/", roleId: "PVEAuditor", propagate: true, tokenId: pulumi.interpolate`${MONITORING_USER}!exporter` },
      { parent: this, dependsOn: [token] },
    );
    for (const node of args.nodes) {
      new command.remote.Command(
        `${name}-${node.name}-host-monitoring`,
        {
          connection: args.connection(node.address),
          create: renderHostMonitoringScript({
            address: node.address,
            pveExporterVersion: s.pveExporterVersion,
            discovery: node.name === args.platformNode,
            monitoringVmId: args.vmId,
          }),
          stdin: pulumi.secret(token.value.apply((v) => stdinBundle({ secretLine: v, pems: [] }))),
        },
        { parent: this, dependsOn: [acl], additionalSecretOutputs: ["stdin"] },
      );
    }

    const password = keptPassword(`${name}-grafana-admin-password`, 32, args.keeper, this);
    const grafanaCert = args.ca.issue("grafana", { commonName: "platform-grafana", ipAddresses: [args.ip], dnsNames: ["platform-monitoring"] });
    const gatewayCert = args.ca.issue("log-gateway", { commonName: "platform-log-gateway", ipAddresses: [args.ip], dnsNames: ["platform-monitoring"] });
    const targets: Record<string, TargetGroup[]> = {
      "node-platform": [
        ...args.guests.map((g) => ({
          targets: [`${g.ip}:${EXPORTER_PORTS.node}`],
          labels: { env: "platform", stack: g.stack, service: g.service, guest: g.hostname },
        })),
        ...args.nodes.map((n) => ({ targets: [`${n.address}:${EXPORTER_PORTS.node}`], labels: { env: "platform", service: "proxmox", guest: n.name } })),
      ],
    };
    const install = new command.remote.Command(
      `${name}-install`,
      {
        connection: args.connection(args.ip),
        create: renderMonitoringInstallScript({
          ip: args.ip,
          scrapeInterval: s.scrapeInterval,
          evaluationInterval: s.scrapeInterval,
          proxmoxNodes: args.nodes.map((n) => n.address),
          tlsEndpoints: [...args.tlsEndpoints, `${args.ip}:${GRAFANA_PORT}`, `${args.ip}:${LOG_GATEWAY_PORTS.platform}`],
          retention: s.retention,
          logRetention: s.logRetention,
          dataDir: args.dataPath,
          targets,
          versions: { grafana: s.grafanaVersion, loki: s.lokiVersion },
          aptKeyFingerprints: s.aptKeyFingerprints,
        }),
        stdin: pulumi.secret(
          pulumi
            .all([password, grafanaCert.keyPem, grafanaCert.certPem, gatewayCert.keyPem, gatewayCert.certPem, pulumi.all(args.caCerts)])
            .apply(([pw, gk, gc, lk, lc, cas]) =>
              monitoringBundle({ grafanaPassword: pw, grafana: { keyPem: gk, certPem: gc }, logGateway: { keyPem: lk, certPem: lc }, caCerts: cas }),
            ),
        ),
      },
      { parent: this, dependsOn: exporters, additionalSecretOutputs: ["stdin"] },
    );

    // Alertmanager's receivers: a command of their own, so that a changed receiver rewrites only its file.
    new command.remote.Command(
      `${name}-alerts`,
      {
        connection: args.connection(args.ip),
        create: renderAlertmanagerScript(args.dataPath),
        stdin: pulumi.secret(pulumi.output(args.alertSecrets).apply((secrets) => renderAlertmanagerConfig(s.alerts, secrets))),
      },
      { parent: this, dependsOn: [install], additionalSecretOutputs: ["stdin"] },
    );

    this.prometheusUrl = `http://${args.ip}:${EXPORTER_PORTS.prometheus}`;
    this.grafanaUrl = `https://${args.ip}:${GRAFANA_PORT}`;
    this.grafanaAdminPassword = password;
    this.registerOutputs({
      prometheusUrl: this.prometheusUrl,
      grafanaUrl: this.grafanaUrl,
      grafanaAdminPassword: this.grafanaAdminPassword,
      logPushUrls: this.logPushUrls,
    });
  }
}
