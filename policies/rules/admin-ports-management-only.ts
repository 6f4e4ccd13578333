import { inAnyCidr } from "../support/guests";
import type { Rule } from "../support/policy";
import { FIREWALL_RULES, SECURITY_GROUP } from "../support/types";

/** Default knob: SSH, the Proxmox API/UI and the SPICE proxy. */
export const ADMIN_PORTS = ["22", "8006", "3128"];
const ADMIN_MACROS = ["SSH"];

function portsOf(dport: unknown, adminPorts: string[]): string[] {
  // "22", "22,8006", "20:30" (a range)
  return String(dport ?? "")
    .split(",")
    .flatMap((p) => {
      const [a, b] = p.split(":").map((x) => Number(x.trim()));
      if (Number.isNaN(a)) return [];
      return adminPorts.filter((port) => Number(port) >= a && Number(port) <= (b ?? a));
    });
}

export const adminPortsManagementOnly: Rule = (t) => ({
  name: "admin-ports-management-only",
  description: "No firewall rule opens SSH (22), the Proxmox API/UI (8006) or the SPICE proxy (3128) beyond the management IP set.",
  reason: "Administrative access from the zones or the internet is the shortest path to owning the host.",
  source: "security-and-dr.md rule 11; PVE management IPset; Checkov CKV_AWS_24",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      ports: {
        type: "array",
        items: { type: "string", pattern: "^[0-9]+$" },
        default: ADMIN_PORTS,
        description: "TCP ports only the management IP set may reach",
      },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== FIREWALL_RULES && args.type !== SECURITY_GROUP) return;
    const adminPorts = args.getConfig<{ ports?: string[] }>().ports ?? ADMIN_PORTS;
    // Proxmox applies the first matching rule: an earlier DROP/REJECT of a port from a source shadows later ACCEPTs.
    const denied = new Set<string>();
    for (const rule of args.props.rules ?? []) {
      if (rule.type !== "in" || rule.enabled === false || (rule.proto && rule.proto !== "tcp")) continue;
      const ports =
        rule.dport === undefined && rule.macro === undefined
          ? adminPorts
          : [...portsOf(rule.dport, adminPorts), ...(ADMIN_MACROS.includes(rule.macro) && adminPorts.includes("22") ? ["22"] : [])];
      const src = String(rule.source ?? "");
      if (rule.action === "DROP" || rule.action === "REJECT") {
        for (const p of ports) denied.add(`${src}|${p}`);
        continue;
      }
      if (rule.action !== "ACCEPT") continue;
      const open = ports.filter((p) => !denied.has(`${src}|${p}`));
      const management = src === `+${t.management.ipset}` || (src !== "" && src.split(",").every((s) => inAnyCidr(s.split("/")[0], t.management.cidrs)));
      if (open.length > 0 && !management)
        report(`${args.name} opens ${open.join(", ")} to ${src || "everyone"} (${rule.comment ?? "no comment"}); admin ports only from +${t.management.ipset}`);
    }
  },
});
