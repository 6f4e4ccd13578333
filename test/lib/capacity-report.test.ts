import { describe, expect, it } from "vitest";
import { GPU_CATALOG } from "../../lib/capacity/catalog";
import { capacityReport, renderCapacityTable } from "../../lib/capacity/report";
import { loadConfig } from "../../lib/config/load";
import type { EnvironmentConfig } from "../../lib/config/schema";
import { committedConfig, edit } from "../helpers/config";

function envConfig(stack: "private" | "public", ...edits: [string, (string | number)[], unknown][]): EnvironmentConfig {
  let raw = committedConfig(stack);
  for (const [k, p, v] of edits) raw = edit(raw, k, p, v);
  const loaded = loadConfig(raw);
  if (loaded.role === "host") throw new Error("env expected");
  return loaded.config;
}
const r5090 = { catalog: "rtx-5090", ...GPU_CATALOG["rtx-5090"] };
const r3060 = { catalog: "rtx-3060-12gb", ...GPU_CATALOG["rtx-3060-12gb"] };

describe("capacity report", () => {
  it("every shipped deployment fits its GPU", () => {
    const priv = capacityReport(envConfig("private"), r5090);
    expect(priv.fits).toBe(true);
    expect(priv.models.map((m) => [m.name, m.catalogModel, m.context, m.kvCacheType])).toEqual([
      ["qwen2.5:14b", "qwen2.5:14b", 8192, "q8_0"],
      ["second-brain:32b", "qwen2.5:32b", 8192, "q8_0"],
    ]);
    expect(priv.coResident).toMatchObject({ maxLoaded: 2, worstCaseFits: true });
    const pub = capacityReport(envConfig("public"), r3060);
    expect(pub.fits).toBe(true);
    expect(pub.models[0]).toMatchObject({ name: "mistral:7b", parallel: 4, context: 8192, fits: true });
  });

  it("the same private models at 16k with f16 KV do not fit together", () => {
    const report = capacityReport(
      envConfig("private", ["ollama", ["contextLength"], 16384], ["ollama", ["kvCacheType"], "f16"], ["models", [1, "context"], 16384]),
      r5090,
    );
    expect(report.models.every((m) => m.fits)).toBe(true);
    expect(report.coResident.worstCaseFits).toBe(false);
    expect(report.fits).toBe(false);
    expect(renderCapacityTable(report)).toContain("DOES NOT FIT");
  });

  it("the private models on the public card do not fit, model by model", () => {
    const report = capacityReport(envConfig("private"), r3060);
    expect(report.models.map((m) => m.fits)).toEqual([true, false]);
    expect(renderCapacityTable(report)).toMatch(/second-brain:32b .* NO /);
  });

  it("a user catalog entry describes a model the built-in catalog lacks", () => {
    const cfg = envConfig(
      "public",
      [
        "catalog",
        [],
        { models: { "phi4:14b": { weightsBytes: 9_100_000_000, quantization: "Q4_K_M", layers: 40, kvHeads: 10, headDim: 128, nativeContext: 16384 } } },
      ],
      ["models", [0], { name: "phi4:14b" }],
    );
    const report = capacityReport(cfg, r3060);
    expect(report.models[0]).toMatchObject({ catalogModel: "phi4:14b", weightsBytes: 9_100_000_000 });
  });
});

describe("model deployment config", () => {
  const problems = (...edits: [string, (string | number)[], unknown][]) => {
    try {
      envConfig("private", ...edits);
      return [];
    } catch (err) {
      return (err as { problems: string[] }).problems;
    }
  };
  it("rejects models outside the catalog, contexts beyond the native one, baking without `from`, bad parameters", () => {
    expect(problems(["models", [0, "name"], "llama3:70b"])[0]).toMatch(
      /^ai-dualstack:models\[0\]\.name: expected a catalog model \(mistral:7b, qwen2\.5:14b, qwen2\.5:32b/,
    );
    expect(problems(["models", [1, "context"], 65536])[0]).toBe(
      "ai-dualstack:models[1].context: context 65536 exceeds qwen2.5:32b's native context of 32768 tokens",
    );
    expect(problems(["models", [0, "system"], "be nice"])[0]).toContain("set `from` as well");
    expect(problems(["models", [1, "parameters", "temperature"], 7])[0]).toBe(
      "ai-dualstack:models[1].parameters.temperature: expected a number from 0 to 2, got 7",
    );
    expect(problems(["models", [1, "parameters", "mirostat"], 1])[0]).toContain("ai-dualstack:models[1].parameters.mirostat: unknown key");
    expect(problems(["models", [1, "name"], "qwen2.5:14b"])[0]).toContain('model name "qwen2.5:14b" is already used');
    expect(problems(["ollama", ["image"], "ollama/ollama:latest"])[0]).toContain("explicit version tag");
    expect(problems(["ollama", ["contextLength"], 128])[0]).toContain("ai-dualstack:ollama.contextLength: expected a whole number from 512");
  });

  it("requires the Ollama context length explicitly", () => {
    expect(problems(["ollama", ["contextLength"], undefined])[0]).toMatch(/^ai-dualstack:ollama.contextLength: .*required/);
  });
});
