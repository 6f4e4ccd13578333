// The hardware and model facts the capacity planner works from, each with its source. Users extend or override
// them in stack config (`ai-dualstack:catalog`), so a card or model that is not listed here is one entry away.
// Sources are those of ../shared/reference/ollama-and-gpus.md; "(estimate)" marks arithmetic no source states.

export interface GpuFacts {
  name: string;
  /** Usable device memory in bytes, as nvidia-smi reports the total. */
  vramBytes: number;
  /** Memory bandwidth in bytes per second. */
  bandwidthBytesPerSecond: number;
  source: string;
}

export interface ModelFacts {
  /** Weight bytes at the default quantisation of the tag (what /api/tags reports as size). */
  weightsBytes: number;
  quantization: string;
  layers: number;
  kvHeads: number;
  headDim: number;
  nativeContext: number;
  source: string;
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const GB = 1e9;

export const GPU_CATALOG: Record<string, GpuFacts> = {
  "rtx-5090": {
    name: "NVIDIA GeForce RTX 5090",
    vramBytes: 32_607 * MiB,
    bandwidthBytesPerSecond: 1792 * GB,
    source: "32,607 MiB (nvidia-smi); 1,792 GB/s: 512-bit bus at 28 Gb/s (Linux Format review)",
  },
  "rtx-4090": {
    name: "NVIDIA GeForce RTX 4090",
    vramBytes: 24_564 * MiB,
    bandwidthBytesPerSecond: 1008 * GB,
    source: "24 GB GDDR6X; 1,008 GB/s (geerlingguy/ai-benchmarks comparison in the reference)",
  },
  "rtx-3060-12gb": {
    name: "NVIDIA GeForce RTX 3060 12GB",
    vramBytes: 12_288 * MiB,
    bandwidthBytesPerSecond: 360 * GB,
    source: "12,288 MiB; 360 GB/s: 192-bit bus (pcpartdb). The 8 GB 3060 is a narrower card",
  },
};

export const MODEL_CATALOG: Record<string, ModelFacts> = {
  "qwen2.5:14b": {
    weightsBytes: 8_988_124_298,
    quantization: "Q4_K_M",
    layers: 48,
    kvHeads: 8,
    headDim: 128,
    nativeContext: 32_768,
    source: "same-architecture qwen2.5-coder:14b /api/tags size; 48 layers, 8 KV heads, head dim 128 (HF config); 1536 MiB KV at 8k ctx (ollama#9091)",
  },
  "qwen2.5:32b": {
    weightsBytes: 19_851_337_640,
    quantization: "Q4_K_M",
    layers: 64,
    kvHeads: 8,
    headDim: 128,
    nativeContext: 32_768,
    source: "same-architecture deepseek-r1:32b /api/tags size (estimate, proxy); 64 layers, 8 KV heads, head dim 128 (HF config)",
  },
  "mistral:7b": {
    weightsBytes: Math.round(3.9 * GiB),
    quantization: "Q4_0",
    layers: 32,
    kvHeads: 8,
    headDim: 128,
    nativeContext: 32_768,
    source: "3.9 GiB (ollama api.md /api/ps example, v0.3 Q4_0); 256 MiB KV at 2k ctx (ollama#6348)",
  },
};

export interface Catalog {
  gpus: Record<string, GpuFacts>;
  models: Record<string, ModelFacts>;
}

/** The built-in catalog with the user's entries laid over it (theirs win). */
export function mergeCatalog(extra?: Partial<Catalog>): Catalog {
  return { gpus: { ...GPU_CATALOG, ...(extra?.gpus ?? {}) }, models: { ...MODEL_CATALOG, ...(extra?.models ?? {}) } };
}

export class CatalogError extends Error {}

export function lookupGpu(catalog: Catalog, id: string): GpuFacts {
  const gpu = catalog.gpus[id];
  if (!gpu) throw new CatalogError(`unknown GPU "${id}"; known: ${Object.keys(catalog.gpus).sort().join(", ")} (add it under ai-dualstack:catalog.gpus)`);
  return gpu;
}

/** Ollama names "mistral" and "mistral:latest" alike; the catalog keys carry explicit tags. */
export function lookupModel(catalog: Catalog, name: string): ModelFacts {
  const model = catalog.models[name] ?? catalog.models[name.includes(":") ? name : `${name}:latest`];
  if (!model)
    throw new CatalogError(`unknown model "${name}"; known: ${Object.keys(catalog.models).sort().join(", ")} (add it under ai-dualstack:catalog.models)`);
  return model;
}
