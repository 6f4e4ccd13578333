#!/usr/bin/env bash
# Builds Grafana Loki from the Go module proxy, at the version the monitoring LXC installs by default, into
# ~/.cache/ai-dualstack/loki-<version>/bin/loki (idempotent: a finished build is reused). The tests run it to check
# the Loki configuration the program renders, the log gateway in front of it and the dashboards' log queries.
# Loki's go.mod replaces github.com/grafana/loki/pkg/push with ./pkg/push, a nested module the proxy's zip leaves
# out: it is fetched at the version go.mod requires and put in place. Prints the directory to put on PATH; with
# --check, only that, and exit 1 when it is not built.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(sed -n 's/.*lokiVersion: "\([0-9.]*\)".*/\1/p' "$root/lib/config/schema.ts" | head -n 1)"
[ -n "$version" ] || { echo "scripts/loki.sh: no lokiVersion default in lib/config/schema.ts" >&2; exit 2; }
# shellcheck source=lib/cache.sh
. "$root/scripts/lib/cache.sh"
cache_init loki "$version" "$@"
start=$(date +%s)
src="$(go mod download -json "github.com/grafana/loki/v3@v$version" | jq -r .Dir)"
work="$(mktemp -d)"; trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src" "$work/loki"; chmod -R u+w "$work/loki"
push="$(sed -n 's|^\s*github.com/grafana/loki/pkg/push \(v[^ ]*\).*|\1|p' "$work/loki/go.mod" | head -n 1)"
[ -n "$push" ] || { echo "scripts/loki.sh: go.mod of loki v$version does not require pkg/push" >&2; exit 2; }
rm -rf "$work/loki/pkg/push"
cp -r "$(go mod download -json "github.com/grafana/loki/pkg/push@$push" | jq -r .Dir)" "$work/loki/pkg/push"
chmod -R u+w "$work/loki/pkg/push"
(cd "$work/loki" && go build -trimpath -ldflags "-s -w" -o "$bin/loki.part" ./cmd/loki)
mv "$bin/loki.part" "$bin/loki"
built loki "$version" "$start"
