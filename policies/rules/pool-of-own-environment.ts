import { guestEnvironment, isGuest } from "../support/guests";
import type { Rule } from "../support/policy";

export const poolOfOwnEnvironment: Rule = (t) => ({
  name: "pool-of-own-environment",
  description: "Every guest sits in its own environment's resource pool (the pool its token is scoped to).",
  reason: "Each environment's token reaches only its pool; a guest outside it escapes that boundary, or cannot be managed by its own token.",
  source: "security-and-dr.md rule 27; PVE pveum pools",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!isGuest(args.type)) return;
    const env = guestEnvironment(args.props);
    if (!env) return;
    const pools = t.environments[env].pools;
    if (!pools.includes(args.props.poolId))
      report(`${args.name} (env-${env}) is in pool ${JSON.stringify(args.props.poolId ?? null)}; expected one of ${pools.join(", ")}`);
  },
});
