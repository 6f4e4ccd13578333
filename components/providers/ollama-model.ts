// A dynamic provider for Ollama models, through the `ollama` client: pull by tag, or create a derived model with
// baked parameters; stall-aware, resumable streams; `read` reports what the server really has, so `pulumi refresh`
// shows drift; replacement only when the identity (name, server) changes; delete tolerates a model already gone.
//
// Serialisation rules (DESIGN.md): the provider is serialised into the state and run from there, so nothing here
// may capture a module imported at the top of this file. Every function `require`s what it needs.
import * as pulumi from "@pulumi/pulumi";
import { modelKey } from "../../lib/model-order";
import { destroyKeepsData } from "./keep-data";

/** Bump when the provider's behaviour changes: `update` and `delete` run the copy stored in the state. */
export const OLLAMA_PROVIDER_VERSION = "2";

export interface OllamaModelArgs {
  /** The Ollama API, e.g. "https://10.20.0.10:11434" (the VM's TLS gateway). */
  host: pulumi.Input<string>;
  /** The CA the gateway's certificate chains to (the environment CA). */
  caCert?: pulumi.Input<string>;
  name: pulumi.Input<string>;
  /** Derive `name` from this model (the server pulls it when missing). */
  from?: pulumi.Input<string>;
  /** Parameters baked into a derived model (num_ctx, temperature, …). */
  parameters?: pulumi.Input<Record<string, pulumi.Input<number | string | boolean | string[]>>>;
  system?: pulumi.Input<string>;
  template?: pulumi.Input<string>;
  /** For a pulled model: the manifest digest it must have ("sha256:…"); a tag that moved fails the pull. */
  digest?: pulumi.Input<string>;
  /** Load the model after deploy and keep it loaded for `keepAlive`. */
  warm?: pulumi.Input<boolean>;
  keepAlive?: pulumi.Input<string>;
  /** With `warm`: fail unless the loaded model is entirely in VRAM (size_vram == size). */
  requireFullGpu?: pulumi.Input<boolean>;
  /** Abort and resume (re-attach to) a pull or create that brings no new progress for this long. */
  stallSeconds?: pulumi.Input<number>;
  /** How many times a stalled stream is resumed before the deployment fails. */
  maxResumes?: pulumi.Input<number>;
  /** Capacity facts for policies (VRAM fit at preview); not sent to the server. */
  capacity?: pulumi.Input<Record<string, pulumi.Input<unknown>>>;
}

/** What the server reports about a model. */
export interface ObservedModel {
  digest: string;
  size: number;
  quantization: string;
  parameterSize: string;
  family: string;
  contextLength: number | null;
  parameters: Record<string, number | string | string[]>;
  system: string;
  template: string;
}

export interface ModelInputs {
  host: string;
  /** The environment CA (PEM) when Ollama is reached through the VM's TLS gateway. */
  caCert?: string;
  name: string;
  from?: string;
  parameters?: Record<string, number | string | boolean | string[]>;
  system?: string;
  template?: string;
  digest?: string;
  warm?: boolean;
  keepAlive?: string;
  requireFullGpu?: boolean;
  stallSeconds?: number;
  maxResumes?: number;
  capacity?: Record<string, unknown>;
  providerVersion?: string;
}

export interface ModelState extends ModelInputs {
  observed: ObservedModel;
}

type Progress = { status?: string; digest?: string; total?: number; completed?: number };

function log(message: string): void {
  try {
    (require("@pulumi/pulumi") as typeof import("@pulumi/pulumi")).log.info(message);
  } catch {
    process.stderr.write(`${message}\n`);
  }
}

/** An error that names the model, the server and what the server said. */
function describeError(err: unknown, name: string, host: string, action: string): Error {
  const e = err as { name?: string; error?: string; status_code?: number; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "ResponseError") return new Error(`ollama ${action} of model "${name}" on ${host} failed: ${e.error} (HTTP ${e.status_code})`);
  if (e?.message === "fetch failed" || e?.cause?.code) {
    return new Error(`ollama ${action} of model "${name}": cannot reach ${host} (${e.cause?.code ?? e.cause?.message ?? "connection failed"})`);
  }
  return new Error(`ollama ${action} of model "${name}" on ${host} failed: ${e?.message ?? String(err)}`);
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; status_code?: number; error?: string };
  return e?.name === "ResponseError" && (e.status_code === 404 || /not found/i.test(e.error ?? ""));
}

