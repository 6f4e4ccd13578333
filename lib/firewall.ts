// Firewall rules as plain data: the cluster's own rules, one security group per guest zone, and the per-guest
// options. Shapes match the provider's RulesLegacyRule / OptionsLegacy arguments.
import { RESTIC_SFTP_PORT } from "./backup/restic";
import { LOG_GATEWAY_PORTS } from "./monitoring/loki";
import { EXPORTER_PORTS, SCRAPED_PORTS } from "./monitoring/prometheus";
import { PACKAGE_CACHE_PORT } from "./package-cache";
import { ENVIRONMENTS, type NetworksConfig } from "./config/schema";

export interface FirewallRule {
  type: "in" | "out";
  action?: "ACCEPT" | "DROP" | "REJECT";
  source?: string;
  dest?: string;
  proto?: "tcp" | "udp" | "icmp";
  dport?: string;
  macro?: string;
  comment: string;
}

/**
 * A rule that inserts a security group's rules at its place in the list. The provider takes the group's name alone
 * (bpg: `security_group` set, `type` and `action` left out): it sends type "group" to Proxmox itself, refuses any
 * `type` but in, out and forward, and reads the rule back without one.
 */
export interface SecurityGroupRule {
  securityGroup: string;
  comment: string;
}

export type GuestZone = "services" | "private" | "public";

/** The IP set that may reach SSH and the Proxmox API/UI; nothing else may. */
export const MANAGEMENT_IPSET = "management";
/** Ports that only the management IP set may reach (SSH, the Proxmox API and UI, SPICE proxy). */
export const ADMIN_PORTS = ["22", "8006", "3128"] as const;

export const securityGroupName = (zone: GuestZone) => `sg-${zone}`;

/** Rules on the host itself (datacenter level): admin ports from the management IP set only; its exporters from the monitoring container. */
export function clusterRules(monitoringIp: string): FirewallRule[] {
  return [
    ...ADMIN_PORTS.map((port): FirewallRule => ({
      type: "in",
      action: "ACCEPT",
      source: `+${MANAGEMENT_IPSET}`,
      proto: "tcp",
      dport: port,
      comment: `admin access to ${port} from the ${MANAGEMENT_IPSET} IP set`,
    })),
    { type: "in", action: "ACCEPT", source: `+${MANAGEMENT_IPSET}`, macro: "Ping", comment: "ping from the management IP set" },
    {
      type: "in",
      action: "ACCEPT",
      source: monitoringIp,
      proto: "tcp",
      dport: `${EXPORTER_PORTS.node},${EXPORTER_PORTS.pve}`,
      comment: "node and pve exporters from the monitoring container",
    },
  ];
}

/** Cluster-wide firewall options: on, inbound DROP. Outbound stays ACCEPT so the host can update itself. */
export const CLUSTER_FIREWALL = { enabled: true, inputPolicy: "DROP", outputPolicy: "ACCEPT", ebtables: true } as const;

/**
 * One security group per guest zone. Guests accept SSH from the management IP set and traffic from their own zone;
 * public guests also accept HTTPS (the ingress) from anywhere. The environments' guests may send only DNS, NTP, HTTPS,
 * their zone's traffic and the platform services they use.
 */
