import * as pulumi from "@pulumi/pulumi";
import type { TenantConfig } from "../lib/config/schema";
import { qdrantCollectionToken, tenantObjects } from "../lib/tenancy";
import { PgTenant } from "./providers/postgres-tenant";
import { QdrantCollection } from "./providers/qdrant-collection";
import { RedisTenant } from "./providers/redis-tenant";
import { VaultKvSecret } from "./providers/vault-kv";
import type { VaultTarget } from "./vault-secrets";
import { keptPassword, type SecretKeeper } from "./kept-secrets";

export interface TenantsArgs {
  tenants: TenantConfig[];
  /** The environment's PostgreSQL, as its tenant administrator. */
  postgres: { host: string; port: number; user: string; password: pulumi.Input<string>; caCert?: pulumi.Input<string> };
  /** The environment's Redis, as its administrator. */
  redis: { host: string; port: number; password: pulumi.Input<string>; caCert?: pulumi.Input<string> };
  /** The environment's Qdrant REST address (the gateway's, https) and API key. */
  qdrant: { url: string; apiKey: pulumi.Input<string>; caCert?: pulumi.Input<string> };
  /** The environment's Vault mount and the AppRole it logs in with. */
  vault: VaultTarget;
}

export interface TenantHandles {
  database: string;
  redisUser: string;
  collection: string;
  vaultPath: string;
}

/**
 * The multi-tenant platform's tenants as declared: per tenant a PostgreSQL database and login role, a Redis ACL user
 * confined to `tenant:<name>:*`, a Qdrant collection, and a Vault secret holding the credentials the tenant's apps
 * use. Passwords are generated here and never leave Pulumi secrets and Vault. Removing a tenant that still has data is
 * refused by the providers unless the tenant is configured with `onDelete: delete`.
 */
export class Tenants extends pulumi.ComponentResource {
  public readonly tenants: Record<string, TenantHandles>;

  constructor(name: string, args: TenantsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:tenancy:Tenants", name, {}, opts);
    this.tenants = {};
    // The passwords are kept in the same mount as the tenants' records: a tenant rebuilt keeps its password.
    const keeper: SecretKeeper = { vault: args.vault };
    for (const t of args.tenants) {
      const o = tenantObjects(t.name);
      const child = { parent: this };
      const password = (what: string) => keptPassword(`${name}-${t.name}-${what}-password`, 40, keeper, this);
      const pgPassword = password("postgres");
      const redisPassword = password("redis");

      const pg = new PgTenant(
        `${name}-${t.name}-postgres`,
        {
          tenant: t.name,
          role: o.pgRole,
          database: o.pgDatabase,
          password: pgPassword,
          connectionLimit: t.maxDbConnections,
          onDelete: t.onDelete,
          admin: args.postgres,
        },
        child,
      );
      const redis = new RedisTenant(
        `${name}-${t.name}-redis`,
        {
          tenant: t.name,
          user: o.redisUser,
          keyPattern: o.redisKeyPattern,
          password: redisPassword,
          onDelete: t.onDelete,
          admin: args.redis,
        },
        child,
      );
      const collection = new QdrantCollection(
        `${name}-${t.name}-qdrant`,
        {
          tenant: t.name,
          url: args.qdrant.url,
          apiKey: args.qdrant.apiKey,
          collection: o.qdrantCollection,
          ...(args.qdrant.caCert ? { caCert: args.qdrant.caCert } : {}),
          vectorSize: t.vectors.size,
          distance: t.vectors.distance,
          onDelete: t.onDelete,
        },
        child,
      );

      // What the tenant's applications read: written once the objects exist, so that it never names missing ones.
      new VaultKvSecret(
        `${name}-${t.name}-credentials`,
        {
          ...args.vault,
          path: o.vaultPath,
          data: {
            POSTGRES_URL: pulumi.interpolate`postgresql://${o.pgRole}:${pgPassword}@${args.postgres.host}:${args.postgres.port}/${o.pgDatabase}${args.postgres.caCert ? "?sslmode=verify-full" : ""}`,
            ...(args.postgres.caCert ? { POSTGRES_CA_CERT: args.postgres.caCert } : {}),
            REDIS_URL: pulumi.interpolate`${args.redis.caCert ? "rediss" : "redis"}://${o.redisUser}:${redisPassword}@${args.redis.host}:${args.redis.port}/0`,
            ...(args.redis.caCert ? { REDIS_CA_CERT: args.redis.caCert } : {}),
            REDIS_KEY_PREFIX: `tenant:${t.name}:`,
            QDRANT_URL: args.qdrant.url,
            ...(args.qdrant.caCert ? { QDRANT_CA_CERT: args.qdrant.caCert } : {}),
            QDRANT_COLLECTION: o.qdrantCollection,
            // A JWT for its own collection only (Qdrant's JWT RBAC), never the instance's API key.
            QDRANT_API_KEY: pulumi.output(args.qdrant.apiKey).apply((key) => qdrantCollectionToken(key, o.qdrantCollection)),
            MODELS: t.models ? t.models.join(",") : "*",
          },
          // A deleted tenant's credentials: recoverable (soft delete) unless its data goes too.
          deleteMode: t.onDelete === "delete" ? "destroy" : "soft",
        },
        { ...child, dependsOn: [pg, redis, collection] },
      );

      this.tenants[t.name] = {
        database: o.pgDatabase,
        redisUser: o.redisUser,
        collection: o.qdrantCollection,
        vaultPath: `${args.vault.mount}/${o.vaultPath}`,
      };
    }
    this.registerOutputs({ tenants: this.tenants });
  }
}
