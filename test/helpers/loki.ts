// The real Grafana Loki (built from the Go module proxy by scripts/loki.sh, cached under ~/.cache), started by the
// tests on loopback ports with the configuration the program renders.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { renderLokiConfig } from "../../lib/monitoring/loki";
import { freePort } from "./servers";
import { cachedBinary } from "./binaries";
import { MONITORING_DEFAULTS } from "../../lib/config/schema";

/** The loki binary scripts/loki.sh builds, at the version the monitoring container installs. */
export const lokiBinary = () => cachedBinary("loki", MONITORING_DEFAULTS.lokiVersion, "scripts/loki.sh");

export interface RunningLoki {
  url: string;
  configFile: string;
  stop(): Promise<void>;
}

/** Loki with the rendered configuration (its ports moved to free ones), data in `dir`; resolves once ready. */
export async function startLoki(dir: string): Promise<RunningLoki> {
  const config = parse(renderLokiConfig({ dataDir: join(dir, "loki"), retention: "31d" }));
  const port = await freePort();
  config.server.http_listen_port = port;
  config.server.grpc_listen_port = await freePort();
  const configFile = join(dir, "loki.yml");
  writeFileSync(configFile, stringify(config));
  const child = spawn(lokiBinary(), [`-config.file=${configFile}`], { stdio: "ignore" });
  const stop = () => new Promise<void>((r) => { if (child.exitCode !== null) return r(); child.once("exit", () => r()); child.kill("SIGKILL"); });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120; i++) {
    await new Promise((r) => setTimeout(r, 500));
    if (child.exitCode !== null) throw new Error(`loki exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/ready`)).status === 200) return { url, configFile, stop };
    } catch { /* not listening yet */ }
  }
  await stop();
  throw new Error("loki did not become ready in 60 s");
}
