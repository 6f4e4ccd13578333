// Tenants of the public environment: validated names and the per-tenant objects derived from them (PostgreSQL role
// and database, Redis ACL user and key space, Qdrant collection, Vault path). Identifiers are built only from
// validated names, and quoted anyway where they reach SQL.
import { createHmac } from "node:crypto";

/** Names a tenant may not take: they collide with system objects or the platform's own names. */
export const RESERVED_TENANT_NAMES = [
  "admin",
  "root",
  "postgres",
  "public",
  "default",
  "system",
  "template0",
  "template1",
  "pg",
  "information-schema",
  "platform",
  "private",
  "vault",
  "pulumi",
  "ai-dualstack",
  "all",
  "none",
  "tenant",
  "ops",
] as const;

export const TENANT_NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

export function tenantNameProblem(name: string): string | undefined {
  if (!TENANT_NAME.test(name) || name.includes("--")) return "expected a lower-case DNS label of 2 to 32 characters (a-z, 0-9, single '-')";
  if ((RESERVED_TENANT_NAMES as readonly string[]).includes(name)) return `"${name}" is reserved`;
  return undefined;
}

export interface TenantObjects {
  /** PostgreSQL role and database (the same identifier). */
  pgRole: string;
  pgDatabase: string;
  redisUser: string;
  /** The only keys (and channels) the tenant's Redis user may touch. */
  redisKeyPattern: string;
  qdrantCollection: string;
  vaultPath: string;
}

export function tenantObjects(name: string): TenantObjects {
  const problem = tenantNameProblem(name);
  if (problem) throw new Error(`tenant ${JSON.stringify(name)}: ${problem}`);
  const ident = `tenant_${name.replace(/-/g, "_")}`;
  return {
    pgRole: ident,
    pgDatabase: ident,
    redisUser: `tenant-${name}`,
    redisKeyPattern: `tenant:${name}:*`,
    qdrantCollection: ident,
    vaultPath: `tenants/${name}`,
  };
}

/**
 * A Qdrant JWT (JWT RBAC, QDRANT__SERVICE__JWT_RBAC=true) that reaches one collection only: HS256 signed with the
 * instance's API key, claims `{ access: [{ collection, access }] }`, no expiry (it is rotated with the API key).
 */
export function qdrantCollectionToken(apiKey: string, collection: string, access: "r" | "rw" = "rw"): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part({ access: [{ collection, access }] })}`;
  return `${unsigned}.${createHmac("sha256", apiKey).update(unsigned).digest("base64url")}`;
}
