import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { UnknownValueError } from "@pulumi/policy";
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

/**
 * The entries of a resource's property object whose values are known. During a real preview the engine hands policies
 * the properties behind a proxy that throws UnknownValueError when a value is not known yet; a rule that walks every
 * property must step over those instead of failing as a whole (which the engine reports as "can't run policy").
 */
export function knownEntries(value: object): [string, unknown][] {
  const entries: [string, unknown][] = [];
  for (const key of Object.keys(value)) {
    try {
      entries.push([key, (value as Record<string, unknown>)[key]]);
    } catch (err) {
      if (!(err instanceof UnknownValueError)) throw err;
    }
  }
  return entries;
}

/** Whether a property is set: a value not known yet during a preview counts as set (it will hold something). */
export function isSet(value: object | undefined, key: string): boolean {
  if (!value) return false;
  try {
    return Boolean((value as Record<string, unknown>)[key]);
  } catch (err) {
    if (err instanceof UnknownValueError) return true;
    throw err;
  }
}
