// The real caddy (Debian's package), run by the tests on a Caddyfile the program renders, on loopback ports.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

/** Resolves once something accepts connections on 127.0.0.1:port (10 s at most). */
export async function listening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => (s.destroy(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** Writes `caddyfile` into `dir` and runs caddy on it until the returned stop() (its state stays in `dir`). */
export async function startCaddy(dir: string, caddyfile: string, ports: number[]): Promise<() => Promise<void>> {
  writeFileSync(join(dir, "Caddyfile"), caddyfile);
  const caddy: ChildProcess = spawn("caddy", ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], { stdio: "ignore", env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir } });
  const stop = async () => {
    caddy.kill("SIGKILL");
    await new Promise((r) => caddy.once("exit", r));
  };
  try {
    for (const p of ports) await listening(p);
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}
