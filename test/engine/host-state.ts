// The host stack's state for the real-engine test: the host cannot be deployed here (no Proxmox), so the outputs the
// environment stacks read through their StackReference come from the offline engine's result, put on the root
// stack resource of an exported (empty) host deployment, which `pulumi stack import` then loads.
import type { PlanResult } from "../../ops/engine";

// The engine's marker of a secret value (its signature key and value), from the SDK.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { specialSigKey, specialSecretSig } = require("@pulumi/pulumi/runtime/rpc");

interface Deployment {
  version: number;
  deployment: { manifest: unknown; secrets_providers?: unknown; resources?: Record<string, unknown>[] };
}

export interface HostState {
  deployment: Deployment;
  /** Outputs left out because the offline engine cannot know them (they exist only after a real apply). */
  unknown: string[];
}

/**
 * The exported deployment with a root stack resource holding the host plan's known outputs. Secret outputs are
 * given in the deployment format's plaintext form; the import encrypts them with the stack's secrets provider.
 */
export function hostStateFrom(exported: Deployment, host: PlanResult, project: string): HostState {
  if (exported.version !== 3) throw new Error(`expected a version 3 deployment from pulumi stack export, got version ${exported.version}`);
  const outputs: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [key, out] of Object.entries(host.outputs)) {
    if (!out.known) {
      unknown.push(key);
      continue;
    }
    outputs[key] = out.secret ? { [specialSigKey]: specialSecretSig, plaintext: JSON.stringify(out.value) } : out.value;
  }
  const root = {
    urn: `urn:pulumi:${host.stack}::${project}::pulumi:pulumi:Stack::${project}-${host.stack}`,
    custom: false,
    type: "pulumi:pulumi:Stack",
    outputs,
  };
  return {
    deployment: { ...exported, deployment: { ...exported.deployment, resources: [root] } },
    unknown: unknown.sort(),
  };
}
