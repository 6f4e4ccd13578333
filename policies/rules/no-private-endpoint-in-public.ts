import { addressesIn, environmentOfStack, inAnyCidr } from "../support/guests";
import type { Rule } from "../support/policy";

export const noPrivateEndpointInPublic: Rule = (t) => ({
  name: "no-private-endpoint-in-public",
  description: "Nothing in the public environment references an address of the private zone.",
  reason: "A public service configured with a private endpoint is a bridge across the isolation, whatever the firewall says today.",
  source: "security-and-dr.md rule 16",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    if (environmentOfStack(t, args.resources) !== "public") return;
    for (const r of args.resources) {
      const hits = [...new Set(addressesIn(r.props).filter((a) => inAnyCidr(a, t.environments.private.cidrs)))];
      if (hits.length > 0) report(`${r.name} (${r.type}) references the private zone's ${hits.join(", ")}`, r.urn);
    }
  },
});
