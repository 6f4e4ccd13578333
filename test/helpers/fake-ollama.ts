// A local HTTP server implementing the subset of the Ollama API the model provider uses (/api/pull, /api/create,
// /api/tags, /api/show, /api/ps, /api/generate, /api/delete), with faults to inject. Loopback only.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export interface FakeModel {
  digest: string;
  size: number;
  family: string;
  parameterSize: string;
  quantization: string;
  parameters: string;
  system: string;
  template: string;
  contextLength: number;
}

export interface Faults {
  /** Status code for every request to this path ("/api/pull" …), once or always. */
  status?: { path: string; code: number; message: string; times?: number };
  /** The pull stream stops sending (but stays open) after this fraction, for the first `times` attempts. */
  stallPullAt?: { fraction: number; times: number };
  /** The pull stream ends cleanly but without "success". */
  pullEndsWithoutSuccess?: boolean;
  /** Fraction of a loaded model that sits in VRAM (1 = fully on the GPU). */
  vramFraction?: number;
  /** Decode speed the stand-in reports for generations (tokens per second). */
  decodeTokensPerSecond?: number;
}

export interface FakeOllama {
  url: string;
  models: Map<string, FakeModel>;
  loaded: Set<string>;
  faults: Faults;
  /** Requests seen, "METHOD /path model". */
  log: string[];
  pullAttempts: Map<string, number>;
  /** Bytes already delivered per model (pulls resume from here). */
  delivered: Map<string, number>;
  close(): Promise<void>;
}

export const LIBRARY: Record<string, Omit<FakeModel, "digest">> = {
  "mistral:7b": {
    size: 4_113_301_824,
    family: "llama",
    parameterSize: "7.2B",
    quantization: "Q4_0",
    parameters: 'stop                           "[INST]"\nstop                           "[/INST]"',
    system: "",
    template: "[INST] {{ .Prompt }} [/INST]",
    contextLength: 32768,
  },
  "qwen2.5:14b": {
    size: 8_988_124_298,
    family: "qwen2",
    parameterSize: "14.8B",
    quantization: "Q4_K_M",
    parameters: 'stop                           "<|im_start|>"\nstop                           "<|im_end|>"',
    system: "",
    template: "{{ .Prompt }}",
    contextLength: 32768,
  },
  "qwen2.5:32b": {
    size: 19_851_337_640,
    family: "qwen2",
    parameterSize: "32.8B",
    quantization: "Q4_K_M",
    parameters: 'stop                           "<|im_start|>"\nstop                           "<|im_end|>"',
    system: "",
    template: "{{ .Prompt }}",
    contextLength: 32768,
  },
};

const digestOf = (text: string) => createHash("sha256").update(text).digest("hex");
const norm = (n: string) => (n.includes(":") ? n : `${n}:latest`);

function body(req: IncomingMessage): Promise<Record<string, any>> {
  return new Promise((resolve) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => resolve(data ? JSON.parse(data) : {}));
  });
}

