import { guestEnvironment, hostpcisOf } from "../support/guests";
import type { Rule } from "../support/policy";
import { VM } from "../support/types";

export const gpuOfOwnEnvironment: Rule = (t) => ({
  name: "gpu-of-own-environment",
  description: "A guest uses only the GPU mappings of its own environment; the private GPU never appears in a public guest.",
  reason: "A passed-through device belongs to one guest; GPU memory may keep data across a hand-over, so each environment keeps its own card.",
  source: "security-and-dr.md rule 6; PVE qm-pci-passthrough.adoc",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== VM) return;
    const env = guestEnvironment(args.props);
    if (!env) return;
    for (const p of hostpcisOf(args.props)) {
      if (!p.mapping || t.environments[env].gpuMappings.includes(p.mapping)) continue;
      const owner = Object.entries(t.environments).find(([, z]) => z.gpuMappings.includes(p.mapping!))?.[0];
      report(
        `${args.name} (env-${env}) uses the GPU mapping ${p.mapping}${owner ? `, which belongs to the ${owner} environment` : ", which no environment owns"}`,
      );
    }
  },
});
