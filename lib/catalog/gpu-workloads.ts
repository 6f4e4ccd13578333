// What else may use an environment's GPU: vLLM as the alternative serving runtime (it then owns the GPU, and Ollama
// runs on the CPU), and the JupyterLab dev container, which shares the GPU within a VRAM budget the planner reserves.
import { z } from "zod";
import { expecting, imageRef, oneOf, pattern, wholeNumber } from "../config/fields";
import { VLLM_MODELS } from "../capacity/vllm";
import { build, gatewayPort, image, version, limits } from "./fields";
import { SERVICE_BASE, httpCheck, imageSource, type CatalogEntry } from "./types";
import { llmEnvironment, VLLM_API_KEY } from "./wiring";

export const VLLM_PORT = 8000;
const fraction = (min: number, max: number) =>
  z
    .number(expecting(`a number from ${min} to ${max}`))
    .min(min, expecting(`a number from ${min} to ${max}`))
    .max(max, expecting(`a number from ${min} to ${max}`));
const hfRepo = pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/, 'a Hugging Face model such as "Qwen/Qwen2.5-14B-Instruct-AWQ"');

const vllmSchema = z.strictObject({
  image: image("vllm/vllm-openai:v0.11.0"),
  /** The checkpoint it serves. The planner knows lib/capacity/vllm.ts's; others need weightsGiB and architecture. */
  model: hfRepo,
  /** The name clients ask for (defaults to the checkpoint's name, lower-case). */
  servedName: pattern(/^[a-z0-9][a-z0-9._:-]{0,63}$/, 'a model name such as "qwen2.5-14b"').optional(),
  weightsGiB: z.number(expecting("the checkpoint's size in GiB")).positive(expecting("the checkpoint's size in GiB")).optional(),
  /** The model catalog entry with the same architecture (layers, KV heads, head dim), e.g. "qwen2.5:14b". */
  architecture: z.string(expecting('a model catalog name such as "qwen2.5:14b"')).optional(),
  maxModelLen: wholeNumber(512, 1_048_576, "tokens").default(8192),
  gpuMemoryUtilization: fraction(0.1, 0.99).default(0.9),
  maxNumSeqs: wholeNumber(1, 1024, "sequences").default(16),
  kvCacheDtype: oneOf(["auto", "fp8"]).default("auto"),
  gatewayPort: gatewayPort(8001),
  ...limits(16_384, 4),
});
export type VllmConfig = z.infer<typeof vllmSchema>;

export const servedNameOf = (c: VllmConfig) => c.servedName ?? c.model.split("/")[1].toLowerCase();
/** The weights and architecture the planner uses for a vLLM config. */
export function vllmFactsOf(c: VllmConfig): { weightsBytes: number; architecture: string } | undefined {
  const known = VLLM_MODELS[c.model];
  const weightsBytes = c.weightsGiB !== undefined ? Math.round(c.weightsGiB * 1024 ** 3) : known?.weightsBytes;
  const architecture = c.architecture ?? known?.architecture;
  return weightsBytes !== undefined && architecture !== undefined ? { weightsBytes, architecture } : undefined;
}

