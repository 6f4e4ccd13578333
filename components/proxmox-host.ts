import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ipOf } from "../lib/net";
import { ENVIRONMENTS, type EnvironmentName, type HostConfig } from "../lib/config/schema";
import { datastoresFor, environmentSlice, mirrorPoolOf, type EnvironmentSlice } from "../lib/environment-slice";
import { ClusterFirewall } from "./cluster-firewall";
import { EnvironmentAccess } from "./environment-access";
import { GpuPassthrough } from "./gpu-passthrough";
import { StorageMirror } from "./storage-mirror";
import { ZoneNetwork } from "./zone-network";
import { arcMaxGiB } from "../lib/capacity/host-memory";
import { contentHash } from "../lib/cloud-init";
import { renderArcScript } from "../lib/zfs-arc";
import { alertEgress } from "../lib/monitoring/alertmanager";

export interface ProxmoxHostArgs {
  config: HostConfig;
  /** SSH private key for host preparation (a secret). */
  sshPrivateKey: pulumi.Input<string>;
}

/**
 * The Proxmox host itself: per node its storage mirrors, ZFS ARC maximum, zone networks and GPU passthrough; the
 * cluster firewall; and per environment a pool with its least-privilege API token.
 */
export class ProxmoxHost extends pulumi.ComponentResource {
  public readonly environments: Record<EnvironmentName, { slice: EnvironmentSlice; token: pulumi.Output<string> }>;

  constructor(name: string, args: ProxmoxHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:host:ProxmoxHost", name, {}, opts);
    const c = args.config;
    const mirrorTenants = new Map<string, string[]>();
    for (const env of ENVIRONMENTS) mirrorTenants.set(c.environments[env].mirror, [...(mirrorTenants.get(c.environments[env].mirror) ?? []), env]);
    mirrorTenants.set(c.platform.mirror, [...(mirrorTenants.get(c.platform.mirror) ?? []), "platform"]);

    const readiness: pulumi.Resource[] = [];
    for (const node of c.nodes) {
      const connection: command.types.input.remote.ConnectionArgs = {
        host: node.address,
        user: c.proxmox.ssh.username,
        privateKey: args.sshPrivateKey,
      };
      for (const [mirrorName, mirror] of Object.entries(node.mirrors)) {
        readiness.push(
          new StorageMirror(
            `${name}-${node.name}-${mirrorName}`,
            {
              nodeName: node.name,
              pool: mirror.pool,
              devices: mirror.devices,
              create: mirror.create,
              ashift: mirror.ashift,
              compression: mirror.compression,
              datasets: mirrorTenants.get(mirrorName) ?? [],
              connection,
            },
            { parent: this },
          ),
        );
      }
      // The ARC's maximum is part of the box's memory plan: PVE's own default depends on the release it was installed with.
      const arcScript = renderArcScript(arcMaxGiB(node) * 1024 ** 3);
      readiness.push(
        new command.remote.Command(`${name}-${node.name}-zfs-arc`, { connection, create: arcScript, triggers: [contentHash(arcScript)] }, { parent: this }),
      );
      for (const zone of ["services", "private", "public"] as const) {
        const z = c.networks[zone];
        readiness.push(
          new ZoneNetwork(
            `${name}-${node.name}-${zone}`,
            {
              nodeName: node.name,
              zone,
              uplink: c.networks.uplink,
              bridge: z.bridge,
              vlanId: z.vlanId,
              mtu: z.mtu,
            },
            { parent: this },
          ),
        );
      }
      if (node.gpus.length > 0) {
        readiness.push(
          new GpuPassthrough(
            `${name}-${node.name}-gpus`,
            {
              nodeName: node.name,
              nodeAddress: node.address,
              cpuVendor: node.cpuVendor,
              bootloader: node.bootloader,
              gpus: node.gpus,
              connection,
            },
            { parent: this },
          ),
        );
      }
    }
    readiness.push(
      new ClusterFirewall(
        `${name}-firewall`,
        {
          networks: c.networks,
          monitoringIp: ipOf(c.platform.containers.monitoring.address),
          packageCacheIp: ipOf(c.platform.containers.packages.address),
          alertPorts: alertEgress(c.platform.monitoring.alerts, "platform-monitoring").map((e) => e.port),
        },
        { parent: this },
      ),
    );

    const environments = {} as ProxmoxHost["environments"];
    for (const env of ENVIRONMENTS) {
      const access = c.environments[env];
      const gpuMappings = c.nodes
        .flatMap((n) => n.gpus)
        .filter((g) => g.environment === env)
        .map((g) => g.mapping);
      const stores = datastoresFor(mirrorPoolOf(c, access.mirror), env);
      const accessResource = new EnvironmentAccess(
        `${name}-${env}-access`,
        {
          env,
          pool: access.pool,
          bridge: c.networks[env].bridge,
          gpuMappings,
          datastores: [stores.guests, stores.files],
          nodes: c.nodes.map((n) => n.name),
          expires: access.tokenExpires,
        },
        { parent: this, dependsOn: readiness },
      );
      environments[env] = { slice: environmentSlice(c, env, accessResource.tokenId), token: accessResource.token };
    }
    this.environments = environments;
    // `dualstack drill restore` puts its scratch copies of the guests here, apart from every environment's pool.
    new proxmoxve.PoolLegacy(
      `${name}-drill-pool`,
      { poolId: c.backup.drill.pool, comment: "ai-dualstack restore drills: scratch copies, no network; removed after each drill" },
      { parent: this, dependsOn: readiness },
    );
    this.registerOutputs({ environments: this.environments });
  }
}
