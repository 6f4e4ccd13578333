// The model provider against the real Ollama (scripts/ollama.sh builds it, CPU backend) and a real registry: a tiny
// GGUF model made by the test tooling is created and pushed by Ollama itself, then the provider pulls it through a
// relay (progress, a stalled transfer resumed), derives a model with baked parameters, reads what the server has,
// and deletes; the model probe reads the real /api/ps.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ollamaModelProvider as p, type ModelInputs, type ModelState } from "../../components/providers/ollama-model";
import { renderOllamaProbeScript } from "../../lib/monitoring/ollama-probe";
import { manifestPath } from "../../lib/ollama-store";
import { tinyLlamaGguf } from "../helpers/gguf";
import { makeTestCa, type TestCa } from "../helpers/pki";
import {
  publishTinyModel,
  startBlobServer,
  startOllama,
  startRegistry,
  startRelay,
  type RealOllama,
  type RealRegistry,
  type Relay,
} from "../helpers/real-ollama";
import { run, tool } from "../helpers/process";

let dir: string;
let ca: TestCa;
let registry: RealRegistry;
let relay: Relay;
let blobs: { host: string; stop: () => Promise<void> };
let ollama: RealOllama;
const tiny = tinyLlamaGguf(7);

async function api<T>(path: string, body?: unknown, method = body === undefined ? "GET" : "POST"): Promise<T> {
  const res = await fetch(`${ollama.url}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

const names = async () => (await api<{ models: { name: string }[] }>("/api/tags")).models.map((m) => m.name).sort();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ollama-it-"));
  ca = makeTestCa("test registry CA");
  writeFileSync(join(dir, "ca.pem"), ca.certPem);
  mkdirSync(join(dir, "ollama"));
  // Ollama → registry (manifests) → redirect → relay → blob server (caddy over the registry's storage).
  mkdirSync(join(dir, "registry"));
  blobs = await startBlobServer(dir, join(dir, "registry"), ca);
  relay = await startRelay(blobs.host);
  registry = await startRegistry(dir, ca, `https://${relay.host.replace("127.0.0.1", "localhost")}`);
  ollama = await startOllama(join(dir, "ollama"), join(dir, "ca.pem"));
  await publishTinyModel(ollama, registry, tiny);
  expect(await names()).toEqual([]);
});

