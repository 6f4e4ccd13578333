// The Pulumi engine operations the operator commands need, behind an interface so that drift and drill logic is
// unit-tested with a scripted workspace; `automationWorkspace` is the real one (the Automation API over the
// project's own directory and the Pulumi CLI on PATH).
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { KEEP_DATA_ENV } from "../components/providers/keep-data";
import { PrerequisiteError, onPath } from "./prerequisites";

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
  /**
   * `pulumi destroy --exclude-protected`: protected resources (data, volumes, storage) stay. With keepData, what
   * holds data (models, tenants) also stays where it is and only leaves the state (components/providers/keep-data.ts).
   */
  destroyExcludingProtected(stack: string, onProgress: (line: string) => void, options?: { keepData?: boolean }): Promise<void>;
  /**
   * `pulumi state unprotect` of these resources (the ones in the state and protected there): what the destroy then
   * deletes. The program protects them again at the next `up`.
   */
  unprotect(stack: string, urns: string[]): Promise<string[]>;
  /** `pulumi up --yes` (with `--refresh`: what Vault keeps is read first, as after a rotation). */
  up(stack: string, onProgress: (line: string) => void, options?: { refresh?: boolean }): Promise<void>;
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

/** An exported state with these resources' protect flag cleared; `unprotected`: the URNs that had it. */
export function withoutProtection<T extends { deployment: { resources?: { urn: string; protect?: boolean }[] } }>(
  state: T,
  urns: string[],
): { state: T; unprotected: string[] } {
  const wanted = new Set(urns);
  const unprotected: string[] = [];
  const resources = (state.deployment.resources ?? []).map((r) => {
    if (!wanted.has(r.urn) || !r.protect) return r;
    unprotected.push(r.urn);
    return { ...r, protect: false };
  });
  return { state: { ...state, deployment: { ...state.deployment, resources } }, unprotected };
}

/** A `pulumi` command that ran and failed (no such stack, not logged in, an update that failed): its own words. */
export class PulumiCommandError extends Error {
  override name = "PulumiCommandError";
}

/** The Automation API's CommandError as the CLI reports it: the command's error lines, not its whole output. */
function pulumiFailure(err: unknown, CommandError: typeof import("@pulumi/pulumi/automation").CommandError): unknown {
  if (!(err instanceof CommandError)) return err;
  const lines = err.message
    .split("\n")
    .filter((l) => /^\s*error:/.test(l))
    .map((l) => l.trim());
  return new PulumiCommandError(`pulumi failed: ${lines.length ? lines.join("; ") : err.message.trim().split("\n").slice(-3).join(" ")}`);
}

/** The real workspace: the project in `workDir`, the stacks as the operator's Pulumi login knows them. */
export function automationWorkspace(workDir: string): StackWorkspace {
  /** Runs `fn` on the selected stack; a failed pulumi command becomes a PulumiCommandError. */
  const onStack = async <T>(stack: string, fn: (s: Stack) => Promise<T>): Promise<T> => {
    if (!onPath("pulumi")) {
      throw new PrerequisiteError(
        "the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/); `dualstack doctor` lists what the live commands need",
      );
    }
    const { LocalWorkspace, CommandError } = await import("@pulumi/pulumi/automation");
    try {
      return await fn(await LocalWorkspace.selectStack({ stackName: stack, workDir }));
    } catch (err) {
      throw pulumiFailure(err, CommandError);
    }
  };
  const progress = (onProgress: (line: string) => void) => (e: EngineEvent) => {
    const m = e.resourcePreEvent?.metadata;
    if (m && m.op !== "same") onProgress(`  ${m.op} ${m.type} ${m.urn.split("::").at(-1)}`);
  };
  return {
    refreshPreview: (stack) =>
      onStack(stack, async (s) => {
        const events: EngineEvent[] = [];
        await s.refresh({ previewOnly: true, onEvent: (e) => events.push(e) });
        return changesFromEvents(events);
      }),
    destroyExcludingProtected: (stack, onProgress, options) =>
      onStack(stack, async (s) => {
        // The providers run under the CLI, which gets the workspace's environment.
        if (options?.keepData) s.workspace.envVars[KEEP_DATA_ENV] = "1";
        try {
          await s.destroy({ excludeProtected: true, onEvent: progress(onProgress) });
        } finally {
          if (options?.keepData) delete s.workspace.envVars[KEEP_DATA_ENV];
        }
      }),
    unprotect: (stack, urns) =>
      onStack(stack, async (s) => {
        const { state, unprotected } = withoutProtection(await s.exportStack(), urns);
        if (unprotected.length) await s.importStack(state);
        return unprotected;
      }),
    up: (stack, onProgress, options) =>
      onStack(stack, async (s) => void (await s.up({ onEvent: progress(onProgress), ...(options?.refresh ? { refresh: true } : {}) }))),
    outputs: (stack) =>
      onStack(stack, async (s) => Object.fromEntries(Object.entries(await s.outputs()).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]))),
    secretOutput: (stack, name) =>
      onStack(stack, async (s) => {
        const v = (await s.outputs())[name]?.value;
        return typeof v === "string" ? v : undefined;
      }),
  };
}
