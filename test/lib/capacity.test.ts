import { describe, expect, it } from "vitest";
import { CatalogError, GPU_CATALOG, MODEL_CATALOG, lookupGpu, lookupModel, mergeCatalog } from "../../lib/capacity/catalog";
import { KV_BYTES_PER_ELEMENT, coResidency, estimateModel, kvCacheBytes, type KvCacheType } from "../../lib/capacity/planner";

const MiB = 1024 ** 2;
const q14 = MODEL_CATALOG["qwen2.5:14b"];
const q32 = MODEL_CATALOG["qwen2.5:32b"];
const mistral = MODEL_CATALOG["mistral:7b"];
const r5090 = GPU_CATALOG["rtx-5090"];
const r3060 = GPU_CATALOG["rtx-3060-12gb"];

describe("KV cache", () => {
  it("matches the buffers Ollama logs", () => {
    expect(kvCacheBytes(q14, { context: 8192, parallel: 1, kvCacheType: "f16" })).toBe(1536 * MiB); // ollama#9091
    expect(kvCacheBytes(mistral, { context: 2048, parallel: 1, kvCacheType: "f16" })).toBe(256 * MiB); // ollama#6348
  });

  it("grows linearly with context and slots, and shrinks with the cache type", () => {
    const kinds = Object.keys(KV_BYTES_PER_ELEMENT) as KvCacheType[];
    for (const ctx of [2048, 4096, 8192, 32768]) {
      for (const parallel of [1, 2, 4]) {
        const base = kvCacheBytes(q32, { context: ctx, parallel, kvCacheType: "f16" });
        expect(kvCacheBytes(q32, { context: ctx * 2, parallel, kvCacheType: "f16" })).toBe(2 * base);
        expect(kvCacheBytes(q32, { context: ctx, parallel: parallel * 2, kvCacheType: "f16" })).toBe(2 * base);
        const byKind = kinds.map((k) => kvCacheBytes(q32, { context: ctx, parallel, kvCacheType: k }));
        expect(byKind).toEqual([base, base / 2, base / 4]);
      }
    }
  });
});

describe("fit and ceiling on the reference cards", () => {
  it("qwen2.5:32b at 32k context with f16 KV fits the RTX 5090 alone (about 28 GiB)", () => {
    const e = estimateModel(q32, r5090, { context: 32768, parallel: 1, kvCacheType: "f16" });
    expect(e.fits).toBe(true);
    expect(e.totalBytes / 1024 ** 3).toBeGreaterThan(26);
    expect(e.totalBytes / 1024 ** 3).toBeLessThan(30);
  });

  it("qwen2.5:14b and 32b together fit the 5090 only with q8_0 KV at 8k", () => {
    const shape = (kv: KvCacheType) => ({ context: 8192, parallel: 1, kvCacheType: kv });
    const f16 = coResidency([estimateModel(q14, r5090, shape("f16")), estimateModel(q32, r5090, shape("f16"))], r5090, 2);
    const q8 = coResidency([estimateModel(q14, r5090, shape("q8_0")), estimateModel(q32, r5090, shape("q8_0"))], r5090, 2);
    expect(f16.worstCaseFits).toBe(false);
    expect(q8.worstCaseFits).toBe(true);
    // One loaded at a time: the larger one alone must fit.
    expect(coResidency([estimateModel(q14, r5090, shape("f16")), estimateModel(q32, r5090, shape("f16"))], r5090, 1).worstCaseFits).toBe(true);
  });

  it("mistral:7b with 4 slots at 8k fits the RTX 3060 (about 9 GiB); qwen2.5:32b does not", () => {
    const m = estimateModel(mistral, r3060, { context: 8192, parallel: 4, kvCacheType: "f16" });
    expect(m.fits).toBe(true);
    expect(m.totalBytes / 1024 ** 3).toBeCloseTo(9, 0);
    expect(estimateModel(q32, r3060, { context: 2048, parallel: 1, kvCacheType: "q4_0" }).fits).toBe(false);
  });

  it("the configured GPU overhead counts", () => {
    const shape = { context: 8192, parallel: 4, kvCacheType: "f16" as const };
    const without = estimateModel(mistral, r3060, shape);
    const withOverhead = estimateModel(mistral, r3060, shape, 4 * 1024 ** 3);
    expect(withOverhead.totalBytes - without.totalBytes).toBe(4 * 1024 ** 3);
    expect(withOverhead.fits).toBe(false);
  });

  it("bounds decode speed by bandwidth over weight bytes", () => {
    expect(estimateModel(q14, r5090, { context: 4096, parallel: 1, kvCacheType: "f16" }).ceilingTokensPerSecond).toBeCloseTo(199.4, 0);
    expect(estimateModel(q32, r5090, { context: 4096, parallel: 1, kvCacheType: "f16" }).ceilingTokensPerSecond).toBeCloseTo(90.3, 0);
    expect(estimateModel(mistral, r3060, { context: 4096, parallel: 1, kvCacheType: "f16" }).ceilingTokensPerSecond).toBeCloseTo(86, 0);
  });
});

describe("catalog", () => {
  it("names the known entries when a lookup fails", () => {
    const c = mergeCatalog();
    expect(() => lookupGpu(c, "rtx-9090")).toThrow(CatalogError);
    expect(() => lookupGpu(c, "rtx-9090")).toThrow(/known: rtx-3060-12gb, rtx-4090, rtx-5090/);
    expect(() => lookupModel(c, "llama3:70b")).toThrow(/unknown model "llama3:70b"; known: mistral:7b, qwen2\.5:14b, qwen2\.5:32b/);
  });

  it("takes user entries over the built-in ones", () => {
    const c = mergeCatalog({ models: { "mistral:latest": { ...mistral, source: "user" } }, gpus: { "rtx-3060-12gb": { ...r3060, vramBytes: 1 } } });
    expect(lookupModel(c, "mistral").source).toBe("user");
    expect(lookupGpu(c, "rtx-3060-12gb").vramBytes).toBe(1);
    expect(lookupModel(c, "qwen2.5:14b")).toBe(q14);
  });
});
