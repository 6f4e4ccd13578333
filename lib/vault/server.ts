// Vault in the platform's security LXC, as plain text: its server configuration (integrated raft storage on the
// data volume, a TLS 1.3 listener with a certificate from the platform CA) and the idempotent install script that
// the host stack runs over SSH. The TLS key never appears here: the script reads it from standard input.
// Every path the script writes is prefixed with $ROOT (empty on a real container) so that tests run the very same
// script against a temporary directory with stand-ins for apt-get and systemctl.

import { renderAddAptRepository, type AptRepository } from "../apt-repo";
import { enableAndStart, indent, putFile, putPem, readStdinBundle, SCRIPT_PRELUDE, stdinBundle } from "../shell";

export const VAULT_PORT = 8200;
export const VAULT_CLUSTER_PORT = 8201;
/**
 * HashiCorp's Linux package signing keys as listed at https://www.hashicorp.com/trust/security: the current one first,
 * then the one it superseded in 2026 (seen in third-party material only; config `platform.vault.aptKeyFingerprints`
 * replaces the list after checking HashiCorp's page).
 */
/** HashiCorp's apt repository (Vault), with the fingerprints its signing key may have. */
export const hashicorpAptRepository = (fingerprints: readonly string[]): AptRepository => ({
  name: "hashicorp",
  publisher: "HashiCorp",
  keyUrl: "https://apt.releases.hashicorp.com/gpg",
  source: "https://apt.releases.hashicorp.com $VERSION_CODENAME main",
  fingerprints,
});

export const HASHICORP_KEY_FINGERPRINTS = ["D55C0D1AC78A8D8126CB631CFC9CA96ACA026560", "798AEC654E5C15428C8E42EEAA16FCBCA621E701"];

export interface VaultServerLayout {
  /** Where the listener binds and the API is advertised: "10.10.0.10". */
  ip: string;
  port?: number;
  clusterPort?: number;
  /** The data volume (raft storage and the second audit log live there). */
  dataPath: string;
  /** Directory of vault.hcl and tls/. */
  configDir?: string;
  nodeId: string;
}

export const VAULT_CONFIG_DIR = "/etc/vault.d";

export function tlsFiles(configDir = VAULT_CONFIG_DIR) {
  return { cert: `${configDir}/tls/vault.crt`, key: `${configDir}/tls/vault.key`, ca: `${configDir}/tls/ca.crt` };
}

const hclString = (s: string) => JSON.stringify(s);

