import { hostpcisOf } from "../support/guests";
import type { Rule } from "../support/policy";
import { VM } from "../support/types";

export const pciThroughMapping: Rule = () => ({
  name: "pci-through-mapping",
  description: "PCI devices reach guests only through cluster resource mappings, never by raw id.",
  reason: "A raw hostpci id bypasses Mapping.Use (the token could pass any device through) and needs root@pam; a mapping also detects hardware changes.",
  source: "security-and-dr.md rule 5; PVE qm.adoc resource mapping; bpg#495",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== VM) return;
    for (const p of hostpcisOf(args.props)) {
      if (p.id || !p.mapping)
        report(`${args.name} ${p.device ?? "hostpci"} uses ${p.id ? `the raw PCI id ${p.id}` : "no mapping"}; use a hardware.mapping.Pci`);
    }
  },
});
