import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import type { Topology } from "./topology";

/** Every rule says why it exists and where that comes from. */
export interface Documentation {
  reason: string;
  source: string;
}
export type DocumentedResourcePolicy = ResourceValidationPolicy & Documentation;
export type DocumentedStackPolicy = StackValidationPolicy & Documentation;
export type DocumentedPolicy = DocumentedResourcePolicy | DocumentedStackPolicy;
/** Rules are built over the pack's topology (policies/topology.json), so tests can give them another. */
export type Rule = (t: Topology) => DocumentedPolicy;

export function isStackPolicy(p: DocumentedPolicy): p is DocumentedStackPolicy {
  return "validateStack" in p;
}
