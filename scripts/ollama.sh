#!/usr/bin/env bash
# Builds Ollama (CPU backend) from the Go module proxy, at the version of the image the environments deploy
# (SERVICE_DEFAULTS in lib/config/schema.ts), into ~/.cache/ai-dualstack/ollama-<version>/bin/ollama (idempotent).
# The integration tests run it on loopback. The module zip leaves out llama.cpp's vendor/ headers: nlohmann/json and
# stb_image come from Debian (nlohmann-json3-dev, libstb-dev), miniaudio (audio inputs only) from a stand-in in
# scripts/ollama-vendor. Needs gcc and g++. Prints the directory to put on PATH (with --check, only that, exit 1
# when it is not built).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
version="$(sed -n 's|.*"ollama/ollama:\([0-9.]*\)".*|\1|p' "$root/lib/config/schema.ts" | head -n 1)"
[ -n "$version" ] || { echo "scripts/ollama.sh: no ollama image default in lib/config/schema.ts" >&2; exit 2; }
# shellcheck source=lib/cache.sh
. "$here/lib/cache.sh"
cache_init ollama "$version" "$@"
for h in /usr/include/nlohmann/json_fwd.hpp /usr/include/stb/stb_image.h; do
  [ -f "$h" ] || { echo "scripts/ollama.sh: $h is missing: apt-get install nlohmann-json3-dev libstb-dev" >&2; exit 2; }
done
export CGO_ENABLED=1
start=$(date +%s)
work="$(mktemp -d)"; trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$(go mod download -json "github.com/ollama/ollama@v$version" | jq -r .Dir)" "$work/ollama"
chmod -R u+w "$work/ollama"
vendor="$work/ollama/llama/llama.cpp/vendor"
mkdir -p "$vendor/stb"
cp -r /usr/include/nlohmann "$vendor/nlohmann"
cp /usr/include/stb/stb_image.h "$vendor/stb/"
cp -r "$here/ollama-vendor/miniaudio" "$vendor/miniaudio"
(cd "$work/ollama" && go build -trimpath -ldflags "-s -w -X=github.com/ollama/ollama/version.Version=$version" -o "$bin/ollama.part" .)
mv "$bin/ollama.part" "$bin/ollama"
built ollama "$version" "$start"
