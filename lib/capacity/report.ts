// The capacity report of an environment: per model deployment its VRAM need against the GPU and its decode
// ceiling, and the co-resident total. Plain data (exported by the environment stacks) plus a text table.
import { catalogModelOf, catalogOf, type EnvironmentConfig } from "../config/schema";
import { lookupModel, type GpuFacts } from "./catalog";
import { coResidency, estimateModel, type CoResidency, type KvCacheType, type ModelEstimate } from "./planner";
import { estimateVllm, type VllmEstimate } from "./vllm";
import { memoryReport, type MemoryReport } from "./services";
import { describeEnvironment, environmentMemory, type EnvironmentMemory } from "./host-memory";
import { servedNameOf, vllmFactsOf } from "../catalog/gpu-workloads";
import type { ServiceSpec } from "../compose/spec";

export interface GpuRef extends GpuFacts {
  /** The catalog id, e.g. "rtx-5090". */
  catalog: string;
}

export interface ModelRow extends ModelEstimate {
  name: string;
  catalogModel: string;
  context: number;
  parallel: number;
  kvCacheType: KvCacheType;
  /** The facts the estimate was made from, so a policy can recompute it (policies/rules/images-and-models.ts). */
  layers: number;
  kvHeads: number;
  headDim: number;
  gpu: string;
  gpuOverheadBytes: number;
  maxLoaded: number;
  /** Who serves it: Ollama from the GPU, or from the CPU when vLLM owns the GPU. */
  servedBy: "Ollama (GPU)" | "Ollama (CPU)";
}

export interface CapacityReport {
  gpu: { catalog: string; name: string; vramBytes: number; bandwidthBytesPerSecond: number };
  models: ModelRow[];
  coResident: CoResidency;
  /** Which runtime owns the GPU: Ollama, or vLLM (Ollama then serves from the CPU). */
  runtime: "ollama" | "vllm";
  /** VRAM kept for the GPU's other users (the notebook's budget): added to Ollama's overhead, outside vLLM's share. */
  reservedVramBytes: number;
  vllm?: VllmEstimate & { model: string; servedName: string };
  /** The VM's memory against its services (when the services are known). */
  memory?: MemoryReport;
  /** The environment's guests against the host memory budget the host stack gives it (when known). */
  host?: EnvironmentMemory & { node: string };
  /** Every model fits alone, the worst co-resident set fits, vLLM fits, the services fit the VM, the guests their budget. */
  fits: boolean;
}

export interface CapacityInput extends Pick<EnvironmentConfig, "ollama" | "models" | "catalog"> {
  services?: EnvironmentConfig["services"];
  gpuVm?: Pick<EnvironmentConfig["gpuVm"], "memoryGiB">;
  containers?: Record<string, { memoryMiB: number }>;
}

/** What the rest of the GPU keeps: the catalog's GPU-sharing entries' budgets (lib/catalog/resolve.ts). */
export interface CapacityExtras {
  reservedVramMiB?: number;
  /** The VM's compose services, for the memory check. */
  services?: Pick<ServiceSpec, "name" | "memoryMiB">[];
  /** The environment's host memory budget, from the host slice. */
  budget?: { node: string; budgetGiB: number };
}

