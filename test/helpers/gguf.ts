// A tiny llama-architecture model in GGUF (version 3), written by the test tooling: a byte-level SentencePiece-style
// vocabulary, two transformer blocks of width 64 and random F32 weights. Real Ollama loads it, and create, show,
// list, ps, generate, push, pull and delete all run for real on it; what it generates is noise, by design.
import { createHash } from "node:crypto";

const T = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10 } as const;
const GGML_F32 = 0;
const ALIGNMENT = 32;

type Value =
  | { type: "u32"; v: number }
  | { type: "i32"; v: number }
  | { type: "f32"; v: number }
  | { type: "str"; v: string }
  | { type: "strs"; v: string[] }
  | { type: "f32s"; v: number[] }
  | { type: "i32s"; v: number[] }
  | { type: "bool"; v: boolean };

class Writer {
  private chunks: Buffer[] = [];
  length = 0;
  private push(b: Buffer) {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(n: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.push(b);
  }
  i32(n: number) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    this.push(b);
  }
  u64(n: number) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.push(b);
  }
  f32(n: number) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(n);
    this.push(b);
  }
  str(s: string) {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.push(b);
  }
  bytes(b: Buffer) {
    this.push(b);
  }
  pad() {
    const n = (ALIGNMENT - (this.length % ALIGNMENT)) % ALIGNMENT;
    if (n) this.push(Buffer.alloc(n));
  }
  done() {
    return Buffer.concat(this.chunks);
  }
}

function writeValue(w: Writer, v: Value) {
  switch (v.type) {
    case "u32":
      w.u32(T.UINT32);
      w.u32(v.v);
      break;
    case "i32":
      w.u32(T.INT32);
      w.i32(v.v);
      break;
    case "f32":
      w.u32(T.FLOAT32);
      w.f32(v.v);
      break;
    case "bool":
      w.u32(T.BOOL);
      w.bytes(Buffer.from([v.v ? 1 : 0]));
      break;
    case "str":
      w.u32(T.STRING);
      w.str(v.v);
      break;
    case "strs":
      w.u32(T.ARRAY);
      w.u32(T.STRING);
      w.u64(v.v.length);
      for (const s of v.v) w.str(s);
      break;
    case "f32s":
      w.u32(T.ARRAY);
      w.u32(T.FLOAT32);
      w.u64(v.v.length);
      for (const x of v.v) w.f32(x);
      break;
    case "i32s":
      w.u32(T.ARRAY);
      w.u32(T.INT32);
      w.u64(v.v.length);
      for (const x of v.v) w.i32(x);
      break;
  }
}

/** A deterministic pseudo-random generator (the same seed gives the same model, so the same digest). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TinyModel {
  gguf: Buffer;
  digest: string;
}

/** The tiny model; `seed` changes the weights (and so the digest). */
export function tinyLlamaGguf(seed = 1): TinyModel {
  const embd = 64,
    layers = 2,
    ffn = 128,
    heads = 4,
    ctx = 512;
  const tokens = [
    "<unk>",
    "<s>",
    "</s>",
    ...Array.from({ length: 256 }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, "0")}>`),
    "▁the",
    "▁a",
    "▁model",
  ];
  const types = tokens.map((t, i) => (i === 0 ? 2 : i < 3 ? 3 : t.startsWith("<0x") ? 6 : 1));
  const scores = tokens.map((_, i) => (i < 259 ? 0 : -i));
  const vocab = tokens.length;
  const kv: [string, Value][] = [
    ["general.architecture", { type: "str", v: "llama" }],
    ["general.name", { type: "str", v: "ai-dualstack tiny test model" }],
    ["general.file_type", { type: "u32", v: 0 }],
    ["general.alignment", { type: "u32", v: ALIGNMENT }],
    ["llama.context_length", { type: "u32", v: ctx }],
    ["llama.embedding_length", { type: "u32", v: embd }],
    ["llama.block_count", { type: "u32", v: layers }],
    ["llama.feed_forward_length", { type: "u32", v: ffn }],
    ["llama.attention.head_count", { type: "u32", v: heads }],
    ["llama.attention.head_count_kv", { type: "u32", v: heads }],
    ["llama.rope.dimension_count", { type: "u32", v: embd / heads }],
    ["llama.rope.freq_base", { type: "f32", v: 10000 }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", v: 1e-5 }],
    ["llama.vocab_size", { type: "u32", v: vocab }],
    ["tokenizer.ggml.model", { type: "str", v: "llama" }],
    ["tokenizer.ggml.tokens", { type: "strs", v: tokens }],
    ["tokenizer.ggml.scores", { type: "f32s", v: scores }],
    ["tokenizer.ggml.token_type", { type: "i32s", v: types }],
    ["tokenizer.ggml.bos_token_id", { type: "u32", v: 1 }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", v: 2 }],
    ["tokenizer.ggml.unknown_token_id", { type: "u32", v: 0 }],
    ["tokenizer.ggml.add_bos_token", { type: "bool", v: true }],
  ];
  // GGUF lists dimensions innermost first: a [rows, cols] matrix is written as [cols, rows].
  const tensors: { name: string; dims: number[] }[] = [{ name: "token_embd.weight", dims: [embd, vocab] }];
  for (let l = 0; l < layers; l++) {
    tensors.push(
      { name: `blk.${l}.attn_norm.weight`, dims: [embd] },
      { name: `blk.${l}.attn_q.weight`, dims: [embd, embd] },
      { name: `blk.${l}.attn_k.weight`, dims: [embd, embd] },
      { name: `blk.${l}.attn_v.weight`, dims: [embd, embd] },
      { name: `blk.${l}.attn_output.weight`, dims: [embd, embd] },
      { name: `blk.${l}.ffn_norm.weight`, dims: [embd] },
      { name: `blk.${l}.ffn_gate.weight`, dims: [embd, ffn] },
      { name: `blk.${l}.ffn_up.weight`, dims: [embd, ffn] },
      { name: `blk.${l}.ffn_down.weight`, dims: [ffn, embd] },
    );
  }
  tensors.push({ name: "output_norm.weight", dims: [embd] }, { name: "output.weight", dims: [embd, vocab] });

  const random = rng(seed);
  const data = tensors.map((t) => {
    const n = t.dims.reduce((a, b) => a * b, 1);
    const b = Buffer.alloc(n * 4);
    // Norm weights 1, the rest small noise.
    for (let i = 0; i < n; i++) b.writeFloatLE(t.name.endsWith("norm.weight") ? 1 : (random() - 0.5) * 0.04, i * 4);
    return b;
  });

  const w = new Writer();
  w.bytes(Buffer.from("GGUF", "ascii"));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(kv.length);
  for (const [k, v] of kv) {
    w.str(k);
    writeValue(w, v);
  }
  let offset = 0;
  tensors.forEach((t, i) => {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_F32);
    w.u64(offset);
    offset += data[i].length;
    offset += (ALIGNMENT - (offset % ALIGNMENT)) % ALIGNMENT;
  });
  w.pad();
  for (const d of data) {
    w.bytes(d);
    w.pad();
  }
  const gguf = w.done();
  return { gguf, digest: `sha256:${createHash("sha256").update(gguf).digest("hex")}` };
}
