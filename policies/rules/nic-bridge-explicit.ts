import { isGuest, nicsOf } from "../support/guests";
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
