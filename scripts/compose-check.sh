#!/usr/bin/env bash
# Builds compose-check (scripts/compose-check: compose-go's loader, what `docker compose` reads Compose files with)
# into ~/.cache/ai-dualstack/compose-check-<version>-<sources>/bin (idempotent), keyed by compose-go's version and a
# hash of the module's sources. Prints the directory to put on PATH (with --check, only that, exit 1 when not built).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
module="$here/compose-check"
version="$(sed -n 's|^require github.com/compose-spec/compose-go/v2 \(v[0-9.]*\)$|\1|p' "$module/go.mod")"
sources="$(cd "$module" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
# shellcheck source=lib/cache.sh
. "$here/lib/cache.sh"
cache_init compose-check "$version-$sources" "$@"
start=$(date +%s)
(cd "$module" && go build -trimpath -ldflags "-s -w" -o "$bin/compose-check.part" .)
mv "$bin/compose-check.part" "$bin/compose-check"
built compose-check "$version-$sources" "$start"
