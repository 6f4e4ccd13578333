// Views of a plan: a readable tree with each resource's key settings, counts per type, and the JSON form.
// Pure functions over a PlanResult.
import type { PlanResult, PlannedResource } from "./engine";

/** Short type names: "proxmoxve:index/vmLegacy:VmLegacy" → "proxmoxve:VmLegacy". */
export function shortType(type: string): string {
  const dynamic = /^pulumi-nodejs:dynamic\/([^:]+):(.+)$/.exec(type);
  if (dynamic) return `dynamic:${dynamic[1]}:${dynamic[2]}`;
  const parts = type.split(":");
  return parts.length === 3 ? `${parts[0]}:${parts[2]}` : type;
}

const KEY_SETTINGS = [
  "name",
  "vmId",
  "containerId",
  "nodeName",
  "poolId",
  "resourceId",
  "zfsPool",
  "path",
  "roleId",
  "userId",
  "tokenName",
  "privilegesSeparation",
  "expirationDate",
  "unprivileged",
  "protection",
  "enabled",
  "inputPolicy",
  "outputPolicy",
  "macfilter",
  "ipfilter",
  "contentType",
  "fileName",
  "datastoreId",
  "raidlevel",
  "interface",
  "vlan",
  "ports",
  "machine",
  "bios",
  "started",
] as const;

function scalar(v: unknown): string | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === "string" || typeof x === "number")) return v.length ? `[${v.join(",")}]` : undefined;
  return undefined;
}

/** The settings worth seeing at a glance, including the security-relevant nested ones. */
export function keySettings(r: PlannedResource): string[] {
  const i = r.inputs;
  if (r.read) return [`reads ${String(i.id)}`];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const k of KEY_SETTINGS) {
    const v = scalar(i[k]);
    if (v !== undefined && !seen.has(k)) {
      out.push(`${k}=${v}`);
      seen.add(k);
    }
  }
  const nics = (i.networkDevices ?? i.networkInterfaces) as { bridge?: string; firewall?: boolean }[] | undefined;
  if (Array.isArray(nics)) for (const n of nics) out.push(`nic=${n.bridge ?? "(default vmbr0)"}${n.firewall ? "+fw" : " NO-FIREWALL"}`);
  const pcis = i.hostpcis as { mapping?: string; id?: string }[] | undefined;
  if (Array.isArray(pcis)) for (const p of pcis) out.push(`gpu=${p.mapping ? `mapping:${p.mapping}` : `raw:${p.id}`}`);
  const mem = i.memory as { dedicated?: number } | undefined;
  if (mem?.dedicated) out.push(`memory=${mem.dedicated}MiB`);
  const cpu = i.cpu as { cores?: number; type?: string } | undefined;
  if (cpu?.cores) out.push(`cpu=${cpu.cores}${cpu.type ? `x${cpu.type}` : ""}`);
  const tags = i.tags as string[] | undefined;
  const env = Array.isArray(tags) ? tags.find((t) => t.startsWith("env-")) : undefined;
  if (env) out.push(env);
  // A container's published ports (a bridge's `ports` are its interfaces' names, shown above as ports=[…]).
  const ports = i.ports as unknown[] | undefined;
  if (Array.isArray(ports)) {
    for (const p of ports) {
      if (typeof p !== "object" || p === null || !("internal" in p)) continue;
      const { ip, external, internal } = p as { ip?: string; external?: number; internal: number };
      out.push(`publish=${ip ?? "*"}:${external ?? "(any)"}->${internal}`);
    }
  }
  if (i.gpus) out.push(`gpus=${String(i.gpus)}`);
  if (typeof i.from === "string") out.push(`from=${i.from}`);
  const rules = i.rules as unknown[] | undefined;
  if (Array.isArray(rules)) out.push(`rules=${rules.length}`);
  const maps = i.maps as { path?: string; iommuGroup?: number }[] | undefined;
  if (Array.isArray(maps)) for (const m of maps) out.push(`pci=${m.path} iommu=${m.iommuGroup}`);
  return out;
}

export function countsByType(plan: PlanResult): [string, number][] {
  const counts = new Map<string, number>();
  for (const r of plan.resources) counts.set(shortType(r.type), (counts.get(shortType(r.type)) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export function renderTree(plan: PlanResult): string {
  const children = new Map<string | undefined, PlannedResource[]>();
  const urns = new Set(plan.resources.map((r) => r.urn));
  for (const r of plan.resources) {
    const parent = r.parent && urns.has(r.parent) ? r.parent : undefined;
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const lines: string[] = [];
  const walk = (parent: string | undefined, prefix: string) => {
    const list = children.get(parent) ?? [];
    list.forEach((r, idx) => {
      const last = idx === list.length - 1;
      const settings = keySettings(r);
      lines.push(
        `${prefix}${parent === undefined ? "" : last ? "└─ " : "├─ "}${shortType(r.type)} ${r.name}${settings.length ? `  (${settings.join(" ")})` : ""}`,
      );
      walk(r.urn, parent === undefined ? "" : `${prefix}${last ? "   " : "│  "}`);
    });
  };
  walk(undefined, "");
  return lines.join("\n");
}

export function renderCounts(plan: PlanResult): string {
  const counts = countsByType(plan);
  const width = Math.max(...counts.map(([t]) => t.length));
  return [`${plan.resources.length} resources in stack ${plan.stack} (role ${plan.role}):`, ...counts.map(([t, n]) => `  ${t.padEnd(width)}  ${n}`)].join("\n");
}

export function planJson(plan: PlanResult) {
  return {
    stack: plan.stack,
    role: plan.role,
    resources: plan.resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent ?? null, inputs: r.inputs, options: r.options })),
  };
}
