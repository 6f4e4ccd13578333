import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { EnvironmentName } from "../lib/config/schema";
import { appRoleOf, PLATFORM_MOUNT, vaultObjects } from "../lib/vault/access";
import type { SecretKeeper } from "./kept-secrets";
import { auditLogPaths, renderVaultInstallScript, tlsBundle, VAULT_PORT } from "../lib/vault/server";
import type { CertificateAuthority } from "./certificate-authority";
import { VaultAppRoleCredentials, VaultConfigObject } from "./providers/vault-config";
import { SNAPSHOT_APPROLE, renderSnapshotInstallScript } from "../lib/vault/snapshot";

export interface VaultServerArgs {
  /** The security container's IP address and hostname. */
  ip: string;
  hostname: string;
  /** Its data volume (raft storage, the second audit log). */
  dataPath: string;
  /** SSH to the container as root. */
  connection: command.types.input.remote.ConnectionArgs;
  version: string;
  aptKeyFingerprints: string[];
  /** The platform CA: Vault's certificate comes from it, and clients trust it. */
  ca: CertificateAuthority;
  environments: readonly EnvironmentName[];
  /** Where AppRole logins and tokens may come from (the operators' networks). */
  operatorCidrs: string[];
  /**
   * Vault's administrator token (secret config vaultToken): the root token of the initialisation ceremony at first,
   * then a periodic token with the dualstack-admin policy. Without it only the server is installed.
   */
  token?: pulumi.Input<string>;
}

/**
 * Vault in the security LXC: installed and configured over SSH (lib/vault/server.ts) with a certificate from the
 * platform CA; then, once initialised and given a token, its audit devices, the environments' KV v2 mounts,
 * policies and AppRoles (lib/vault/access.ts), and one SecretID per environment.
 */
export class VaultServer extends pulumi.ComponentResource {
  public readonly address: string;
  /** Per environment its AppRole's role_id and SecretID (secret); undefined until the token is configured. */
  public readonly appRoles?: pulumi.Output<Record<string, { roleId: string; secretId: string }>>;
  /** The snapshot scripts and their AppRole on the security LXC (once the token is configured): restic streams them. */
  public readonly snapshotInstall?: command.remote.Command;
  /** Where the host stack keeps its generated credentials (kv-platform/kept/…), once the token is configured. */
  public readonly keeper?: SecretKeeper;

  constructor(name: string, args: VaultServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:security:VaultServer", name, {}, opts);
    this.address = `https://${args.ip}:${VAULT_PORT}`;
    const cert = args.ca.issue(`${name}-tls`, { commonName: args.hostname, ipAddresses: [args.ip], dnsNames: [args.hostname] });

    // Known at preview, so the plan shows the configuration; a changed script or bundle runs it again.
    const install = new command.remote.Command(
      `${name}-install`,
      {
        connection: args.connection,
        create: renderVaultInstallScript({
          ip: args.ip,
          dataPath: args.dataPath,
          nodeId: args.hostname,
          version: args.version,
          aptKeyFingerprints: args.aptKeyFingerprints,
        }),
        // The TLS key (the only secret the server needs from us), its certificate and the CA's, on standard input.
        stdin: pulumi.secret(pulumi.all([cert.keyPem, cert.certPem, args.ca.certPem]).apply(([key, crt, ca]) => tlsBundle(key, crt, ca))),
      },
      { parent: this, additionalSecretOutputs: ["stdin"] },
    );

    if (args.token !== undefined) {
      const connection = { address: this.address, token: pulumi.secret(args.token), caCert: args.ca.certPem };
      const objects: Record<string, VaultConfigObject> = {};
      let previous: pulumi.Resource = install;
      for (const { key, object } of vaultObjects(args.environments, auditLogPaths(args.dataPath), args.operatorCidrs, args.ip)) {
        // In order: audit first (Vault logs everything after), the auth method before its roles.
        previous = objects[key] = new VaultConfigObject(`${name}-${key}`, { ...connection, object }, { parent: this, dependsOn: [previous] });
      }
      const credentials = args.environments.map(
        (env) =>
          [
            env,
            new VaultAppRoleCredentials(
              `${name}-${env}-approle-credentials`,
              {
                ...connection,
                role: appRoleOf(env),
              },
              { parent: this, dependsOn: [objects[`${env}-approle`]] },
            ),
          ] as const,
      );
      this.keeper = {
        vault: { address: this.address, mount: PLATFORM_MOUNT, token: connection.token, caCert: args.ca.certPem },
        dependsOn: [objects["platform-mount"]],
      };
      this.appRoles = pulumi.secret(pulumi.all(Object.fromEntries(credentials.map(([env, c]) => [env, { roleId: c.roleId, secretId: c.secretId }]))));
      // Raft snapshots for the platform's restic repository, taken on the security LXC itself.
      const snapshot = new VaultAppRoleCredentials(
        `${name}-snapshot-approle-credentials`,
        { ...connection, role: SNAPSHOT_APPROLE },
        { parent: this, dependsOn: [objects["snapshot-approle"]] },
      );
      this.snapshotInstall = new command.remote.Command(
        `${name}-snapshots`,
        {
          connection: args.connection,
          create: renderSnapshotInstallScript(args.ip),
          stdin: pulumi.secret(pulumi.interpolate`${snapshot.roleId}\n${snapshot.secretId}\n`),
        },
        { parent: this, dependsOn: [install], additionalSecretOutputs: ["stdin"] },
      );
    }
    this.registerOutputs({ address: this.address, appRoles: this.appRoles });
  }
}
