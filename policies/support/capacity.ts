// The capacity facts a model deployment carries, and the estimate recomputed from them (lib/capacity/planner).
import { estimateModel, type KvCacheType } from "../../lib/capacity/planner";
import type { Props } from "./guests";

/** The capacity facts a model deployment carries as an input (components/model-deployment.ts). */
export interface CapacityFacts {
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

export function facts(props: Props): CapacityFacts | undefined {
  const c = props.capacity;
  const needed = ["weightsBytes", "layers", "kvHeads", "headDim", "context", "parallel", "kvCacheType", "vramBytes"];
  return c && needed.every((k) => c[k] !== undefined) ? (c as CapacityFacts) : undefined;
}

export function estimate(c: CapacityFacts) {
  const model = {
    weightsBytes: c.weightsBytes,
    layers: c.layers,
    kvHeads: c.kvHeads,
    headDim: c.headDim,
    quantization: "",
    nativeContext: c.context,
    source: "",
  };
  const gpu = { name: c.gpu, vramBytes: c.vramBytes, bandwidthBytesPerSecond: 1, source: "" };
  return { model, gpu, e: estimateModel(model, gpu, { context: c.context, parallel: c.parallel, kvCacheType: c.kvCacheType }, c.gpuOverheadBytes ?? 0) };
}

export const gib = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;