function json(res: ServerResponse, code: number, value: unknown) {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

function renderParameters(params: Record<string, unknown>): string {
  return Object.entries(params)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k.padEnd(30)} ${typeof x === "string" ? JSON.stringify(x) : x}`))
    .join("\n");
}

export async function startFakeOllama(faults: Faults = {}): Promise<FakeOllama> {
  const state: Omit<FakeOllama, "url" | "close"> = { models: new Map(), loaded: new Set(), faults, log: [], pullAttempts: new Map(), delivered: new Map() };
  const open = new Set<ServerResponse>();

  const server: Server = createServer(async (req, res) => {
    const path = req.url ?? "";
    const b = req.method === "GET" ? {} : await body(req);
    const model = b.model ?? b.name ?? "";
    state.log.push(`${req.method} ${path} ${model}`.trim());
    const f = state.faults.status;
    if (f && f.path === path && (f.times === undefined || f.times > 0)) {
      if (f.times !== undefined) f.times--;
      return json(res, f.code, { error: f.message });
    }
    const key = norm(model);

    if (path === "/api/pull") {
      const lib = LIBRARY[key];
      if (!lib) return json(res, 500, { error: "pull model manifest: file does not exist" });
      const attempt = (state.pullAttempts.get(key) ?? 0) + 1;
      state.pullAttempts.set(key, attempt);
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      open.add(res);
      res.on("close", () => open.delete(res));
      const total = 1000;
      const layer = `sha256:${digestOf(key)}`;
      const send = (o: object) => res.write(`${JSON.stringify(o)}\n`);
      send({ status: "pulling manifest" });
      const stall = state.faults.stallPullAt && attempt <= state.faults.stallPullAt.times ? Math.floor(state.faults.stallPullAt.fraction * total) : undefined;
      for (let done = state.delivered.get(key) ?? 0; done <= total; done += 100) {
        if (stall !== undefined && done > stall) return; // stop sending; keep the connection open
        state.delivered.set(key, done);
        send({ status: `pulling ${layer.slice(7, 19)}`, digest: layer, total, completed: done });
        await new Promise((r) => setTimeout(r, 5));
      }
      send({ status: "verifying sha256 digest" });
      send({ status: "writing manifest" });
      if (state.faults.pullEndsWithoutSuccess) return res.end();
      state.models.set(key, { ...lib, digest: digestOf(`manifest:${key}`) });
      send({ status: "success" });
      return res.end();
    }

    if (path === "/api/create") {
      const from = state.models.get(norm(b.from ?? ""));
      const lib = LIBRARY[norm(b.from ?? "")];
      if (!from && !lib) return json(res, 404, { error: `model '${b.from}' not found` });
      const base = from ?? { ...lib, digest: digestOf(`manifest:${norm(b.from)}`) };
      if (!from) state.models.set(norm(b.from), base);
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      const send = (o: object) => res.write(`${JSON.stringify(o)}\n`);
      send({ status: "using existing layer" });
      send({ status: "writing manifest" });
      // A derived model inherits its base's parameters; the baked ones override them (stop replaces stop).
      const inherited = base.parameters.split("\n").filter((l) => l && !(b.parameters?.stop && l.startsWith("stop")));
      const rendered = [...inherited, renderParameters(b.parameters ?? {})].filter(Boolean).join("\n");
      state.models.set(key, {
        ...base,
        digest: digestOf(`derived:${key}:${JSON.stringify(b)}`),
        parameters: rendered,
        system: b.system ?? base.system,
        template: b.template ?? base.template,
      });
      send({ status: "success" });
      return res.end();
    }

    if (path === "/api/version") {
      return json(res, 200, { version: "0.18.2" });
    }
    if (path === "/api/tags") {
      return json(res, 200, {
        models: [...state.models.entries()].map(([name, m]) => ({
          name,
          model: name,
          modified_at: "2026-11-21T10:00:00Z",
          size: m.size,
          digest: m.digest,
          details: { format: "gguf", family: m.family, families: [m.family], parameter_size: m.parameterSize, quantization_level: m.quantization },
        })),
      });
    }

    if (path === "/api/show") {
      const m = state.models.get(key);
      if (!m) return json(res, 404, { error: `model '${model}' not found` });
      return json(res, 200, {
        parameters: m.parameters,
        system: m.system,
        template: m.template,
        modified_at: "2026-11-21T10:00:00Z",
        details: { family: m.family, parameter_size: m.parameterSize, quantization_level: m.quantization },
        model_info: { "general.architecture": m.family, [`${m.family}.context_length`]: m.contextLength },
      });
    }

    if (path === "/api/generate") {
      const m = state.models.get(key);
      if (!m) return json(res, 404, { error: `model '${model}' not found` });
      if (b.keep_alive === 0 || b.keep_alive === "0") state.loaded.delete(key);
      else state.loaded.add(key);
      if (!b.prompt) return json(res, 200, { model, created_at: "2026-11-21T10:00:00Z", response: "", done: true, done_reason: "load" });
      // A generation: as many tokens as asked for, at the configured speed.
      const count = Number(b.options?.num_predict ?? 128);
      const tps = state.faults.decodeTokensPerSecond ?? 50;
      return json(res, 200, {
        model,
        created_at: "2026-11-21T10:00:00Z",
        response: "x ".repeat(count),
        done: true,
        done_reason: "length",
        eval_count: count,
        eval_duration: Math.round((count / tps) * 1e9),
      });
    }

    if (path === "/api/ps") {
      const fraction = state.faults.vramFraction ?? 1;
      return json(res, 200, {
        models: [...state.loaded].map((name) => {
          const m = state.models.get(name)!;
          return {
            name,
            model: name,
            size: m.size,
            size_vram: Math.floor(m.size * fraction),
            digest: m.digest,
            expires_at: "2318-01-01T00:00:00Z",
            details: {},
          };
        }),
      });
    }

    if (path === "/api/delete" && req.method === "DELETE") {
      if (!state.models.delete(key)) return json(res, 404, { error: `model '${model}' not found` });
      state.loaded.delete(key);
      res.writeHead(200);
      return res.end();
    }

    json(res, 404, { error: `no route ${req.method} ${path}` });
  });

  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    ...state,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
