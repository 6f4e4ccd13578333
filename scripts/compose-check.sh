#!/usr/bin/env bash
# Builds compose-check (scripts/compose-check: compose-go's loader, what `docker compose` reads Compose files with)
# into ~/.cache/ai-dualstack/compose-check-<version>-<sources>/bin (idempotent), keyed by compose-go's version and a
# hash of the module's sources. Prints the directory to put on PATH (with --check, only that, exit 1 when not built).
set -euo pipefail
# shellcheck source=lib/cache.sh
. "$(dirname "$0")/lib/cache.sh"
build_local_module compose-check github.com/compose-spec/compose-go/v2 "$@"
