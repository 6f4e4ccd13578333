// The environments' data services in their LXCs, as install scripts run over SSH: PostgreSQL (Debian's package,
// TLS 1.3 only for remote clients with a certificate from the environment's CA, scram-sha-256, the administrator
// role the tenancy logs in as) and Redis (Debian's package, TLS 1.3 only with a certificate from the same CA, an ACL
// file whose `default` user is the administrator, persistence on). Passwords and keys come on standard input (lib/shell.ts), never in the script.
import { aptInstallUnless, enableAndStart, hasCommand, putFile, putPem, readStdinBundle, SCRIPT_PRELUDE } from "./shell";

export const POSTGRES_PORT = 5432;
export const REDIS_PORT = 6379;
export const POSTGRES_ADMIN = "ai_admin";

export interface PostgresLayout {
  /** The container's address: the only one PostgreSQL listens on besides loopback. */
  ip: string;
  /** Who may connect over the network (TLS only): the environment's zone and the operators' networks. */
  clientCidrs: string[];
}

export function renderPgHba(l: PostgresLayout): string {
  return `# Managed by ai-dualstack. Local: peer. Network: TLS and scram-sha-256 only, from these networks only.
local   all  postgres            peer
local   all  all                 peer
host    all  all  127.0.0.1/32   scram-sha-256
${l.clientCidrs.map((c) => `hostssl all  all  ${c.padEnd(14)} scram-sha-256`).join("\n")}
`;
}

export function renderPostgresConf(l: PostgresLayout, tlsDir: string): string {
  return `# Managed by ai-dualstack.
listen_addresses = '127.0.0.1,${l.ip}'
port = ${POSTGRES_PORT}
password_encryption = 'scram-sha-256'
ssl = on
ssl_cert_file = '${tlsDir}/server.crt'
ssl_key_file = '${tlsDir}/server.key'
ssl_ca_file = '${tlsDir}/ca.crt'
ssl_min_protocol_version = 'TLSv1.3'
log_connections = on
log_disconnections = on
`;
}

/** SQL that creates or updates the administrator role; its password comes from psql's \getenv (never a literal). */
export function renderPostgresAdminSql(): string {
  return `\\set ON_ERROR_STOP on
\\getenv admin_password AI_DUALSTACK_ADMIN_PASSWORD
SELECT format('CREATE ROLE %I LOGIN CREATEDB CREATEROLE', '${POSTGRES_ADMIN}') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${POSTGRES_ADMIN}') \\gexec
SELECT format('ALTER ROLE %I WITH LOGIN CREATEDB CREATEROLE PASSWORD %L', '${POSTGRES_ADMIN}', :'admin_password') \\gexec
`;
}

/**
 * PostgreSQL: the package, conf.d and pg_hba.conf of the newest installed cluster, the TLS files, a restart when a
 * file changed, then the administrator role. Stdin: the administrator's password, then key, certificate, CA (PEM).
 */
export function renderPostgresInstallScript(l: PostgresLayout): string {
  const tlsDir = "/etc/ssl/ai-dualstack-postgresql";
  return `${SCRIPT_PRELUDE}
${readStdinBundle({ secretLine: true, need: ["PRIVATE KEY 1", "CERTIFICATE 1", "CERTIFICATE 2"] })}
# 1. The package (Debian's: the cluster lands on the data volume mounted at /var/lib/postgresql).
${aptInstallUnless(hasCommand("pg_lsclusters"), ["postgresql"], { changed: true })}version="$(find "$ROOT/etc/postgresql" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9]+' -printf '%f\\n' 2>/dev/null | sort -n | tail -n 1 || true)"
[ -n "$version" ] || { echo "no PostgreSQL cluster under /etc/postgresql" >&2; exit 1; }
conf="/etc/postgresql/$version/main"

# 2. Configuration and TLS files.
${putFile("$conf/conf.d/ai-dualstack.conf", "0644", "postgres:postgres", renderPostgresConf(l, tlsDir))}${putFile("$conf/pg_hba.conf", "0640", "postgres:postgres", renderPgHba(l))}${putPem("PRIVATE KEY", 1, `${tlsDir}/server.key`, "0600", "postgres:postgres")}${putPem("CERTIFICATE", 1, `${tlsDir}/server.crt`, "0644", "postgres:postgres")}${putPem("CERTIFICATE", 2, `${tlsDir}/ca.crt`, "0644", "postgres:postgres")}
# 3. The service, restarted only when something changed.
${enableAndStart("postgresql")}
# 4. The administrator role (the password through the environment, read by psql's \\getenv).
export AI_DUALSTACK_ADMIN_PASSWORD="$secret"
runuser -u postgres -- psql -X -q -d postgres <<'AI_DUALSTACK_SQL'
${renderPostgresAdminSql()}AI_DUALSTACK_SQL
echo "postgresql: $version ready on ${l.ip}:${POSTGRES_PORT}"
`;
}

