#!/usr/bin/env bash
# Runs the build scripts scripts/test.sh gives on stdin ("name script suites" lines, from ops/prerequisites.js
# --builds) one after another, each into DIR/<name>.log, then writes DIR/<name> = "ok|failed <seconds>".
#   bash scripts/lib/build-chain.sh DIR < builds
# The first build and any the unit suite needs run at normal priority; the later suites' give way to the checks and
# the tests running beside them.
set -uo pipefail
marks="$1"
first=true
while read -r name script needed_by; do
  niceness=10
  if $first || [[ "$needed_by" == *unit* ]]; then niceness=0; fi
  first=false
  start=$(date +%s)
  if nice -n "$niceness" bash "$script" >"$marks/$name.log" 2>&1; then result=ok; else result=failed; fi
  echo "$result $(($(date +%s) - start))" >"$marks/$name"
done
