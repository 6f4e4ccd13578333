import { guestEnvironment, isTrue, networkedGuestsWithOptions } from "../support/guests";
import type { Rule } from "../support/policy";

export const guestFirewallBaseline: Rule = () => ({
  name: "guest-firewall-baseline",
  description:
    "Every guest with a network interface has its firewall enabled with inbound and outbound DROP (its zone's group admits what it may send), MAC filter and IP filter.",
  reason:
    "Default-deny both ways per guest (a compromised guest reaches only what its zone declares), and anti-spoofing so a guest cannot take another's address on the bridge.",
  source: "security-and-dr.md rule 8; PVE pve-firewall vm options",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    for (const { guest: g, options: o } of networkedGuestsWithOptions(args.resources)) {
      if (!o) {
        report(`${g.name} has no firewall options: the guest firewall is off`, g.urn);
        continue;
      }
      const missing = [
        !isTrue(o.enabled) && "enabled",
        o.inputPolicy !== "DROP" && `inputPolicy DROP (is ${o.inputPolicy ?? "ACCEPT"})`,
        // The public guests' outbound policy is public-egress-restricted's, reported there.
        guestEnvironment(g.props) !== "public" && o.outputPolicy !== "DROP" && `outputPolicy DROP (is ${o.outputPolicy ?? "ACCEPT"})`,
        !isTrue(o.macfilter) && "macfilter",
        !isTrue(o.ipfilter) && "ipfilter",
      ].filter(Boolean);
      if (missing.length > 0) report(`${g.name}'s firewall lacks ${missing.join(", ")}`, g.urn);
    }
  },
});
