#!/usr/bin/env bash
# Builds alloy-syntax (scripts/alloy-syntax: Grafana's Alloy syntax module, what `alloy fmt` and `alloy run` read
# configurations with) into ~/.cache/ai-dualstack/alloy-syntax-<version>-<sources>/bin (idempotent), keyed by the
# syntax module's version and a hash of the module's sources. Prints the directory to put on PATH (with --check, only that, exit 1 when not built).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
module="$here/alloy-syntax"
version="$(sed -n 's|^require github.com/grafana/alloy/syntax \(v[0-9.]*\)$|\1|p' "$module/go.mod")"
sources="$(cd "$module" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
# shellcheck source=lib/cache.sh
. "$here/lib/cache.sh"
cache_init alloy-syntax "$version-$sources" "$@"
start=$(date +%s)
(cd "$module" && go build -trimpath -ldflags "-s -w" -o "$bin/alloy-syntax.part" .)
mv "$bin/alloy-syntax.part" "$bin/alloy-syntax"
built alloy-syntax "$version-$sources" "$start"
