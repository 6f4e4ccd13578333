// The destroy of `dualstack drill rebuild`: what holds data stays where it is and only leaves the state (the models in
// Ollama, the tenants' databases, keys and collections), so that the rebuild's create adopts it as it is: no model is
// downloaded again, no tenant's data makes the destroy fail, nothing is lost. The drill sets this in the environment
// of its `pulumi destroy`, which the engine passes to the providers; any other destroy deletes as declared.
export const KEEP_DATA_ENV = "AI_DUALSTACK_DESTROY_KEEPS_DATA";

export function destroyKeepsData(): boolean {
  return process.env[KEEP_DATA_ENV] === "1";
}
