// The model probe in each GPU VM: a timer asks Ollama's /api/ps which models are loaded and how much of each sits in
// VRAM, and leaves the answer for node exporter's textfile collector. Models deployed warm are "expected": the
// ModelNotLoaded alert fires when one is missing, ModelOnCpu when one is partly on the CPU. A derived model shares
// its base's runner when both are loaded; /api/ps lists the runner once, so models are matched by their weights.

export interface OllamaProbe {
  /** Ollama's API as seen from the VM: "http://127.0.0.1:11434". */
  url: string;
  /** Models that should be loaded at all times (deployed warm with keep-alive). */
  expected: string[];
  /** node exporter's textfile directory. */
  metricsDir: string;
}

const MODEL = /^[a-z0-9][a-z0-9._:/-]*$/;

export function renderOllamaProbeScript(p: OllamaProbe): string {
  if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d+)?$/.test(p.url)) throw new Error(`renderOllamaProbeScript: invalid url ${JSON.stringify(p.url)}`);
  for (const m of p.expected) if (!MODEL.test(m)) throw new Error(`renderOllamaProbeScript: invalid model name ${JSON.stringify(m)}`);
  if (!/^\/[A-Za-z0-9._/-]+$/.test(p.metricsDir)) throw new Error(`renderOllamaProbeScript: invalid directory ${JSON.stringify(p.metricsDir)}`);
  return `#!/bin/bash
# Managed by ai-dualstack: Ollama's loaded models, for Prometheus (node exporter textfile collector).
set -uo pipefail
out="${p.metricsDir}/ollama.prom"
tmp="$(mktemp "${p.metricsDir}/.ollama.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
expected='${JSON.stringify(p.expected)}'
{
  echo "# HELP ai_dualstack_ollama_up Whether Ollama's API answered the probe."
  echo "# TYPE ai_dualstack_ollama_up gauge"
  if ps="$(curl -fsS --max-time 10 '${p.url}/api/ps')"; then up=1; else up=0; ps='{"models":[]}'; fi
  echo "ai_dualstack_ollama_up $up"
  # Models that share their weights share one runner, listed under the name that loaded it first: an expected model
  # whose weights a loaded one holds is loaded too (alias: expected name -> the loaded name).
  weights() { curl -fsS --max-time 10 -d "$(jq -cn --arg m "$1" '{model: $m}')" '${p.url}/api/show' | jq -r '.modelfile // ""' | grep -oE '^FROM [^ ]*sha256[-:][0-9a-f]{64}' | grep -oE '[0-9a-f]{64}$' || true; }
  alias='{}'
  for want in $(jq -r --argjson loaded "$(jq -c '[.models[]?.name]' <<<"$ps")" '.[] | select(. as $w | $loaded | index($w) | not)' <<<"$expected"); do
    mine="$(weights "$want")"
    [ -n "$mine" ] || continue
    for have in $(jq -r '.models[]?.name' <<<"$ps"); do
      if [ "$(weights "$have")" = "$mine" ]; then alias="$(jq -c --arg w "$want" --arg h "$have" '. + {($w): $h}' <<<"$alias")"; break; fi
    done
  done
  jq -r --argjson expected "$expected" --argjson alias "$alias" '
    def esc: gsub("\\\\\\\\"; "\\\\\\\\\\\\\\\\") | gsub("\\""; "\\\\\\"");
    "# HELP ai_dualstack_ollama_model_expected Models deployed warm, which should always be loaded.",
    "# TYPE ai_dualstack_ollama_model_expected gauge",
    ($expected[] | "ai_dualstack_ollama_model_expected{model=\\"\\(esc)\\"} 1"),
    "# HELP ai_dualstack_ollama_model_loaded Whether the model is loaded.",
    "# TYPE ai_dualstack_ollama_model_loaded gauge",
    ((([.models[]?.name] + $expected) | unique)[] as $m | "ai_dualstack_ollama_model_loaded{model=\\"\\($m | esc)\\"} \\(if ([.models[]?.name] | index($m)) != null or $alias[$m] != null then 1 else 0 end)"),
    "# HELP ai_dualstack_ollama_model_vram_ratio Share of the loaded model in VRAM (1 = entirely on the GPU).",
    "# TYPE ai_dualstack_ollama_model_vram_ratio gauge",
    (.models[]? | "ai_dualstack_ollama_model_vram_ratio{model=\\"\\(.name | esc)\\"} \\(if .size > 0 then (.size_vram / .size) else 0 end)"),
    (. as $ps | $alias | to_entries[] | . as $a | $ps.models[] | select(.name == $a.value) | "ai_dualstack_ollama_model_vram_ratio{model=\\"\\($a.key | esc)\\"} \\(if .size > 0 then (.size_vram / .size) else 0 end)"),
    "# HELP ai_dualstack_ollama_model_size_bytes Size of the loaded model (weights and context).",
    "# TYPE ai_dualstack_ollama_model_size_bytes gauge",
    (.models[]? | "ai_dualstack_ollama_model_size_bytes{model=\\"\\(.name | esc)\\"} \\(.size)")
  ' <<<"$ps" || exit 1
} > "$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
`;
}
