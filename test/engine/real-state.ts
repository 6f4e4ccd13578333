// The state a real provider would hold, for resources whose server does not exist here. The engine test creates
// every resource with the stand-ins (`up`), then gives each resource of a really bridged provider (proxmoxve) the
// state that provider would have written: its inputs as the provider's Check completed them, its outputs as the
// provider planned them in the preview, with what only an apply can know (a MAC address, an uptime) taken from the
// stand-in's outputs where it has them. A preview with the real provider over that state then shows whatever the real
// provider logic would change on the next run: a perpetual diff fails the test.
import type { ProviderExchange } from "./grpc-log";
import { UNKNOWN } from "./grpc-log";

// The engine's secret markers (the wire form the plugin sees, and the deployment form `stack import` takes).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { specialSigKey, specialSecretSig } = require("@pulumi/pulumi/runtime/rpc");

/** A value from the gRPC log in the deployment format: a secret {sig, value} becomes {sig, plaintext: JSON}. */
export function asDeployment(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asDeployment);
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (o[specialSigKey] === specialSecretSig && "value" in o) return { [specialSigKey]: specialSecretSig, plaintext: JSON.stringify(o.value) };
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, asDeployment(v)]));
  }
  return value;
}

const isSecret = (v: unknown) => Boolean(v && typeof v === "object" && (v as Record<string, unknown>)[specialSigKey] === specialSecretSig);

/** A property's declared shape in a package schema. */
export interface SchemaProperty {
  type?: string;
  $ref?: string;
  items?: SchemaProperty;
  additionalProperties?: SchemaProperty;
}

/** The empty value of a declared type (what a provider's read of an unset attribute gives): "", 0, false, [], {}. */
export function emptyOf(spec: SchemaProperty | undefined): unknown {
  switch (spec?.type) {
    case "string":
      return "";
    case "integer":
    case "number":
      return 0;
    case "boolean":
      return false;
    case "array":
      return [];
    default:
      return spec ? {} : undefined;
  }
}

/** Where to look up a property's declared shape: the schema's types, by reference. */
export type TypeLookup = (ref: string) => Record<string, SchemaProperty> | undefined;

/**
 * `planned` with each unknown replaced by the stand-in's value at the same place, else by the empty value of the
 * type the plugin's schema declares there (`spec`), else left out; a value the stand-in's state holds as a secret
 * stays one (the engine would have kept it encrypted).
 */
export function settle(planned: unknown, standIn: unknown, spec?: SchemaProperty, types: TypeLookup = () => undefined): unknown {
  if (planned === UNKNOWN) return standIn !== undefined ? standIn : emptyOf(spec);
  if (isSecret(standIn) && !isSecret(planned)) return { [specialSigKey]: specialSecretSig, plaintext: JSON.stringify(planned) };
  if (Array.isArray(planned)) return planned.map((v, i) => settle(v, Array.isArray(standIn) ? standIn[i] : undefined, spec?.items, types));
  if (planned && typeof planned === "object") {
    const s = standIn && typeof standIn === "object" && !Array.isArray(standIn) ? (standIn as Record<string, unknown>) : {};
    const properties = spec?.$ref ? (types(spec.$ref) ?? {}) : ((spec as { properties?: Record<string, SchemaProperty> } | undefined)?.properties ?? {});
    return Object.fromEntries(
      Object.entries(planned)
        .map(([k, v]) => [k, settle(v, s[k], spec?.additionalProperties ?? properties[k], types)] as const)
        .filter(([, v]) => v !== undefined),
    );
  }
  return planned;
}

interface StateResource {
  urn: string;
  type: string;
  id?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

/**
 * Gives every resource of `exchanges` (by URN) in the exported deployment the real provider's inputs and planned
 * outputs; `idField` names, per type, the input a resource's id is (the PF resources whose own "id" the bridge
 * renames). Returns the URNs it rewrote; a resource of the provider that the preview never touched is an error.
 */
export function applyRealState(
  deployment: { deployment: { resources?: StateResource[] } },
  provider: string,
  exchanges: Map<string, ProviderExchange>,
  schema: {
    resources: Record<string, { properties?: Record<string, SchemaProperty> }>;
    types: Record<string, { properties?: Record<string, SchemaProperty> }>;
  },
  idField: Record<string, string> = {},
): string[] {
  const types: TypeLookup = (ref) => schema.types[ref.replace(/^#\/types\//, "")]?.properties;
  const done: string[] = [];
  for (const r of deployment.deployment.resources ?? []) {
    if (r.type === `pulumi:providers:${provider}`) {
      const x = exchanges.get(r.urn);
      if (!x) throw new Error(`${r.urn}: the preview with the real ${provider} plugin did not check its configuration`);
      // The engine adds the plugin's version to a provider's inputs; the plugin's CheckConfig does not return it.
      const version = r.inputs?.version;
      r.inputs = asDeployment({ ...x.inputs, ...(version ? { version } : {}) }) as Record<string, unknown>;
      r.outputs = r.inputs;
      done.push(r.urn);
      continue;
    }
    if (!r.type.startsWith(`${provider}:`)) continue;
    const x = exchanges.get(r.urn);
    if (!x?.planned) throw new Error(`${r.urn}: the preview with the real ${provider} plugin did not plan it`);
    r.inputs = asDeployment(x.inputs) as Record<string, unknown>;
    r.outputs = asDeployment(settle(x.planned, r.outputs, { properties: schema.resources[r.type]?.properties } as SchemaProperty, types)) as Record<
      string,
      unknown
    >;
    const key = idField[r.type];
    if (key && typeof x.inputs[key] === "string") r.id = x.inputs[key] as string;
    done.push(r.urn);
  }
  return done;
}
