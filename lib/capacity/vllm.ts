// vLLM's memory model, as its engine sizes itself at start: it claims gpu_memory_utilization × the GPU's memory,
// loads the weights, profiles one forward pass of the largest batch (activations), adds CUDA graphs and what lies
// outside PyTorch (CUDA context, NCCL), and gives every byte left to the paged KV cache. It refuses to start when
// that cache cannot hold one sequence of max_model_len tokens, and when less than its share is free on the device.
import type { GpuFacts, ModelFacts } from "./catalog";

const GiB = 1024 ** 3;
/** Peak activations of the profiling pass at the default batched-token budget (estimate: 7–32B models). */
export const VLLM_ACTIVATION_BYTES = 2 * GiB;
/** CUDA context, cuBLAS workspaces and NCCL outside PyTorch's allocator (estimate). */
export const VLLM_NON_TORCH_BYTES = 0.75 * GiB;
/** Captured CUDA graphs (estimate; vLLM logs the real figure at start). */
export const VLLM_CUDA_GRAPH_BYTES = 0.5 * GiB;

/** Hugging Face checkpoints the planner knows: their weight bytes, and the architecture facts they share. */
export interface VllmModelFacts {
  weightsBytes: number;
  /** The model catalog entry with the same architecture (layers, KV heads, head dim, native context). */
  architecture: string;
  source: string;
}

export const VLLM_MODELS: Record<string, VllmModelFacts> = {
  "Qwen/Qwen2.5-14B-Instruct-AWQ": {
    weightsBytes: 9_980_000_000,
    architecture: "qwen2.5:14b",
    source: "AWQ 4-bit safetensors, ~9.98 GB on the model card (estimate)",
  },
  "Qwen/Qwen2.5-32B-Instruct-AWQ": {
    weightsBytes: 19_300_000_000,
    architecture: "qwen2.5:32b",
    source: "AWQ 4-bit safetensors, ~19.3 GB on the model card (estimate)",
  },
  "mistralai/Mistral-7B-Instruct-v0.3": {
    weightsBytes: 14_500_000_000,
    architecture: "mistral:7b",
    source: "bf16 safetensors, ~14.5 GB on the model card (estimate)",
  },
  "TheBloke/Mistral-7B-Instruct-v0.2-AWQ": {
    weightsBytes: 4_150_000_000,
    architecture: "mistral:7b",
    source: "AWQ 4-bit safetensors, ~4.15 GB on the model card (estimate)",
  },
};

export interface VllmShape {
  gpuMemoryUtilization: number;
  maxModelLen: number;
  maxNumSeqs: number;
  kvCacheDtype: "auto" | "fp8";
  /** VRAM other processes keep on the same GPU (a notebook's budget): must fit outside vLLM's share. */
  reservedBytes: number;
}

export interface VllmEstimate {
  budgetBytes: number;
  weightsBytes: number;
  overheadBytes: number;
  kvBytes: number;
  kvBytesPerToken: number;
  /** Tokens the paged cache holds. */
  kvTokens: number;
  /** Full-length sequences that fit at once (vLLM's "maximum concurrency" line). */
  concurrency: number;
  vramBytes: number;
  /** What stays outside vLLM's share, and what other users of the GPU reserve there. */
  outsideBytes: number;
  reservedBytes: number;
  fits: boolean;
  problems: string[];
  ceilingTokensPerSecond: number;
}

export function estimateVllm(weightsBytes: number, arch: ModelFacts, gpu: GpuFacts, shape: VllmShape): VllmEstimate {
  const budgetBytes = Math.floor(shape.gpuMemoryUtilization * gpu.vramBytes);
  const overheadBytes = VLLM_ACTIVATION_BYTES + VLLM_NON_TORCH_BYTES + VLLM_CUDA_GRAPH_BYTES;
  const kvBytes = Math.max(0, budgetBytes - weightsBytes - overheadBytes);
  const kvBytesPerToken = arch.layers * 2 * arch.kvHeads * arch.headDim * (shape.kvCacheDtype === "fp8" ? 1 : 2);
  const kvTokens = Math.floor(kvBytes / kvBytesPerToken);
  const outsideBytes = gpu.vramBytes - budgetBytes;
  const problems: string[] = [];
  if (kvBytes === 0) problems.push("the weights and overheads take the whole share: no room for a KV cache");
  else if (kvTokens < shape.maxModelLen) problems.push(`the KV cache holds ${kvTokens} tokens, less than one sequence of maxModelLen ${shape.maxModelLen}`);
  if (shape.maxModelLen > arch.nativeContext) problems.push(`maxModelLen ${shape.maxModelLen} exceeds the model's native context of ${arch.nativeContext}`);
  if (shape.reservedBytes > outsideBytes)
    problems.push(
      `the GPU's other users reserve ${(shape.reservedBytes / GiB).toFixed(1)} GiB but only ${(outsideBytes / GiB).toFixed(1)} GiB lie outside vLLM's share`,
    );
  return {
    budgetBytes,
    weightsBytes,
    overheadBytes,
    kvBytes,
    kvBytesPerToken,
    kvTokens,
    concurrency: kvTokens / shape.maxModelLen,
    vramBytes: gpu.vramBytes,
    outsideBytes,
    reservedBytes: shape.reservedBytes,
    fits: problems.length === 0,
    problems,
    ceilingTokensPerSecond: gpu.bandwidthBytesPerSecond / weightsBytes,
  };
}