/** Tier 1: vLLM, OpenAI-compatible, owning the GPU (one runtime per GPU); Ollama stays as the CPU runtime. */
export const vllm: CatalogEntry<VllmConfig> = {
  key: "vllm",
  title: "vLLM (alternative GPU runtime)",
  tier: 1,
  environments: ["private", "public"],
  schema: vllmSchema,
  needs: () => [{ what: "gpu", why: "vLLM serves from the GPU" }],
  check: (c) =>
    vllmFactsOf(c)
      ? []
      : [[["weightsGiB"], `${c.model} is not in the planner's list (${Object.keys(VLLM_MODELS).join(", ")}): set weightsGiB and architecture`]],
  render: (c) => ({
    services: [
      {
        ...SERVICE_BASE,
        name: "vllm",
        image: c.image,
        command: [
          c.model,
          "--served-model-name",
          servedNameOf(c),
          "--host",
          "0.0.0.0",
          "--port",
          String(VLLM_PORT),
          "--max-model-len",
          String(c.maxModelLen),
          "--gpu-memory-utilization",
          String(c.gpuMemoryUtilization),
          "--max-num-seqs",
          String(c.maxNumSeqs),
          "--kv-cache-dtype",
          c.kvCacheDtype,
        ],
        environment: { VLLM_API_KEY: { secret: VLLM_API_KEY }, VLLM_NO_USAGE_STATS: "1", DO_NOT_TRACK: "1", HF_HUB_DISABLE_TELEMETRY: "1" },
        volumes: [{ volume: "vllm-cache", path: "/root/.cache/huggingface" }],
        // The first start downloads the checkpoint.
        healthcheck: httpCheck("python", `http://localhost:${VLLM_PORT}/health`, "900s"),
        gpu: true,
        memoryMiB: c.memoryMiB,
        cpus: c.cpus,
        shmSizeMiB: 2048,
      },
    ],
    volumes: ["vllm-cache"],
    routes: [{ service: "vllm", port: c.gatewayPort, upstream: `vllm:${VLLM_PORT}` }],
    sites: [],
    vault: { OPENAI_BASE_URL: `http://vllm:${VLLM_PORT}/v1`, OPENAI_API_KEY: { template: `{{${VLLM_API_KEY}}}` }, MODEL: servedNameOf(c) },
  }),
};

export const JUPYTER_CONTEXT = "apps/jupyter";
const jupyterSchema = z.strictObject({
  /** The notebook image: built from apps/jupyter (CUDA PyTorch with Transformers, Unsloth, LangChain, LlamaIndex, DuckDB, RAGAS) … */
  build: build.default({ context: JUPYTER_CONTEXT, dockerfile: "Dockerfile", args: {} }),
  version: version.default("2026.11.1"),
  /** … unless an image of your own replaces it. */
  image: imageRef.optional(),
  gatewayPort: gatewayPort(8888),
  /** The VRAM the notebooks may use: the serving runtime leaves it free (Ollama's overhead, vLLM's share). */
  vramMiB: wholeNumber(0, 1_048_576, "MiB").default(8192),
  ...limits(16_384, 4),
});

/** Tier 2: JupyterLab with GPU access (private), token-protected, behind the TLS gateway. */
export const jupyter: CatalogEntry<z.infer<typeof jupyterSchema>> = {
  key: "jupyter",
  title: "JupyterLab GPU dev container",
  tier: 2,
  environments: ["private"],
  schema: jupyterSchema,
  needs: () => [
    { what: "gpu", why: "the notebooks train and run models on the GPU" },
    { what: "llm", why: "notebooks call the environment's models" },
  ],
  vramMiB: (c) => c.vramMiB,
  render: (c, ctx) => ({
    services: [
      {
        ...SERVICE_BASE,
        name: "jupyter",
        // Your image, if given, else the one built from apps/jupyter.
        ...imageSource("jupyter", c),
        environment: {
          JUPYTER_TOKEN: { secret: "jupyter-token" },
          // PyTorch's caching allocator stays within the budget the planner reserved.
          PYTORCH_CUDA_ALLOC_CONF: "expandable_segments:True",
          AI_DUALSTACK_VRAM_MIB: String(c.vramMiB),
          HF_HUB_DISABLE_TELEMETRY: "1",
          DO_NOT_TRACK: "1",
          ...llmEnvironment(ctx),
        },
        volumes: [{ volume: "jupyter-work", path: "/home/jovyan/work" }],
        healthcheck: httpCheck("python", "http://localhost:8888/api", "120s"),
        gpu: true,
        memoryMiB: c.memoryMiB,
        cpus: c.cpus,
        shmSizeMiB: 4096,
      },
    ],
    volumes: ["jupyter-work"],
    routes: [{ service: "jupyter", port: c.gatewayPort, upstream: "jupyter:8888" }],
    sites: [],
    vault: { JUPYTER_TOKEN: { template: "{{jupyter-token}}" } },
  }),
};
