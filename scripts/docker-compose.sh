#!/usr/bin/env bash
# Builds the Docker Compose CLI (v2, the `docker compose` plugin) from the Go module proxy into
# ~/.cache/ai-dualstack/docker-compose-<version>/bin/docker-compose (idempotent). Debian 12 carries only Compose v1
# (Python, without `up --wait`); the guests suite copies this build into the GPU-VM stand-in as the Docker CLI
# plugin and brings up what `dualstack compose` prints. Prints the directory to put on PATH (with --check, only
# that, exit 1 when it is not built).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version=v2.40.3
# shellcheck source=lib/cache.sh
. "$here/lib/cache.sh"
cache_init docker-compose "$version" "$@"
export CGO_ENABLED=0
start=$(date +%s)
work="$(mktemp -d)"; trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$(go mod download -json "github.com/docker/compose/v2@$version" | jq -r .Dir)" "$work/compose"
chmod -R u+w "$work/compose"
(cd "$work/compose" && go build -trimpath -ldflags "-s -w -X=github.com/docker/compose/v2/internal.Version=$version" -o "$bin/docker-compose.part" ./cmd)
mv "$bin/docker-compose.part" "$bin/docker-compose"
built docker-compose "$version" "$start"
