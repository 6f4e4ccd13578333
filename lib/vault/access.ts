// What the host stack configures inside Vault, as plain data: the audit devices, one KV v2 mount per environment,
// one policy per environment that reaches only its own mount (data and metadata, no globs across environments),
// one AppRole per environment bound to that policy, and the administrator policy the program itself runs with once
// the root token is revoked. The dynamic provider (components/providers/vault-config.ts) writes these objects.
import type { EnvironmentName } from "../config/schema";
import { SNAPSHOT_APPROLE, SNAPSHOT_POLICY, snapshotAppRoleSettings, snapshotPolicy } from "./snapshot";

export const kvMountOf = (env: EnvironmentName) => `kv-${env}`;
export const policyOf = (env: EnvironmentName) => `ai-${env}`;
export const appRoleOf = (env: EnvironmentName) => `ai-${env}`;
export const ADMIN_POLICY = "dualstack-admin";
/** The host stack's own KV v2 mount: its kept secrets (kept/…), written with the administrator's token. */
export const PLATFORM_MOUNT = "kv-platform";
/** Versions kept per secret: enough to recover from a bad write, few enough not to keep old credentials forever. */
export const KV_MAX_VERSIONS = 10;
/** Where, inside a mount, the kept secrets live (components/providers/kept-secret.ts). */
export const KEPT_PATH = "kept";

/** A Vault configuration object, one per resource of the vault-config provider. */
export type VaultObject =
  | { kind: "audit"; path: string; type: "file"; options: { file_path: string; mode: string } }
  | { kind: "kv-mount"; path: string; description: string; maxVersions: number }
  | { kind: "policy"; name: string; policy: string }
  | { kind: "auth"; path: string; type: "approle"; description: string }
  | { kind: "approle"; name: string; settings: AppRoleSettings };

export interface AppRoleSettings {
  token_policies: string[];
  token_type: "batch" | "service";
  /** Seconds. */
  token_ttl: number;
  token_max_ttl: number;
  /** 0: the SecretID lives until rotated (it is stack config of the environment); bound to the operators' networks. */
  secret_id_ttl: number;
  secret_id_num_uses: number;
  secret_id_bound_cidrs: string[];
  token_bound_cidrs: string[];
}

/** The environment's policy: its own mount's data and metadata, nothing else (deny is Vault's default). */
export function environmentPolicy(env: EnvironmentName): string {
  const mount = kvMountOf(env);
  return `# Managed by ai-dualstack: the ${env} environment reaches only ${mount}.
path "${mount}/data/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "${mount}/metadata/*" {
  capabilities = ["read", "list", "delete"]
}
`;
}

/**
 * The program's own policy after the bootstrap: it can keep the audit devices, the environments' mounts, policies and
 * AppRoles as declared, and the host stack's own kept secrets (kv-platform/kept/…), but it cannot disable a KV mount
 * (that destroys every secret in it), read any environment's secret, or change its own policy.
 */
