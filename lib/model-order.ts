// The order in which an environment's models are deployed: a derived model after the deployment of the model it is
// derived from, when that model is deployed too. Ollama's create pulls a missing base itself, so a derived model
// created beside its base's pull is a second pull of the same blobs at once, which can leave the derived model
// unlisted after its create reported success.

interface Derivable {
  name: string;
  from?: string;
}

/** "mistral" and "mistral:latest" are one model to Ollama. */
export function modelKey(name: string): string {
  return name.includes(":") ? name : `${name}:latest`;
}

/** For each model, the index of the deployment it is derived from, when that one is deployed here too. */
export function basesOf(models: readonly Derivable[]): (number | undefined)[] {
  const index = new Map(models.map((m, i) => [modelKey(m.name), i]));
  return models.map((m) => (m.from === undefined ? undefined : index.get(modelKey(m.from))));
}

/** The names on a chain of derivations that leads back to where it started (a model derived from itself, or from
 * a model derived from it), or undefined when every chain ends at a model that is pulled. */
export function derivationCycle(models: readonly Derivable[]): string[] | undefined {
  const bases = basesOf(models);
  for (let start = 0; start < models.length; start++) {
    const chain: number[] = [];
    for (let i: number | undefined = start; i !== undefined; i = bases[i]) {
      if (chain.includes(i)) return [...chain.slice(chain.indexOf(i)), i].map((j) => models[j].name);
      chain.push(i);
    }
  }
  return undefined;
}

/** The indices of `models` with every base before the models derived from it; otherwise in declared order. */
export function deploymentOrder(models: readonly Derivable[]): number[] {
  const cycle = derivationCycle(models);
  if (cycle) throw new Error(`models: ${cycle.join(" → ")} is derived from itself`);
  const bases = basesOf(models);
  const order: number[] = [];
  const visit = (i: number) => {
    if (order.includes(i)) return;
    const base = bases[i];
    if (base !== undefined) visit(base);
    order.push(i);
  };
  models.forEach((_, i) => visit(i));
  return order;
}
