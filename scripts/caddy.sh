#!/usr/bin/env bash
# Builds Caddy from the Go module proxy, at the version of the image the ingress and the gateways run by default
# (SERVICE_DEFAULTS in lib/config/schema.ts), into ~/.cache/ai-dualstack/caddy-image-<version>/bin/caddy-image
# (idempotent; the name keeps it apart from Debian's older caddy, which the unit tests validate Caddyfiles with).
# The guests suite builds the caddy image from it and runs the program's Caddyfiles in the GPU-VM stand-in.
# Prints the directory to put on PATH (with --check, only that, exit 1 when it is not built).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
version="$(sed -n 's|.*"caddy:\([0-9.]*\)-alpine".*|\1|p' "$root/lib/config/schema.ts" | head -n 1)"
[ -n "$version" ] || { echo "scripts/caddy.sh: no caddy image default in lib/config/schema.ts" >&2; exit 2; }
# shellcheck source=lib/cache.sh
. "$here/lib/cache.sh"
cache_init caddy-image "$version" "$@"
export CGO_ENABLED=0
start=$(date +%s)
work="$(mktemp -d)"; trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$(go mod download -json "github.com/caddyserver/caddy/v2@v$version" | jq -r .Dir)" "$work/caddy"
chmod -R u+w "$work/caddy"
(cd "$work/caddy" && go build -trimpath -ldflags "-s -w" -o "$bin/caddy-image.part" ./cmd/caddy)
mv "$bin/caddy-image.part" "$bin/caddy-image"
built caddy-image "$version" "$start"
