import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerSpec } from "../lib/config/schema";
import type { FirewallRule, GuestZone } from "../lib/firewall";
import { guestTags, type GuestEnvironment } from "../lib/tags";
import { GuestFirewall } from "./guest-firewall";

export interface ServiceContainerArgs extends ContainerSpec {
  nodeName: string;
  hostname: string;
  /** What the container runs, as a tag ("postgres", "vault", …). */
  service: string;
  env: GuestEnvironment;
  stack: string;
  zone: GuestZone;
  poolId: pulumi.Input<string>;
  datastoreId: string;
  templateFileId: pulumi.Input<string>;
  bridge: string;
  gateway: string;
  nameservers?: string[];
  sshKeys: string[];
  /** Firewall rules beyond the zone's group (the service's port from the operators, for instance). */
  rules?: FirewallRule[];
}

/**
 * An LXC for a service: unprivileged, only allowlisted features, the data volume backed up with the guest, NIC on
 * its zone bridge with the firewall on, tags, Proxmox protection and Pulumi protect, a fixed VMID with
 * delete-before-replace.
 */
export class ServiceContainer extends pulumi.ComponentResource {
  public readonly vmId: number;
  public readonly hostname: string;
  public readonly address: string;
  /** The container resource, for ordering (installs over SSH wait for it). */
  public readonly container: proxmoxve.ContainerLegacy;

  constructor(name: string, args: ServiceContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:guest:ServiceContainer", name, {}, opts);
    const features = new Set(args.features);
    const ct = new proxmoxve.ContainerLegacy(
      `${name}-ct`,
      {
        nodeName: args.nodeName,
        vmId: args.vmId,
        description: `${args.service} for ${args.env}. Managed by ai-dualstack.`,
        poolId: args.poolId,
        tags: guestTags(args.env, args.stack, [args.service]),
        unprivileged: !args.privileged,
        features: { nesting: features.has("nesting"), keyctl: features.has("keyctl"), fuse: false, mknod: false },
        operatingSystem: { templateFileId: args.templateFileId, type: "debian" },
        cpu: { cores: args.cores },
        memory: { dedicated: args.memoryMiB, swap: args.swapMiB },
        disk: { datastoreId: args.datastoreId, size: args.diskGiB },
        mountPoints: args.data ? [{ volume: args.datastoreId, size: `${args.data.sizeGiB}G`, path: args.data.path, backup: true }] : [],
        networkInterfaces: [{ name: "eth0", bridge: args.bridge, firewall: args.nicFirewall }],
        initialization: {
          hostname: args.hostname,
          ipConfigs: [{ ipv4: { address: args.address, gateway: args.gateway } }],
          ...(args.nameservers ? { dns: { servers: args.nameservers } } : {}),
          userAccount: { keys: args.sshKeys },
        },
        startOnBoot: true,
        started: true,
        protection: true,
      },
      { parent: this, protect: true, deleteBeforeReplace: true },
    );

    new GuestFirewall(
      `${name}-firewall`,
      {
        nodeName: args.nodeName,
        containerId: args.vmId,
        zone: args.zone,
        address: args.address,
        rules: args.rules,
      },
      { parent: this, dependsOn: [ct] },
    );

    this.container = ct;
    this.vmId = args.vmId;
    this.hostname = args.hostname;
    this.address = args.address;
    this.registerOutputs({ vmId: this.vmId, hostname: this.hostname, address: this.address });
  }
}