export interface RedisLayout {
  ip: string;
  port?: number;
  /** /etc/redis on a real container. */
  configDir: string;
  /** The data volume: /var/lib/redis. */
  dataDir: string;
}

/** Where Redis's certificate, key and CA live in the container. */
export const redisTlsDir = (l: RedisLayout) => `${l.configDir}/tls`;

/**
 * Our settings, included at the end of Debian's redis.conf (later directives win): no plain-text port at all, TLS 1.3
 * on the Redis port (clients authenticate with their ACL password; no client certificates).
 */
export function renderRedisConfig(l: RedisLayout): string {
  const tls = redisTlsDir(l);
  return `# Managed by ai-dualstack.
bind 127.0.0.1 ${l.ip}
port 0
tls-port ${l.port ?? REDIS_PORT}
tls-cert-file ${tls}/server.crt
tls-key-file ${tls}/server.key
tls-ca-cert-file ${tls}/ca.crt
tls-auth-clients no
tls-protocols "TLSv1.3"
protected-mode yes
aclfile ${l.configDir}/users.acl
dir ${l.dataDir}
appendonly yes
appendfsync everysec
maxmemory-policy noeviction
`;
}

/**
 * Redis: the package, our config included from redis.conf, the TLS files, and in users.acl the `default` user as the
 * administrator (password hash from stdin's first line) — other users (the tenants, saved by ACL SAVE) are kept as
 * they are. Stdin: the administrator's password, then key, certificate, CA (PEM).
 */
export function renderRedisInstallScript(l: RedisLayout): string {
  const acl = `${l.configDir}/users.acl`;
  const tls = redisTlsDir(l);
  return `${SCRIPT_PRELUDE}
${readStdinBundle({ secretLine: true, need: ["PRIVATE KEY 1", "CERTIFICATE 1", "CERTIFICATE 2"] })}
${aptInstallUnless(hasCommand("redis-server"), ["redis-server"], { changed: true })}${putFile(`${l.configDir}/ai-dualstack.conf`, "0640", "redis:redis", renderRedisConfig(l))}${putPem("PRIVATE KEY", 1, `${tls}/server.key`, "0600", "redis:redis")}${putPem("CERTIFICATE", 1, `${tls}/server.crt`, "0644", "redis:redis")}${putPem("CERTIFICATE", 2, `${tls}/ca.crt`, "0644", "redis:redis")}
# redis.conf ends by including ours.
if ! grep -qx "include ${l.configDir}/ai-dualstack.conf" "$ROOT${l.configDir}/redis.conf" 2>/dev/null; then
  echo "include ${l.configDir}/ai-dualstack.conf" >> "$ROOT${l.configDir}/redis.conf"; changed=1
fi

# The administrator: the default user with the password's sha256; tenant users stay.
hash="$(printf %s "$secret" | sha256sum | cut -d' ' -f1)"
users="$(mktemp)"
echo "user default on sanitize-payload #$hash ~* &* +@all" > "$users"
if [ -f "$ROOT${acl}" ]; then grep -v '^user default ' "$ROOT${acl}" >> "$users" || true; fi
put ${acl} 0640 redis:redis < "$users"; rm -f "$users"
mkdir -p "$ROOT${l.dataDir}"; chown redis:redis "$ROOT${l.dataDir}"; chmod 0750 "$ROOT${l.dataDir}"

${enableAndStart("redis-server")}echo "redis: ready on ${l.ip}:${l.port ?? REDIS_PORT} (TLS)"
`;
}
