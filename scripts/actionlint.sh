#!/usr/bin/env bash
# Builds actionlint, which checks the operator's CI workflows (.gitea/workflows), from the Go module proxy into
# ~/.cache/ai-dualstack/actionlint-<version>/bin (idempotent). Prints the directory to put on PATH.
set -euo pipefail
version=1.7.7
# shellcheck source=lib/cache.sh
. "$(dirname "$0")/lib/cache.sh"
cache_init actionlint "$version" "$@"
start=$(date +%s)
GOBIN="$bin" go install "github.com/rhysd/actionlint/cmd/actionlint@v$version"
built actionlint "$version" "$start"
