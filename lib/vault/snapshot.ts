// Vault's own backup: raft snapshots streamed into the platform's restic repository by the security LXC. A dedicated
// AppRole, usable only from the security LXC's address, may read sys/storage/raft/snapshot and nothing else; its
// role_id and SecretID sit in a root-only file there. Restoring needs an operator token (it rewinds every secret),
// so the restore script asks for one instead of holding it.
import type { StreamSource } from "../backup/restic";
import { SCRIPT_PRELUDE, aptInstallUnless, hasCommand, putFile } from "../shell";
import type { AppRoleSettings } from "./access";
import { tlsFiles, VAULT_PORT } from "./server";

export const SNAPSHOT_POLICY = "dualstack-snapshot";
export const SNAPSHOT_APPROLE = "dualstack-snapshot";
export const SNAPSHOT_CREDENTIALS = "/etc/ai-dualstack/vault-snapshot.approle";
export const SNAPSHOT_SCRIPT = "/usr/local/sbin/ai-dualstack-vault-snapshot";
export const RESTORE_SCRIPT = "/usr/local/sbin/ai-dualstack-vault-restore";

export function snapshotPolicy(): string {
  return `# Managed by ai-dualstack: raft snapshots for the backups, nothing else.
path "sys/storage/raft/snapshot" {
  capabilities = ["read"]
}
`;
}

/** Batch tokens of five minutes, from the security LXC's own address only. */
export function snapshotAppRoleSettings(vaultIp: string): AppRoleSettings {
  const here = [`${vaultIp}/32`];
  return {
    token_policies: [SNAPSHOT_POLICY],
    token_type: "batch",
    token_ttl: 300,
    token_max_ttl: 600,
    secret_id_ttl: 0,
    secret_id_num_uses: 0,
    secret_id_bound_cidrs: here,
    token_bound_cidrs: here,
  };
}

/** The restic source: a snapshot on stdout, and its restore from stdin. */
export const VAULT_SNAPSHOT_SOURCE: StreamSource = { name: "vault", host: "local", dump: SNAPSHOT_SCRIPT, load: RESTORE_SCRIPT, file: "vault.snap" };

export function renderSnapshotScript(vaultIp: string): string {
  const ca = tlsFiles().ca;
  return `#!/bin/bash
# Managed by ai-dualstack: a raft snapshot of Vault on stdout (the restic backup streams it).
set -euo pipefail
creds="\${AI_DUALSTACK_SNAPSHOT_CREDENTIALS:-${SNAPSHOT_CREDENTIALS}}"
export VAULT_ADDR="\${VAULT_ADDR:-https://${vaultIp}:${VAULT_PORT}}" VAULT_CACERT="\${VAULT_CACERT:-${ca}}"
role_id="$(sed -n 1p "$creds")"; secret_id="$(sed -n 2p "$creds")"
# The SecretID goes on curl's stdin, never on a command line.
login="$(jq -cn --arg r "$role_id" --arg s "$secret_id" '{role_id: $r, secret_id: $s}' | curl -fsS --cacert "$VAULT_CACERT" -X POST --data @- "$VAULT_ADDR/v1/auth/approle/login")"
VAULT_TOKEN="$(jq -er .auth.client_token <<<"$login")"; export VAULT_TOKEN
f="$(mktemp)"; trap 'rm -f "$f"' EXIT
vault operator raft snapshot save "$f" >&2
[ -s "$f" ] || { echo "vault snapshot: empty" >&2; exit 1; }
cat "$f"
`;
}

export function renderRestoreScript(vaultIp: string): string {
  const ca = tlsFiles().ca;
  return `#!/bin/bash
# Managed by ai-dualstack: restores a raft snapshot from stdin into this Vault (every secret goes back to the
# snapshot's state). Needs VAULT_TOKEN: an operator token allowed sys/storage/raft/snapshot-force (root).
set -euo pipefail
: "\${VAULT_TOKEN:?set VAULT_TOKEN to an operator token allowed to restore snapshots (root, or sys/storage/raft/snapshot-force)}"
export VAULT_ADDR="\${VAULT_ADDR:-https://${vaultIp}:${VAULT_PORT}}" VAULT_CACERT="\${VAULT_CACERT:-${ca}}"
f="$(mktemp)"; trap 'rm -f "$f"' EXIT
cat > "$f"
[ -s "$f" ] || { echo "vault restore: the snapshot is empty" >&2; exit 1; }
vault operator raft snapshot restore -force "$f"
echo "vault restore: done; the unseal keys of the snapshot's time apply" >&2
`;
}

/** Installs the two scripts and the AppRole's credentials (stdin: role_id, then SecretID, one per line). */
export function renderSnapshotInstallScript(vaultIp: string): string {
  return `${SCRIPT_PRELUDE}
creds="$(mktemp)"; chmod 0600 "$creds"; trap 'rm -f "$creds"' EXIT; cat > "$creds"
if [ "$(grep -c . "$creds")" != 2 ]; then echo "stdin: expected the snapshot AppRole's role_id and SecretID, one per line" >&2; exit 1; fi
${aptInstallUnless(hasCommand("jq"), ["jq", "curl"], { noRecommends: true })}put ${SNAPSHOT_CREDENTIALS} 0600 root:root < "$creds"
${putFile(SNAPSHOT_SCRIPT, "0700", "root:root", renderSnapshotScript(vaultIp))}${putFile(RESTORE_SCRIPT, "0700", "root:root", renderRestoreScript(vaultIp))}echo "vault snapshots: ready"
`;
}
