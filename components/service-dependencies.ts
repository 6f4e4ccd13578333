import * as pulumi from "@pulumi/pulumi";
import { serviceDatabase, serviceRedisUser } from "../lib/catalog/resolve";
import { PgTenant } from "./providers/postgres-tenant";
import { RedisTenant } from "./providers/redis-tenant";
import { keptPassword, type SecretKeeper } from "./kept-secrets";

export interface ServiceDependenciesArgs {
  /** Catalog consumers that asked for a database ("langfuse", "app-docs"). */
  databases: string[];
  /** Catalog consumers that asked for a Redis ACL user. */
  redisUsers: string[];
  postgres: { host: string; port: number; user: string; password: pulumi.Input<string>; caCert?: pulumi.Input<string> };
  redis: { host: string; port: number; password: pulumi.Input<string>; caCert?: pulumi.Input<string> };
  /** Where the generated passwords are kept (a database taken out and put back keeps its role's password). */
  keeper: SecretKeeper;
  /** Connections per service database (PostgreSQL CONNECTION LIMIT). */
  connectionLimit?: number;
}

/**
 * What the catalog's services get from their environment's data services: per consumer a PostgreSQL database and
 * login role, and a Redis ACL user confined to `svc:<consumer>:*`, through the same providers as the tenants (so
 * refresh sees drift, and a database holding data is never dropped). The passwords are generated here and handed
 * to the compose stack by the secret names its templates use.
 */
export class ServiceDependencies extends pulumi.ComponentResource {
  /** Compose secrets by name: "pg-langfuse-password", "redis-worker-ingest-password". */
  public readonly secretValues: Record<string, pulumi.Output<string>>;
  public readonly resources: pulumi.Resource[];

  constructor(name: string, args: ServiceDependenciesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dualstack:catalog:ServiceDependencies", name, {}, opts);
    const child = { parent: this };
    const password = (what: string) => keptPassword(`${name}-${what}-password`, 40, args.keeper, this);
    this.secretValues = {};
    this.resources = [];
    for (const consumer of args.databases) {
      const d = serviceDatabase(consumer);
      const pw = password(`pg-${consumer}`);
      this.resources.push(
        new PgTenant(
          `${name}-pg-${consumer}`,
          {
            tenant: `service ${consumer}`,
            role: d.user,
            database: d.database,
            password: pw,
            connectionLimit: args.connectionLimit ?? 50,
            onDelete: "retain",
            // Removing the service from the config leaves its database in PostgreSQL (out of the state, never dropped);
            // enabling it again takes it over, with the password kept in Vault.
            adoptExisting: true,
            admin: args.postgres,
          },
          { ...child, retainOnDelete: true },
        ),
      );
      this.secretValues[d.passwordSecret] = pw;
    }
    for (const consumer of args.redisUsers) {
      const r = serviceRedisUser(consumer);
      const pw = password(`redis-${consumer}`);
      this.resources.push(
        new RedisTenant(
          `${name}-redis-${consumer}`,
          {
            tenant: `service ${consumer}`,
            user: r.user,
            keyPattern: `${r.keyPrefix}*`,
            password: pw,
            onDelete: "retain",
            adoptExisting: true,
            admin: args.redis,
          },
          { ...child, retainOnDelete: true },
        ),
      );
      this.secretValues[r.passwordSecret] = pw;
    }
    this.registerOutputs({});
  }
}
