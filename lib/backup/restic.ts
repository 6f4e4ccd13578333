// File-level backups with restic, for what image backups do not cover well: database dumps, Vault snapshots, Docker
// volumes (model store, vector data). Each source is a stream — a command that writes the data to stdout and one
// that reads it back — so a backup is `dump | restic backup --stdin` and a restore is `restic dump | load`, on
// whichever machine holds the data (over SSH, or locally). Pure renderers: bash scripts and systemd units; the
// restic password only ever sits in a root-only file, never in a script or a unit.
import { SCRIPT_PRELUDE, aptInstallUnless, hasCommand, putFile, putPem, readStdinBundle } from "../shell";

export interface StreamSource {
  /** Unique within its repository; the snapshot's tag: "postgres", "volume-qdrant-data". */
  name: string;
  /** Where the data is: "root@10.30.0.21" over SSH, or "local". */
  host: string;
  /** Writes the data to stdout, e.g. "runuser -u postgres -- pg_dumpall --clean --if-exists". */
  dump: string;
  /** Reads it back from stdin, e.g. "runuser -u postgres -- psql -X -q -d postgres". */
  load: string;
  /** The file name inside the snapshot: "postgres.sql". */
  file: string;
}

export interface Retention {
  daily: number;
  weekly: number;
  monthly: number;
}

