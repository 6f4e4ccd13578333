import { isTrue } from "../support/guests";
import type { Rule } from "../support/policy";
import { PROXMOX_PROVIDER } from "../support/types";

export const providerTls: Rule = () => ({
  name: "provider-tls",
  description: "The Proxmox provider talks HTTPS with certificate verification on and a minimum TLS version.",
  reason: "An API token sent over an unverified connection is one machine-in-the-middle away from the whole host.",
  source: "security-and-dr.md rule 20; HSE §2.3.1",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== PROXMOX_PROVIDER) return;
    if (isTrue(args.props.insecure)) report(`${args.name} skips TLS verification (insecure: true)`);
    if (!args.props.minTls) report(`${args.name} sets no minimum TLS version (minTls)`);
    if (args.props.endpoint && !String(args.props.endpoint).startsWith("https://")) report(`${args.name} uses ${args.props.endpoint}; expected https://`);
  },
});
