// `dualstack bench <stack>`: the decode speed of each deployed model, measured through Ollama's API (a fixed prompt,
// a fixed number of generated tokens, temperature 0), next to the planner's bandwidth ceiling. A measured speed far
// below the ceiling points at a model spilled to the CPU, a throttled GPU, or a context larger than planned.
import type { CapacityReport } from "../lib/capacity/report";

export interface BenchRow {
  model: string;
  /** Generated tokens per second while decoding (eval_count / eval_duration). */
  tokensPerSecond: number;
  ceilingTokensPerSecond: number;
  /** measured / ceiling. */
  ratio: number;
  tokens: number;
}

export interface BenchClient {
  generate(request: {
    model: string;
    prompt: string;
    stream: false;
    options: { num_predict: number; temperature: number; seed: number };
  }): Promise<{ eval_count?: number; eval_duration?: number }>;
}

export const BENCH_PROMPT = "Explain, in plain words, how a ZFS mirror protects data against a failed disk.";

export async function benchModels(client: BenchClient, capacity: CapacityReport, options: { tokens?: number; runs?: number } = {}): Promise<BenchRow[]> {
  const tokens = options.tokens ?? 128;
  const runs = options.runs ?? 3;
  const rows: BenchRow[] = [];
  for (const m of capacity.models) {
    // The first call may load the model: not measured.
    await client.generate({ model: m.name, prompt: "Hi", stream: false, options: { num_predict: 1, temperature: 0, seed: 1 } });
    const speeds: number[] = [];
    let counted = 0;
    for (let i = 0; i < runs; i++) {
      const r = await client.generate({ model: m.name, prompt: BENCH_PROMPT, stream: false, options: { num_predict: tokens, temperature: 0, seed: 1 } });
      if (!r.eval_count || !r.eval_duration) throw new Error(`bench: Ollama returned no eval_count/eval_duration for ${m.name}`);
      speeds.push(r.eval_count / (r.eval_duration / 1e9));
      counted += r.eval_count;
    }
    const median = speeds.sort((a, b) => a - b)[Math.floor(speeds.length / 2)];
    rows.push({
      model: m.name,
      tokensPerSecond: median,
      ceilingTokensPerSecond: m.ceilingTokensPerSecond,
      ratio: median / m.ceilingTokensPerSecond,
      tokens: counted,
    });
  }
  return rows;
}

export function renderBench(rows: BenchRow[]): string {
  const head = `${"model".padEnd(24)} ${"measured tok/s".padStart(14)} ${"ceiling tok/s".padStart(14)} ${"of ceiling".padStart(10)}`;
  return `${[head, ...rows.map((r) => `${r.model.padEnd(24)} ${r.tokensPerSecond.toFixed(1).padStart(14)} ${r.ceilingTokensPerSecond.toFixed(0).padStart(14)} ${`${(r.ratio * 100).toFixed(0)}%`.padStart(10)}`)].join("\n")}\n`;
}
