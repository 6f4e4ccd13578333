// The Ollama model provider against a local server speaking the Ollama API, with injected faults.
import { freePort } from "../helpers/servers";
import { afterEach, describe, expect, it } from "vitest";
import { __test, ollamaModelProvider as p, type ModelInputs, type ModelState } from "../../components/providers/ollama-model";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama";

let fake: FakeOllama | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const create = (inputs: ModelInputs) => p.create(inputs) as Promise<{ id: string; outs: ModelState }>;

describe("pull", () => {
  it("pulls by tag and reports digest, size, quantisation, parameter size and context", async () => {
    fake = await startFakeOllama();
    const { id, outs } = await create({ host: fake.url, name: "mistral:7b" });
    expect(id).toBe(`mistral:7b@${fake.url}`);
    expect(outs.observed).toMatchObject({ size: 4_113_301_824, quantization: "Q4_0", parameterSize: "7.2B", family: "llama", contextLength: 32768 });
    expect(outs.observed.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(outs.observed.parameters.stop).toEqual(["[INST]", "[/INST]"]);
  });

  it("aborts a stalled pull and resumes it from where it stopped", async () => {
    fake = await startFakeOllama({ stallPullAt: { fraction: 0.4, times: 2 } });
    const { outs } = await create({ host: fake.url, name: "qwen2.5:14b", stallSeconds: 0.3, maxResumes: 3 });
    expect(outs.observed.size).toBe(8_988_124_298);
    expect(fake.pullAttempts.get("qwen2.5:14b")).toBe(3);
  });

  it('a pull the server reports as interrupted (its download torn down: "context canceled") is resumed too', async () => {
    fake = await startFakeOllama();
    fake.faults.status = { path: "/api/pull", code: 500, message: "context canceled", times: 1 };
    const { outs } = await create({ host: fake.url, name: "mistral:7b", stallSeconds: 5, maxResumes: 2 });
    expect(outs.observed.size).toBe(4_113_301_824);
    // Other server errors are not retried.
    fake.faults.status = { path: "/api/pull", code: 500, message: "pull model manifest: file does not exist", times: 1 };
    await expect(create({ host: fake.url, name: "qwen2.5:14b", stallSeconds: 5, maxResumes: 2 })).rejects.toThrow(/file does not exist \(HTTP 500\)/);
  });

  it("fails after the allowed resumes, naming the model, the server and the stall", async () => {
    fake = await startFakeOllama({ stallPullAt: { fraction: 0.2, times: 10 } });
    await expect(create({ host: fake.url, name: "mistral:7b", stallSeconds: 0.2, maxResumes: 1 })).rejects.toThrow(
      `ollama pull of model "mistral:7b" on ${fake.url} stalled: no progress for 0.2 s, after 1 resume(s)`,
    );
    expect(fake.pullAttempts.get("mistral:7b")).toBe(2);
    expect(fake.models.size).toBe(0);
  });

  it("treats a stream that ends without success as a failure", async () => {
    fake = await startFakeOllama({ pullEndsWithoutSuccess: true });
    await expect(create({ host: fake.url, name: "mistral:7b" })).rejects.toThrow(
      /ollama pull of model "mistral:7b" on .*: .*without success|Did not receive done or success/,
    );
  });

  it("reports the server's message and status on a 5xx", async () => {
    fake = await startFakeOllama({ status: { path: "/api/pull", code: 500, message: "registry: unexpected EOF" } });
    await expect(create({ host: fake.url, name: "mistral:7b" })).rejects.toThrow(
      `ollama pull of model "mistral:7b" on ${fake.url} failed: registry: unexpected EOF (HTTP 500)`,
    );
  });

  it("says the server cannot be reached when the connection is refused", async () => {
    const port = await freePort();
    await expect(create({ host: `http://127.0.0.1:${port}`, name: "mistral:7b" })).rejects.toThrow(
      `ollama pull of model "mistral:7b": cannot reach http://127.0.0.1:${port} (ECONNREFUSED)`,
    );
  });

  it("fails when a pinned digest no longer matches the tag", async () => {
    fake = await startFakeOllama();
    await expect(create({ host: fake.url, name: "mistral:7b", digest: "sha256:" + "0".repeat(64) })).rejects.toThrow(/the tag has moved/);
  });
});

describe("derived models", () => {
  const derived: ModelInputs = {
    host: "",
    name: "second-brain:32b",
    from: "qwen2.5:32b",
    parameters: { num_ctx: 8192, temperature: 0.3 },
    system: "Answer from the documents.",
  };

  it("creates from a base the server pulls itself, with baked parameters and system prompt", async () => {
    fake = await startFakeOllama();
    const { outs } = await create({ ...derived, host: fake.url });
    expect(outs.observed).toMatchObject({ contextLength: 8192, system: "Answer from the documents." });
    expect(outs.observed.parameters).toMatchObject({ num_ctx: 8192, temperature: 0.3 });
    expect(fake.log).toContain("POST /api/create second-brain:32b");
  });

  it("refresh finds drift: parameters changed, system changed, model deleted", async () => {
    fake = await startFakeOllama();
    const inputs = { ...derived, host: fake.url };
    const { id, outs } = await create(inputs);
    expect((await p.diff!(id, outs, inputs)).changes).toBe(false);

    const m = fake.models.get("second-brain:32b")!;
    fake.models.set("second-brain:32b", {
      ...m,
      parameters: m.parameters.replace("temperature                    0.3", "temperature                    0.9"),
      system: "hacked",
    });
    const refreshed = await p.read!(id, outs);
    expect(refreshed.id).toBe(id);
    expect((refreshed.props as ModelState).observed.parameters.temperature).toBe(0.9);
    expect(__test.drift(inputs, (refreshed.props as ModelState).observed)).toEqual(["parameters.temperature", "system"]);
    const d = await p.diff!(id, refreshed.props as ModelState, inputs);
    expect(d).toMatchObject({ changes: true, replaces: [] });

    // Update restores the declared model in place, under the same name.
    const updated = await p.update!(id, refreshed.props as ModelState, inputs);
    expect((updated.outs as ModelState).observed.parameters.temperature).toBe(0.3);

    fake.models.delete("second-brain:32b");
    expect(await p.read!(id, outs)).toEqual({ id: "", props: {} });
  });

  it("a pulled model re-pulled to another digest is reported by read", async () => {
    fake = await startFakeOllama();
    const { id, outs } = await create({ host: fake.url, name: "mistral:7b" });
    fake.models.set("mistral:7b", { ...fake.models.get("mistral:7b")!, digest: "f".repeat(64) });
    expect(((await p.read!(id, outs)).props as ModelState).observed.digest).toBe("f".repeat(64));
  });
});

describe("diff", () => {
  const base: ModelState = {
    host: "http://a:11434",
    name: "m:1",
    observed: { digest: "d", size: 1, quantization: "", parameterSize: "", family: "", contextLength: null, parameters: {}, system: "", template: "" },
  };
  it("replaces only when the identity changes", async () => {
    expect(await p.diff!("id", base, { host: "http://a:11434", name: "m:2" })).toMatchObject({ changes: true, replaces: ["name"] });
    expect(await p.diff!("id", base, { host: "http://b:11434", name: "m:1" })).toMatchObject({ changes: true, replaces: ["host"] });
    expect(await p.diff!("id", base, { host: "http://a:11434", name: "m:1", warm: true })).toMatchObject({ changes: true, replaces: [] });
    expect(await p.diff!("id", base, { host: "http://a:11434", name: "m:1" })).toMatchObject({ changes: false, replaces: [] });
  });

  it("check names bad inputs", async () => {
    const r = await p.check!({}, { host: "10.0.0.1", name: "Bad Name", from: "x", digest: "sha256:1", stallSeconds: 0 } as ModelInputs);
    expect(r.failures?.map((f) => f.property).sort()).toEqual(["digest", "host", "name", "stallSeconds"]);
  });
});

describe("warm-up and the GPU check", () => {
  it("loads the model and passes when it is fully in VRAM", async () => {
    fake = await startFakeOllama();
    await create({ host: fake.url, name: "mistral:7b", warm: true, keepAlive: "-1", requireFullGpu: true });
    expect(fake.loaded.has("mistral:7b")).toBe(true);
    expect(fake.log).toContain("POST /api/generate mistral:7b");
  });

  it("fails with the numbers when the model fell back to the CPU", async () => {
    fake = await startFakeOllama({ vramFraction: 0.6 });
    await expect(create({ host: fake.url, name: "mistral:7b", warm: true, requireFullGpu: true })).rejects.toThrow(
      /ollama model "mistral:7b" on .* fell back to the CPU: 2\.30 GiB of 3\.83 GiB in VRAM \(59%\)/,
    );
  });
});

describe("delete", () => {
  it("deletes, and tolerates a model already gone", async () => {
    fake = await startFakeOllama();
    const { id, outs } = await create({ host: fake.url, name: "mistral:7b" });
    await p.delete!(id, outs);
    expect(fake.models.has("mistral:7b")).toBe(false);
    await expect(p.delete!(id, outs)).resolves.toBeUndefined();
  });

  it("reports other failures", async () => {
    fake = await startFakeOllama({ status: { path: "/api/delete", code: 503, message: "busy" } });
    await expect(p.delete!("x", { host: fake.url, name: "mistral:7b" } as ModelState)).rejects.toThrow(
      /ollama delete of model "mistral:7b" on .* failed: busy \(HTTP 503\)/,
    );
  });
});

describe("parameter parsing", () => {
  it("reads numbers, quoted strings and repeated keys", () => {
    expect(__test.parseParameters('num_ctx                        8192\ntemperature 0.3\nstop "<|im_start|>"\nstop "<|im_end|>"\n')).toEqual({
      num_ctx: 8192,
      temperature: 0.3,
      stop: ["<|im_start|>", "<|im_end|>"],
    });
  });
});
