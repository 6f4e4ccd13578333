// VRAM fit and the decode-speed ceiling of model deployments, following Ollama's own estimate
// (fs/ggml/ggml.go GraphSize): weights + KV cache + compute graph, plus the runtime's reserve and the configured
// GPU overhead once per GPU. Decode reads every weight once per token, so bandwidth / weight bytes bounds tokens/s.
import type { GpuFacts, ModelFacts } from "./catalog";

export const KV_BYTES_PER_ELEMENT = { f16: 2, q8_0: 1, q4_0: 0.5 } as const;
export type KvCacheType = keyof typeof KV_BYTES_PER_ELEMENT;

/** Compute graph per loaded model (estimate: the reference's budgets leave ~1 GiB per model for graph + reserve). */
export const GRAPH_BYTES = 512 * 1024 ** 2;
/** CUDA context and library workspaces, once per GPU (estimate). */
export const RUNTIME_RESERVE_BYTES = 512 * 1024 ** 2;

export interface DeploymentShape {
  /** Context length each slot gets (num_ctx). */
  context: number;
  /** Parallel slots (OLLAMA_NUM_PARALLEL): each has its own KV cache. */
  parallel: number;
  kvCacheType: KvCacheType;
}

export interface ModelEstimate {
  weightsBytes: number;
  kvBytes: number;
  graphBytes: number;
  /** weights + KV + graph: what this model adds to the GPU. */
  modelBytes: number;
  /** modelBytes + runtime reserve + configured overhead: what the model needs alone on the GPU. */
  totalBytes: number;
  vramBytes: number;
  fits: boolean;
  ceilingTokensPerSecond: number;
}

/** KV cache bytes = layers × ctx × parallel × (head dim K + V) × KV heads × bytes per element. */
export function kvCacheBytes(model: ModelFacts, shape: DeploymentShape): number {
  return model.layers * shape.context * shape.parallel * (2 * model.headDim) * model.kvHeads * KV_BYTES_PER_ELEMENT[shape.kvCacheType];
}

export function ceilingTokensPerSecond(model: ModelFacts, gpu: GpuFacts): number {
  return gpu.bandwidthBytesPerSecond / model.weightsBytes;
}

export function estimateModel(model: ModelFacts, gpu: GpuFacts, shape: DeploymentShape, gpuOverheadBytes = 0): ModelEstimate {
  const kvBytes = kvCacheBytes(model, shape);
  const modelBytes = model.weightsBytes + kvBytes + GRAPH_BYTES;
  const totalBytes = modelBytes + RUNTIME_RESERVE_BYTES + gpuOverheadBytes;
  return {
    weightsBytes: model.weightsBytes,
    kvBytes,
    graphBytes: GRAPH_BYTES,
    modelBytes,
    totalBytes,
    vramBytes: gpu.vramBytes,
    fits: totalBytes <= gpu.vramBytes,
    ceilingTokensPerSecond: ceilingTokensPerSecond(model, gpu),
  };
}

export interface CoResidency {
  /** Every model of the environment loaded at once, sharing one runtime reserve. */
  totalBytes: number;
  vramBytes: number;
  fits: boolean;
  /** How many of the models Ollama may keep loaded together (OLLAMA_MAX_LOADED_MODELS). */
  maxLoaded: number;
  /** The largest set of `maxLoaded` models, which is the one that must fit. */
  worstCaseBytes: number;
  /** What the runtime needs once, whatever it loads: its reserve and the configured overhead. */
  sharedBytes: number;
  worstCaseFits: boolean;
}

export function coResidency(estimates: ModelEstimate[], gpu: GpuFacts, maxLoaded: number, gpuOverheadBytes = 0): CoResidency {
  const shared = RUNTIME_RESERVE_BYTES + gpuOverheadBytes;
  const sizes = estimates.map((e) => e.modelBytes).sort((a, b) => b - a);
  const totalBytes = sizes.reduce((a, b) => a + b, 0) + shared;
  const worstCaseBytes = sizes.slice(0, Math.max(1, maxLoaded)).reduce((a, b) => a + b, 0) + shared;
  return {
    totalBytes,
    vramBytes: gpu.vramBytes,
    fits: totalBytes <= gpu.vramBytes,
    maxLoaded,
    worstCaseBytes,
    worstCaseFits: worstCaseBytes <= gpu.vramBytes,
    sharedBytes: shared,
  };
}
