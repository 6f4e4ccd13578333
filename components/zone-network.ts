import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";

export interface ZoneNetworkArgs {
  nodeName: pulumi.Input<string>;
  /** The zone this network carries: "services", "private" or "public". */
  zone: string;
  uplink: string;
  bridge: string;
  vlanId: number;
  mtu?: pulumi.Input<number>;
}

/**
 * A guest zone: an 802.1Q sub-interface of the uplink and a Linux bridge on it. The host has no address on the
 * bridge, so guests of the zone cannot reach the host through it; routing between zones is the gateway's job.
 */
export class ZoneNetwork extends pulumi.ComponentResource {
  public readonly bridge: string;
  public readonly vlanId: number;

  constructor(name: string, args: ZoneNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:host:ZoneNetwork", name, {}, opts);
    const vlanInterface = `${args.uplink}.${args.vlanId}`;
    const vlan = new proxmoxve.network.linux.Vlan(
      `${name}-vlan`,
      {
        nodeName: args.nodeName,
        name: vlanInterface,
        interface: args.uplink,
        vlan: args.vlanId,
        mtu: args.mtu,
        autostart: true,
        comment: `ai-dualstack ${args.zone} zone (VLAN ${args.vlanId})`,
      },
      { parent: this },
    );
    new proxmoxve.network.linux.Bridge(
      `${name}-bridge`,
      {
        nodeName: args.nodeName,
        name: args.bridge,
        ports: [vlanInterface],
        vlanAware: false,
        mtu: args.mtu,
        autostart: true,
        comment: `ai-dualstack ${args.zone} zone: no host address`,
      },
      { parent: this, dependsOn: [vlan] },
    );
    this.bridge = args.bridge;
    this.vlanId = args.vlanId;
    this.registerOutputs({ bridge: this.bridge, vlanId: this.vlanId });
  }
}
