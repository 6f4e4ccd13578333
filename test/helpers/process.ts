// The one way the tests start the programs they check against: servers (caddy, Prometheus, Loki, Redis, Ollama,
// Vault, the registry) and one-shot runs. A program that is not installed fails at once, naming it and its Debian
// package (ops/prerequisites.js); a program that never starts, dies early or never gets ready is an error within
// its timeout, with the end of its output; stopping is idempotent and always returns. execa does the process
// handling: the spawn error (ENOENT) and the exit are one settled promise, and children die with the test worker.
// execa is ESM-only: it is imported when first used, so that the helpers also load in plain node under tsx's CommonJS
// hooks (test/serialization/check-providers.ts), where a static import of it cannot be required.
import type { ResultPromise } from "execa";
import { connect } from "node:net";
import { isAbsolute } from "node:path";
import { requireTool } from "../../ops/prerequisites";

/** The absolute path of a tool the tests need; throws, naming the tool and its package, when it is not installed. */
export function tool(name: string): string {
  return isAbsolute(name) ? name : requireTool(name);
}

/** One attempt: does something accept connections on host:port? */
export function accepts(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host, () => (s.destroy(), resolve(true)));
    s.on("error", () => resolve(false));
  });
}

/** One attempt: does `url` answer (below 500, or exactly `status`)? `fetchFn` for a custom dispatcher (TLS CA). */
export async function answers(url: string, options: { status?: number; fetchFn?: (url: string) => Promise<{ status: number }> } = {}): Promise<boolean> {
  try {
    const res = await (options.fetchFn ?? fetch)(url);
    return options.status === undefined ? res.status < 500 : res.status === options.status;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The last `limit` characters a process wrote (stdout and stderr interleaved), for error messages. */
function outputTail(sub: ResultPromise, limit = 4000): () => string {
  let tail = "";
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-limit);
  };
  sub.stdout?.on("data", keep);
  sub.stderr?.on("data", keep);
  return () => tail.trim();
}

export interface StartOptions {
  /** Polled every `pollMs` until it resolves true: the program is ready. */
  ready: () => Promise<boolean>;
  /** The whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How long it may take to get ready (default 30 s). */
  readyTimeoutMs?: number;
  pollMs?: number;
  /** The signal stop() sends first (default SIGKILL: the tests' servers keep nothing worth a clean shutdown). */
  stopSignal?: NodeJS.Signals;
  /** Called with every chunk of output (a log file, say). */
  onOutput?: (chunk: Buffer) => void;
}

export interface Started {
  readonly pid: number | undefined;
  /** The end of what it wrote. */
  output(): string;
  /** Whether it has ended. */
  ended(): boolean;
  /** Ends it (once; later calls return the same promise) and waits until it is gone. */
  stop(): Promise<void>;
}

/**
 * Starts `command` (a tool name from ops/prerequisites.js, or an absolute path) and resolves once `ready` says so.
 * Rejects, with the program's last output, when it exits first or is not ready in time; it is stopped by then.
 */
export async function startProcess(command: string, args: readonly string[], options: StartOptions): Promise<Started> {
  const path = tool(command);
  const { execa } = await import("execa");
  const sub = execa(path, args, {
    env: options.env ?? process.env,
    extendEnv: false,
    cwd: options.cwd,
    stdin: "ignore",
    buffer: false,
    reject: false,
    cleanup: true,
    forceKillAfterDelay: 5000,
  });
  const tail = outputTail(sub);
  if (options.onOutput) {
    sub.stdout?.on("data", options.onOutput);
    sub.stderr?.on("data", options.onOutput);
  }
  let done = false;
  const finished = sub.then((r) => {
    done = true;
    return r;
  });
  let stopping: Promise<void> | undefined;
  const started: Started = {
    pid: sub.pid,
    output: tail,
    ended: () => done,
    stop: () =>
      (stopping ??= (async () => {
        if (!done) sub.kill(options.stopSignal ?? "SIGKILL");
        await finished;
      })()),
  };
  const name = command.split("/").pop();
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (done) {
      const r = await finished;
      const why = r.code ?? (r.signal ? `signal ${r.signal}` : `exit code ${r.exitCode}`);
      throw new Error(`${[name, ...args].join(" ")} ended before it was ready (${why})${tail() ? `:\n${tail()}` : ""}`);
    }
    if (await options.ready()) return started;
    if (Date.now() > deadline) {
      await started.stop();
      throw new Error(`${name} was not ready ${Math.round((options.readyTimeoutMs ?? 30_000) / 1000)} s after it started${tail() ? `:\n${tail()}` : ""}`);
    }
    await sleep(options.pollMs ?? 100);
  }
}

export interface RunResult {
  code: number | undefined;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved, in the order written. */
  all: string;
}

/**
 * Runs `command` to its end without blocking this process (servers the test runs in-process keep answering). A
 * missing program fails at once; one that runs past `timeoutMs` (default 60 s) is killed and is an error.
 */
export async function run(
  command: string,
  args: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const path = tool(command);
  const { execa } = await import("execa");
  const r = await execa(path, args, {
    env: options.env ?? process.env,
    extendEnv: false,
    cwd: options.cwd,
    ...(options.input === undefined ? { stdin: "ignore" as const } : { input: options.input }),
    reject: false,
    cleanup: true,
    timeout: options.timeoutMs ?? 60_000,
    stripFinalNewline: false,
    all: true,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.timedOut) throw new Error(`${[command, ...args].join(" ").slice(0, 200)} did not end in ${(options.timeoutMs ?? 60_000) / 1000} s`);
  if (r.failed && r.exitCode === undefined) throw new Error(`${command} could not run: ${r.shortMessage}`);
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr), all: String(r.all) };
}
