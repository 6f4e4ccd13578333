import { describe, expect, it } from "vitest";
import { basesOf, derivationCycle, deploymentOrder, modelKey } from "../../lib/model-order";

describe("the order of an environment's models", () => {
  it("a tag without a version is :latest, as Ollama names it", () => {
    expect(modelKey("mistral")).toBe("mistral:latest");
    expect(modelKey("qwen2.5:14b")).toBe("qwen2.5:14b");
  });

  it("a derived model comes after the deployment of its base, wherever the base is declared", () => {
    const models = [{ name: "assistant", from: "mistral" }, { name: "qwen2.5:14b" }, { name: "mistral:latest" }, { name: "terse", from: "assistant:latest" }];
    expect(basesOf(models)).toEqual([2, undefined, undefined, 0]);
    expect(deploymentOrder(models)).toEqual([2, 0, 1, 3]);
  });

  it("a base that is not deployed here is Ollama's to pull: declared order", () => {
    const models = [{ name: "second-brain:32b", from: "qwen2.5:32b" }, { name: "qwen2.5:14b" }];
    expect(basesOf(models)).toEqual([undefined, undefined]);
    expect(deploymentOrder(models)).toEqual([0, 1]);
    expect(derivationCycle(models)).toBeUndefined();
  });

  it("a cycle is named from where it starts, and cannot be ordered", () => {
    const models = [{ name: "a" }, { name: "b", from: "c" }, { name: "c", from: "b:latest" }];
    expect(derivationCycle(models)).toEqual(["b", "c", "b"]);
    expect(derivationCycle([{ name: "x", from: "x" }])).toEqual(["x", "x"]);
    expect(() => deploymentOrder(models)).toThrow("models: b → c → b is derived from itself");
  });
});
