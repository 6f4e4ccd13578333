import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { NetworksConfig } from "../lib/config/schema";
import { CLUSTER_FIREWALL, MANAGEMENT_IPSET, clusterRules, securityGroups } from "../lib/firewall";

export interface ClusterFirewallArgs {
  networks: NetworksConfig;
  /** The monitoring container's address: it scrapes the host's and the guests' exporters. */
  monitoringIp: string;
  /** The platform's package cache: the public zone may reach it. */
  packageCacheIp: string;
  /** The alert receivers' ports, which the monitoring container may reach. */
  alertPorts?: number[];
}

/**
 * The datacenter firewall: enabled with inbound DROP, a `management` IP set that alone reaches SSH and the API/UI,
 * and one security group per guest zone that the guests' own firewalls reference.
 */
export class ClusterFirewall extends pulumi.ComponentResource {
  public readonly securityGroups: string[];

  constructor(name: string, args: ClusterFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:host:ClusterFirewall", name, {}, opts);
    const ipset = new proxmoxve.firewall.IpsetLegacy(
      `${name}-ipset-${MANAGEMENT_IPSET}`,
      {
        name: MANAGEMENT_IPSET,
        comment: "admin access to SSH and the Proxmox API/UI (ai-dualstack)",
        cidrs: args.networks.mgmt.adminCidrs.map((c) => ({ name: c, comment: "admin network" })),
      },
      { parent: this },
    );
    const groups = Object.entries(securityGroups(args.networks, args.monitoringIp, args.packageCacheIp, args.alertPorts)).map(
      ([groupName, rules]) =>
        new proxmoxve.cluster.firewall.security.GroupLegacy(
          `${name}-${groupName}`,
          {
            name: groupName,
            comment: `ai-dualstack ${groupName}`,
            rules,
          },
          { parent: this, dependsOn: [ipset] },
        ),
    );
    // Rules first, then the firewall itself: enabling DROP before the admin rules exist would lock us out.
    const rules = new proxmoxve.firewall.RulesLegacy(`${name}-rules`, { rules: clusterRules(args.monitoringIp) }, { parent: this, dependsOn: [ipset] });
    new proxmoxve.cluster.FirewallLegacy(`${name}-options`, { ...CLUSTER_FIREWALL }, { parent: this, dependsOn: [rules, ...groups] });
    this.securityGroups = Object.keys(securityGroups(args.networks, args.monitoringIp, args.packageCacheIp, args.alertPorts));
    this.registerOutputs({ securityGroups: this.securityGroups });
  }
}