export function securityGroups(
  networks: NetworksConfig,
  monitoringIp: string,
  packageCacheIp: string,
  /** The alert receivers' ports (lib/monitoring/alertmanager.ts alertEgress): Alertmanager's only way out. */
  alertPorts: readonly number[] = [],
): Record<string, FirewallRule[]> {
  const common = (zone: GuestZone): FirewallRule[] => [
    { type: "in", action: "ACCEPT", source: `+${MANAGEMENT_IPSET}`, proto: "tcp", dport: "22", comment: "SSH from the management IP set" },
    // First match wins: admin ports are dropped from the zone before the rest of its traffic is accepted.
    ...ADMIN_PORTS.map((port): FirewallRule => ({
      type: "in",
      action: "DROP",
      source: networks[zone].cidr,
      proto: "tcp",
      dport: port,
      comment: `no admin access (${port}) from within the ${zone} zone`,
    })),
    { type: "in", action: "ACCEPT", source: networks[zone].cidr, comment: `traffic from the ${zone} zone` },
    { type: "in", action: "ACCEPT", source: `+${MANAGEMENT_IPSET}`, macro: "Ping", comment: "ping from the management IP set" },
    {
      type: "in",
      action: "ACCEPT",
      source: monitoringIp,
      proto: "tcp",
      dport: SCRAPED_PORTS.join(","),
      comment: "exporters scraped by the monitoring container",
    },
  ];
  // What an environment's guests may send: their renderers' declared egress (lib/environment-egress.ts: DNS, NTP,
  // https:// repositories, registries and ACME on 443, the distribution through the package cache) and the platform
  // services they use. Nothing else leaves either zone (the output policy is DROP).
  const environmentOut = (env: (typeof ENVIRONMENTS)[number]): FirewallRule[] => [
    { type: "out", action: "ACCEPT", dest: networks[env].gateway, proto: "udp", dport: "53", comment: "DNS via the zone gateway" },
    { type: "out", action: "ACCEPT", dest: networks[env].gateway, proto: "tcp", dport: "53", comment: "DNS via the zone gateway" },
    { type: "out", action: "ACCEPT", proto: "udp", dport: "123", comment: "NTP" },
    {
      type: "out",
      action: "ACCEPT",
      proto: "tcp",
      dport: "443",
      comment: "HTTPS egress (https:// package repositories, image registries, model registry, ACME)",
    },
    {
      type: "out",
      action: "ACCEPT",
      dest: packageCacheIp,
      proto: "tcp",
      dport: String(PACKAGE_CACHE_PORT),
      comment: "the platform's package cache: the zone's only way to the distribution's (http://) mirrors",
    },
    { type: "out", action: "ACCEPT", dest: networks[env].cidr, comment: `traffic within the ${env} zone` },
    { type: "out", action: "ACCEPT", dest: networks.services.cidr, proto: "tcp", dport: "8200", comment: "Vault in the services zone" },
    {
      type: "out",
      action: "ACCEPT",
      dest: networks.services.cidr,
      proto: "tcp",
      dport: String(RESTIC_SFTP_PORT),
      comment: "restic repositories (sftp-only daemon) in the services zone",
    },
    {
      type: "out",
      action: "ACCEPT",
      dest: monitoringIp,
      proto: "tcp",
      dport: String(LOG_GATEWAY_PORTS[env]),
      comment: `logs to the ${env} port of the log gateway`,
    },
  ];
  return {
    [securityGroupName("services")]: [
      ...common("services"),
      // The operators (and the stacks' programs they run) configure Vault and write secrets from the management network.
      { type: "in", action: "ACCEPT", source: `+${MANAGEMENT_IPSET}`, proto: "tcp", dport: "8200", comment: "Vault API from the management IP set" },
      // The environments reach platform services (Vault, metrics push, backups) through their gateways.
      { type: "in", action: "ACCEPT", source: networks.private.cidr, proto: "tcp", dport: "8200", comment: "Vault from the private zone" },
      { type: "in", action: "ACCEPT", source: networks.public.cidr, proto: "tcp", dport: "8200", comment: "Vault from the public zone" },
      // Each environment pushes its logs to its own port of the log gateway (which sets the tenant by port).
      {
        type: "in",
        action: "ACCEPT",
        dest: monitoringIp,
        source: networks.private.cidr,
        proto: "tcp",
        dport: String(LOG_GATEWAY_PORTS.private),
        comment: "log pushes from the private zone",
      },
      {
        type: "in",
        action: "ACCEPT",
        dest: monitoringIp,
        source: networks.public.cidr,
        proto: "tcp",
        dport: String(LOG_GATEWAY_PORTS.public),
        comment: "log pushes from the public zone",
      },
      {
        type: "in",
        action: "ACCEPT",
        source: `+${MANAGEMENT_IPSET}`,
        dest: monitoringIp,
        proto: "tcp",
        dport: "3000,9090,9093",
        comment: "Grafana, Prometheus and Alertmanager from the management IP set",
      },
      // What the platform's containers send (lib/platform-egress.ts declares what leaves the project's networks).
      { type: "out", action: "ACCEPT", dest: networks.services.gateway, proto: "udp", dport: "53", comment: "DNS via the zone gateway" },
      { type: "out", action: "ACCEPT", dest: networks.services.gateway, proto: "tcp", dport: "53", comment: "DNS via the zone gateway" },
      {
        type: "out",
        action: "ACCEPT",
        proto: "tcp",
        dport: "80",
        comment: "the distribution's archives (http://): the platform's containers fetch them directly, the package cache among them",
      },
      { type: "out", action: "ACCEPT", proto: "tcp", dport: "443", comment: "HTTPS egress (HashiCorp's and Grafana's repositories, the cicd images)" },
      ...(alertPorts.length > 0
        ? [
            {
              type: "out",
              action: "ACCEPT",
              source: monitoringIp,
              proto: "tcp",
              dport: [...new Set(alertPorts)].sort((a, b) => a - b).join(","),
              comment: "Alertmanager's receivers (platform.monitoring.alerts)",
            } satisfies FirewallRule,
          ]
        : []),
      { type: "out", action: "ACCEPT", dest: networks.services.cidr, comment: "traffic within the services zone" },
      {
        type: "out",
        action: "ACCEPT",
        source: monitoringIp,
        dest: networks.mgmt.cidr,
        proto: "tcp",
        dport: `${EXPORTER_PORTS.node},${EXPORTER_PORTS.pve}`,
        comment: "the nodes' node and pve exporters, scraped by the monitoring container",
      },
      ...ENVIRONMENTS.map((env): FirewallRule => ({
        type: "out",
        action: "ACCEPT",
        source: monitoringIp,
        dest: networks[env].cidr,
        proto: "tcp",
        dport: SCRAPED_PORTS.join(","),
        comment: `the ${env} zone's exporters, scraped by the monitoring container`,
      })),
    ],
    [securityGroupName("private")]: [...common("private"), ...environmentOut("private")],
    [securityGroupName("public")]: [
      ...common("public"),
      { type: "in", action: "ACCEPT", proto: "tcp", dport: "443", comment: "HTTPS ingress from anywhere" },
      ...environmentOut("public"),
    ],
  };
}

