// The three shipped stacks through the offline engine, host first (its result answers the environments' reference).
import { evaluateStack, type PlanResult } from "../../ops/engine";

export interface ShippedPlans {
  host: PlanResult;
  priv: PlanResult;
  pub: PlanResult;
}

export async function shippedPlans(): Promise<ShippedPlans> {
  const host = await evaluateStack("host");
  return { host, priv: await evaluateStack("private", { host }), pub: await evaluateStack("public", { host }) };
}
