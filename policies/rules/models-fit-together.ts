import { coResidency } from "../../lib/capacity/planner";
import { estimate, facts, gib, type CapacityFacts } from "../support/capacity";
import type { Rule } from "../support/policy";
import { OLLAMA_MODEL } from "../support/types";

export const modelsFitTogether: Rule = () => ({
  name: "models-fit-together",
  description: "The models an Ollama server may keep loaded at once (OLLAMA_MAX_LOADED_MODELS) fit its GPU together.",
  reason: "Ollama evicts or offloads when co-resident models overflow VRAM; the largest allowed set must fit.",
  source: "ollama-and-gpus.md §4–5",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const byServer = new Map<string, CapacityFacts[]>();
    for (const r of args.resources) {
      if (r.type !== OLLAMA_MODEL) continue;
      const c = facts(r.props);
      if (c) byServer.set(r.props.host, [...(byServer.get(r.props.host) ?? []), c]);
    }
    for (const [server, models] of byServer) {
      const first = models[0];
      const estimates = models.map((m) => estimate(m).e);
      const co = coResidency(estimates, estimate(first).gpu, first.maxLoaded ?? 1, first.gpuOverheadBytes ?? 0);
      if (!co.worstCaseFits)
        report(`${server}: up to ${co.maxLoaded} co-resident models need ${gib(co.worstCaseBytes)} of ${gib(co.vramBytes)} on the ${first.gpu}`);
    }
  },
});
