// For tests that run the project's shell scripts for real: stand-ins for the system tools they call, and PEM blocks.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Writes `bin/<name>`: records "<name> <args>" as a line of `log` (a path, or a shell expression such as
 * "$ROOT/calls.log"), then runs `body` (bash).
 */
export function stubTool(bin: string, log: string, name: string, body = ""): void {
  writeFileSync(join(bin, name), `#!/bin/bash\necho "${name} $*" >> "${log}"\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}

/** A PEM block of KIND around `body` (not a real key or certificate: the scripts only move them). */
export const pemBlock = (kind: string, body: string) => `-----BEGIN ${kind}-----\n${Buffer.from(body).toString("base64")}\n-----END ${kind}-----\n`;
