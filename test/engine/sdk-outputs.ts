// What a provider computes, read from its generated Node.js SDK: for each resource type token, the output
// properties that are not inputs (`resourceInputs["x"] = undefined /*out*/` in the create branch of the class's
// constructor) and their declared types (`readonly x: pulumi.Output<T>` in the .d.ts). The stand-in provider fills
// them with placeholders of the declared shape, as the real provider would fill them with values, so that a later
// preview reads them from the state as known instead of unknown.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export type Placeholder = string | number | boolean | unknown[] | Record<string, unknown>;

/** A placeholder of the declared TypeScript type's shape (the first alternative of a union); none for assets. */
export function placeholderFor(type: string, name: string, token: string): Placeholder | undefined {
  const t = type.trim().split("|")[0].trim();
  if (t.startsWith("pulumi.asset.")) return undefined;
  if (t.endsWith("[]") || t.startsWith("Array<")) return [];
  if (t.startsWith("{") || t.startsWith("outputs.") || t.startsWith("Record<")) return {};
  if (t === "number") return 0;
  if (t === "boolean") return false;
  return `standin:${token}:${name}`;
}

/** The computed output names of one generated resource module (its .js text), in declaration order. */
export function computedOutputNames(js: string): string[] {
  // Two generator styles: `if (!opts.id) { create } else { state }` and `if (opts.id) { state } else { create }`.
  let createBranch: string;
  const negated = js.indexOf("if (!opts.id) {");
  if (negated >= 0) {
    const end = js.indexOf("else {", negated);
    createBranch = js.slice(negated, end < 0 ? undefined : end);
  } else {
    const state = js.indexOf("if (opts.id) {");
    if (state < 0) return [];
    const start = js.indexOf("else {", state);
    if (start < 0) return [];
    const end = js.indexOf("mergeOptions", start);
    createBranch = js.slice(start, end < 0 ? undefined : end);
  }
  return [...createBranch.matchAll(/resourceInputs\["([^"]+)"\] = undefined \/\*out\*\//g)].map((m) => m[1]);
}

/** Declared output types by property name, from the class declaration of a generated .d.ts. */
export function declaredOutputTypes(dts: string): Record<string, string> {
  const types: Record<string, string> = {};
  for (const m of dts.matchAll(/readonly (\w+): pulumi\.Output<([^;]+?)>;/gs)) types[m[1]] = m[2];
  // Multi-line object types: `readonly x: pulumi.Output<{` … `} | undefined>;`
  for (const m of dts.matchAll(/readonly (\w+): pulumi\.Output<\{/g)) types[m[1]] ??= "{";
  return types;
}

function jsFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules") continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) jsFiles(path, out);
    else if (entry.endsWith(".js")) out.push(path);
  }
  return out;
}

/** Type token → computed output placeholders, for every resource class of the SDK package in `dir`. */
export function computedOutputs(dir: string): Map<string, Record<string, Placeholder>> {
  const byToken = new Map<string, Record<string, Placeholder>>();
  for (const file of jsFiles(dir)) {
    const js = readFileSync(file, "utf8");
    const token = /__pulumiType = '([^']+)';/.exec(js)?.[1];
    if (!token || !token.includes(":")) continue;
    const dtsFile = file.replace(/\.js$/, ".d.ts");
    const types = existsSync(dtsFile) ? declaredOutputTypes(readFileSync(dtsFile, "utf8")) : {};
    const filled: Record<string, Placeholder> = {};
    for (const name of computedOutputNames(js)) {
      const value = placeholderFor(types[name] ?? "string", name, token);
      if (value !== undefined) filled[name] = value;
    }
    byToken.set(token, filled);
  }
  return byToken;
}
