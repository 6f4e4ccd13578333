import { environmentsOf } from "../../lib/tags";
import { isGuest } from "../support/guests";
import type { Rule } from "../support/policy";

export const guestEnvironmentTag: Rule = (t) => ({
  name: "guest-environment-tag",
  description: "Every guest carries exactly one environment tag (env-platform|env-private|env-public), matching its stack.",
  reason: "Every other isolation rule reads the environment from this tag; a guest without one, or with two, escapes them.",
  source: "security-and-dr.md rule 1; compliance-policies metadata pattern",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!isGuest(args.type)) return;
    const tags: string[] = Array.isArray(args.props.tags) ? args.props.tags : [];
    const envs = environmentsOf(tags);
    if (envs.length !== 1) return report(`${args.name} carries ${envs.length} environment tags (${envs.join(", ") || "none"}); exactly one is required`);
    if (!(envs[0] in t.environments)) return report(`${args.name} has the unknown environment "${envs[0]}"; known: ${Object.keys(t.environments).join(", ")}`);
    const stack = tags.find((x) => x.startsWith("stack-"))?.slice("stack-".length);
    const expected = stack === undefined ? undefined : t.stacks[stack];
    if (expected !== undefined && expected !== envs[0])
      report(`${args.name} is tagged env-${envs[0]} but belongs to stack ${stack}, whose guests are env-${expected}`);
  },
});
