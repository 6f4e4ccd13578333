import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { KEPT_PATH } from "../lib/vault/access";
import { KeptSecret } from "./providers/kept-secret";
import type { VaultTarget } from "./vault-secrets";

/** Where a stack keeps the generated credentials that guard kept data: its Vault mount (DESIGN.md, "kept secrets"). */
export interface SecretKeeper {
  vault: VaultTarget;
  /** What must exist before the first kept secret is written (the host's mount and policy). */
  dependsOn?: pulumi.Resource[];
}

/**
 * A generated credential that guards or encrypts kept data. The random resource `name` generates a candidate; the
 * kept secret `${name}-kept` (Vault, `kept/<name>`) is the source of truth: it adopts the value Vault already holds
 * and keeps the candidate only when there is none, so that a teardown, a lost state or a service taken out and put
 * back never changes it. Without a keeper (the host stack before Vault is initialised) the candidate is used as is;
 * the first `up` with the keeper keeps it.
 */
export function keptSecret(name: string, candidate: pulumi.Output<string>, keeper: SecretKeeper | undefined, parent: pulumi.Resource): pulumi.Output<string> {
  if (keeper === undefined) return pulumi.secret(candidate);
  const kept = new KeptSecret(
    `${name}-kept`,
    { ...keeper.vault, path: `${KEPT_PATH}/${name}`, candidate: pulumi.secret(candidate) },
    { parent, ...(keeper.dependsOn ? { dependsOn: keeper.dependsOn } : {}) },
  );
  // A kept secret the engine skipped (an `up` that excludes it, and its dependents with it) has no value: the
  // program still evaluates what it would feed, so it gets the candidate there, never an undefined.
  return pulumi.secret(pulumi.all([kept.value, candidate]).apply(([value, fallback]) => value ?? fallback));
}

/** A kept password of letters and digits (RandomPassword `name`, unchanged from before it was kept). */
export function keptPassword(name: string, length: number, keeper: SecretKeeper | undefined, parent: pulumi.Resource): pulumi.Output<string> {
  return keptSecret(name, new random.RandomPassword(name, { length, special: false }, { parent }).result, keeper, parent);
}

/** A kept key of 32 random bytes in hex (RandomId `name`; its outputs declared secret). */
export function keptHexKey(name: string, keeper: SecretKeeper | undefined, parent: pulumi.Resource): pulumi.Output<string> {
  const id = new random.RandomId(name, { byteLength: 32 }, { parent, additionalSecretOutputs: ["hex", "b64Std", "b64Url", "dec"] });
  return keptSecret(name, id.hex, keeper, parent);
}

/**
 * A compose service's generated secret by the name its templates use (lib/catalog): 48 letters and digits, 32 for a
 * name ending in -32 (cookie secrets), or 32 random bytes in hex for a name ending in -hex (encryption keys); kept as
 * `${stack}-${secret}`.
 */
export function keptServiceSecret(stack: string, secret: string, keeper: SecretKeeper | undefined, parent: pulumi.Resource): pulumi.Output<string> {
  return secret.endsWith("-hex")
    ? keptHexKey(`${stack}-${secret}`, keeper, parent)
    : keptPassword(`${stack}-${secret}`, secret.endsWith("-32") ? 32 : 48, keeper, parent);
}
