// The real servers of the integration tests, started on loopback by the tests themselves: Ollama (built from its Go
// module by scripts/ollama.sh), a local image registry it pulls models from (Debian's docker-registry, TLS with a
// test CA), and a TCP relay between them that can stall a transfer, so the pull path, its progress and its resume
// are the real ones.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, connect, type Socket } from "node:net";
import { join } from "node:path";
import { stringify } from "yaml";
import type { TestCa } from "./pki";
import { startCaddy } from "./caddy";
import { freePort } from "./servers";
import { answers, startProcess } from "./process";
import { Agent, fetch as undiciFetch, type Dispatcher } from "undici";

/** One attempt at `url` with undici (a dispatcher trusting the test CA, say): true when it answers below 500. */
const answersVia = (url: string, init?: { dispatcher?: Dispatcher }) => () => answers(url, { fetchFn: (u) => undiciFetch(u, init) });

export interface RealOllama {
  url: string;
  log: () => string;
  stop(): Promise<void>;
}

/** `ollama serve` with its models in `dir`, trusting `caFile` (the registry's CA) for pulls and pushes. */
export async function startOllama(dir: string, caFile?: string): Promise<RealOllama> {
  const port = await freePort();
  mkdirSync(join(dir, "models"), { recursive: true });
  const logFile = join(dir, "ollama.log");
  writeFileSync(logFile, "");
  const url = `http://127.0.0.1:${port}`;
  const ollama = await startProcess("ollama", ["serve"], {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      OLLAMA_HOST: `127.0.0.1:${port}`,
      OLLAMA_MODELS: join(dir, "models"),
      OLLAMA_KEEP_ALIVE: "5m",
      OLLAMA_NUM_PARALLEL: "1",
      OLLAMA_CONTEXT_LENGTH: "256",
      ...(caFile ? { SSL_CERT_FILE: caFile } : {}),
    },
    ready: answersVia(`${url}/api/version`),
    onOutput: (d) => writeFileSync(logFile, d, { flag: "a" }),
    stopSignal: "SIGTERM",
  });
  return { url, log: () => readFileSync(logFile, "utf8"), stop: () => ollama.stop() };
}

export interface RealRegistry {
  /** host:port, as a model name's registry part. */
  host: string;
  /** Where the registry keeps its blobs (served by the blob server it redirects to). */
  root: string;
  stop(): Promise<void>;
}

/**
 * Debian's docker-registry (distribution) over TLS with a certificate for 127.0.0.1 from `ca`. Blob downloads are
 * redirected to `blobBase` (as Ollama's own registry redirects them to its CDN, and as Ollama's downloader requires:
 * it follows redirects within the registry's host name and wants the first one to another): a file server over the
 * registry's storage, named "localhost", which the test starts (startBlobServer), behind a relay if it likes.
 */
export async function startRegistry(dir: string, ca: TestCa, blobBase: string): Promise<RealRegistry> {
  const port = await freePort();
  const cert = ca.issue("registry", { ip: ["127.0.0.1"], dns: ["localhost"] });
  writeFileSync(join(dir, "registry.crt"), cert.certPem);
  writeFileSync(join(dir, "registry.key"), cert.keyPem, { mode: 0o600 });
  const root = join(dir, "registry");
  mkdirSync(root, { recursive: true });
  writeFileSync(
    join(dir, "registry.yml"),
    stringify({
      version: 0.1,
      log: { level: "warn" },
      storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } },
      middleware: { storage: [{ name: "redirect", options: { baseurl: blobBase } }] },
      http: { addr: `127.0.0.1:${port}`, tls: { certificate: join(dir, "registry.crt"), key: join(dir, "registry.key") } },
    }),
  );
  const registry = await startProcess("docker-registry", ["serve", join(dir, "registry.yml")], {
    ready: answersVia(`https://127.0.0.1:${port}/v2/`, { dispatcher: new Agent({ connect: { ca: ca.certPem } }) }),
    stopSignal: "SIGTERM",
  });
  return { host: `127.0.0.1:${port}`, root, stop: () => registry.stop() };
}

