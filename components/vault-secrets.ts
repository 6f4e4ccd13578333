import * as pulumi from "@pulumi/pulumi";
import { VaultKvSecret } from "./providers/vault-kv";

/** Where an environment writes its secrets: its KV v2 mount, with its own AppRole, trusting the platform CA (the
 * connection inputs of a VaultKvSecret, spread into each). */
export interface VaultTarget {
  address: string;
  mount: string;
  /** The environment's AppRole; or, for the host stack, the administrator's token. */
  appRole?: pulumi.Input<{ roleId: pulumi.Input<string>; secretId: pulumi.Input<string> }>;
  token?: pulumi.Input<string>;
  caCert?: pulumi.Input<string>;
}

export interface VaultSecretsArgs {
  vault: VaultTarget;
  /** Secret path inside the mount ("services/chatbot") → its keys and values (generated passwords, keys, certificates). */
  secrets: Record<string, Record<string, pulumi.Input<string>>>;
}

/**
 * An environment's generated credentials and TLS material, one KV v2 secret per path in its own mount
 * (kv-<env>/<path>): the record operators and restores read them from. Values are secret inputs and outputs.
 */
export class VaultSecrets extends pulumi.ComponentResource {
  /** The full paths written ("kv-public/services/chatbot"). */
  public readonly paths: string[];

  constructor(name: string, args: VaultSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:security:VaultSecrets", name, {}, opts);
    this.paths = [];
    for (const [path, data] of Object.entries(args.secrets)) {
      new VaultKvSecret(
        `${name}-${path.replace(/[^a-z0-9]+/g, "-")}`,
        {
          ...args.vault,
          path,
          // Each value secret, the map itself plain: its keys are known at preview (the provider's check needs them).
          data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, pulumi.secret(v)])),
        },
        { parent: this },
      );
      this.paths.push(`${args.vault.mount}/${path}`);
    }
    this.registerOutputs({ paths: this.paths });
  }
}
