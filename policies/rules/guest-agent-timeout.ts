import { isTrue } from "../support/guests";
import type { Rule } from "../support/policy";
import { VM } from "../support/types";

export const guestAgentTimeout: Rule = () => ({
  name: "guest-agent-timeout",
  description: "A VM that uses the QEMU guest agent sets a timeout for it.",
  reason: "With the agent enabled but not answering, create, refresh and destroy hang for about 15 minutes.",
  source: "proxmox.md pain point 6 (bpg#449, #669, #2079, #2084)",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== VM) return;
    const agent = args.props.agent;
    if (isTrue(agent?.enabled) && !agent?.timeout) report(`${args.name} enables the guest agent without a timeout`);
  },
});
