// The real servers the tests run that scripts/*.sh build from the Go module proxy (Loki, Ollama, Vault): found on
// PATH (outside /usr, where Debian's unrelated "loki" lives), or where the script caches them.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** `<name>` on PATH, or `<cache>/<name>-<version>/bin/<name>`; an error naming the script that builds it. */
export function cachedBinary(name: string, version: string, script: string): string {
  for (const dir of (process.env.PATH ?? "").split(":")) if (dir && !dir.startsWith("/usr") && existsSync(join(dir, name))) return join(dir, name);
  const cached = join(process.env.AI_DUALSTACK_CACHE ?? join(homedir(), ".cache/ai-dualstack"), `${name}-${version}`, "bin", name);
  if (existsSync(cached)) return cached;
  throw new Error(`${name} ${version} is not built: run ${script} (.ci/run does)`);
}