afterAll(async () => {
  await ollama?.stop();
  await registry?.stop();
  await relay?.close();
  await blobs?.stop();
  ca?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe("the model provider against the real Ollama", () => {
  // The model by its registry name; its blobs come through the relay.
  const viaRelay = () => `${registry.host}/library/tiny:latest`;

  it("pulls through the real pull path, reports what the server has, and deletes", async () => {
    const inputs: ModelInputs = { host: ollama.url, name: viaRelay(), stallSeconds: 20, maxResumes: 1 };
    const { id, outs } = (await p.create(inputs)) as { id: string; outs: ModelState };
    expect(outs.observed.family).toBe("llama");
    expect(outs.observed.size).toBeGreaterThan(tiny.gguf.length);
    expect(await names()).toEqual([viaRelay()]);
    const read = (await p.read!(id, outs)) as { props: ModelState };
    expect(read.props.observed.digest).toBe(outs.observed.digest);
    await p.delete!(id, outs);
    expect(await names()).toEqual([]);
    // Deleting what is already gone is fine; reading it says it is gone.
    await p.delete!(id, outs);
    expect(((await p.read!(id, outs)) as { id?: string }).id ?? "").toBe("");
  });

  // What the real server does with a stall (the stand-in had taught otherwise): the download runs on the server,
  // whatever the request does; a resumed pull re-attaches to it; Ollama fetches the part again once the connection
  // fails (its 30 s watchdog re-sends it over the same HTTP/2 connection, which does not help when that one hangs).
  it("a transfer that stalls and is then reset: the provider resumes through the silence and the pulled model is whole", async () => {
    const before = relay.connections;
    relay.stallOnce(Math.floor(tiny.gguf.length / 2), 6000);
    const inputs: ModelInputs = { host: ollama.url, name: viaRelay(), stallSeconds: 2, maxResumes: 5 };
    const { id, outs } = (await p.create(inputs)) as { id: string; outs: ModelState };
    expect(relay.stalls).toBe(1);
    // The part was fetched again on a new connection after the reset.
    expect(relay.connections - before).toBeGreaterThanOrEqual(1);
    const show = await api<{ model_info: Record<string, unknown> }>("/api/show", { model: viaRelay() });
    expect(show.model_info["general.architecture"]).toBe("llama");
    await p.delete!(id, outs);
  });

  it("a transfer that hangs for good fails the deployment, naming the stall; it completes once the connection dies", async () => {
    relay.stallOnce(Math.floor(tiny.gguf.length / 3));
    await expect(p.create({ host: ollama.url, name: viaRelay(), stallSeconds: 2, maxResumes: 1 })).rejects.toThrow(
      /stalled: no progress for 2 s, after 1 resume\(s\)/,
    );
    relay.resetStalled();
    const { id, outs } = (await p.create({ host: ollama.url, name: viaRelay(), stallSeconds: 60, maxResumes: 1 })) as { id: string; outs: ModelState };
    expect(outs.observed.family).toBe("llama");
    await p.delete!(id, outs);
  });

  it("a digest the tag no longer has fails the pull, naming both", async () => {
    await expect(p.create({ host: ollama.url, name: viaRelay(), digest: `sha256:${"0".repeat(64)}`, stallSeconds: 20 })).rejects.toThrow(/digest/);
  });

  it("derives a model with baked parameters and a system prompt; it generates; the probe sees it loaded, on the CPU", async () => {
    const base = (await p.create({ host: ollama.url, name: viaRelay(), stallSeconds: 20 })) as { id: string; outs: ModelState };
    const derived = (await p.create({
      host: ollama.url,
      name: "tiny-assistant:latest",
      from: viaRelay(),
      parameters: { num_ctx: 256, temperature: 0 },
      system: "Answer briefly.",
      stallSeconds: 20,
    })) as { id: string; outs: ModelState };
    expect(derived.outs.observed.parameters).toMatchObject({ num_ctx: 256, temperature: 0 });
    expect(derived.outs.observed.system).toBe("Answer briefly.");
    const gen = await api<{ done: boolean; eval_count: number }>("/api/generate", {
      model: "tiny-assistant:latest",
      prompt: "the model",
      stream: false,
      options: { num_predict: 8, seed: 1 },
      keep_alive: "5m",
    });
    expect(gen.done).toBe(true);
    expect(gen.eval_count).toBeGreaterThan(0);

    // The model probe (the GPU VM's timer) against the real /api/ps.
    const metricsDir = join(dir, "textfile");
    mkdirSync(metricsDir, { recursive: true });
    // The base shares the derived model's weights, so its runner: /api/ps lists that runner once, and the probe must
    // still report the base (deployed warm) as loaded.
    const probe = await run("bash", ["-c", renderOllamaProbeScript({ url: ollama.url, expected: ["tiny-assistant:latest", viaRelay()], metricsDir })]);
    expect(probe.code, probe.stderr).toBe(0);
    const metrics = readFileSync(join(metricsDir, "ollama.prom"), "utf8");
    expect(metrics).toContain("ai_dualstack_ollama_up 1\n");
    expect(metrics).toContain('ai_dualstack_ollama_model_loaded{model="tiny-assistant:latest"} 1\n');
    expect(metrics).toContain('ai_dualstack_ollama_model_vram_ratio{model="tiny-assistant:latest"} 0\n');
    expect(metrics).toContain(`ai_dualstack_ollama_model_loaded{model="${viaRelay()}"} 1\n`);
    expect(metrics).toContain(`ai_dualstack_ollama_model_vram_ratio{model="${viaRelay()}"} 0\n`);
    expect(spawnSync(tool("promtool"), ["check", "metrics"], { input: metrics }).status).toBe(0);

    // Warm with the full-GPU requirement: on this CPU-only machine the deployment must fail, and say why.
    await expect(
      p.create({ host: ollama.url, name: "tiny-warm:latest", from: viaRelay(), warm: true, requireFullGpu: true, keepAlive: "1m", stallSeconds: 20 }),
    ).rejects.toThrow(/fell back to the CPU: 0.00 GiB of 0.00 GiB in VRAM \(0%\)/);

    // The restore drill checks a restored GPU VM's models by their manifest files (lib/ollama-store.ts): each model
    // the server lists, a registry name with a port and a local derived one, has its manifest where manifestPath
    // says, and its sha256 is the digest the server reports.
    const listed = (await api<{ models: { name: string; digest: string }[] }>("/api/tags")).models;
    expect(listed.map((m) => m.name)).toEqual(expect.arrayContaining(["tiny-assistant:latest", viaRelay()]));
    for (const m of listed) {
      const manifest = readFileSync(join(dir, "ollama", "models", manifestPath(m.name)));
      expect(createHash("sha256").update(manifest).digest("hex"), m.name).toBe(m.digest);
    }
    await p.delete!(derived.id, derived.outs);
    await p.delete!(base.id, base.outs);
  });
});
