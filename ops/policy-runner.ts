// Runs the policy pack's rule objects in-process over a stack's resources from the offline engine, with the
// argument shapes CrossGuard gives them (resource rules per resource, stack rules over all), so that
// `dualstack policy` and `pulumi preview --policy-pack policies` judge with the very same code. Values not known
// before apply reach the rules as the real engine hands them over: behind CrossGuard's unknown-checking proxy, where
// reading one throws and the engine turns the throw into an advisory "can't run policy … during preview".
import { UnknownValueError, unknownCheckingProxy } from "@pulumi/policy";
import type { EnforcementLevel, PolicyResource, ResourceValidation, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { buildPolicies } from "../policies/all";
import { isStackPolicy, type DocumentedPolicy } from "../policies/support/policy";
import { COMPUTED_MARK, type PlanResult, type PlannedResource } from "./engine";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { unknownStringValue } = require("@pulumi/policy/proxy");

/** The offline engine's "(known after apply)" marks back as CrossGuard's unknown values. */
function withUnknowns(value: unknown): unknown {
  if (value === COMPUTED_MARK) return unknownStringValue;
  if (Array.isArray(value)) return value.map(withUnknowns);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withUnknowns(v)]));
  return value;
}

export interface Violation {
  policy: string;
  enforcement: EnforcementLevel;
  urn: string;
  message: string;
}

/** `--policy-pack-config` format: {"policy-name": "advisory" | {"enforcementLevel": "disabled", …}}. */
export type PolicyConfig = Record<string, EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)>;

const LEVELS: EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

export class PolicyConfigError extends Error {}

export function checkPolicyConfig(config: unknown, policies: DocumentedPolicy[]): PolicyConfig {
  if (!config || typeof config !== "object" || Array.isArray(config))
    throw new PolicyConfigError("policy config: expected a JSON object of policy name → enforcement level");
  const names = policies.map((p) => p.name);
  const problems: string[] = [];
  for (const [name, value] of Object.entries(config)) {
    if (name !== "all" && !names.includes(name)) problems.push(`${name}: no such policy; known: ${names.join(", ")}`);
    const level = typeof value === "string" ? value : (value as { enforcementLevel?: string })?.enforcementLevel;
    if (level !== undefined && !LEVELS.includes(level as EnforcementLevel))
      problems.push(`${name}: expected one of ${LEVELS.join(", ")}, got ${JSON.stringify(level)}`);
  }
  if (problems.length) throw new PolicyConfigError(`policy config:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  return config as PolicyConfig;
}

function levelOf(policy: DocumentedPolicy, config: PolicyConfig): EnforcementLevel {
  const own = config[policy.name] ?? config.all;
  const configured = typeof own === "string" ? own : own?.enforcementLevel;
  return configured ?? policy.enforcementLevel ?? "advisory";
}

class NotApplicable extends Error {}

/** A policy's configuration as CrossGuard gives it: its schema's defaults, overlaid with the configured values. */
function configOf(policy: DocumentedPolicy, config: PolicyConfig): Record<string, unknown> {
  const defaults = Object.fromEntries(
    Object.entries(policy.configSchema?.properties ?? {})
      .filter(([, p]) => (p as { default?: unknown }).default !== undefined)
      .map(([k, p]) => [k, (p as { default?: unknown }).default]),
  );
  const own = config[policy.name];
  const values = own && typeof own === "object" ? Object.fromEntries(Object.entries(own).filter(([k]) => k !== "enforcementLevel")) : {};
  return { ...defaults, ...values };
}

function common(policyConfig: Record<string, unknown> = {}) {
  return {
    stackTags: new Map<string, string>(),
    getConfig: <T extends object>() => policyConfig as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
  };
}

function resourceArgs(r: PlannedResource, policyConfig: Record<string, unknown> = {}): ResourceValidationArgs {
  return {
    type: r.type,
    props: unknownCheckingProxy(withUnknowns(r.inputs)),
    urn: r.urn,
    name: r.name,
    opts: {
      protect: r.options.protect,
      ignoreChanges: [],
      deleteBeforeReplace: r.options.deleteBeforeReplace,
      aliases: [],
      additionalSecretOutputs: r.options.additionalSecretOutputs,
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      parent: r.parent,
    } as ResourceValidationArgs["opts"],
    isType: () => false,
    asType: () => undefined,
    ...common(policyConfig),
  } as unknown as ResourceValidationArgs;
}

function stackResources(plan: PlanResult): PolicyResource[] {
  const byUrn = new Map<string, PolicyResource>();
  const out = plan.resources.map((r) => {
    const pr = { ...resourceArgs(r), dependencies: [], propertyDependencies: {} } as unknown as PolicyResource;
    byUrn.set(r.urn, pr);
    return pr;
  });
  plan.resources.forEach((r, i) => {
    (out[i] as { parent?: PolicyResource }).parent = r.parent ? byUrn.get(r.parent) : undefined;
    (out[i] as { dependencies: PolicyResource[] }).dependencies = r.options.dependsOn.map((u) => byUrn.get(u)).filter((x): x is PolicyResource => !!x);
  });
  return out;
}

export async function runPolicies(plan: PlanResult, policies: DocumentedPolicy[] = buildPolicies(), config: PolicyConfig = {}): Promise<Violation[]> {
  const violations: Violation[] = [];
  const resources = stackResources(plan);
  for (const policy of policies) {
    const enforcement = levelOf(policy, config);
    if (enforcement === "disabled") continue;
    const policyConfig = configOf(policy, config);
    const report = (urn: string) => (message: string, at?: string) => violations.push({ policy: policy.name, enforcement, urn: at ?? urn, message });
    const cannotRun = (urn: string, err: UnknownValueError) =>
      violations.push({ policy: policy.name, enforcement: "advisory", urn, message: `can't run policy '${policy.name}' during preview: ${err.message}` });
    try {
      if (isStackPolicy(policy)) {
        await policy.validateStack({ resources, ...common(policyConfig) } as StackValidationArgs, report(""));
      } else {
        const validators = ([] as ResourceValidation[]).concat(policy.validateResource ?? []);
        for (const r of plan.resources) {
          for (const validate of validators) {
            try {
              await validate(resourceArgs(r, policyConfig), report(r.urn));
            } catch (err) {
              if (err instanceof UnknownValueError) cannotRun(r.urn, err);
              else if (!(err instanceof NotApplicable)) throw err;
            }
          }
        }
      }
    } catch (err) {
      if (err instanceof UnknownValueError) cannotRun("", err);
      else if (!(err instanceof NotApplicable)) throw new Error(`policy ${policy.name} failed: ${(err as Error).message}`, { cause: err });
    }
  }
  return violations;
}

export function hasMandatory(violations: Violation[]): boolean {
  return violations.some((v) => v.enforcement === "mandatory" || v.enforcement === "remediate");
}

/** "stack::project::type::name" → "name (type)". */
function where(urn: string): string {
  if (!urn) return "stack";
  const parts = urn.split("::");
  return `${parts[3]} (${parts[2]?.split("$").pop()})`;
}

export function renderViolations(violations: Violation[], policyCount: number): string {
  const lines = violations.map((v) => `[${v.enforcement}] ${v.policy}: ${where(v.urn)}: ${v.message}`);
  const mandatory = violations.filter((v) => v.enforcement === "mandatory" || v.enforcement === "remediate").length;
  lines.push(`${policyCount} policies: ${mandatory} mandatory and ${violations.length - mandatory} advisory violation(s)`);
  return lines.join("\n");
}
