import { describe, expect, it } from "vitest";
import { gpuVmModelsDir, manifestPath } from "../../lib/ollama-store";

describe("where Ollama keeps a model", () => {
  it("fills in Ollama's defaults for the registry, the namespace and the tag", () => {
    expect(manifestPath("mistral")).toBe("manifests/registry.ollama.ai/library/mistral/latest");
    expect(manifestPath("qwen2.5:14b")).toBe("manifests/registry.ollama.ai/library/qwen2.5/14b");
    expect(manifestPath("acme/assistant:v2")).toBe("manifests/registry.ollama.ai/acme/assistant/v2");
    expect(manifestPath("localhost:5000/library/tiny:latest")).toBe("manifests/localhost:5000/library/tiny/latest");
  });

  it("refuses a name with an empty part", () => {
    expect(() => manifestPath("qwen2.5:")).toThrow('ollama model name: expected [host/][namespace/]model[:tag], got "qwen2.5:"');
  });

  it("the GPU VM's models are in the compose volume on the data disk", () => {
    expect(gpuVmModelsDir("public")).toBe("/srv/data/docker/volumes/public_ollama-models/_data/models");
  });
});
