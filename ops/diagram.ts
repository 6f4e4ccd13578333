// A mermaid flowchart of a stack's topology: zones (bridges), the guests on them, the GPUs passed through and what
// runs where. Pure: derived from the planned resources alone.
import type { PlanResult, PlannedResource } from "./engine";

const VM = "proxmoxve:index/vmLegacy:VmLegacy";
const CT = "proxmoxve:index/containerLegacy:ContainerLegacy";
const BRIDGE = "proxmoxve:network/linux/bridge:Bridge";
const PCI = "proxmoxve:hardware/mapping/pci:Pci";
const ZFSPOOL = "proxmoxve:storage/zfspool:Zfspool";

const id = (s: string) => s.replace(/[^A-Za-z0-9_]/g, "_");
const quote = (s: string) => `"${s.replace(/"/g, "'")}"`;

interface Guest {
  key: string;
  label: string;
  bridge: string;
  gpu?: string;
}

function tagsOf(r: PlannedResource): string[] {
  return Array.isArray(r.inputs.tags) ? (r.inputs.tags as string[]) : [];
}

function guestsOf(plan: PlanResult): Guest[] {
  const guests: Guest[] = [];
  for (const r of plan.resources) {
    if (r.type !== VM && r.type !== CT) continue;
    const tags = tagsOf(r);
    if (tags.includes("data-holder")) continue;
    const nics = ((r.inputs.networkDevices ?? r.inputs.networkInterfaces) as { bridge?: string }[] | undefined) ?? [];
    const init = r.inputs.initialization as { hostname?: string; ipConfigs?: { ipv4?: { address?: string } }[] } | undefined;
    const name = (r.inputs.name as string | undefined) ?? init?.hostname ?? r.name;
    const address = init?.ipConfigs?.[0]?.ipv4?.address;
    const role = tags.filter((t) => !/^(env|stack|managed-by)-/.test(t)).join(", ");
    const kind = r.type === VM ? "VM" : "LXC";
    const pci = (r.inputs.hostpcis as { mapping?: string }[] | undefined)?.[0]?.mapping;
    guests.push({
      key: id(`${kind}_${r.inputs.vmId}_${name}`),
      label: `${kind} ${r.inputs.vmId} ${name}${role ? `<br/>${role}` : ""}${address ? `<br/>${address}` : ""}`,
      bridge: nics[0]?.bridge ?? "(no NIC)",
      gpu: pci,
    });
  }
  return guests;
}

function zoneName(plan: PlanResult, bridge: string, guests: Guest[]): string {
  const br = plan.resources.find((r) => r.type === BRIDGE && r.inputs.name === bridge);
  const fromComment = typeof br?.inputs.comment === "string" ? /ai-dualstack (\w+) zone/.exec(br.inputs.comment)?.[1] : undefined;
  if (fromComment) return fromComment;
  const envs = new Set(
    plan.resources
      .filter((r) => (r.type === VM || r.type === CT) && guests.length > 0)
      .filter((r) => ((r.inputs.networkDevices ?? r.inputs.networkInterfaces) as { bridge?: string }[] | undefined)?.[0]?.bridge === bridge)
      .flatMap((r) =>
        tagsOf(r)
          .filter((t) => t.startsWith("env-"))
          .map((t) => t.slice(4)),
      ),
  );
  return [...envs].join("/") || "zone";
}

export function renderDiagram(plan: PlanResult): string {
  const lines = ["flowchart LR"];
  const guests = guestsOf(plan);
  const bridges = new Set<string>([...plan.resources.filter((r) => r.type === BRIDGE).map((r) => String(r.inputs.name)), ...guests.map((g) => g.bridge)]);
  const nodes = new Set(plan.resources.map((r) => r.inputs.nodeName).filter((n): n is string => typeof n === "string"));
  for (const node of nodes) {
    const pools = plan.resources.filter((r) => r.type === ZFSPOOL).map((r) => `${r.inputs.resourceId} → ${r.inputs.zfsPool}`);
    lines.push(`  ${id(`host_${node}`)}[${quote(`Proxmox node ${node}${pools.length ? `<br/>${pools.join("<br/>")}` : ""}`)}]`);
  }
  for (const bridge of [...bridges].sort()) {
    const zone = zoneName(plan, bridge, guests);
    lines.push(`  subgraph ${id(`zone_${bridge}`)}[${quote(`${zone} zone · ${bridge}`)}]`);
    for (const g of guests.filter((x) => x.bridge === bridge)) lines.push(`    ${g.key}[${quote(g.label)}]`);
    lines.push("  end");
    for (const node of nodes) lines.push(`  ${id(`host_${node}`)} --- ${id(`zone_${bridge}`)}`);
  }
  // GPUs: mappings declared by the host, or used by the environment's VMs.
  const gpus = new Map<string, string>();
  for (const r of plan.resources.filter((x) => x.type === PCI)) {
    gpus.set(String(r.inputs.name), String(r.inputs.comment ?? r.inputs.name));
  }
  for (const g of guests) if (g.gpu && !gpus.has(g.gpu)) gpus.set(g.gpu, `PCI mapping ${g.gpu}`);
  for (const [name, label] of gpus) {
    lines.push(`  ${id(`gpu_${name}`)}{{${quote(`GPU ${name}<br/>${label}`)}}}`);
    for (const node of nodes)
      if (plan.resources.some((r) => r.type === PCI && r.inputs.name === name)) lines.push(`  ${id(`host_${node}`)} -.- ${id(`gpu_${name}`)}`);
    for (const g of guests.filter((x) => x.gpu === name)) lines.push(`  ${id(`gpu_${name}`)} ==>|passthrough| ${g.key}`);
    // On the host, a mapping's comment names its environment: link it to that zone.
    const env = / for the (\w+) environment/.exec(label)?.[1];
    const zoneBridge = env ? [...bridges].find((b) => zoneName(plan, b, guests) === env) : undefined;
    if (zoneBridge && !guests.some((x) => x.gpu === name)) lines.push(`  ${id(`gpu_${name}`)} -.->|reserved for| ${id(`zone_${zoneBridge}`)}`);
  }
  return lines.join("\n");
}