export interface ResticRepository {
  /** The repository's name (an environment, or "platform"): the snapshots' host and the units' suffix. */
  name: string;
  /** restic's repository location: "/srv/restic/public" or "sftp:…". */
  location: string;
  /** Root-only file holding the repository password. */
  passwordFile: string;
  /** SSH identity used to reach remote sources, and an sftp repository. */
  sshKey: string;
  sources: StreamSource[];
  retention: Retention;
  /** systemd OnCalendar expressions. */
  schedule: { backup: string; check: string; forget: string };
  /** `check --read-data-subset` verifies 1/checkParts of the data each run, so all of it every checkParts runs. */
  checkParts: number;
  /** node exporter's textfile directory: the scripts leave their metrics there. */
  metricsDir: string;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const HOST = /^(local|[a-z_][a-z0-9_-]*@[a-z0-9.-]+)$/;
const FILE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const PATH = /^\/[A-Za-z0-9._/-]+$/;
const CALENDAR = /^[A-Za-z0-9*:,./~ -]+$/;

/** Problems with a repository definition; empty when it can be rendered. */
export function repositoryProblems(r: ResticRepository, maintenanceOnly = false): string[] {
  const p: string[] = [];
  if (!NAME.test(r.name)) p.push(`name: expected a lower-case name such as "public", got ${JSON.stringify(r.name)}`);
  if (!/^(\/|sftp:|rest:)[A-Za-z0-9._/:@-]+$/.test(r.location)) p.push(`location: expected a path or sftp:/rest: URL, got ${JSON.stringify(r.location)}`);
  for (const [k, v] of [
    ["passwordFile", r.passwordFile],
    ["sshKey", r.sshKey],
    ["metricsDir", r.metricsDir],
  ] as const) {
    if (!PATH.test(v)) p.push(`${k}: expected an absolute path, got ${JSON.stringify(v)}`);
  }
  if (r.sources.length === 0 && !maintenanceOnly) p.push("sources: expected at least one");
  const seen = new Set<string>();
  r.sources.forEach((s, i) => {
    if (!NAME.test(s.name)) p.push(`sources[${i}].name: expected a lower-case name, got ${JSON.stringify(s.name)}`);
    if (seen.has(s.name)) p.push(`sources[${i}].name: ${s.name} is defined twice`);
    seen.add(s.name);
    if (!HOST.test(s.host)) p.push(`sources[${i}].host: expected "local" or user@host, got ${JSON.stringify(s.host)}`);
    if (!FILE.test(s.file)) p.push(`sources[${i}].file: expected a plain file name, got ${JSON.stringify(s.file)}`);
    for (const k of ["dump", "load"] as const)
      if (!s[k].trim() || /[\n']/.test(s[k])) p.push(`sources[${i}].${k}: expected one command line without single quotes`);
  });
  for (const k of ["daily", "weekly", "monthly"] as const) {
    const n = r.retention[k];
    if (!Number.isInteger(n) || n < 0 || n > 1000) p.push(`retention.${k}: expected a whole number 0–1000, got ${n}`);
  }
  if (r.retention.daily + r.retention.weekly + r.retention.monthly === 0)
    p.push("retention: keeps nothing; expected at least one daily, weekly or monthly snapshot");
  for (const [k, v] of Object.entries(r.schedule))
    if (!CALENDAR.test(v)) p.push(`schedule.${k}: expected a systemd OnCalendar expression, got ${JSON.stringify(v)}`);
  if (!Number.isInteger(r.checkParts) || r.checkParts < 1 || r.checkParts > 365) p.push(`checkParts: expected a whole number 1–365, got ${r.checkParts}`);
  return p;
}

function assertSound(r: ResticRepository, maintenanceOnly = false): void {
  const p = repositoryProblems(r, maintenanceOnly);
  if (p.length > 0) throw new Error(`restic repository ${JSON.stringify(r.name)}: ${p.join("; ")}`);
}

/** The environment every script starts with: the repository, its password file, a cache under /var/cache. */
function resticEnv(r: ResticRepository): string {
  // An sftp repository (the backup LXC) is reached with the repository's own key, its host key learnt on first use.
  const sftp = r.location.startsWith("sftp:")
    ? `restic() { command restic -o sftp.command="ssh -i ${r.sshKey} -p ${RESTIC_SFTP_PORT} -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=15 ${r.location.slice(5).split(":")[0]} -s sftp" "$@"; }\n`
    : "";
  return `${sftp}export RESTIC_REPOSITORY='${r.location}'
export RESTIC_PASSWORD_FILE='${r.passwordFile}'
export RESTIC_CACHE_DIR="\${RESTIC_CACHE_DIR:-/var/cache/restic}"
[ -r "$RESTIC_PASSWORD_FILE" ] || { echo "restic ${r.name}: password file $RESTIC_PASSWORD_FILE is missing" >&2; exit 2; }
SSH="\${AI_DUALSTACK_SSH:-ssh}"
metrics='${r.metricsDir}'
# metric FILE TEXT: writes a node-exporter textfile atomically.
metric() { mkdir -p "$metrics"; printf '%s\\n' "$2" > "$metrics/.$1.tmp"; mv "$metrics/.$1.tmp" "$metrics/$1"; }
# run_at HOST COMMAND: runs COMMAND where the data is.
run_at() { if [ "$1" = local ]; then bash -c "$2"; else "$SSH" -i '${r.sshKey}' -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=15 "$1" "$2"; fi; }
`;
}

/**
 * Backup: the repository is initialised when it does not exist yet; then every source is streamed into its own
 * snapshot (tag = source name). A source whose dump fails leaves no snapshot behind (a truncated stream would
 * otherwise look like a good backup): the snapshot just written is forgotten, the others go on, and the script
 * exits 1. Per source it leaves ai_dualstack_backup_success and …_last_success_timestamp_seconds for Prometheus.
 */
export function renderResticBackupScript(r: ResticRepository): string {
  assertSound(r);
  const repo = r.name;
  return `#!/bin/bash
# Managed by ai-dualstack: file-level backup of ${repo}.
set -uo pipefail
${resticEnv(r)}
if ! restic cat config >/dev/null 2>&1; then
  echo "restic ${repo}: initialising $RESTIC_REPOSITORY"
  restic init || exit 1
fi
failed=0
help_success() { printf '%s\n' "# HELP ai_dualstack_backup_success Whether the last file-level backup of the source succeeded." "# TYPE ai_dualstack_backup_success gauge"; }
help_last() { printf '%s\n' "# HELP ai_dualstack_backup_last_success_timestamp_seconds When the source was last backed up successfully." "# TYPE ai_dualstack_backup_last_success_timestamp_seconds gauge"; }
backup() { # NAME HOST FILE DUMP
  local name="$1" host="$2" file="$3" dump="$4" out snap now prom last text
  echo "restic ${repo}: $name from $host"
  out="$(mktemp)"
  run_at "$host" "$dump" | restic backup --stdin --stdin-filename "$file" --tag "$name" --host '${repo}' --json > "$out"
  local status=("\${PIPESTATUS[@]}")
  snap="$(sed -n 's/.*"snapshot_id":"\\([0-9a-f]*\\)".*/\\1/p' "$out" | tail -n 1)"
  rm -f "$out"
  prom="backup_${repo}_$name.prom"
  last="$(sed -n 's/^ai_dualstack_backup_last_success_timestamp_seconds{[^}]*} //p' "$metrics/$prom" 2>/dev/null || true)"
  if [ "\${status[0]}" -ne 0 ] || [ "\${status[1]}" -ne 0 ] || [ -z "$snap" ]; then
    echo "restic ${repo}: $name FAILED (dump exit \${status[0]}, restic exit \${status[1]})" >&2
    # A snapshot of a broken stream is no backup: forget it, so the last good one stays the latest.
    if [ -n "$snap" ]; then restic forget "$snap" >/dev/null || echo "restic ${repo}: could not forget partial snapshot $snap" >&2; fi
    failed=1
    text="$(help_success)
ai_dualstack_backup_success{repository=\\"${repo}\\",source=\\"$name\\"} 0"
    [ -z "$last" ] || text="$text
$(help_last)
ai_dualstack_backup_last_success_timestamp_seconds{repository=\\"${repo}\\",source=\\"$name\\"} $last"
    metric "$prom" "$text"
    return
  fi
  now="$(date +%s)"
  echo "restic ${repo}: $name -> snapshot $snap"
  metric "$prom" "$(help_success)
ai_dualstack_backup_success{repository=\\"${repo}\\",source=\\"$name\\"} 1
$(help_last)
ai_dualstack_backup_last_success_timestamp_seconds{repository=\\"${repo}\\",source=\\"$name\\"} $now"
}
${r.sources.map((s) => `backup '${s.name}' '${s.host}' '${s.file}' '${s.dump}'`).join("\n")}
exit "$failed"
`;
}

/**
 * Verification: `restic check` with a rotating --read-data-subset (part k of checkParts by day of year), so the stored
 * data itself, not only the structure, is read back over every cycle. Leaves ai_dualstack_restic_check_success.
 */
export function renderResticCheckScript(r: ResticRepository): string {
  assertSound(r, true);
  return `#!/bin/bash
# Managed by ai-dualstack: verification of ${r.name}.
set -uo pipefail
${resticEnv(r)}
part="\${AI_DUALSTACK_CHECK_PART:-$(( 10#$(date +%j) % ${r.checkParts} + 1 ))}"
echo "restic ${r.name}: check, reading data part $part/${r.checkParts}"
if restic check --read-data-subset="$part/${r.checkParts}"; then ok=1; else ok=0; fi
metric "check_${r.name}.prom" "# HELP ai_dualstack_restic_check_success Whether the last restic check of the repository passed.
# TYPE ai_dualstack_restic_check_success gauge
ai_dualstack_restic_check_success{repository=\\"${r.name}\\"} $ok
# HELP ai_dualstack_restic_check_timestamp_seconds When the repository was last checked.
# TYPE ai_dualstack_restic_check_timestamp_seconds gauge
ai_dualstack_restic_check_timestamp_seconds{repository=\\"${r.name}\\"} $(date +%s)"
[ "$ok" = 1 ] || { echo "restic ${r.name}: CHECK FAILED" >&2; exit 1; }
`;
}

/** Retention: forget per source (grouped by host and tag) and prune, in one locked run. */
export function renderResticForgetScript(r: ResticRepository): string {
  assertSound(r, true);
  const keep = (["daily", "weekly", "monthly"] as const)
    .filter((k) => r.retention[k] > 0)
    .map((k) => `--keep-${k} ${r.retention[k]}`)
    .join(" ");
  return `#!/bin/bash
# Managed by ai-dualstack: retention of ${r.name}.
set -uo pipefail
${resticEnv(r)}
restic forget --host '${r.name}' --group-by host,tags ${keep} --prune
`;
}

/**
 * Restore: `restore SOURCE [SNAPSHOT] [--to HOST]` streams the source's file from a snapshot (default: its latest)
 * into its load command, on its own host or another one (a rebuilt guest); `--list` shows the snapshots; `--drill`
 * reads back the latest snapshot of every source in the repository, writing nothing (RESTIC_DRILL_FIELDS).
 */
export function renderResticRestoreScript(r: ResticRepository): string {
  assertSound(r);
  return `#!/bin/bash
# Managed by ai-dualstack: restore from ${r.name}.
set -uo pipefail
${resticEnv(r)}
usage() { echo "usage: $0 SOURCE [SNAPSHOT] [--to USER@HOST|local] | --list | --drill" >&2; echo "sources: ${r.sources.map((s) => s.name).join(" ")}" >&2; exit 2; }
# The restore drill: the latest snapshot of every source in the repository (every machine's) read back in full
# (restic authenticates each blob it reads), its size and sha256, and for this machine's own sources the sha256 of a
# dump made now. Writes nothing. One tab-separated line per source:
#   drill SOURCE ok SNAPSHOT EPOCH BYTES SHA256 MILLISECONDS LIVE-SHA256|-     or     drill SOURCE FAILED REASON
drill() {
  local failed=0 listing tag id time path start sum bytes live
  listing="$(restic snapshots --host '${r.name}' --group-by tags --latest 1 --json)" || { printf 'drill\\t-\\tFAILED\\tthe repository cannot be listed\\n'; return 1; }
  [ "$(jq '[.[] | .snapshots[]] | length' <<<"$listing")" -gt 0 ] || { printf 'drill\\t-\\tFAILED\\tno snapshot in the repository\\n'; return 1; }
  while IFS=$'\\t' read -r tag id time path; do
    start="$(date +%s%N)"
    if ! sum="$(set -o pipefail; restic dump "$id" "$path" | sha256sum | cut -d' ' -f1)"; then
      printf 'drill\\t%s\\tFAILED\\tsnapshot %s: %s could not be read back\\n' "$tag" "\${id:0:8}" "$path"; failed=1; continue
    fi
    bytes="$(restic ls --json "$id" | jq -r --arg p "$path" 'select(.path == $p) | .size')"
    live=-
    case "$tag" in
${r.sources.map((s) => `      '${s.name}') live="$(set -o pipefail; run_at '${s.host}' '${s.dump}' | sha256sum | cut -d' ' -f1)" || live=unreadable ;;`).join("\n")}
    esac
    printf 'drill\\t%s\\tok\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$tag" "$id" "$(date -d "$time" +%s)" "\${bytes:-0}" "$sum" "$(( ($(date +%s%N) - start) / 1000000 ))" "$live"
  done < <(jq -r '.[] | .snapshots[0] | [((.tags // []) | join(",")), .id, .time, .paths[0]] | @tsv' <<<"$listing")
  return "$failed"
}
[ $# -ge 1 ] || usage
# Not exec: it would run the restic binary, not the function above that reaches an sftp repository on its port.
if [ "$1" = --list ]; then restic snapshots --host '${r.name}'; exit $?; fi
if [ "$1" = --drill ]; then drill; exit $?; fi
source="$1"; shift; snapshot=latest; to=""
while [ $# -gt 0 ]; do
  case "$1" in
    --to) [ $# -ge 2 ] || usage; to="$2"; shift 2 ;;
    -*) usage ;;
    *) snapshot="$1"; shift ;;
  esac
done
case "$source" in
${r.sources.map((s) => `  '${s.name}') host='${s.host}'; file='${s.file}'; load='${s.load}' ;;`).join("\n")}
  *) echo "restic ${r.name}: unknown source $source" >&2; usage ;;
esac
[ "$snapshot" != latest ] || snapshot="$(restic snapshots --host '${r.name}' --tag "$source" --latest 1 --json | sed -n 's/.*"short_id":"\\([0-9a-f]*\\)".*/\\1/p' | tail -n 1)"
[ -n "$snapshot" ] || { echo "restic ${r.name}: no snapshot of $source" >&2; exit 1; }
echo "restic ${r.name}: restoring $source from snapshot $snapshot to \${to:-$host}"
restic dump "$snapshot" "/$file" | run_at "\${to:-$host}" "$load"
status=("\${PIPESTATUS[@]}")
if [ "\${status[0]}" -ne 0 ] || [ "\${status[1]}" -ne 0 ]; then echo "restic ${r.name}: restore of $source FAILED (dump exit \${status[0]}, load exit \${status[1]})" >&2; exit 1; fi
echo "restic ${r.name}: $source restored"
`;
}

/** A oneshot service and its timer (Persistent: a missed run happens at boot). */
export function renderSystemdPair(unit: string, description: string, exec: string, onCalendar: string, user?: string): { service: string; timer: string } {
  if (!/^[a-z0-9@._-]+$/.test(unit)) throw new Error(`renderSystemdPair: invalid unit name ${JSON.stringify(unit)}`);
  if (!CALENDAR.test(onCalendar)) throw new Error(`renderSystemdPair: invalid OnCalendar ${JSON.stringify(onCalendar)}`);
  return {
    service: `[Unit]
Description=${description}
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=${exec}
${user ? `User=${user}\n` : ""}Nice=10
IOSchedulingClass=idle
PrivateTmp=yes
ProtectHome=read-only
NoNewPrivileges=yes
`,
    timer: `[Unit]
Description=${description} (schedule)

[Timer]
OnCalendar=${onCalendar}
Persistent=true
RandomizedDelaySec=10min

[Install]
WantedBy=timers.target
`,
  };
}

export const RESTIC_BIN_DIR = "/usr/local/sbin";

/** Where a repository's script is installed: /usr/local/sbin/ai-dualstack-restic-restore-public. */
export function resticScriptPath(repository: string, what: "backup" | "check" | "forget" | "restore"): string {
  return `${RESTIC_BIN_DIR}/ai-dualstack-restic-${what}-${repository}`;
}

type ResticUnit = { script: string; content: string; unit?: string; service?: string; timer?: string };

/** Writes each script (with `mode`) and, for a timed one, its service and timer. */
function putUnits(units: ResticUnit[], mode: string): string {
  return units
    .map(
      (u) =>
        putFile(u.script, mode, "root:root", u.content) +
        (u.unit
          ? putFile(`/etc/systemd/system/${u.unit}.service`, "0644", "root:root", u.service!) +
            putFile(`/etc/systemd/system/${u.unit}.timer`, "0644", "root:root", u.timer!)
          : ""),
    )
    .join("");
}

function enableTimers(units: ResticUnit[]): string {
  return units.flatMap((u) => (u.unit ? [`systemctl enable --now ${u.unit}.timer >/dev/null`] : [])).join("\n");
}

/**
 * Where each script lives and which timer runs it. A "client" backs its sources up and can restore them; the
 * "server" (where the repository lives) checks and prunes it — clients never delete anything.
 */
export function resticUnits(r: ResticRepository, role: "client" | "server" | "both" = "both"): ResticUnit[] {
  const path = (what: "backup" | "check" | "forget" | "restore") => resticScriptPath(r.name, what);
  const timed = (what: "backup" | "check" | "forget", content: string, description: string) => {
    const unit = `ai-dualstack-restic-${what}-${r.name}`;
    // On the server the repository belongs to its sftp user: maintenance runs as that user, so files stay readable.
    return {
      script: path(what),
      content,
      unit,
      ...renderSystemdPair(unit, description, path(what), r.schedule[what], role === "server" ? resticUser(r.name) : undefined),
    };
  };
  return [
    ...(role !== "server"
      ? [
          timed("backup", renderResticBackupScript(r), `ai-dualstack: restic backup of ${r.name}`),
          { script: path("restore"), content: renderResticRestoreScript(r) },
        ]
      : []),
    ...(role !== "client"
      ? [
          timed("check", renderResticCheckScript(r), `ai-dualstack: restic check of ${r.name}`),
          timed("forget", renderResticForgetScript(r), `ai-dualstack: restic retention of ${r.name}`),
        ]
      : []),
  ];
}

/**
 * Installs restic, the repository's scripts and timers on a machine (run over SSH as root). Stdin: the repository
 * password (first line), then for an sftp repository the client's OpenSSH private key; both go to root-only files.
 */
export function renderResticInstallScript(r: ResticRepository, role: "client" | "server" | "both" = "both"): string {
  const units = resticUnits(r, role);
  const sftp = r.location.startsWith("sftp:");
  return `${SCRIPT_PRELUDE}
${readStdinBundle({ secretLine: true, need: sftp ? ["OPENSSH PRIVATE KEY 1"] : [] })}${aptInstallUnless(`{ ${hasCommand("restic")} && ${hasCommand("jq")}; }`, ["restic", "jq"])}pw="$(mktemp)"; printf '%s\\n' "$secret" > "$pw"; put ${r.passwordFile} 0600 root:root < "$pw"; rm -f "$pw"
${sftp ? putPem("OPENSSH PRIVATE KEY", 1, r.sshKey, "0600", "root:root") : ""}${putUnits(units, "0750")}
systemctl daemon-reload
${enableTimers(units)}
echo "restic ${r.name}: timers enabled (${units.flatMap((u) => (u.unit ? [u.unit] : [])).join(", ")})"
`;
}

/** The port of the backup LXC's sftp-only SSH daemon (its own instance: the environments never reach the admin SSH). */
export const RESTIC_SFTP_PORT = 2222;

/** The sftp account an environment's clients reach its repository with, on the backup LXC. */
export const resticUser = (repo: string) => `restic-${repo}`;

/**
 * The backup LXC as the repositories' home: per repository a chrooted sftp-only account (its clients can write
 * backups, reach nothing else), the repository initialised under it, and the check and retention timers running as
 * that account. Stdin: per repository, in the order given, its password on one line and its clients' OpenSSH public
 * key on the next (both known only at apply; neither is ever part of the script).
 */
export function renderResticServerScript(root: string, repos: ResticRepository[]): string {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(root)) throw new Error(`renderResticServerScript: invalid root ${JSON.stringify(root)}`);
  for (const r of repos) {
    assertSound(r, true);
    if (r.location !== `${root}/${r.name}/repo`)
      throw new Error(`restic repository ${r.name}: expected its location at ${root}/${r.name}/repo, got ${r.location}`);
  }
  const sshd = `# Managed by ai-dualstack: an SSH daemon of its own for the environments' restic repositories, sftp only.
Port ${RESTIC_SFTP_PORT}
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd-restic.pid
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthenticationMethods publickey
# The keys live outside the chroots (the accounts' homes are their repositories' roots), where the accounts cannot
# reach them; without this sshd looks in the chroot and refuses every client (found in the real-guest test).
AuthorizedKeysFile /home/%u/.ssh/authorized_keys
AllowUsers ${repos.map((r) => resticUser(r.name)).join(" ")}
Subsystem sftp internal-sftp
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
${repos
  .map(
    (r) => `Match User ${resticUser(r.name)}
  ChrootDirectory ${root}/${r.name}
  ForceCommand internal-sftp -d /repo
`,
  )
  .join("")}`;
  const unit = `[Unit]
Description=ai-dualstack: sftp-only SSH daemon for the restic repositories
After=network.target

[Service]
ExecStartPre=/usr/sbin/sshd -t -f /etc/ssh/sshd_restic_config
ExecStart=/usr/sbin/sshd -D -f /etc/ssh/sshd_restic_config
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RuntimeDirectory=sshd-restic

[Install]
WantedBy=multi-user.target
`;
  const perRepo = repos
    .map((r, i) => {
      const user = resticUser(r.name);
      const units = resticUnits(r, "server");
      return `# ${r.name}
id -u ${user} >/dev/null 2>&1 || useradd --system --home-dir ${root}/${r.name} --shell /usr/sbin/nologin ${user}
# No password, but not a locked account ("!"): this daemon runs without PAM, and sshd refuses a locked account even a key.
usermod -p '*' ${user}
mkdir -p "$ROOT${root}/${r.name}/repo" "$ROOT/home/${user}/.ssh"
chown root:root "$ROOT${root}/${r.name}"; chmod 0755 "$ROOT${root}/${r.name}"
chown ${user}:${user} "$ROOT${root}/${r.name}/repo"; chmod 0700 "$ROOT${root}/${r.name}/repo"
printf 'restrict %s\n' "$key_${i}" > "$ROOT/home/${user}/.ssh/authorized_keys"
chown -R ${user}:${user} "$ROOT/home/${user}"; chmod 0700 "$ROOT/home/${user}/.ssh"; chmod 0600 "$ROOT/home/${user}/.ssh/authorized_keys"
pwf="$(mktemp)"; printf '%s\n' "$pw_${i}" > "$pwf"; chown ${user} "$pwf"
if [ -f "$ROOT${r.location}/config" ]; then
  # An existing repository is never initialised again, and its password file changes only for a password that opens it.
  runuser -u ${user} -- restic -r "$ROOT${r.location}" --password-file "$pwf" --no-cache cat config >/dev/null 2>&1 \\
    || { rm -f "$pwf"; echo "restic ${r.name}: the password given does not open the existing repository at ${r.location}; it is left as it is" >&2; exit 1; }
else
  runuser -u ${user} -- restic -r "$ROOT${r.location}" --password-file "$pwf" --no-cache init
fi
put ${r.passwordFile} 0400 ${user}:root < "$pwf"; rm -f "$pwf"
${putUnits(units, "0755")}`;
    })
    .join("\n");
  return `${SCRIPT_PRELUDE}
bundle="$(mktemp)"; chmod 0600 "$bundle"; trap 'rm -f "$bundle"' EXIT; cat > "$bundle"
# Every password first: nothing is written unless all are there.
${repos
  .map(
    (r, i) => `pw_${i}="$(sed -n '${2 * i + 1}p' "$bundle")"
[ -n "$pw_${i}" ] || { echo "stdin: expected the password of repository ${r.name} on line ${2 * i + 1}" >&2; exit 1; }
key_${i}="$(sed -n '${2 * i + 2}p' "$bundle")"
printf '%s\\n' "$key_${i}" | grep -Eq '^ssh-(ed25519|rsa) [A-Za-z0-9+/=]+( [^ ]*)?$' || { echo "stdin: expected the OpenSSH public key of repository ${r.name}'s clients on line ${2 * i + 2}" >&2; exit 1; }`,
  )
  .join("\n")}
${aptInstallUnless(hasCommand("restic"), ["restic", "openssh-server"])}${putFile("/etc/ssh/sshd_restic_config", "0644", "root:root", sshd)}${putFile("/etc/systemd/system/ai-dualstack-restic-sftp.service", "0644", "root:root", unit)}sshd_changed=$changed
${perRepo}
systemctl daemon-reload
${repos.map((r) => enableTimers(resticUnits(r, "server"))).join("\n")}
systemctl enable ai-dualstack-restic-sftp.service >/dev/null
sshd -t -f "$ROOT/etc/ssh/sshd_restic_config"
if [ "$sshd_changed" = 1 ]; then systemctl restart ai-dualstack-restic-sftp.service; else systemctl start ai-dualstack-restic-sftp.service; fi
echo "restic server: ${repos.map((r) => r.name).join(", ")} ready under ${root}"
`;
}

