// The capacity report of an environment: per model deployment its VRAM need against the GPU and its decode
// ceiling, and the co-resident total. Plain data (exported by the environment stacks) plus a text table.
import { catalogModelOf, catalogOf, type EnvironmentConfig } from "../config/schema";
import { lookupModel, type GpuFacts } from "./catalog";
import { coResidency, estimateModel, type CoResidency, type KvCacheType, type ModelEstimate } from "./planner";

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
}

export interface CapacityReport {
  gpu: { catalog: string; name: string; vramBytes: number; bandwidthBytesPerSecond: number };
  models: ModelRow[];
  coResident: CoResidency;
  /** Every model fits alone and the worst co-resident set fits. */
  fits: boolean;
}

export function capacityReport(config: Pick<EnvironmentConfig, "ollama" | "models" | "catalog">, gpu: GpuRef): CapacityReport {
  const catalog = catalogOf(config.catalog);
  const overhead = config.ollama.gpuOverheadMiB * 1024 ** 2;
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
    };
  });
  const coResident = coResidency(models, gpu, config.ollama.maxLoadedModels, overhead);
  return {
    gpu: { catalog: gpu.catalog, name: gpu.name, vramBytes: gpu.vramBytes, bandwidthBytesPerSecond: gpu.bandwidthBytesPerSecond },
    models,
    coResident,
    fits: models.every((m) => m.fits) && coResident.worstCaseFits,
  };
}

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;

export function renderCapacityTable(report: CapacityReport): string {
  const header = ["model", "catalog", "ctx", "slots", "kv", "weights", "kv cache", "needs", "of VRAM", "fits", "≤ tok/s"];
  const rows = report.models.map((m) => [
    m.name, m.catalogModel, String(m.context), String(m.parallel), m.kvCacheType, gib(m.weightsBytes), gib(m.kvBytes),
    gib(m.totalBytes), gib(m.vramBytes), m.fits ? "yes" : "NO", m.ceilingTokensPerSecond.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  const co = report.coResident;
  return [
    `GPU ${report.gpu.catalog} (${report.gpu.name}): ${gib(report.gpu.vramBytes)}, ${(report.gpu.bandwidthBytesPerSecond / 1e9).toFixed(0)} GB/s`,
    line(header),
    ...rows.map(line),
    `co-resident (up to ${co.maxLoaded} loaded): ${gib(co.worstCaseBytes)} of ${gib(co.vramBytes)} — ${co.worstCaseFits ? "fits" : "DOES NOT FIT"}` +
      (report.models.length > co.maxLoaded ? `; all ${report.models.length} together would need ${gib(co.totalBytes)}` : ""),
  ].join("\n");
}
