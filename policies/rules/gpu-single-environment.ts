import { guestEnvironment, hostpcisOf, isGuest } from "../support/guests";
import type { Rule } from "../support/policy";

export const gpuSingleEnvironment: Rule = () => ({
  name: "gpu-single-environment",
  description: "No GPU mapping is used by guests of two environments.",
  reason: "Each GPU is permanently assigned to one environment; sharing it would hand device memory between them.",
  source: "security-and-dr.md rule 6",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const users = new Map<string, Set<string>>();
    for (const r of args.resources) {
      if (!isGuest(r.type)) continue;
      const env = guestEnvironment(r.props) ?? "untagged";
      for (const p of hostpcisOf(r.props)) if (p.mapping) users.set(p.mapping, new Set([...(users.get(p.mapping) ?? []), env]));
    }
    for (const [mapping, envs] of users) if (envs.size > 1) report(`GPU mapping ${mapping} is used by guests of ${[...envs].sort().join(" and ")}`);
  },
});
