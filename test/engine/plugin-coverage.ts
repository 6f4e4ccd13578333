// Does the bridged proxmoxve plugin know everything the program sends it? Every resource type of the provider in
// the plans (shipped and example stacks) must be a resource of the plugin's schema (`pulumi package get-schema`, the
// real tool), and every input property, at any depth, a property of its schema type. A name the plugin does not know
// would be dropped or refused on a real box.
import type { PlanResult } from "../../ops/engine";

interface SchemaProperty {
  type?: string;
  $ref?: string;
  items?: SchemaProperty;
  additionalProperties?: SchemaProperty;
  properties?: Record<string, SchemaProperty>;
}
export interface PackageSchema {
  name: string;
  resources: Record<string, { inputProperties?: Record<string, SchemaProperty> }>;
  types: Record<string, { properties?: Record<string, SchemaProperty> }>;
  provider: { inputProperties?: Record<string, SchemaProperty> };
}

/** The problems with `value` against `spec` at `path` (a dotted path for the message). */
function checkValue(schema: PackageSchema, value: unknown, spec: SchemaProperty | undefined, path: string, out: string[]): void {
  if (!spec || value === null || value === undefined || typeof value === "string") return; // strings: also the plan's secret/unknown marks
  if (spec.$ref) {
    const type = schema.types[spec.$ref.replace(/^#\/types\//, "")];
    if (!type) return void out.push(`${path}: the schema refers to ${spec.$ref}, which it does not define`);
    return checkObject(schema, value, type.properties ?? {}, path, out);
  }
  if (spec.type === "array" && Array.isArray(value)) value.forEach((v, i) => checkValue(schema, v, spec.items, `${path}[${i}]`, out));
  else if (spec.type === "object" && value && typeof value === "object" && spec.additionalProperties)
    for (const [k, v] of Object.entries(value)) checkValue(schema, v, spec.additionalProperties, `${path}.${k}`, out);
}

function checkObject(schema: PackageSchema, value: unknown, properties: Record<string, SchemaProperty>, path: string, out: string[]): void {
  if (!value || typeof value !== "object" || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (!(k in properties)) out.push(`${path}.${k}: not a property the plugin knows`);
    else checkValue(schema, v, properties[k], `${path}.${k}`, out);
  }
}

/** Every problem found (empty when the plugin knows every type and input), and what was checked. */
export function checkPluginCoverage(schema: PackageSchema, plans: PlanResult[]): { problems: string[]; types: Set<string>; inputs: number } {
  const problems = new Set<string>();
  const types = new Set<string>();
  let inputs = 0;
  for (const plan of plans) {
    for (const r of plan.resources) {
      const provider = r.type === `pulumi:providers:${schema.name}`;
      if (!provider && !r.type.startsWith(`${schema.name}:`)) continue;
      types.add(r.type);
      const properties = provider ? schema.provider.inputProperties : schema.resources[r.type]?.inputProperties;
      if (!properties) {
        problems.add(`${r.type}: not a resource of the plugin`);
        continue;
      }
      const out: string[] = [];
      checkObject(schema, r.inputs, properties, r.type, out);
      inputs += Object.keys(r.inputs).length;
      for (const p of out) problems.add(p.replace(/\[\d+\]/g, "[]"));
    }
  }
  return { problems: [...problems].sort(), types, inputs };
}
