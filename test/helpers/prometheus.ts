// The real Prometheus (Debian's package), started by the tests on a loopback port with a configuration they give.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./servers";
import { answers, startProcess } from "./process";

export interface RunningPrometheus {
  url: string;
  stop(): Promise<void>;
}

/** Prometheus with `config` (written to `dir`/prometheus.yml), its TSDB in `dir` and `extraArgs`; resolves once it is ready. */
export async function startPrometheus(dir: string, config: unknown, extraArgs: string[] = []): Promise<RunningPrometheus> {
  const port = await freePort();
  writeFileSync(join(dir, "prometheus.yml"), JSON.stringify(config));
  const url = `http://127.0.0.1:${port}`;
  const prom = await startProcess(
    "prometheus",
    [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${port}`, ...extraArgs],
    {
      ready: () => answers(`${url}/-/ready`, { status: 200 }),
    },
  );
  return { url, stop: () => prom.stop() };
}
