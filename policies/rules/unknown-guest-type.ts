import { GUEST_TYPES, looksLikeGuest } from "../support/types";
import type { Rule } from "../support/policy";

export const unknownGuestType: Rule = () => ({
  name: "unknown-guest-type",
  description: "Guests are only of the types this pack checks (VmLegacy, ContainerLegacy of proxmoxve 8.x).",
  reason:
    "Type tokens change with the provider's major version (7.x VirtualMachine → 8.x VmLegacy); a guest of a type the rules do not match would pass every one of them unchecked.",
  source: "proxmox.md §3 type tokens; security-and-dr.md rule 1",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (looksLikeGuest(args.type) && !(GUEST_TYPES as readonly string[]).includes(args.type)) {
      report(`${args.name} is a ${args.type}, a guest type this policy pack does not check; use ${GUEST_TYPES.join(" or ")}, or extend the pack`);
    }
  },
});
