import { firewallOptionsByGuest, guestKey, isGuest, isTrue, nicsOf } from "../support/guests";
import type { Rule } from "../support/policy";

export const guestFirewallBaseline: Rule = () => ({
  name: "guest-firewall-baseline",
  description: "Every guest with a network interface has its firewall enabled with inbound DROP, MAC filter and IP filter.",
  reason: "Default-deny inbound per guest, and anti-spoofing so a guest cannot take another's address on the bridge.",
  source: "security-and-dr.md rule 8; PVE pve-firewall vm options",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const options = firewallOptionsByGuest(args.resources);
    for (const g of args.resources) {
      if (!isGuest(g.type) || nicsOf(g.type, g.props).length === 0) continue; // no NIC, nothing to filter
      const o = options.get(guestKey(g.type, g.props) ?? "");
      if (!o) {
        report(`${g.name} has no firewall options: the guest firewall is off`, g.urn);
        continue;
      }
      const missing = [
        !isTrue(o.enabled) && "enabled",
        o.inputPolicy !== "DROP" && `inputPolicy DROP (is ${o.inputPolicy ?? "ACCEPT"})`,
        !isTrue(o.macfilter) && "macfilter",
        !isTrue(o.ipfilter) && "ipfilter",
      ].filter(Boolean);
      if (missing.length > 0) report(`${g.name}'s firewall lacks ${missing.join(", ")}`, g.urn);
    }
  },
});
