// Building blocks of the install scripts the program runs over SSH in its containers (Vault, PostgreSQL, Redis):
// idempotent file writes that record whether anything changed, and a bundle of secrets and PEM blocks read from
// standard input, so that no secret is ever part of a script (scripts are stored in the state and shown in plans).
// Paths are prefixed with $ROOT (empty on a real container) so that tests run the same scripts in a temporary root.

/** set -eu, $ROOT, $changed, and `put FILE MODE OWNER` (replace FILE with stdin when it differs; mode and owner). */
export const SCRIPT_PRELUDE = `set -eu
ROOT="\${ROOT:-}"
changed=0
# put FILE MODE OWNER: replaces FILE with stdin when the content differs, then sets mode and owner.
put() {
  tmp="$(mktemp)"; cat > "$tmp"
  if [ -f "$ROOT$1" ] && cmp -s "$tmp" "$ROOT$1"; then rm -f "$tmp"
  else mkdir -p "$(dirname "$ROOT$1")"; mv "$tmp" "$ROOT$1"; changed=1; fi
  chmod "$2" "$ROOT$1"; chown "$3" "$ROOT$1"
}
`;

/** A shell test that a command is on PATH. */
export const hasCommand = (command: string) => `command -v ${command} >/dev/null 2>&1`;

/** A shell test that a Debian package is installed. */
export const hasPackage = (pkg: string) => `dpkg-query -W -f='\${Status}' ${pkg} 2>/dev/null | grep -q "install ok installed"`;

/** Installs Debian packages unless `check` (a shell test) passes; with `changed`, marks the run as a change. */
export function aptInstallUnless(check: string, packages: string[], opts: { noRecommends?: boolean; changed?: boolean } = {}): string {
  return `if ! ${check}; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q ${opts.noRecommends ? "--no-install-recommends " : ""}${packages.join(" ")}
${opts.changed ? "  changed=1\n" : ""}fi
`;
}

/** Installs those of `packages` that are not installed yet, in one apt run; with `changed`, marks the run as a change. */
export function aptInstallMissing(packages: readonly string[], opts: { noRecommends?: boolean; changed?: boolean } = {}): string {
  return `missing=""
for p in ${packages.join(" ")}; do ${hasPackage('"$p"')} || missing="$missing $p"; done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -q ${opts.noRecommends ? "--no-install-recommends " : ""}$missing
${opts.changed ? "  changed=1\n" : ""}fi
`;
}

/** `put` of a literal content, as a here-document (the content must not hold secrets). */
export function putFile(file: string, mode: string, owner: string, content: string): string {
  return `put "${file}" ${mode} ${owner} <<'AI_DUALSTACK_EOF'\n${content.endsWith("\n") ? content : `${content}\n`}AI_DUALSTACK_EOF\n`;
}

/** What a script expects on stdin: an optional first line (a password), then PEM blocks (key, certificate, CA). */
export function stdinBundle(parts: { secretLine?: string; pems: string[] }): string {
  const line = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);
  if (parts.secretLine !== undefined && /[\n\r]/.test(parts.secretLine)) throw new Error("stdinBundle: the secret line must be one line");
  return (parts.secretLine === undefined ? "" : `${parts.secretLine}\n`) + parts.pems.map(line).join("");
}

/**
 * Reads stdin into a private temp file; `pem KIND N` prints the N-th PEM block of KIND; with `secretLine`, the first
 * line goes into $secret. `need` lists "KIND N" blocks that must be present (checked before anything is written).
 */
export function readStdinBundle(opts: { secretLine?: boolean; need: string[] }): string {
  return `bundle="$(mktemp)"; chmod 0600 "$bundle"; trap 'rm -f "$bundle"' EXIT; cat > "$bundle"
${
  opts.secretLine
    ? `secret="$(head -n 1 "$bundle")"
if [ -z "$secret" ]; then echo "stdin: expected the password on the first line" >&2; exit 1; fi
`
    : ""
}pem() { awk -v want="$2" -v kind="$1" '$0 ~ "-----BEGIN " kind "-----" { n++; p = (n == want) } p { print } $0 ~ "-----END " kind "-----" { p = 0 }' "$bundle"; }
for part in ${opts.need.map((n) => `"${n}"`).join(" ")}; do
  if [ -z "$(pem "\${part% *}" "\${part##* }")" ]; then echo "stdin: expected the key, the certificate and the CA certificate (PEM); \${part% *} \${part##* } is missing" >&2; exit 1; fi
done
`;
}

/** Writes the N-th PEM block of KIND to FILE through put (a file, not a pipe: a pipeline's subshell would lose $changed). */
export function putPem(kind: string, n: number, file: string, mode: string, owner: string): string {
  return `part="$(mktemp)"; pem "${kind}" ${n} > "$part"; put ${file} ${mode} ${owner} < "$part"; rm -f "$part"\n`;
}

/** Indents every non-empty line of a shell fragment (for a fragment placed inside an if/fi block). */
export const indent = (fragment: string, by = "  ") => fragment.replace(/^(?=.)/gm, by);

/** Runs a script through `sudo -n bash` from a temp file, so that stdin stays the script's (secrets, PEM blocks). */
export const viaSudo = (script: string) =>
  `f="$(mktemp)"\ncat > "$f" <<'AI_DUALSTACK_SCRIPT'\n${script}AI_DUALSTACK_SCRIPT\nsudo -n bash "$f"; rc=$?; rm -f "$f"; exit $rc\n`;

/** Enables a unit and starts it; restarts it instead when the shell variable `changedVar` is 1 (its files changed). */
export const enableAndStart = (unit: string, changedVar = "changed") =>
  `systemctl enable ${unit} >/dev/null\nif [ "$${changedVar}" = 1 ]; then systemctl restart ${unit}; else systemctl start ${unit}; fi\n`;
