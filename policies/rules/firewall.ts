import { environmentOfStack, firewallTarget, guestEnvironment, guestKey, inAnyCidr, isGuest, isTrue, nicsOf } from "../support/guests";
import type { Rule } from "../support/policy";
import { CLUSTER_FIREWALL, FIREWALL_OPTIONS, FIREWALL_RULES, SECURITY_GROUP } from "../support/types";

export const guestFirewallBaseline: Rule = () => ({
  name: "guest-firewall-baseline",
  description: "Every guest with a network interface has its firewall enabled with inbound DROP, MAC filter and IP filter.",
  reason: "Default-deny inbound per guest, and anti-spoofing so a guest cannot take another's address on the bridge.",
  source: "security-and-dr.md rule 8; PVE pve-firewall vm options",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const options = new Map<string, Record<string, any>>();
    for (const r of args.resources) if (r.type === FIREWALL_OPTIONS) options.set(firewallTarget(r.props) ?? "", r.props);
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

export const publicEgressRestricted: Rule = () => ({
  name: "public-egress-restricted",
  description: "Public guests drop outbound traffic except what their zone's allowlist accepts.",
  reason: "A compromised internet-facing guest should not reach anything it has no business reaching.",
  source: "security-and-dr.md rule 9; Vault production hardening (restrict egress)",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const options = new Map<string, Record<string, any>>();
    for (const r of args.resources) if (r.type === FIREWALL_OPTIONS) options.set(firewallTarget(r.props) ?? "", r.props);
    for (const g of args.resources) {
      if (!isGuest(g.type) || guestEnvironment(g.props) !== "public" || nicsOf(g.type, g.props).length === 0) continue;
      const o = options.get(guestKey(g.type, g.props) ?? "");
      if (o?.outputPolicy !== "DROP") report(`${g.name} (env-public) sends outbound traffic with policy ${o?.outputPolicy ?? "ACCEPT"}; expected DROP with an allowlist`, g.urn);
    }
  },
});

const ADMIN_PORTS = ["22", "8006", "3128"];
const ADMIN_MACROS = ["SSH"];

function portsOf(dport: unknown): string[] {
  // "22", "22,8006", "20:30" (a range)
  return String(dport ?? "").split(",").flatMap((p) => {
    const [a, b] = p.split(":").map((x) => Number(x.trim()));
    if (Number.isNaN(a)) return [];
    return ADMIN_PORTS.filter((port) => Number(port) >= a && Number(port) <= (b ?? a));
  });
}

export const adminPortsManagementOnly: Rule = (t) => ({
  name: "admin-ports-management-only",
  description: "No firewall rule opens SSH (22), the Proxmox API/UI (8006) or the SPICE proxy (3128) beyond the management IP set.",
  reason: "Administrative access from the zones or the internet is the shortest path to owning the host.",
  source: "security-and-dr.md rule 11; PVE management IPset; Checkov CKV_AWS_24",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== FIREWALL_RULES && args.type !== SECURITY_GROUP) return;
    // Proxmox applies the first matching rule: an earlier DROP/REJECT of a port from a source shadows later ACCEPTs.
    const denied = new Set<string>();
    for (const rule of args.props.rules ?? []) {
      if (rule.type !== "in" || rule.enabled === false || (rule.proto && rule.proto !== "tcp")) continue;
      const ports = rule.dport === undefined && rule.macro === undefined ? ADMIN_PORTS : [...portsOf(rule.dport), ...(ADMIN_MACROS.includes(rule.macro) ? ["22"] : [])];
      const src = String(rule.source ?? "");
      if (rule.action === "DROP" || rule.action === "REJECT") {
        for (const p of ports) denied.add(`${src}|${p}`);
        continue;
      }
      if (rule.action !== "ACCEPT") continue;
      const open = ports.filter((p) => !denied.has(`${src}|${p}`));
      const management = src === `+${t.management.ipset}` || (src !== "" && src.split(",").every((s) => inAnyCidr(s.split("/")[0], t.management.cidrs)));
      if (open.length > 0 && !management) report(`${args.name} opens ${open.join(", ")} to ${src || "everyone"} (${rule.comment ?? "no comment"}); admin ports only from +${t.management.ipset}`);
    }
  },
});

export const clusterFirewallEnabled: Rule = (t) => ({
  name: "cluster-firewall-enabled",
  description: "The host stack enables the cluster firewall with inbound DROP.",
  reason: "Without it no guest or host rule is enforced at all.",
  source: "security-and-dr.md rule 10; HSE §1.2.4–1.2.5",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const fws = args.resources.filter((r) => r.type === CLUSTER_FIREWALL);
    for (const fw of fws) {
      if (!isTrue(fw.props.enabled) || fw.props.inputPolicy !== "DROP") report(`${fw.name}: the cluster firewall must be enabled with inputPolicy DROP (enabled=${fw.props.enabled}, inputPolicy=${fw.props.inputPolicy ?? "ACCEPT"})`, fw.urn);
    }
    if (fws.length === 0 && environmentOfStack(t, args.resources) === "platform") report("the host stack manages no cluster firewall (cluster.FirewallLegacy)");
  },
});
