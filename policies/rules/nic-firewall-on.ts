import { isGuest, nicsOf } from "../support/guests";
import type { Rule } from "../support/policy";

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
