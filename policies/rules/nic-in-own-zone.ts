import { guestEnvironment, isGuest, nicsOf } from "../support/guests";
import type { Rule } from "../support/policy";

export const nicBridgeExplicit: Rule = () => ({
  name: "nic-bridge-explicit",
  description: "Every guest NIC names its bridge explicitly.",
  reason: "The provider's default bridge is vmbr0, the management network.",
  source: "proxmox.md §4 risky defaults; security-and-dr.md rule 2",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!isGuest(args.type)) return;
    nicsOf(args.type, args.props).forEach((nic, i) => {
      if (!nic.bridge) report(`${args.name} NIC ${i} names no bridge, so Proxmox would put it on vmbr0 (management)`);
    });
  },
});

export const nicInOwnZone: Rule = (t) => ({
  name: "nic-in-own-zone",
  description: "A guest's NICs use only its own environment's bridges.",
  reason: "A public guest on the private bridge reaches every private service directly; the zones are the network half of the isolation.",
  source: "security-and-dr.md rule 3; PVE pvesdn zones; HSE §1.2.2",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!isGuest(args.type)) return;
    const env = guestEnvironment(args.props);
    if (!env) return; // guest-environment-tag reports it
    const own = t.environments[env].bridges;
    nicsOf(args.type, args.props).forEach((nic, i) => {
      if (!nic.bridge || own.includes(nic.bridge)) return;
      const owner = Object.entries(t.environments).find(([, z]) => z.bridges.includes(nic.bridge!))?.[0];
      report(`${args.name} (env-${env}) NIC ${i} is on ${nic.bridge}${owner ? `, the ${owner} zone's bridge` : ""}; ${env} guests may use only ${own.join(", ")}`);
    });
  },
});

export const noManagementNetwork: Rule = (t) => ({
  name: "no-management-network",
  description: "No guest NIC sits on the management network.",
  reason: "The management network reaches the Proxmox API and SSH of the host itself.",
  source: "security-and-dr.md rule 4; HSE §1.2.2, §1.3.1",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!isGuest(args.type)) return;
    nicsOf(args.type, args.props).forEach((nic, i) => {
      if (nic.bridge && t.management.bridges.includes(nic.bridge)) report(`${args.name} NIC ${i} is on the management bridge ${nic.bridge}`);
    });
  },
});

export const nicFirewallOn: Rule = () => ({
  name: "nic-firewall-on",
  description: "Every guest NIC has the Proxmox firewall on.",
  reason: "Without the per-NIC flag, the guest's firewall rules and anti-spoofing filters do not apply to that NIC; the provider's default is off.",
  source: "proxmox.md §4 (NIC firewall defaults to false); security-and-dr.md rule 7",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!isGuest(args.type)) return;
    nicsOf(args.type, args.props).forEach((nic, i) => {
      if (nic.firewall !== true) report(`${args.name} NIC ${i} (${nic.bridge ?? "no bridge"}) has the firewall off`);
    });
  },
});
