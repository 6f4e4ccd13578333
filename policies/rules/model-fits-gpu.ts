import { estimate, facts, gib } from "../support/capacity";
import type { Rule } from "../support/policy";
import { OLLAMA_MODEL } from "../support/types";

export const modelFitsGpu: Rule = () => ({
  name: "model-fits-gpu",
  description: "Every model deployment fits its GPU's VRAM with its context, parallel slots and KV cache type.",
  reason: "A model that does not fit loads partly on the CPU (10× slower) or fails to load; prompts get truncated to make it fit.",
  source: "ollama-and-gpus.md §5 (KV formula) and §7.3",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== OLLAMA_MODEL) return;
    const c = facts(args.props);
    if (!c) return report(`${args.name} (${args.props.name}) carries no capacity facts, so its fit cannot be checked`);
    const { e } = estimate(c);
    if (!e.fits)
      report(
        `${args.props.name} needs ${gib(e.totalBytes)} on the ${c.gpu} (${gib(e.vramBytes)}) at ${c.context} context × ${c.parallel} slot(s) with ${c.kvCacheType} KV`,
      );
  },
});
