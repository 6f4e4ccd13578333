import * as pulumi from "@pulumi/pulumi";
import type { ModelRow } from "../lib/capacity/report";
import type { ModelDeploymentConfig } from "../lib/config/schema";
import { basesOf, deploymentOrder } from "../lib/model-order";
import { OllamaModel } from "./providers/ollama-model";

export interface ModelDeploymentArgs {
  /** The environment's Ollama API, e.g. "https://10.20.0.10:11434" (through the VM's TLS gateway). */
  host: pulumi.Input<string>;
  /** The environment CA, which the gateway's certificate chains to. */
  caCert?: pulumi.Input<string>;
  deployment: ModelDeploymentConfig;
  /** Its line of the capacity report: carried as an input so that policies can check the fit at preview. */
  capacity: ModelRow;
  keepAlive: string;
  stallSeconds?: number;
}

/**
 * A model served by the environment's Ollama, kept as declared: pulled by tag, or derived with its context and
 * parameters baked in (so clients cannot force a reload with another num_ctx); optionally loaded right away, and
 * then required to sit entirely in VRAM.
 */
export class ModelDeployment extends pulumi.ComponentResource {
  public readonly model: OllamaModel;

  constructor(name: string, args: ModelDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:workload:ModelDeployment", name, {}, opts);
    const d = args.deployment;
    const derived = d.from !== undefined;
    this.model = new OllamaModel(
      `${name}-model`,
      {
        host: args.host,
        ...(args.caCert ? { caCert: args.caCert } : {}),
        name: d.name,
        from: d.from,
        parameters: derived ? { ...(d.parameters ?? {}), num_ctx: args.capacity.context } : undefined,
        system: d.system,
        template: d.template,
        warm: d.warm,
        keepAlive: args.keepAlive,
        requireFullGpu: true,
        stallSeconds: args.stallSeconds ?? 300,
        maxResumes: 5,
        // The facts, not only the verdict: the policy pack recomputes the fit from them at preview.
        capacity: {
          catalogModel: args.capacity.catalogModel,
          weightsBytes: args.capacity.weightsBytes,
          layers: args.capacity.layers,
          kvHeads: args.capacity.kvHeads,
          headDim: args.capacity.headDim,
          context: args.capacity.context,
          parallel: args.capacity.parallel,
          kvCacheType: args.capacity.kvCacheType,
          gpu: args.capacity.gpu,
          vramBytes: args.capacity.vramBytes,
          gpuOverheadBytes: args.capacity.gpuOverheadBytes,
          maxLoaded: args.capacity.maxLoaded,
          totalBytes: args.capacity.totalBytes,
          fits: args.capacity.fits,
        },
      },
      { parent: this },
    );
    this.registerOutputs({ model: this.model });
  }
}

/**
 * Every model of an environment, each derived model deployed after the model it is derived from when that one is
 * deployed here too (lib/model-order.ts says why). Returns the deployments in declared order.
 */
export function deployModels(
  deployments: ModelDeploymentConfig[],
  deploy: (d: ModelDeploymentConfig, i: number, after: pulumi.Resource[]) => ModelDeployment,
): ModelDeployment[] {
  const bases = basesOf(deployments);
  const made: ModelDeployment[] = [];
  for (const i of deploymentOrder(deployments)) {
    const base = bases[i];
    made[i] = deploy(deployments[i], i, base === undefined ? [] : [made[base]]);
  }
  return made;
}