/**
 * A client for `target` (through the TLS gateway, its certificate verified against `caCert`, when one is given) whose
 * every request can be aborted by `controller` (pull/create stall detection).
 */
function client(target: { host: string; caCert?: string }, controller?: AbortController) {
  const { Ollama } = require("ollama") as typeof import("ollama");
  let base: typeof fetch = fetch;
  if (target.caCert) {
    const undici = require("undici") as typeof import("undici");
    const dispatcher = new undici.Agent({ connect: { ca: target.caCert } });
    base = ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
      undici.fetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
  }
  if (!controller) return new Ollama({ host: target.host, fetch: base });
  const abortable: typeof fetch = (input, init) =>
    base(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal });
  return new Ollama({ host: target.host, fetch: abortable });
}

/**
 * Runs a streaming pull or create, aborting and resuming (Ollama resumes partial downloads) whenever the stream
 * brings no new progress for `stallSeconds`. A stream that ends without "success" is an error.
 * What the real server does (found against it, test/integration/ollama.test.ts): a pull's download runs on the
 * server independently of the request, and a new pull of the same blob joins it, so a resume re-attaches to the
 * server's download rather than restarting it. Ollama retries a part itself when its connection fails, and after
 * 30 s without bytes, but that retry goes over the same HTTP/2 connection: a connection that merely hangs is not
 * recovered until something resets it. The deployment then fails after its resumes, naming the stall.
 */
async function streamWithResume(
  action: "pull" | "create",
  start: (c: ReturnType<typeof client>) => Promise<AsyncIterable<Progress>>,
  inputs: ModelInputs,
): Promise<void> {
  const stallMs = (inputs.stallSeconds ?? 300) * 1000;
  const maxResumes = inputs.maxResumes ?? 5;
  for (let attempt = 0; ; attempt++) {
    const controller = new AbortController();
    let last = Date.now();
    let stalled = false;
    let lastReport = 0;
    const timer = setInterval(
      () => {
        if (Date.now() - last > stallMs) {
          stalled = true;
          controller.abort();
        }
      },
      Math.max(50, Math.min(1000, stallMs / 4)),
    );
    let seen = "";
    try {
      const stream = await start(client(inputs, controller));
      for await (const p of stream) {
        const marker = `${p.status}|${p.digest}|${p.completed}`;
        if (marker !== seen) {
          seen = marker;
          last = Date.now();
        }
        if (p.total && p.completed !== undefined && Date.now() - lastReport > 10_000) {
          lastReport = Date.now();
          log(`ollama ${action} ${inputs.name}: ${p.status} ${Math.floor((100 * p.completed) / p.total)}%`);
        }
        if (p.status === "success") return;
      }
      throw new Error("the stream ended without success");
    } catch (err) {
      // The server's own download was torn down under this request (a connection reset on its side: the real
      // server answers "context canceled" or "unexpected EOF"): transient, resumed like a stall.
      const interrupted =
        !stalled &&
        /context canceled|unexpected EOF|connection reset/i.test(String((err as { error?: string; message?: string })?.error ?? (err as Error)?.message ?? ""));
      if (!stalled && !interrupted) throw describeError(err, inputs.name, inputs.host, action);
      if (attempt >= maxResumes) {
        if (interrupted) throw describeError(err, inputs.name, inputs.host, action);
        throw new Error(
          `ollama ${action} of model "${inputs.name}" on ${inputs.host} stalled: no progress for ${stallMs / 1000} s, after ${maxResumes} resume(s)`,
          { cause: err },
        );
      }
      log(
        `ollama ${action} ${inputs.name}: ${interrupted ? "interrupted on the server" : `no progress for ${stallMs / 1000} s`}, resuming (${attempt + 1}/${maxResumes})`,
      );
    } finally {
      clearInterval(timer);
    }
  }
}

/** Parses `show().parameters` ("num_ctx    8192\nstop    \"<|im_end|>\"") into values; repeated keys become lists. */
function parseParameters(text: string | undefined): Record<string, number | string | string[]> {
  const out: Record<string, number | string | string[]> = {};
  for (const line of (text ?? "").split("\n")) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    let value: string | number = m[2].trim();
    if (/^".*"$/.test(value)) value = JSON.parse(value) as string;
    else if (/^-?\d+(\.\d+)?$/.test(value)) value = Number(value);
    const prev = out[m[1]];
    if (prev === undefined) out[m[1]] = value;
    else out[m[1]] = [...(Array.isArray(prev) ? prev : [String(prev)]), String(value)];
  }
  return out;
}

