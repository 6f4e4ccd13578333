import { guestEnvironment, networkedGuestsWithOptions } from "../support/guests";
import type { Rule } from "../support/policy";

export const publicEgressRestricted: Rule = () => ({
  name: "public-egress-restricted",
  description: "Public guests drop outbound traffic except what their zone's allowlist accepts.",
  reason: "A compromised internet-facing guest should not reach anything it has no business reaching.",
  source: "security-and-dr.md rule 9; Vault production hardening (restrict egress)",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    for (const { guest: g, options: o } of networkedGuestsWithOptions(args.resources)) {
      if (guestEnvironment(g.props) !== "public") continue;
      if (o?.outputPolicy !== "DROP")
        report(`${g.name} (env-public) sends outbound traffic with policy ${o?.outputPolicy ?? "ACCEPT"}; expected DROP with an allowlist`, g.urn);
    }
  },
});
