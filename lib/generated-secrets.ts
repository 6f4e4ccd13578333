// Every credential the program generates, with the data it guards and how it survives a teardown. A credential that
// guards or encrypts kept data is data (DESIGN.md): it is kept in Vault (components/kept-secrets.ts), the source of
// truth a rebuilt stack reads back. Only TLS identities are re-issued: a new key and certificate guard nothing that
// was stored under the old ones. test/stacks/generated-secrets.test.ts holds every stack's plan to this list, so a
// new generated secret without an answer here fails.

export type SecretAnswer = "kept" | "reissued";

/**
 * How a kept secret is rotated (`dualstack rotate`): "reapplied" — the program sets the new value where it is checked
 * on the next `up` (an install script, a tenant provider, a service reading it at each start); "by-hand" — the
 * service holds it in its own data, so it is changed there first (its admin UI or CLI), then written to Vault; "never"
 * — it encrypts stored data, and a new value would make that data unreadable.
 */
export type SecretRotation = "reapplied" | "by-hand" | "never";

export interface GeneratedSecret {
  /** The generated resource's name, without the stack's prefix ("private-", "public-", "platform-"). */
  name: RegExp;
  guards: string;
  answer: SecretAnswer;
  /** Kept secrets only. */
  rotation?: SecretRotation;
}

/** The compose secrets of the catalog's services (lib/catalog), by the name their templates use. */
const SERVICE_SECRETS: Record<string, [SecretRotation, string]> = {
  "open-webui-secret-key": ["by-hand", "Open WebUI's WEBUI_SECRET_KEY: its sessions and the tokens it stores, encrypted"],
  "chatbot-secret-key": ["by-hand", "the chatbot's (Open WebUI's) WEBUI_SECRET_KEY: its sessions and the tokens it stores"],
  "qdrant-api-key": ["reapplied", "Qdrant's API key: every collection (the tenants' included) and the clients holding it in Vault"],
  "neo4j-password": ["by-hand", "Neo4j's NEO4J_AUTH, read only at its first start and then held in its data volume"],
  "langfuse-encryption-key-hex": ["never", "Langfuse's ENCRYPTION_KEY: the secrets it stores, encrypted with it"],
  "langfuse-salt": ["never", "Langfuse's SALT: the hashes of its API keys"],
  "langfuse-nextauth-secret": ["reapplied", "Langfuse's NEXTAUTH_SECRET: its sessions"],
  "langfuse-admin-password": ["by-hand", "Langfuse's first user, created at its first start in its database"],
  "langfuse-project-secret": ["by-hand", "Langfuse's project secret key: stored hashed, held by the traced applications"],
  "langfuse-clickhouse-password": ["by-hand", "ClickHouse's user, set at its first start in its volume"],
  "langfuse-redis-password": ["reapplied", "Langfuse's queue Redis password, read at each start"],
  "minio-root-password": ["by-hand", "MinIO's root credential, over every bucket"],
  "minio-user-langfuse": ["by-hand", "MinIO's user for Langfuse, in MinIO's IAM store"],
  "minio-user-rclone": ["by-hand", "MinIO's user for Rclone, in MinIO's IAM store and the Rclone remotes"],
  "jupyter-token": ["reapplied", "JupyterLab's token: its notebooks"],
  "langflow-admin-password": ["by-hand", "LangFlow's superuser, created at its first start in its database"],
  "langflow-secret-key": ["never", "LangFlow's SECRET_KEY: the credentials its flows store, encrypted"],
  "prefect-auth-password": ["reapplied", "Prefect's server login: its flows and their state"],
  "unstructured-api-key": ["reapplied", "the Unstructured API's key, held by its clients"],
  "vllm-api-key": ["reapplied", "vLLM's API key, held by its clients"],
  "keycloak-admin-password": ["by-hand", "Keycloak's bootstrap administrator, created at its first start in its database"],
  "keycloak-ingress-client-secret": ["by-hand", "the ingress's OIDC client secret, in Keycloak's realm"],
  "oauth2-proxy-cookie-secret-32": ["reapplied", "oauth2-proxy's cookie secret: its sessions"],
  "gitea-admin-password": ["by-hand", "Gitea's administrator, created at its first start in its database"],
  "gitea-internal-token": ["by-hand", "Gitea's INTERNAL_TOKEN, in its app.ini on its volume"],
  "gitea-secret-key": ["never", "Gitea's SECRET_KEY: the two-factor secrets and tokens it stores, encrypted"],
  "gitea-runner-token": ["by-hand", "the runner's registration, stored by Gitea and the runner"],
};

