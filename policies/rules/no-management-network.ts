import { isGuest, nicsOf } from "../support/guests";
import type { Rule } from "../support/policy";

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