/** vault.hcl: raft on the data volume, TLS 1.3 only, no UI, mlock off (raft's advice; unprivileged LXCs cannot lock). */
export function renderVaultConfig(l: VaultServerLayout): string {
  const port = l.port ?? VAULT_PORT;
  const clusterPort = l.clusterPort ?? VAULT_CLUSTER_PORT;
  const tls = tlsFiles(l.configDir);
  return `# Managed by ai-dualstack: changes here are overwritten on the next \`pulumi up\` of the host stack.
ui            = false
disable_mlock = true
api_addr      = ${hclString(`https://${l.ip}:${port}`)}
cluster_addr  = ${hclString(`https://${l.ip}:${clusterPort}`)}

storage "raft" {
  path    = ${hclString(`${l.dataPath}/raft`)}
  node_id = ${hclString(l.nodeId)}
}

listener "tcp" {
  address         = ${hclString(`${l.ip}:${port}`)}
  cluster_address = ${hclString(`${l.ip}:${clusterPort}`)}
  tls_cert_file   = ${hclString(tls.cert)}
  tls_key_file    = ${hclString(tls.key)}
  tls_min_version = "tls13"
}
`;
}

/** The two audit logs: one on the root disk, one on the data volume, so one full filesystem does not stop Vault. */
export function auditLogPaths(dataPath: string): { name: string; path: string }[] {
  return [
    { name: "file-system", path: "/var/log/vault/audit.log" },
    { name: "file-data", path: `${dataPath}/audit/audit.log` },
  ];
}

export interface VaultInstallInput extends VaultServerLayout {
  /** The Vault package version, e.g. "1.21.4" (installed as "vault=<version>-1" from HashiCorp's apt repository). */
  version: string;
  /** Fingerprints the downloaded repository key must have (one of them, and nothing else). */
  aptKeyFingerprints: string[];
}

/** What the install script expects on standard input: Vault's key, its certificate, then the CA's certificate. */
export function tlsBundle(keyPem: string, certPem: string, caPem: string): string {
  return stdinBundle({ pems: [keyPem, certPem, caPem] });
}

/**
 * The install script: HashiCorp's apt repository (its key checked against the published fingerprint), the pinned
 * package held, config and certificate files with tight modes, the key from stdin, raft and audit directories,
 * a systemd drop-in (no core dumps), logrotate for the audit logs (SIGHUP reopens them), and a restart only when a
 * file changed. Ends by printing Vault's health: initialised or not, sealed or not.
 */
export function renderVaultInstallScript(i: VaultInstallInput): string {
  const dir = i.configDir ?? VAULT_CONFIG_DIR;
  const tls = tlsFiles(dir);
  const port = i.port ?? VAULT_PORT;
  const audits = auditLogPaths(i.dataPath);
  return `${SCRIPT_PRELUDE}
# 1. The package, pinned and held.
if ! vault version 2>/dev/null | grep -q "^Vault v${i.version} "; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
${indent(renderAddAptRepository(hashicorpAptRepository(i.aptKeyFingerprints)))}  apt-get update -q
  apt-mark unhold vault >/dev/null 2>&1 || true
  apt-get install -y -q --allow-downgrades "vault=${i.version}-1"
  apt-mark hold vault
  changed=1
fi

# 2. Configuration; key, certificate and CA certificate from stdin (tlsBundle), never in this script.
${readStdinBundle({ need: ["PRIVATE KEY 1", "CERTIFICATE 1", "CERTIFICATE 2"] })}${putFile(`${dir}/vault.hcl`, "0640", "root:vault", renderVaultConfig(i))}${putPem("PRIVATE KEY", 1, tls.key, "0640", "root:vault")}${putPem("CERTIFICATE", 1, tls.cert, "0644", "root:vault")}${putPem("CERTIFICATE", 2, tls.ca, "0644", "root:vault")}${putFile("/etc/systemd/system/vault.service.d/ai-dualstack.conf", "0644", "root:root", "[Service]\n# No core dumps: they would hold secrets in the clear.\nLimitCORE=0\n")}${putFile("/etc/logrotate.d/vault-audit", "0644", "root:root", `${audits.map((a) => a.path).join(" ")} {\n  daily\n  rotate 30\n  compress\n  delaycompress\n  missingok\n  notifempty\n  create 0600 vault vault\n  postrotate\n    systemctl reload vault >/dev/null 2>&1 || true\n  endscript\n}\n`)}
# 3. Storage and audit directories, owned by the vault user only.
for d in ${i.dataPath}/raft ${audits.map((a) => a.path.replace(/\/[^/]+$/, "")).join(" ")}; do
  mkdir -p "$ROOT$d"; chown vault:vault "$ROOT$d"; chmod 0700 "$ROOT$d"
done

# 4. The service: restarted only when something changed (a restart seals Vault: unseal again afterwards).
systemctl daemon-reload
${enableAndStart("vault")}
# 5. Health: 200 unsealed, 429 standby, 501 not initialised, 503 sealed.
code=000
for _ in $(seq 1 30); do
  code="$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ROOT${tls.ca}" "https://${i.ip}:${port}/v1/sys/health" || true)"
  [ "$code" != 000 ] && break
  sleep 1
done
case "$code" in
  200|429) echo "vault: unsealed" ;;
  501) echo "vault: not initialised: run the initialisation ceremony (README, Vault)" ;;
  503) echo "vault: sealed: unseal it with the key holders (README, Vault)" ;;
  *) echo "vault: not answering on https://${i.ip}:${port} (HTTP $code)" >&2; exit 1 ;;
esac
`;
}
