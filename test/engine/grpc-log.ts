// What the engine and a provider plugin said to each other during a preview, from the engine's own gRPC log
// (PULUMI_DEBUG_GRPC=<file>: one JSON object per line, a request and its response). The engine test reads from it
// what the program sent the real proxmoxve plugin (Check's news), what the plugin made of it (Check's inputs: its
// defaults filled in, its validation passed) and the state it plans (preview Create's properties).
import { readFileSync } from "node:fs";

/** The engine's marker of a value not known before an apply (the wire form of an unknown). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface ProviderExchange {
  /** Check's request: the inputs the program registered (after the engine's secret and default handling). */
  news: Record<string, unknown>;
  /** Check's response: the inputs as the provider validated and completed them. */
  inputs: Record<string, unknown>;
  /** The preview Create's response: the state the provider plans for the new resource (unknowns as UNKNOWN). */
  planned?: Record<string, unknown>;
}

interface Entry {
  method: string;
  progress: string;
  request?: { urn?: string; news?: Record<string, unknown>; properties?: Record<string, unknown>; preview?: boolean };
  response?: { inputs?: Record<string, unknown>; properties?: Record<string, unknown>; failures?: unknown[] };
  metadata?: { name?: string };
}

/**
 * Every resource of `provider` (its package name, e.g. proxmoxve) the log's Check and preview Create calls touched,
 * by URN; the provider resource itself by its CheckConfig (a provider's state is its checked configuration).
 */
export function exchangesOf(file: string, provider: string): Map<string, ProviderExchange> {
  const out = new Map<string, ProviderExchange>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as Entry;
    if (e.progress !== "response_completed" || e.metadata?.name !== provider || !e.request?.urn) continue;
    const urn = e.request.urn;
    if ((e.method.endsWith("/Check") || e.method.endsWith("/CheckConfig")) && e.response?.inputs) {
      out.set(urn, { ...out.get(urn), news: e.request.news ?? {}, inputs: e.response.inputs });
    } else if (e.method.endsWith("/Create") && e.request.preview && e.response?.properties) {
      const known = out.get(urn);
      if (known) known.planned = e.response.properties;
    }
  }
  return out;
}

/** The value with every unknown (and every key whose value is unknown) left out: what is known before an apply. */
export function knownPart(value: unknown): unknown {
  if (value === UNKNOWN) return undefined;
  if (Array.isArray(value)) return value.map(knownPart);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .map(([k, v]) => [k, knownPart(v)] as const)
        .filter(([, v]) => v !== undefined),
    );
  }
  return value;
}