/** The real caddy serving `root` over TLS (a certificate for 127.0.0.1 from `ca`) on a free port. */
export async function startBlobServer(dir: string, root: string, ca: TestCa): Promise<{ host: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const cert = ca.issue("blobs", { ip: ["127.0.0.1"], dns: ["localhost"] });
  const work = join(dir, "blob-server");
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, "blobs.crt"), cert.certPem);
  writeFileSync(join(work, "blobs.key"), cert.keyPem, { mode: 0o600 });
  const caddyfile = [
    "{",
    "\tadmin off",
    "\tauto_https off",
    "}",
    "",
    `https://:${port} {`,
    `\ttls ${join(work, "blobs.crt")} ${join(work, "blobs.key")}`,
    `\troot * ${root}`,
    "\tfile_server",
    "}",
    "",
  ].join("\n");
  const stop = await startCaddy(work, caddyfile, [port]);
  return { host: `127.0.0.1:${port}`, stop };
}

export interface Relay {
  host: string;
  /** Connections accepted so far. */
  connections: number;
  /** Transfers stalled so far. */
  stalls: number;
  /**
   * Once `afterBytes` more bytes have come from the upstream (on whichever connection), that connection goes silent;
   * with `resetAfterMs`, it is then reset (as a middlebox dropping a dead flow does), else it stays silent.
   */
  stallOnce(afterBytes: number, resetAfterMs?: number): void;
  /** Resets every silent connection now. */
  resetStalled(): void;
  close(): Promise<void>;
}

/** A TCP relay to `upstream` (host:port); TLS passes through it untouched. */
export async function startRelay(upstream: string): Promise<Relay> {
  const [uh, up] = upstream.split(":");
  const sockets = new Set<Socket>();
  const state = { connections: 0, stalls: 0, remaining: undefined as number | undefined, resetAfterMs: undefined as number | undefined };
  const silent = new Set<() => void>();
  const server = createServer((client) => {
    state.connections++;
    const server = connect(Number(up), uh);
    sockets.add(client).add(server);
    let stalled = false;
    server.on("data", (d) => {
      if (stalled) return;
      if (state.remaining !== undefined) {
        state.remaining -= d.length;
        if (state.remaining < 0) {
          state.remaining = undefined;
          state.stalls++;
          stalled = true;
          server.pause();
          const reset = () => {
            silent.delete(reset);
            client.resetAndDestroy();
            server.destroy();
          };
          silent.add(reset);
          if (state.resetAfterMs !== undefined) setTimeout(reset, state.resetAfterMs).unref();
          return; // the connection stays open and silent: the client sees no progress
        }
      }
      client.write(d);
    });
    client.on("data", (d) => server.write(d));
    const end = () => {
      client.destroy();
      server.destroy();
    };
    client.on("error", end).on("close", end);
    server.on("error", end).on("close", () => {
      if (!stalled) client.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return Object.assign(state, {
    host: `127.0.0.1:${(server.address() as { port: number }).port}`,
    stallOnce: (afterBytes: number, resetAfterMs?: number) => {
      state.remaining = afterBytes;
      state.resetAfterMs = resetAfterMs;
    },
    resetStalled: () => {
      for (const reset of [...silent]) reset();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  });
}

/**
 * Publishes a tiny model the way an operator would: its GGUF as a blob, a model made from it, pushed by Ollama to the
 * registry, then removed locally (so a pull is a real pull). The model's name on the registry.
 */
export async function publishTinyModel(
  ollama: RealOllama,
  registry: RealRegistry,
  gguf: { gguf: Buffer; digest: string },
  name = "library/tiny:latest",
): Promise<string> {
  const call = async (path: string, body: unknown, method = "POST") => {
    const res = await fetch(`${ollama.url}${path}`, { method, body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  };
  const blob = await fetch(`${ollama.url}/api/blobs/${gguf.digest}`, { method: "POST", body: gguf.gguf });
  if (blob.status !== 201 && blob.status !== 200) throw new Error(`blob upload: ${blob.status} ${await blob.text()}`);
  const published = `${registry.host}/${name}`;
  await call("/api/create", { model: published, files: { "tiny.gguf": gguf.digest }, stream: false });
  const pushed = await call("/api/push", { model: published, stream: false });
  if (pushed.status !== "success") throw new Error(`push: ${JSON.stringify(pushed)}`);
  await call("/api/delete", { model: published }, "DELETE");
  return published;
}
