#!/usr/bin/env bash
# Builds pulumi-resource-proxmoxve, the real provider logic the engine test runs (scripts/proxmoxve-plugin: Pulumi's
# Terraform bridge over bpg's Terraform provider, from the Go module proxy), into
# ~/.cache/ai-dualstack/pulumi-resource-proxmoxve-<version>-<sources>/bin (idempotent), keyed by the plugin version the
# npm SDK asks for (package-lock.json) and a hash of the module's sources, so that a changed mapping rebuilds.
# Prints the directory to put on PATH (with --check, only that, exit 1 when it is not built).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
module="$here/proxmoxve-plugin"
version="$(node -p 'require(process.argv[1]).packages["node_modules/@muhlba91/pulumi-proxmoxve"].version' "$root/package-lock.json")"
sources="$(cd "$module" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
# shellcheck source=lib/cache.sh
. "$here/lib/cache.sh"
cache_init pulumi-resource-proxmoxve "$version-$sources" "$@"
# pkg/v3's go.mod is not in the checksum database (as for the toolchain); the committed go.sum pins every module.
export GONOSUMDB="github.com/pulumi/pulumi/pkg"
bpg="$(cd "$module" && go list -m -f '{{.Version}}' github.com/bpg/terraform-provider-proxmox)"
start=$(date +%s)
(cd "$module" && go build -trimpath -ldflags "-s -w -X main.version=$version -X main.bpgVersion=${bpg#v}" -o "$bin/pulumi-resource-proxmoxve.part" .)
mv "$bin/pulumi-resource-proxmoxve.part" "$bin/pulumi-resource-proxmoxve"
built pulumi-resource-proxmoxve "$version-$sources" "$start"
