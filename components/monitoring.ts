import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { EXPORTER_PORTS, type TargetGroup } from "../lib/monitoring/prometheus";
import { renderMonitoringInstallScript, renderNodeExporterInstallScript } from "../lib/monitoring/server";
import { stdinBundle } from "../lib/shell";

export interface MonitoredGuest {
  key: string;
  ip: string;
  env: string;
  stack: string;
  service: string;
}

export interface MonitoringArgs {
  /** The monitoring container's address and data volume. */
  ip: string;
  dataPath: string;
  /** SSH to the platform containers as root. */
  connection: (ip: string) => command.types.input.remote.ConnectionArgs;
  /** The guests this stack runs: each gets a node exporter, and a target. */
  guests: MonitoredGuest[];
  proxmoxNodes: string[];
  tlsEndpoints: string[];
  /** CA certificates the TLS probes trust (the platform CA, the environments' CAs). */
  caCerts: pulumi.Input<string>[];
  scrapeInterval: string;
  retention: string;
}

/**
 * Prometheus, Alertmanager and the exporters in the monitoring LXC (lib/monitoring), configured over SSH from the
 * inventory: the platform's guests as node targets (each gets its node exporter), the Proxmox nodes, the TLS
 * endpoints. Environment guests join through discovery files in /etc/prometheus/targets.
 */
export class Monitoring extends pulumi.ComponentResource {
  public readonly prometheusUrl: string;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:monitoring:Monitoring", name, {}, opts);
    const exporters = args.guests.map((g) => new command.remote.Command(`${name}-${g.key}-node-exporter`, {
      connection: args.connection(g.ip),
      create: renderNodeExporterInstallScript(),
    }, { parent: this }));
    const targets: Record<string, TargetGroup[]> = {
      "node-platform": args.guests.map((g) => ({ targets: [`${g.ip}:${EXPORTER_PORTS.node}`], labels: { env: g.env, stack: g.stack, service: g.service } })),
    };
    new command.remote.Command(`${name}-install`, {
      connection: args.connection(args.ip),
      create: renderMonitoringInstallScript({
        scrapeInterval: args.scrapeInterval,
        evaluationInterval: args.scrapeInterval,
        proxmoxNodes: args.proxmoxNodes,
        tlsEndpoints: args.tlsEndpoints,
        retention: args.retention,
        dataDir: args.dataPath,
        targets,
      }),
      stdin: pulumi.all(args.caCerts).apply((pems) => stdinBundle({ pems })),
    }, { parent: this, dependsOn: exporters });
    this.prometheusUrl = `http://${args.ip}:${EXPORTER_PORTS.prometheus}`;
    this.registerOutputs({ prometheusUrl: this.prometheusUrl });
  }
}
