// The real caddy (Debian's package), run by the tests on a Caddyfile the program renders, on loopback ports.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { accepts, startProcess } from "./process";

/** Writes `caddyfile` into `dir` and runs caddy on it until the returned stop() (its state stays in `dir`). */
export async function startCaddy(dir: string, caddyfile: string, ports: number[]): Promise<() => Promise<void>> {
  writeFileSync(join(dir, "Caddyfile"), caddyfile);
  const caddy = await startProcess("caddy", ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], {
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
    ready: async () => (await Promise.all(ports.map((p) => accepts(p)))).every(Boolean),
    readyTimeoutMs: 10_000,
  });
  return () => caddy.stop();
}
