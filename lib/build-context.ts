// What makes a locally built image stale: the content of its build context. Read here, at program start, so that an
// edit to an app's source is a visible rebuild in the plan.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const SKIPPED = new Set([".git", "node_modules", "__pycache__", ".venv"]);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      if (SKIPPED.has(e.name)) return [];
      const path = join(dir, e.name);
      return e.isDirectory() ? files(path) : e.isFile() ? [path] : [];
    })
    .sort();
}

/** A digest of every file's path and content under the context (relative to the working directory). */
export function contextDigest(context: string): string {
  const hash = createHash("sha256");
  for (const f of files(context)) hash.update(relative(context, f)).update("\0").update(readFileSync(f)).update("\0");
  return hash.digest("hex");
}

/** Why a build context cannot be used, or undefined when its directory and Dockerfile are there. */
export function buildContextProblem(context: string, dockerfile = "Dockerfile"): string | undefined {
  try {
    if (!statSync(context).isDirectory()) return `"${context}" is not a directory`;
  } catch {
    return `directory "${context}" does not exist (paths are relative to the project directory, ${process.cwd()})`;
  }
  try {
    statSync(join(context, dockerfile));
  } catch {
    return `"${context}" has no ${dockerfile}`;
  }
  return undefined;
}

export const buildTriggers = (context: string) => ({ "context-sha256": contextDigest(context) });
