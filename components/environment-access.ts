import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { planEnvironmentAccess, type EnvironmentAccessInput } from "../lib/access";

export interface EnvironmentAccessArgs extends EnvironmentAccessInput {
  /** YYYY-MM-DD: the user and its token stop working after this day. */
  expires: string;
}

/**
 * An environment's resource pool and the least-privilege identity its stack deploys with: a PVE user, a
 * privilege-separated API token with an expiry, custom roles, and ACLs that reach only the environment's pool,
 * datastores, zone bridge and GPU mapping.
 */
export class EnvironmentAccess extends pulumi.ComponentResource {
  public readonly poolId: string;
  public readonly tokenId: string;
  /** The full API token ("user@realm!name=secret"), as a secret. */
  public readonly token: pulumi.Output<string>;

  constructor(name: string, args: EnvironmentAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:host:EnvironmentAccess", name, {}, opts);
    const plan = planEnvironmentAccess(args);
    const expirationDate = `${args.expires}T23:59:59Z`;

    const pool = new proxmoxve.PoolLegacy(
      `${name}-pool`,
      {
        poolId: args.pool,
        comment: `ai-dualstack ${args.env} environment`,
      },
      { parent: this, protect: true },
    );
    const roles = Object.entries(plan.roles).map(
      ([roleId, privileges]) => new proxmoxve.RoleLegacy(`${name}-role-${roleId}`, { roleId, privileges: [...privileges] }, { parent: this }),
    );
    const user = new proxmoxve.UserLegacy(
      `${name}-user`,
      {
        userId: plan.userId,
        comment: `deploys the ai-dualstack ${args.env} stack`,
        enabled: true,
        expirationDate,
      },
      { parent: this },
    );
    const token = new proxmoxve.user.Token(
      `${name}-token`,
      {
        userId: user.userId,
        tokenName: plan.tokenName,
        privilegesSeparation: true,
        expirationDate,
        comment: `ai-dualstack ${args.env} stack`,
      },
      { parent: this },
    );
    plan.acls.forEach((acl, i) => {
      new proxmoxve.Acl(
        `${name}-acl-${i}`,
        {
          path: acl.path,
          roleId: acl.roleId,
          propagate: acl.propagate,
          tokenId: plan.tokenId,
        },
        { parent: this, dependsOn: [token, pool, ...roles] },
      );
    });

    this.poolId = args.pool;
    this.tokenId = plan.tokenId;
    this.token = pulumi.secret(token.value);
    this.registerOutputs({ poolId: this.poolId, tokenId: this.tokenId, token: this.token });
  }
}
