import { ipOf } from "../lib/net";
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { GUEST_FIREWALL_OPTIONS, guestRules, type FirewallRule, type GuestZone } from "../lib/firewall";

export interface GuestFirewallArgs {
  nodeName: pulumi.Input<string>;
  /** Exactly one of vmId / containerId. */
  vmId?: pulumi.Input<number>;
  containerId?: pulumi.Input<number>;
  zone: GuestZone;
  /** The guest's address: the only source address its NIC may use (ipfilter). */
  address: string;
  /** Rules of this guest beyond its zone's group (e.g. the ports its services publish). */
  rules?: FirewallRule[];
}

/**
 * A guest's own firewall: enabled, inbound DROP (public guests also outbound DROP), MAC and IP filters against
 * spoofing with an explicit `ipfilter-net0` set, and its zone's security group as its rules.
 */
export class GuestFirewall extends pulumi.ComponentResource {
  constructor(name: string, args: GuestFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:guest:GuestFirewall", name, {}, opts);
    if ((args.vmId === undefined) === (args.containerId === undefined)) {
      throw new Error(`GuestFirewall ${name}: give exactly one of vmId and containerId`);
    }
    const target = { nodeName: args.nodeName, vmId: args.vmId, containerId: args.containerId };
    const ip = ipOf(args.address);
    const ipset = new proxmoxve.firewall.IpsetLegacy(
      `${name}-ipfilter`,
      {
        ...target,
        name: "ipfilter-net0",
        comment: "the only source address net0 may use",
        cidrs: [{ name: ip }],
      },
      { parent: this },
    );
    const rules = new proxmoxve.firewall.RulesLegacy(`${name}-rules`, { ...target, rules: guestRules(args.zone, args.rules) }, { parent: this });
    new proxmoxve.firewall.OptionsLegacy(`${name}-options`, { ...target, ...GUEST_FIREWALL_OPTIONS }, { parent: this, dependsOn: [ipset, rules] });
    this.registerOutputs({});
  }
}
