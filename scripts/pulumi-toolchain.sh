#!/usr/bin/env bash
# Builds the Pulumi engine toolchain from the Go module proxy, at the version of @pulumi/pulumi in
# package-lock.json, into ~/.cache/ai-dualstack/pulumi-<version>/bin (idempotent: a finished build is reused).
#   pulumi                          the CLI (scripts/pulumi-toolchain/cli: a wrapper module around pkg/v3)
#   pulumi-language-nodejs          the Node.js language host (scripts/pulumi-toolchain/language-nodejs)
#   pulumi-resource-pulumi-nodejs   the dynamic-provider launcher shipped in the sdk/v3 module
# Prints the directory to put on PATH as its last line (with --check, only that, exit 1 when not all are built). Timings and sizes go to <dir>/build.log.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
version="$(node -p 'require(process.argv[1]).packages["node_modules/@pulumi/pulumi"].version' "$root/package-lock.json")"
cache="${AI_DUALSTACK_CACHE:-$HOME/.cache/ai-dualstack}/pulumi-$version"
bin="$cache/bin"
log="$cache/build.log"

fresh() { # name, module dir: built after its go.mod and go.sum last changed
  [ -x "$bin/$1" ] && [ "$bin/$1" -nt "$2/go.mod" ] && [ "$bin/$1" -nt "$2/go.sum" ]
}
if [ "${1:-}" = --check ]; then # print the directory when everything is built, else exit 1 (ops/prerequisites.js)
  fresh pulumi "$here/pulumi-toolchain/cli" && fresh pulumi-language-nodejs "$here/pulumi-toolchain/language-nodejs" &&
    [ -x "$bin/pulumi-resource-pulumi-nodejs" ] && echo "$bin" && exit 0
  exit 1
fi
command -v go >/dev/null || { echo "pulumi-toolchain: Go is needed to build it (https://go.dev/doc/install)" >&2; exit 2; }
mkdir -p "$bin"

# pkg/v3's go.mod is not in the checksum database (sum.golang.org answers 404 for it); the committed go.sum files
# pin every module's hash instead.
export GONOSUMDB="github.com/pulumi/pulumi/pkg"
export GOFLAGS="-mod=mod"
export GOTOOLCHAIN=local

need_version() { # module dir: check that its go.mod requires this version
  grep -q "github.com/pulumi/pulumi/sdk/v3 v$version" "$1/go.mod" || {
    echo "scripts/pulumi-toolchain/$(basename "$1")/go.mod does not require sdk v$version (package-lock.json has it): update both" >&2
    exit 2
  }
}

build() { # name, module dir, package
  local name="$1" dir="$2" pkg="$3" start end
  if fresh "$name" "$dir"; then
    echo "$name: cached" >&2
    return
  fi
  need_version "$dir"
  start=$(date +%s)
  (cd "$dir" && go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version -X main.Version=$version" -o "$bin/$name" "$pkg")
  end=$(date +%s)
  echo "$name: built in $((end - start)) s, $(du -h "$bin/$name" | cut -f1)" | tee -a "$log" >&2
}

build pulumi "$here/pulumi-toolchain/cli" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
build pulumi-language-nodejs "$here/pulumi-toolchain/language-nodejs" .

sdk="$(cd "$here/pulumi-toolchain/language-nodejs" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
install -m 0755 "$sdk/nodejs/dist/pulumi-resource-pulumi-nodejs" "$bin/pulumi-resource-pulumi-nodejs"

echo "module cache: $(du -sh "$(go env GOMODCACHE)" | cut -f1), build cache: $(du -sh "$(go env GOCACHE)" | cut -f1)" >&2
echo "$bin"