function sameName(a: string, b: string): boolean {
  return modelKey(a) === modelKey(b);
}

/** What the server has for `name`, or undefined when it has no such model. */
async function observe(target: { host: string; caCert?: string }, name: string): Promise<ObservedModel | undefined> {
  const host = target.host;
  const c = client(target);
  let listed;
  try {
    listed = (await c.list()).models.find((m) => sameName(m.name, name) || sameName(m.model, name));
  } catch (err) {
    throw describeError(err, name, host, "read");
  }
  if (!listed) return undefined;
  let shown;
  try {
    shown = await c.show({ model: name });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw describeError(err, name, host, "read");
  }
  const parameters = parseParameters(shown.parameters);
  const info = (shown.model_info ?? {}) as unknown as Record<string, unknown>;
  const nativeKey = Object.keys(info).find((k) => k.endsWith(".context_length"));
  const numCtx = parameters.num_ctx;
  return {
    digest: listed.digest,
    size: listed.size,
    quantization: listed.details?.quantization_level ?? "",
    parameterSize: listed.details?.parameter_size ?? "",
    family: listed.details?.family ?? "",
    contextLength: typeof numCtx === "number" ? numCtx : nativeKey ? Number(info[nativeKey]) : null,
    parameters,
    system: shown.system ?? "",
    template: shown.template ?? "",
  };
}

/** Loads the model and keeps it loaded; with requireFullGpu, fails when part of it sits in system RAM. */
async function warm(inputs: ModelInputs): Promise<void> {
  const c = client(inputs);
  try {
    await c.generate({ model: inputs.name, prompt: "", keep_alive: inputs.keepAlive ?? "-1", stream: false });
  } catch (err) {
    throw describeError(err, inputs.name, inputs.host, "load");
  }
  if (!inputs.requireFullGpu) return;
  const running = (await c.ps()).models;
  // Models that share their weights (a derived model and its base) share one runner, which /api/ps lists under
  // the name that loaded it first: the runner holding our weights is ours too.
  const weights = async (name: string) => /^FROM\s+\S*(sha256[-:][0-9a-f]{64})/m.exec((await c.show({ model: name })).modelfile ?? "")?.[1];
  let loaded = running.find((m) => sameName(m.name, inputs.name) || sameName(m.model, inputs.name));
  if (!loaded) {
    const ours = await weights(inputs.name);
    for (const m of running) if (ours && (await weights(m.name)) === ours) loaded = m;
  }
  if (!loaded) throw new Error(`ollama model "${inputs.name}" on ${inputs.host} is not loaded after warm-up`);
  if (loaded.size_vram < loaded.size) {
    const gib = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;
    throw new Error(
      `ollama model "${inputs.name}" on ${inputs.host} fell back to the CPU: ${gib(loaded.size_vram)} of ${gib(loaded.size)} ` +
        `in VRAM (${Math.floor((100 * loaded.size_vram) / loaded.size)}%). Lower the context, slots or KV cache type, or check the GPU.`,
    );
  }
}

/** The parameters a derived model bakes in, as the server will report them. */
function desiredParameters(inputs: ModelInputs): Record<string, number | string | boolean | string[]> {
  return { ...(inputs.parameters ?? {}) };
}

async function apply(inputs: ModelInputs): Promise<ModelState> {
  if (inputs.from) {
    await streamWithResume(
      "create",
      (c) =>
        c.create({
          model: inputs.name,
          from: inputs.from,
          parameters: desiredParameters(inputs),
          ...(inputs.system !== undefined ? { system: inputs.system } : {}),
          ...(inputs.template !== undefined ? { template: inputs.template } : {}),
          stream: true,
        }) as Promise<AsyncIterable<Progress>>,
      inputs,
    );
  } else {
    await streamWithResume("pull", (c) => c.pull({ model: inputs.name, stream: true }) as Promise<AsyncIterable<Progress>>, inputs);
  }
  const observed = await observe(inputs, inputs.name);
  if (!observed) throw new Error(`ollama model "${inputs.name}" on ${inputs.host} is not listed after its ${inputs.from ? "create" : "pull"}`);
  if (inputs.digest && !inputs.from && observed.digest !== inputs.digest.replace(/^sha256:/, "")) {
    throw new Error(`ollama model "${inputs.name}" on ${inputs.host} has digest ${observed.digest}, but ${inputs.digest} is pinned: the tag has moved`);
  }
  if (inputs.warm) await warm(inputs);
  return { ...inputs, observed };
}

function equalValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Where the server's model no longer matches what is declared (after a refresh brought `observed` up to date). */
function drift(declared: ModelInputs, observed: ObservedModel | undefined): string[] {
  if (!observed) return ["observed"];
  const out: string[] = [];
  if (declared.from) {
    for (const [k, v] of Object.entries(declared.parameters ?? {})) {
      const seen = observed.parameters[k];
      if (!equalValue(Array.isArray(v) ? v : v, seen) && !(typeof v === "number" && Number(seen) === v)) out.push(`parameters.${k}`);
    }
    if (declared.system !== undefined && declared.system !== observed.system) out.push("system");
    if (declared.template !== undefined && declared.template !== observed.template) out.push("template");
  }
  if (declared.digest && !declared.from && declared.digest.replace(/^sha256:/, "") !== observed.digest) out.push("digest");
  return out;
}

const DECLARED_KEYS = ["from", "parameters", "system", "template", "digest", "warm", "keepAlive", "requireFullGpu", "providerVersion"] as const;

export const ollamaModelProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: ModelInputs, news: ModelInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (typeof news.host !== "string" || !/^https?:\/\/[^\s/]+(:\d+)?\/?$/.test(news.host))
      failures.push({ property: "host", reason: `expected an http(s) URL such as "http://10.20.0.10:11434", got ${JSON.stringify(news.host)}` });
    const nameRe = /^([a-z0-9][a-z0-9.-]*(:\d{1,5})?\/)?[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)?(:[A-Za-z0-9][A-Za-z0-9._-]*)?$/;
    if (typeof news.name !== "string" || !nameRe.test(news.name))
      failures.push({ property: "name", reason: `expected an Ollama model name such as "qwen2.5:14b", got ${JSON.stringify(news.name)}` });
    if (news.from !== undefined && (typeof news.from !== "string" || !nameRe.test(news.from)))
      failures.push({ property: "from", reason: `expected an Ollama model name, got ${JSON.stringify(news.from)}` });
    if (news.stallSeconds !== undefined && !(Number(news.stallSeconds) > 0))
      failures.push({ property: "stallSeconds", reason: "expected a positive number of seconds" });
    if (news.digest !== undefined && news.from !== undefined)
      failures.push({ property: "digest", reason: "a digest pin applies to pulled models, not to derived ones" });
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: ModelState, news: ModelInputs) {
    const replaces = (["host", "name"] as const).filter((k) => olds[k] !== news[k]);
    const changed = DECLARED_KEYS.filter((k) => !equalValue(olds[k], news[k]));
    const drifted = drift(news, olds.observed);
    const changes = replaces.length > 0 || changed.length > 0 || drifted.length > 0;
    return { changes, replaces, stables: replaces.length === 0 ? ["host", "name"] : [], deleteBeforeReplace: false };
  },

  async create(inputs: ModelInputs) {
    const outs = await apply(inputs);
    return { id: `${inputs.name}@${inputs.host}`, outs };
  },

  async read(id: string, props: ModelState) {
    const observed = await observe(props, props.name);
    if (!observed) return { id: "", props: {} }; // deleted out of band: gone from the state after refresh
    return { id, props: { ...props, observed } };
  },

  async update(_id: string, _olds: ModelState, news: ModelInputs) {
    // Re-pull or re-create under the same name: the model stays served throughout (no delete-then-pull).
    return { outs: await apply(news) };
  },

  async delete(_id: string, props: ModelState) {
    if (destroyKeepsData()) return;
    try {
      await client(props).delete({ model: props.name });
    } catch (err) {
      if (!isNotFound(err)) throw describeError(err, props.name, props.host, "delete");
    }
  },
};

/** One model on one Ollama server, kept as declared. Type token: pulumi-nodejs:dynamic/ollama:Model. */
export class OllamaModel extends pulumi.dynamic.Resource {
  declare public readonly observed: pulumi.Output<ObservedModel>;

  constructor(name: string, args: OllamaModelArgs, opts?: pulumi.CustomResourceOptions) {
    super(ollamaModelProvider, name, { ...args, providerVersion: OLLAMA_PROVIDER_VERSION, observed: undefined }, opts, "ollama", "Model");
  }
}

export const __test = { parseParameters, drift, describeError };