export function capacityReport(config: CapacityInput, gpu: GpuRef, extras: CapacityExtras = {}): CapacityReport {
  const catalog = catalogOf(config.catalog);
  const reservedVramBytes = (extras.reservedVramMiB ?? 0) * 1024 ** 2;
  // Ollama leaves the reservation free: it is part of the overhead it is started with (OLLAMA_GPU_OVERHEAD).
  const overhead = config.ollama.gpuOverheadMiB * 1024 ** 2 + reservedVramBytes;
  const models = config.models.map((m): ModelRow => {
    const catalogModel = catalogModelOf(m);
    const shape = { context: m.context ?? config.ollama.contextLength, parallel: config.ollama.numParallel, kvCacheType: config.ollama.kvCacheType };
    const facts = lookupModel(catalog, catalogModel);
    return {
      name: m.name,
      catalogModel,
      ...shape,
      ...estimateModel(facts, gpu, shape, overhead),
      layers: facts.layers,
      kvHeads: facts.kvHeads,
      headDim: facts.headDim,
      gpu: gpu.catalog,
      gpuOverheadBytes: overhead,
      maxLoaded: config.ollama.maxLoadedModels,
      servedBy: config.services?.vllm ? "Ollama (CPU)" : "Ollama (GPU)",
    };
  });
  const coResident = coResidency(models, gpu, config.ollama.maxLoadedModels, overhead);
  const v = config.services?.vllm;
  const vfacts = v ? vllmFactsOf(v) : undefined;
  const vllm =
    v && vfacts
      ? {
          model: v.model,
          servedName: servedNameOf(v),
          ...estimateVllm(vfacts.weightsBytes, lookupModel(catalog, vfacts.architecture), gpu, {
            gpuMemoryUtilization: v.gpuMemoryUtilization,
            maxModelLen: v.maxModelLen,
            maxNumSeqs: v.maxNumSeqs,
            kvCacheDtype: v.kvCacheDtype,
            reservedBytes: reservedVramBytes,
          }),
        }
      : undefined;
  // With vLLM on the GPU, Ollama's loaded models live in the VM's memory.
  const ollamaCpu = v ? coResident.worstCaseBytes - coResident.sharedBytes : undefined;
  const memory = extras.services && config.gpuVm ? memoryReport(config.gpuVm.memoryGiB, extras.services, ollamaCpu) : undefined;
  const host =
    extras.budget && config.gpuVm && config.containers
      ? { node: extras.budget.node, ...environmentMemory({ gpuVm: config.gpuVm, containers: config.containers }, extras.budget.budgetGiB) }
      : undefined;
  const gpuFits = v ? (vllm?.fits ?? false) : models.every((m) => m.fits) && coResident.worstCaseFits;
  return {
    gpu: { catalog: gpu.catalog, name: gpu.name, vramBytes: gpu.vramBytes, bandwidthBytesPerSecond: gpu.bandwidthBytesPerSecond },
    models,
    coResident,
    runtime: v ? "vllm" : "ollama",
    reservedVramBytes,
    ...(vllm ? { vllm } : {}),
    ...(memory ? { memory } : {}),
    ...(host ? { host } : {}),
    fits: gpuFits && (memory?.fits ?? true) && (host?.fits ?? true),
  };
}

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;

export function renderCapacityTable(report: CapacityReport): string {
  const header = ["model", "served by", "catalog", "ctx", "slots", "kv", "weights", "kv cache", "needs", "of VRAM", "fits", "≤ tok/s"];
  const rows = report.models.map((m) => [
    m.name,
    m.servedBy,
    m.catalogModel,
    String(m.context),
    String(m.parallel),
    m.kvCacheType,
    gib(m.weightsBytes),
    gib(m.kvBytes),
    gib(m.totalBytes),
    gib(m.vramBytes),
    m.fits ? "yes" : "NO",
    m.ceilingTokensPerSecond.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  const co = report.coResident;
  return [
    `GPU ${report.gpu.catalog} (${report.gpu.name}): ${gib(report.gpu.vramBytes)}, ${(report.gpu.bandwidthBytesPerSecond / 1e9).toFixed(0)} GB/s`,
    line(header),
    ...rows.map(line),
    `co-resident (up to ${co.maxLoaded} loaded): ${gib(co.worstCaseBytes)} of ${gib(co.vramBytes)} — ${co.worstCaseFits ? "fits" : "DOES NOT FIT"}` +
      (report.models.length > co.maxLoaded ? `; all ${report.models.length} together would need ${gib(co.totalBytes)}` : "") +
      (report.runtime === "vllm" ? " (Ollama serves from the CPU: vLLM owns the GPU)" : "") +
      (report.reservedVramBytes > 0 ? `; ${gib(report.reservedVramBytes)} kept for the notebooks` : ""),
    ...(report.vllm
      ? [
          `vLLM ${report.vllm.model} as ${report.vllm.servedName} (served by vLLM from the GPU, to every UI and app): share ${gib(report.vllm.budgetBytes)}, weights ${gib(report.vllm.weightsBytes)}, overheads ${gib(report.vllm.overheadBytes)}, KV cache ${gib(report.vllm.kvBytes)} = ${report.vllm.kvTokens} tokens (${report.vllm.concurrency.toFixed(1)} full-length sequences) — ${report.vllm.fits ? "fits" : `DOES NOT FIT: ${report.vllm.problems.join("; ")}`}, ≤ ${report.vllm.ceilingTokensPerSecond.toFixed(0)} tok/s`,
        ]
      : []),
    ...(report.memory
      ? [
          `VM memory: ${gib(report.memory.totalBytes)} of ${gib(report.memory.vmBytes)} (OS ${gib(report.memory.baseBytes)}; ${report.memory.rows.filter((r) => r.kind === "limit").length} services with limits ${gib(report.memory.rows.filter((r) => r.kind === "limit").reduce((a, r) => a + r.bytes, 0))}) — ${report.memory.fits ? "fits" : "DOES NOT FIT"}`,
        ]
      : []),
    ...(report.host ? [`host memory on ${report.host.node}: ${describeEnvironment(report.host)} — ${report.host.fits ? "fits" : "DOES NOT FIT"}`] : []),
  ].join("\n");
}
