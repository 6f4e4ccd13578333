import { coResidency, estimateModel, type KvCacheType } from "../../lib/capacity/planner";
import type { Rule } from "../support/policy";
import { DOCKER_IMAGE, OLLAMA_MODEL } from "../support/types";

function registryOf(image: string): string {
  const first = image.split("/")[0];
  return image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}

export const imagesPinned: Rule = (t) => ({
  name: "images-pinned",
  description: `Container images come from the allowed registries (${t.registries.join(", ")}) with an explicit version tag or digest, never latest.`,
  reason: "An unpinned image changes under you; an unknown registry is an unknown supply chain.",
  source: "security-and-dr.md rule 21; Checkov CKV_K8S_43, CKV_DOCKER_7",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== DOCKER_IMAGE) return;
    const image = String(args.props.name ?? "");
    const registry = registryOf(image);
    if (!t.registries.includes(registry)) report(`${args.name}: ${image} comes from ${registry}, not one of ${t.registries.join(", ")}`);
    const withoutRegistry = image.includes("@") ? image.split("@")[0] : image.slice(image.indexOf("/") + 1);
    const tag = image.includes("@sha256:") ? "digest" : withoutRegistry.includes(":") ? withoutRegistry.split(":").pop() : undefined;
    if (!tag) report(`${args.name}: ${image} has no tag (it would be latest)`);
    else if (tag === "latest") report(`${args.name}: ${image} uses the latest tag`);
  },
});

/** The capacity facts a model deployment carries as an input (components/model-deployment.ts). */
interface CapacityFacts {
  catalogModel: string;
  weightsBytes: number;
  layers: number;
  kvHeads: number;
  headDim: number;
  context: number;
  parallel: number;
  kvCacheType: KvCacheType;
  vramBytes: number;
  gpuOverheadBytes: number;
  maxLoaded: number;
  gpu: string;
}

function facts(props: Record<string, any>): CapacityFacts | undefined {
  const c = props.capacity;
  const needed = ["weightsBytes", "layers", "kvHeads", "headDim", "context", "parallel", "kvCacheType", "vramBytes"];
  return c && needed.every((k) => c[k] !== undefined) ? (c as CapacityFacts) : undefined;
}

function estimate(c: CapacityFacts) {
  const model = { weightsBytes: c.weightsBytes, layers: c.layers, kvHeads: c.kvHeads, headDim: c.headDim, quantization: "", nativeContext: c.context, source: "" };
  const gpu = { name: c.gpu, vramBytes: c.vramBytes, bandwidthBytesPerSecond: 1, source: "" };
  return { model, gpu, e: estimateModel(model, gpu, { context: c.context, parallel: c.parallel, kvCacheType: c.kvCacheType }, c.gpuOverheadBytes ?? 0) };
}

const gib = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;

export const modelFitsGpu: Rule = () => ({
  name: "model-fits-gpu",
  description: "Every model deployment fits its GPU's VRAM with its context, parallel slots and KV cache type.",
  reason: "A model that does not fit loads partly on the CPU (10× slower) or fails to load; prompts get truncated to make it fit.",
  source: "ollama-and-gpus.md §5 (KV formula) and §7.3",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== OLLAMA_MODEL) return;
    const c = facts(args.props);
    if (!c) return report(`${args.name} (${args.props.name}) carries no capacity facts, so its fit cannot be checked`);
    const { e } = estimate(c);
    if (!e.fits) report(`${args.props.name} needs ${gib(e.totalBytes)} on the ${c.gpu} (${gib(e.vramBytes)}) at ${c.context} context × ${c.parallel} slot(s) with ${c.kvCacheType} KV`);
  },
});

export const modelsFitTogether: Rule = () => ({
  name: "models-fit-together",
  description: "The models an Ollama server may keep loaded at once (OLLAMA_MAX_LOADED_MODELS) fit its GPU together.",
  reason: "Ollama evicts or offloads when co-resident models overflow VRAM; the largest allowed set must fit.",
  source: "ollama-and-gpus.md §4–5",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const byServer = new Map<string, CapacityFacts[]>();
    for (const r of args.resources) {
      if (r.type !== OLLAMA_MODEL) continue;
      const c = facts(r.props);
      if (c) byServer.set(r.props.host, [...(byServer.get(r.props.host) ?? []), c]);
    }
    for (const [server, models] of byServer) {
      const first = models[0];
      const estimates = models.map((m) => estimate(m).e);
      const co = coResidency(estimates, estimate(first).gpu, first.maxLoaded ?? 1, first.gpuOverheadBytes ?? 0);
      if (!co.worstCaseFits) report(`${server}: up to ${co.maxLoaded} co-resident models need ${gib(co.worstCaseBytes)} of ${gib(co.vramBytes)} on the ${first.gpu}`);
    }
  },
});
