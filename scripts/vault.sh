#!/usr/bin/env bash
# Builds HashiCorp Vault from the Go module proxy for the integration tests, into
# ~/.cache/ai-dualstack/vault-<version>/bin/vault (idempotent). Vault's go.mod replaces its api/ and sdk/ modules
# with directories the proxy's zip leaves out: they are fetched at the versions go.mod requires and put in place.
# The version is 1.21.0, not the 1.21.4 the security LXC installs: from 1.21.1 on, the release branch builds
# against an sdk/ that no published sdk module version matches (the proxy has main's tags only), so 1.21.4 does not
# compile from the proxy; 1.21.0's sdk v0.20.0 does. The HTTP API the program uses is the same.
# Prints the directory to put on PATH (with --check, only that, exit 1 when it is not built).
set -euo pipefail
version=1.21.0
# shellcheck source=lib/cache.sh
. "$(dirname "$0")/lib/cache.sh"
cache_init vault "$version" "$@"
start=$(date +%s)
work="$(mktemp -d)"; trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
src="$(go mod download -json "github.com/hashicorp/vault@v$version" | jq -r .Dir)"
cp -r "$src" "$work/vault"; chmod -R u+w "$work/vault"
cd "$work/vault"
# Every "replace github.com/hashicorp/vault/X => ./X": X at the version go.mod requires.
sed -n 's|^replace github.com/hashicorp/vault/\([^ ]*\) => ./\1$|\1|p' go.mod | while read -r sub; do
  want="$(awk -v m="github.com/hashicorp/vault/$sub" '$1 == m && $2 ~ /^v/ { print $2; exit }' go.mod)"
  [ -n "$want" ] || { echo "scripts/vault.sh: go.mod of vault v$version does not require $sub" >&2; exit 2; }
  rm -rf "./$sub"; mkdir -p "$(dirname "./$sub")"
  cp -r "$(go mod download -json "github.com/hashicorp/vault/$sub@$want" | jq -r .Dir)" "./$sub"
  chmod -R u+w "./$sub"
done
go build -trimpath -ldflags "-s -w" -o "$bin/vault.part" .
mv "$bin/vault.part" "$bin/vault"
built vault "$version" "$start"
