// The box's memory: per node, what the host keeps (Proxmox and the kernel, the ZFS ARC at its maximum), the
// platform's containers and each environment's budget, against the RAM installed; and per environment, what its
// guests pin (the GPU VM in full: PCI passthrough turns ballooning off) against its budget. Plain numbers in, so
// the config schema, the stacks and the CLI share it without importing one another.
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** PVE 8.1's installer limits the ARC to 10% of RAM, at most 16 GiB (older installs: half the RAM). */
export const ARC_DEFAULT_FRACTION = 0.1;
export const ARC_DEFAULT_CAP_GIB = 16;
/** OpenZFS ignores zfs_arc_max unless it is above zfs_arc_min, whose default is 1/32 of RAM. */
export const ARC_MIN_DIVISOR = 32;

export interface NodeMemoryInput {
  name: string;
  memory: { totalGiB: number; systemGiB: number; zfsArcMaxGiB?: number };
}

export interface BoxMemoryInput {
  nodes: (NodeMemoryInput & { gpus: { environment: string }[] })[];
  platform: { node: string; containers: Record<string, { memoryMiB: number }> };
  environments: Record<string, { memoryGiB: number }>;
}

/** The ARC maximum the host stack sets: the configured one, else PVE 8.1's rule in whole GiB. */
export function arcMaxGiB(node: NodeMemoryInput): number {
  return node.memory.zfsArcMaxGiB ?? Math.max(1, Math.min(ARC_DEFAULT_CAP_GIB, Math.floor(node.memory.totalGiB * ARC_DEFAULT_FRACTION)));
}

export interface MemoryLine {
  /** "system", "zfs-arc", "platform <container>" or "environment <name>". */
  what: string;
  bytes: number;
}

export interface NodeMemory {
  node: string;
  totalBytes: number;
  lines: MemoryLine[];
  usedBytes: number;
  fits: boolean;
}

/** Which node holds an environment: the one with its GPU (the VM must run where its passed-through card is). */
export function environmentNodeOf(box: Pick<BoxMemoryInput, "nodes">, env: string): string | undefined {
  return box.nodes.find((n) => n.gpus.some((g) => g.environment === env))?.name;
}

export function boxMemory(box: BoxMemoryInput): NodeMemory[] {
  return box.nodes.map((n) => {
    const lines: MemoryLine[] = [
      { what: "system", bytes: n.memory.systemGiB * GiB },
      { what: "zfs-arc", bytes: arcMaxGiB(n) * GiB },
    ];
    if (box.platform.node === n.name) {
      for (const [name, c] of Object.entries(box.platform.containers)) lines.push({ what: `platform ${name}`, bytes: c.memoryMiB * MiB });
    }
    for (const [env, e] of Object.entries(box.environments)) {
      if (environmentNodeOf(box, env) === n.name) lines.push({ what: `environment ${env}`, bytes: e.memoryGiB * GiB });
    }
    const usedBytes = lines.reduce((a, l) => a + l.bytes, 0);
    const totalBytes = n.memory.totalGiB * GiB;
    return { node: n.name, totalBytes, lines, usedBytes, fits: usedBytes <= totalBytes };
  });
}

export const gib = (bytes: number) => `${(bytes / GiB).toFixed(2).replace(/\.00$/, "")} GiB`;

/** One line: "4 GiB system + 12 GiB ZFS ARC + … = 127 GiB of 128 GiB". */
export function describeNode(m: NodeMemory): string {
  const platform = m.lines.filter((l) => l.what.startsWith("platform "));
  const parts = [
    ...m.lines
      .filter((l) => !l.what.startsWith("platform "))
      .map((l) => `${gib(l.bytes)} ${l.what === "zfs-arc" ? "ZFS ARC" : l.what.replace("environment ", "")}`),
    ...(platform.length > 0
      ? [`${gib(platform.reduce((a, l) => a + l.bytes, 0))} platform (${platform.map((l) => `${l.what.slice(9)} ${gib(l.bytes)}`).join(", ")})`]
      : []),
  ];
  return `${parts.join(" + ")} = ${gib(m.usedBytes)} of ${gib(m.totalBytes)}`;
}

/** Problems of the box as config errors: key path → message. */
export function boxMemoryProblems(box: BoxMemoryInput): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  box.nodes.forEach((n, i) => {
    const arc = arcMaxGiB(n);
    if (arc * ARC_MIN_DIVISOR <= n.memory.totalGiB) {
      problems.push({
        path: ["nodes", i, "memory", "zfsArcMaxGiB"],
        message: `expected more than ${n.memory.totalGiB / ARC_MIN_DIVISOR} GiB (zfs_arc_min, 1/${ARC_MIN_DIVISOR} of the node's ${n.memory.totalGiB} GiB): OpenZFS ignores a smaller zfs_arc_max, got ${arc}`,
      });
    }
    if (n.memory.systemGiB + arc >= n.memory.totalGiB) {
      problems.push({
        path: ["nodes", i, "memory"],
        message: `the host's own ${n.memory.systemGiB} GiB and the ZFS ARC's ${arc} GiB leave nothing of the node's ${n.memory.totalGiB} GiB for guests`,
      });
    }
  });
  for (const m of boxMemory(box)) {
    if (m.fits) continue;
    const i = box.nodes.findIndex((n) => n.name === m.node);
    problems.push({
      path: ["nodes", i, "memory", "totalGiB"],
      message: `node ${m.node} is over-committed by ${gib(m.usedBytes - m.totalBytes)}: ${describeNode(m)}; lower an environment's memoryGiB, a platform container's memoryMiB or the ARC maximum`,
    });
  }
  return problems;
}

export interface EnvironmentMemoryInput {
  gpuVm: { memoryGiB: number };
  containers: Record<string, { memoryMiB: number }>;
}

export interface EnvironmentMemory {
  lines: MemoryLine[];
  usedBytes: number;
  budgetBytes: number;
  fits: boolean;
}

/** What an environment's guests take of the host: the GPU VM's memory in full, each container's limit. */
export function environmentMemory(config: EnvironmentMemoryInput, budgetGiB: number): EnvironmentMemory {
  const lines: MemoryLine[] = [
    { what: "gpu-vm", bytes: config.gpuVm.memoryGiB * GiB },
    ...Object.entries(config.containers).map(([name, c]) => ({ what: name, bytes: c.memoryMiB * MiB })),
  ];
  const usedBytes = lines.reduce((a, l) => a + l.bytes, 0);
  const budgetBytes = budgetGiB * GiB;
  return { lines, usedBytes, budgetBytes, fits: usedBytes <= budgetBytes };
}

export function describeEnvironment(m: EnvironmentMemory): string {
  return `${m.lines.map((l) => `${l.what} ${gib(l.bytes)}`).join(" + ")} = ${gib(m.usedBytes)} of the ${gib(m.budgetBytes)} budget`;
}