export function adminPolicy(envs: readonly EnvironmentName[]): string {
  const lines: string[] = [`# Managed by ai-dualstack: what \`pulumi up\` of the host stack needs in Vault, and no more.`];
  const path = (p: string, caps: string[]) => lines.push(`path "${p}" {\n  capabilities = [${caps.map((c) => `"${c}"`).join(", ")}]\n}`);
  path("sys/audit", ["read", "sudo"]);
  path("sys/audit/*", ["create", "update", "delete", "sudo"]);
  path("sys/auth", ["read"]);
  path("sys/auth/approle", ["create", "update", "sudo"]);
  path("sys/policies/acl/" + ADMIN_POLICY, ["read"]);
  // The snapshot AppRole of the backups (lib/vault/snapshot.ts).
  path(`sys/policies/acl/${SNAPSHOT_POLICY}`, ["create", "read", "update", "delete"]);
  path(`auth/approle/role/${SNAPSHOT_APPROLE}`, ["create", "read", "update", "delete"]);
  path(`auth/approle/role/${SNAPSHOT_APPROLE}/role-id`, ["read"]);
  path(`auth/approle/role/${SNAPSHOT_APPROLE}/secret-id`, ["create", "update"]);
  // The host stack's kept secrets (components/kept-secrets.ts): adopted when present, written once otherwise.
  path(`sys/mounts/${PLATFORM_MOUNT}`, ["create", "read", "update"]);
  path(`${PLATFORM_MOUNT}/config`, ["create", "read", "update"]);
  path(`${PLATFORM_MOUNT}/data/${KEPT_PATH}/*`, ["create", "read", "update"]);
  path(`${PLATFORM_MOUNT}/metadata/${KEPT_PATH}/*`, ["read"]);
  for (const env of envs) {
    path(`sys/mounts/${kvMountOf(env)}`, ["create", "read", "update"]);
    path(`${kvMountOf(env)}/config`, ["create", "read", "update"]);
    path(`sys/policies/acl/${policyOf(env)}`, ["create", "read", "update", "delete"]);
    path(`auth/approle/role/${appRoleOf(env)}`, ["create", "read", "update", "delete"]);
    path(`auth/approle/role/${appRoleOf(env)}/role-id`, ["read"]);
    path(`auth/approle/role/${appRoleOf(env)}/secret-id`, ["create", "update"]);
    path(`auth/approle/role/${appRoleOf(env)}/secret-id-accessor/*`, ["create", "update"]);
  }
  return `${lines.join("\n")}\n`;
}

/** An environment's AppRole: batch tokens with short TTLs, usable only from the operators' networks. */
export function appRoleSettings(env: EnvironmentName, operatorCidrs: string[]): AppRoleSettings {
  return {
    token_policies: [policyOf(env)],
    token_type: "batch",
    token_ttl: 20 * 60,
    token_max_ttl: 30 * 60,
    secret_id_ttl: 0,
    secret_id_num_uses: 0,
    secret_id_bound_cidrs: [...operatorCidrs],
    token_bound_cidrs: [...operatorCidrs],
  };
}

/** Everything the host stack declares in Vault, in the order it is written. */
export function vaultObjects(
  envs: readonly EnvironmentName[],
  audits: { name: string; path: string }[],
  operatorCidrs: string[],
  vaultIp: string,
): { key: string; object: VaultObject }[] {
  const out: { key: string; object: VaultObject }[] = audits.map((a) => ({
    key: `audit-${a.name}`,
    object: { kind: "audit", path: a.name, type: "file", options: { file_path: a.path, mode: "0600" } },
  }));
  out.push({ key: "policy-admin", object: { kind: "policy", name: ADMIN_POLICY, policy: adminPolicy(envs) } });
  out.push({ key: "auth-approle", object: { kind: "auth", path: "approle", type: "approle", description: "environment stacks (ai-dualstack)" } });
  out.push({ key: "snapshot-policy", object: { kind: "policy", name: SNAPSHOT_POLICY, policy: snapshotPolicy() } });
  out.push({ key: "snapshot-approle", object: { kind: "approle", name: SNAPSHOT_APPROLE, settings: snapshotAppRoleSettings(vaultIp) } });
  for (const env of envs) {
    out.push({
      key: `${env}-mount`,
      object: { kind: "kv-mount", path: kvMountOf(env), description: `secrets of the ${env} environment (ai-dualstack)`, maxVersions: KV_MAX_VERSIONS },
    });
    out.push({ key: `${env}-policy`, object: { kind: "policy", name: policyOf(env), policy: environmentPolicy(env) } });
    out.push({ key: `${env}-approle`, object: { kind: "approle", name: appRoleOf(env), settings: appRoleSettings(env, operatorCidrs) } });
  }
  out.push({
    key: "platform-mount",
    object: { kind: "kv-mount", path: PLATFORM_MOUNT, description: "the host stack's kept secrets (ai-dualstack)", maxVersions: KV_MAX_VERSIONS },
  });
  return out;
}
