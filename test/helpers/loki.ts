// The real Grafana Loki (built from the Go module proxy by scripts/loki.sh, cached under ~/.cache), started by the
// tests on loopback ports with the configuration the program renders.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { renderLokiConfig } from "../../lib/monitoring/loki";
import { freePort } from "./servers";
import { answers, startProcess, tool } from "./process";

/** The loki binary scripts/loki.sh builds, at the version the monitoring container installs. */
export const lokiBinary = () => tool("loki");

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
  const url = `http://127.0.0.1:${port}`;
  const loki = await startProcess("loki", [`-config.file=${configFile}`], {
    ready: () => answers(`${url}/ready`, { status: 200 }),
    readyTimeoutMs: 60_000,
    pollMs: 500,
  });
  return { url, configFile, stop: () => loki.stop() };
}
