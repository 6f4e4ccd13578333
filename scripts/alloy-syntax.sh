#!/usr/bin/env bash
# Builds alloy-syntax (scripts/alloy-syntax: Grafana's Alloy syntax module, what `alloy fmt` and `alloy run` read
# configurations with) into ~/.cache/ai-dualstack/alloy-syntax-<version>-<sources>/bin (idempotent), keyed by the
# syntax module's version and a hash of the module's sources. Prints the directory to put on PATH (with --check,
# only that, exit 1 when not built).
set -euo pipefail
# shellcheck source=lib/cache.sh
. "$(dirname "$0")/lib/cache.sh"
build_local_module alloy-syntax github.com/grafana/alloy/syntax "$@"
