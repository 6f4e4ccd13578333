import { guestEnvironment, isGuest, nicsOf } from "../support/guests";
import type { Rule } from "../support/policy";

export const nicInOwnZone: Rule = (t) => ({
  name: "nic-in-own-zone",
  description: "A guest's NICs use only its own environment's bridges.",
  reason: "A public guest on the private bridge reaches every private service directly; the zones are the network half of the isolation.",
  source: "security-and-dr.md rule 3; PVE pvesdn zones; HSE §1.2.2",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!isGuest(args.type)) return;
    const env = guestEnvironment(args.props);
    if (!env) return; // guest-environment-tag reports it
    const own = t.environments[env].bridges;
    nicsOf(args.type, args.props).forEach((nic, i) => {
      if (!nic.bridge || own.includes(nic.bridge)) return;
      const owner = Object.entries(t.environments).find(([, z]) => z.bridges.includes(nic.bridge!))?.[0];
      report(
        `${args.name} (env-${env}) NIC ${i} is on ${nic.bridge}${owner ? `, the ${owner} zone's bridge` : ""}; ${env} guests may use only ${own.join(", ")}`,
      );
    });
  },
});
