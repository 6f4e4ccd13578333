// The GPU VM's memory: what its services may take (the catalog's limits, the core services' working sets, Ollama's
// models when it serves from the CPU) against the VM's memory less what the OS and Docker keep.
const MiB = 1024 ** 2;

/** Working sets of the core services, which run without limits (estimates from their documented minimums). */
export const CORE_SERVICE_MIB: Record<string, number> = {
  ollama: 2048,
  "open-webui": 1024,
  chatbot: 1024,
  chroma: 1024,
  qdrant: 1024,
  ingress: 128,
  gateway: 128,
  "gpu-exporter": 256,
};
/** The OS, Docker, node exporter, cAdvisor and Alloy (estimate). */
export const VM_BASE_MIB = 2048;

export interface MemoryRow {
  service: string;
  bytes: number;
  /** "limit" (enforced by Docker), "estimate" (a core service) or "models" (Ollama holding its models in RAM). */
  kind: "limit" | "estimate" | "models";
}

export interface MemoryReport {
  vmBytes: number;
  baseBytes: number;
  rows: MemoryRow[];
  totalBytes: number;
  fits: boolean;
}

export function memoryReport(vmGiB: number, services: { name: string; memoryMiB?: number }[], ollamaCpuModelBytes?: number): MemoryReport {
  const rows = services.map((s): MemoryRow => {
    if (s.name === "ollama" && ollamaCpuModelBytes !== undefined)
      return { service: s.name, bytes: CORE_SERVICE_MIB.ollama * MiB + ollamaCpuModelBytes, kind: "models" };
    if (s.memoryMiB !== undefined) return { service: s.name, bytes: s.memoryMiB * MiB, kind: "limit" };
    return { service: s.name, bytes: (CORE_SERVICE_MIB[s.name] ?? 512) * MiB, kind: "estimate" };
  });
  const baseBytes = VM_BASE_MIB * MiB;
  const totalBytes = baseBytes + rows.reduce((a, r) => a + r.bytes, 0);
  const vmBytes = vmGiB * 1024 * MiB;
  return { vmBytes, baseBytes, rows, totalBytes, fits: totalBytes <= vmBytes };
}

/** Why the services do not fit the VM, with the numbers and the largest takers first. */
export function memoryProblem(m: MemoryReport): string {
  const gib = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;
  const top = [...m.rows].sort((a, b) => b.bytes - a.bytes).slice(0, 5);
  return (
    `the VM's services need ${gib(m.totalBytes)} of its ${gib(m.vmBytes)} (OS ${gib(m.baseBytes)}; largest: ` +
    `${top.map((r) => `${r.service} ${gib(r.bytes)}${r.kind === "models" ? " with its models in RAM" : r.kind === "estimate" ? " estimated" : ""}`).join(", ")}); ` +
    "raise gpuVm.memoryGiB (within the environment's budget) or lower the services' memoryMiB"
  );
}