export interface GuestFirewallOptions {
  enabled: true;
  inputPolicy: "DROP";
  outputPolicy: "DROP";
  macfilter: true;
  ipfilter: true;
  dhcp: false;
  ndp: false;
  radv: false;
}

/**
 * Per-guest firewall options: on, inbound DROP, anti-spoofing, and outbound DROP: each zone's group admits what its
 * guests' renderers declare (lib/environment-egress.ts, lib/platform-egress.ts) and the project's own flows.
 */
export const GUEST_FIREWALL_OPTIONS: GuestFirewallOptions = {
  enabled: true,
  inputPolicy: "DROP",
  outputPolicy: "DROP",
  macfilter: true,
  ipfilter: true,
  dhcp: false,
  ndp: false,
  radv: false,
};

/**
 * The own rules of a platform container (beyond the services group): the environments reach the backup container's
 * sftp-only restic daemon (chrooted, key-only accounts) and the package cache.
 */
export function platformGuestRules(key: string, networks: NetworksConfig): FirewallRule[] | undefined {
  const fromEnvironments = (port: number, what: string) =>
    ENVIRONMENTS.map((env): FirewallRule => ({
      type: "in",
      action: "ACCEPT",
      source: networks[env].cidr,
      proto: "tcp",
      dport: String(port),
      comment: `${what} from the ${env} zone`,
    }));
  if (key === "backup") return fromEnvironments(RESTIC_SFTP_PORT, "restic (sftp-only daemon)");
  if (key === "packages") return fromEnvironments(PACKAGE_CACHE_PORT, "the package cache (apt-cacher-ng)");
  return undefined;
}

/** A guest's own rule list: its zone's security group, then rules of its own (the ports its services publish). */
export function guestRules(zone: GuestZone, own: FirewallRule[] = []): (SecurityGroupRule | FirewallRule)[] {
  return [{ securityGroup: securityGroupName(zone), comment: `rules of the ${zone} zone` }, ...own];
}