const pattern = (s: string) => new RegExp(`^(services|cicd)-${s.replace(/[-]/g, "\\-")}$`);

export const GENERATED_SECRETS: GeneratedSecret[] = [
  {
    name: /^(postgres|redis)-admin-password$/,
    guards: "the data LXC's administrator (PostgreSQL's superuser, Redis's default user): the tenant and service provisioning",
    answer: "kept",
    rotation: "reapplied",
  },
  { name: /^tenants-[a-z0-9-]+-postgres-password$/, guards: "a tenant's PostgreSQL role over its database", answer: "kept", rotation: "reapplied" },
  { name: /^tenants-[a-z0-9-]+-redis-password$/, guards: "a tenant's Redis ACL user over its key space", answer: "kept", rotation: "reapplied" },
  { name: /^catalog-pg-[a-z0-9-]+-password$/, guards: "a catalog service's PostgreSQL role over its database", answer: "kept", rotation: "reapplied" },
  { name: /^catalog-redis-[a-z0-9-]+-password$/, guards: "a catalog service's Redis ACL user over its key space", answer: "kept", rotation: "reapplied" },
  ...Object.entries(SERVICE_SECRETS).map(([secret, [rotation, guards]]): GeneratedSecret => ({ name: pattern(secret), guards, answer: "kept", rotation })),
  {
    name: /^monitoring-grafana-admin-password$/,
    guards: "Grafana's administrator, set at its first start in its database",
    answer: "kept",
    rotation: "by-hand",
  },
  {
    name: /^restic-[a-z]+-password$/,
    guards: "a restic repository's encryption: without it every backup in the repository is unreadable",
    answer: "kept",
    rotation: "by-hand",
  },
  {
    name: /^restic-[a-z]+-key$/,
    guards: "the restic clients' SSH key to their repository: the environment stacks hold its private half in their config",
    answer: "kept",
    rotation: "by-hand",
  },
  {
    name: /^ca-key$/,
    guards: "a CA's identity: nothing stored is encrypted with it; re-issued, its certificates are re-issued with it",
    answer: "reissued",
  },
  {
    name: /^ca-[a-z0-9-]+-key$/,
    guards: "a service's TLS identity: re-issued with its certificate, nothing stored is encrypted with it",
    answer: "reissued",
  },
];

/** The answer for a generated resource (its name without the stack's prefix); undefined when the list has none. */
export function generatedSecret(name: string): GeneratedSecret | undefined {
  const matches = GENERATED_SECRETS.filter((g) => g.name.test(name));
  if (matches.length > 1) throw new Error(`generated secret ${name} matches ${matches.length} entries of GENERATED_SECRETS: make them disjoint`);
  return matches[0];
}

/**
 * The generated resource a kept secret keeps, by the kept secret's name without "-kept": its own name, except the
 * restic client key's public half ("…-key-public"), kept beside the private half from the same key.
 */
export function keptSource(kept: string): string {
  return kept.replace(/-key-public$/, "-key");
}

/** What every generated resource's name starts with in a stack of this role: its top component's name (program.ts). */
export function secretNamePrefix(role: string): string {
  return role === "host" ? "platform-" : `${role}-`;
}

/** The answer for a generated resource, or the secret a kept secret keeps, by its full name in a stack of `role`. */
export function answerFor(role: string, name: string): GeneratedSecret | undefined {
  const prefix = secretNamePrefix(role);
  const source = keptSource(name);
  return source.startsWith(prefix) ? generatedSecret(source.slice(prefix.length)) : undefined;
}
