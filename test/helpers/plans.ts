// The three shipped stacks through the offline engine, host first (its result answers the environments' reference),
// with the secret config a deployed stack has (dummySecrets): without it the program leaves out what those secrets
// switch on (Vault's configuration, file-level backups), as a real first `pulumi up` does.
import { evaluateStack, type PlanResult } from "../../ops/engine";
import { dummySecrets } from "./config";

export interface ShippedPlans {
  host: PlanResult;
  priv: PlanResult;
  pub: PlanResult;
}

export async function shippedPlans(): Promise<ShippedPlans> {
  const host = await evaluateStack("host", { secrets: dummySecrets("host") });
  return {
    host,
    priv: await evaluateStack("private", { host, secrets: dummySecrets("private") }),
    pub: await evaluateStack("public", { host, secrets: dummySecrets("public") }),
  };
}
