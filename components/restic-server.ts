import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { resticRemote, resticRepository, resticRoot } from "../lib/backup/plan";
import { renderResticServerScript } from "../lib/backup/restic";
import type { BackupConfig } from "../lib/config/schema";
import { keptPassword, keptSecret, type SecretKeeper } from "./kept-secrets";

export interface ResticServerArgs {
  /** The backup container's address and data volume (the repositories live there). */
  ip: string;
  dataPath: string;
  connection: command.types.input.remote.ConnectionArgs;
  /** One repository per environment. */
  repositories: readonly string[];
  backup: BackupConfig;
  /** Where the repositories' passwords (their encryption) and client keys are kept. */
  keeper?: SecretKeeper;
}

export interface ResticCredentials {
  repository: string;
  password: string;
  privateKey: string;
}

/**
 * The environments' restic repositories on the backup LXC (lib/backup/restic.ts renderResticServerScript): per
 * environment a generated password and client key, a chrooted sftp-only account, the repository, and the check and
 * retention timers. Each environment's credentials are one secret output: the operator gives each environment stack
 * only its own (secret config resticPassword / resticPrivateKey), as with the Vault AppRoles.
 */
export class ResticServer extends pulumi.ComponentResource {
  public readonly credentials: pulumi.Output<Record<string, ResticCredentials>>;

  constructor(name: string, args: ResticServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:backup:ResticServer", name, {}, opts);
    const root = resticRoot(args.dataPath);
    const per = args.repositories.map((repo) => {
      const password = keptPassword(`${name}-${repo}-password`, 48, args.keeper, this);
      // The client key's two halves kept together: the environment stacks hold the private half in their config.
      const key = new tls.PrivateKey(`${name}-${repo}-key`, { algorithm: "ED25519" }, { parent: this });
      const privateKey = keptSecret(`${name}-${repo}-key`, key.privateKeyOpenssh, args.keeper, this);
      const publicKey = keptSecret(`${name}-${repo}-key-public`, key.publicKeyOpenssh, args.keeper, this);
      return { repo, password, privateKey, publicKey };
    });
    new command.remote.Command(
      `${name}-install`,
      {
        connection: args.connection,
        // Known at preview: the plan shows it.
        create: renderResticServerScript(
          root,
          per.map((p) => resticRepository(p.repo, `${root}/${p.repo}/repo`, args.backup.restic, [])),
        ),
        // Per repository its password and its clients' public key, one per line, in the repositories' order.
        stdin: pulumi.secret(
          pulumi.all(per.map((p) => pulumi.all([p.password, p.publicKey]))).apply((pairs) => pairs.map(([pw, key]) => `${pw}\n${key.trim()}\n`).join("")),
        ),
      },
      { parent: this, additionalSecretOutputs: ["stdin"] },
    );
    this.credentials = pulumi.secret(
      pulumi
        .all(per.map((p) => pulumi.all([p.password, p.privateKey])))
        .apply((pairs) =>
          Object.fromEntries(
            per.map((p, i): [string, ResticCredentials] => [
              p.repo,
              { repository: resticRemote(p.repo, args.ip), password: pairs[i][0], privateKey: pairs[i][1] },
            ]),
          ),
        ),
    );
    this.registerOutputs({ credentials: this.credentials });
  }
}