/** One source of a restore drill's read-back (`restore --drill`), as parseResticDrill reads its lines. */
export type ResticReadBack =
  | {
      source: string;
      status: "ok";
      snapshot: string;
      /** When the snapshot was taken, seconds since the epoch. */
      time: number;
      bytes: number;
      sha256: string;
      /** How long reading it back took. */
      milliseconds: number;
      /** The sha256 of a dump made now, for the machine's own sources; undefined for another machine's. */
      live?: string;
    }
  | { source: string; status: "failed"; reason: string };

/** The lines `restore --drill` prints (other lines are restic's progress and ignored); throws on a malformed one. */
export function parseResticDrill(out: string): ResticReadBack[] {
  return out
    .split("\n")
    .filter((l) => l.startsWith("drill\t"))
    .map((line) => {
      const f = line.split("\t");
      if (f[2] === "FAILED") return { source: f[1], status: "failed" as const, reason: f.slice(3).join(" ") };
      const [snapshot, time, bytes, sha256, ms, live] = f.slice(3);
      if (f[2] !== "ok" || !/^[0-9a-f]{64}$/.test(sha256 ?? "") || !/^\d+$/.test(time ?? "") || !/^\d+$/.test(bytes ?? "") || !/^\d+$/.test(ms ?? ""))
        throw new Error(`restore --drill printed a line it should not: ${JSON.stringify(line)}`);
      return {
        source: f[1],
        status: "ok" as const,
        snapshot,
        time: Number(time),
        bytes: Number(bytes),
        sha256,
        milliseconds: Number(ms),
        ...(live && live !== "-" ? { live } : {}),
      };
    });
}
