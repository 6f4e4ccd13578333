// The Pulumi engine operations the operator commands need, behind an interface so that drift and drill logic is
// unit-tested with a scripted workspace; `automationWorkspace` is the real one (the Automation API over the
// project's own directory and the Pulumi CLI on PATH).
import type { EngineEvent } from "@pulumi/pulumi/automation";

/** One resource the engine would change: what `refresh` found to differ from the state. */
export interface ResourceChange {
  urn: string;
  type: string;
  op: string;
  /** The properties that differ (empty when the engine does not say, e.g. a resource gone). */
  properties: string[];
}

export interface StackWorkspace {
  /** `pulumi refresh --preview-only`: what a refresh would change, nothing written. */
  refreshPreview(stack: string): Promise<ResourceChange[]>;
  /** `pulumi destroy --exclude-protected`: protected resources (data, volumes, storage) stay. */
  destroyExcludingProtected(stack: string, onProgress: (line: string) => void): Promise<void>;
  /** `pulumi up --yes`. */
  up(stack: string, onProgress: (line: string) => void): Promise<void>;
  /** The stack's outputs (secrets stay secret). */
  outputs(stack: string): Promise<Record<string, unknown>>;
  /** One secret output in the clear, for a command that must use it (never printed). */
  secretOutput(stack: string, name: string): Promise<string | undefined>;
}

/** The top-level outputs that differ between two states of a resource. */
function changedOutputs(before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined): string[] {
  if (!before || !after) return [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

/**
 * The changes a stream of engine events announces (resource steps other than "same"). A refresh announces every
 * resource with op "refresh" before it reads it, and says what it found in the outputs event that follows ("same",
 * "update", "delete"): that one counts when the stream has it (the real engine showed it, test/integration).
 */
export function changesFromEvents(events: EngineEvent[]): ResourceChange[] {
  const outcomes = events.filter((e) => e.resOutputsEvent).map((e) => e.resOutputsEvent!.metadata);
  const steps = outcomes.length > 0 ? outcomes : events.filter((e) => e.resourcePreEvent).map((e) => e.resourcePreEvent!.metadata);
  const out: ResourceChange[] = [];
  for (const m of steps) {
    if (m.op === "same" || m.op === "refresh" || m.type.startsWith("pulumi:pulumi:Stack") || m.type.startsWith("pulumi:providers:")) continue;
    const properties = m.diffs ?? m.keys ?? changedOutputs(m.old?.outputs, m.new?.outputs);
    out.push({ urn: m.urn, type: m.type, op: m.op, properties: [...properties].sort() });
  }
  return out;
}

/** The real workspace: the project in `workDir`, the stacks as the operator's Pulumi login knows them. */
export function automationWorkspace(workDir: string): StackWorkspace {
  const select = async (stack: string) => {
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    return LocalWorkspace.selectStack({ stackName: stack, workDir });
  };
  const progress = (onProgress: (line: string) => void) => (e: EngineEvent) => {
    const m = e.resourcePreEvent?.metadata;
    if (m && m.op !== "same") onProgress(`  ${m.op} ${m.type} ${m.urn.split("::").at(-1)}`);
  };
  return {
    async refreshPreview(stack) {
      const s = await select(stack);
      const events: EngineEvent[] = [];
      await s.refresh({ previewOnly: true, onEvent: (e) => events.push(e) });
      return changesFromEvents(events);
    },
    async destroyExcludingProtected(stack, onProgress) {
      await (await select(stack)).destroy({ excludeProtected: true, onEvent: progress(onProgress) });
    },
    async up(stack, onProgress) {
      await (await select(stack)).up({ onEvent: progress(onProgress) });
    },
    async outputs(stack) {
      const o = await (await select(stack)).outputs();
      return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
    },
    async secretOutput(stack, name) {
      const v = (await (await select(stack)).outputs())[name]?.value;
      return typeof v === "string" ? v : undefined;
    },
  };
}
