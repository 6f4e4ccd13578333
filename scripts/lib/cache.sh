# shellcheck shell=bash
# Sourced by the build scripts (scripts/*.sh): the cache every Go-built tool lives in, keyed by name and version,
# ~/.cache/ai-dualstack/<name>-<version>/bin (AI_DUALSTACK_CACHE moves it).
#   cache_init NAME VERSION [--check]
# sets $cache and $bin; when $bin/NAME is built, prints $bin and exits 0; with --check and nothing built, exits 1
# (ops/prerequisites.js asks this way, to find a tool without building it). Otherwise returns, to build.
cache_init() {
  local name="$1" version="$2" mode="${3:-}"
  cache="${AI_DUALSTACK_CACHE:-$HOME/.cache/ai-dualstack}/$name-$version"
  bin="$cache/bin"
  if [ -x "$bin/$name" ]; then
    echo "$name $version: cached" >&2
    echo "$bin"
    exit 0
  fi
  if [ "$mode" = --check ]; then exit 1; fi
  command -v go >/dev/null || { echo "$name: Go is needed to build it (https://go.dev/doc/install)" >&2; exit 2; }
  # Modules as the proxy serves them, with the Go on PATH (no toolchain download).
  export GOFLAGS="-mod=mod" GOTOOLCHAIN=local
  mkdir -p "$bin"
}

# built NAME VERSION START: logs the build's time and size, then prints $bin (the scripts' last line).
built() {
  echo "$1 $2: built in $(( $(date +%s) - $3 )) s, $(du -h "$bin/$1" | cut -f1)" | tee -a "$cache/build.log" >&2
  echo "$bin"
}

# build_local_module NAME REQUIRED_MODULE [--check]: builds the project's own Go module scripts/NAME (a checker on top
# of REQUIRED_MODULE, from the proxy) into the cache, keyed by REQUIRED_MODULE's version in its go.mod and a hash of
# the module's sources; prints the directory (exits, as cache_init and built do).
build_local_module() {
  local name="$1" required="$2" mode="${3:-}"
  local module
  module="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/$name"
  local version sources
  version="$(sed -n "s|^require $required \(v[0-9.]*\)$|\1|p" "$module/go.mod")"
  [ -n "$version" ] || { echo "scripts/$name: its go.mod does not require $required" >&2; exit 2; }
  sources="$(cd "$module" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
  cache_init "$name" "$version-$sources" "$mode"
  local start
  start=$(date +%s)
  (cd "$module" && go build -trimpath -ldflags "-s -w" -o "$bin/$name.part" .)
  mv "$bin/$name.part" "$bin/$name"
  built "$name" "$version-$sources" "$start"
  exit 0
}
