#!/usr/bin/env bash
# The test command (README's quick start, and what .ci/run runs): from a fresh clone to every suite, green or not.
#   bash scripts/test.sh [unit] [engine] [integration] [guests]      (all four when none is named)
# 1. prerequisites (ops/prerequisites.js): the Debian packages the suites need are installed when this runs as root;
#    otherwise it stops at once with the list and the command that installs them. Go builds the rest.
# 2. npm ci, when the lockfile changed since the last install here.
# 3. the Go-built tools (actionlint, Loki, the Pulumi toolchain, Ollama, Vault; cached under ~/.cache/ai-dualstack)
#    build one after another in the background, each suite waiting only for its own; the ones later suites need
#    run at a lower priority beside the checks and the earlier suites.
# 4. static checks: tsc, prettier --check, eslint --max-warnings=0 (shellcheck runs inside the unit suite, over the
#    scripts the program renders and scripts/).
# 5. unit: vitest, then plan + policy of every shipped stack (the acceptance smoke); engine: the real Pulumi engine
#    (test/engine/run.ts); integration: the real servers (vitest.integration.config.mts); guests: real VMs under
#    QEMU from the image scripts/guest-image.sh builds and caches (vitest.guests.config.mts).
# Prints each phase's time; exit 0 only when every phase passed, 2 when a prerequisite is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

suites=()
for a in "$@"; do
  case "$a" in
    unit | engine | integration | guests) suites+=("$a") ;;
    *) echo "scripts/test.sh: unknown suite \"$a\": expected unit, engine, integration or guests" >&2; exit 2 ;;
  esac
done
[ "${#suites[@]}" -gt 0 ] || suites=(unit engine integration guests)
want() { [[ " ${suites[*]} " == *" $1 "* ]]; }
list="$(IFS=,; echo "${suites[*]}")"

t0=$(date +%s)
phase_start=$t0
summary=()
phase() { # name: closes the phase that ran since the last call
  local now
  now=$(date +%s)
  summary+=("$(printf '%-22s %5d s' "$1" $((now - phase_start)))")
  echo "== $1: $((now - phase_start)) s"
  phase_start=$now
}
# shellcheck disable=SC2317 # run by the EXIT trap
finish() {
  echo
  printf '%s\n' "${summary[@]}"
  echo "total: $(($(date +%s) - t0)) s"
}
trap finish EXIT

# 1. Prerequisites.
command -v node >/dev/null || { echo "scripts/test.sh: Node.js ≥ 20.6 is needed (Debian: apt-get install nodejs npm)" >&2; exit 2; }
[ -d /usr/local/go/bin ] && export PATH="$PATH:/usr/local/go/bin"
packages="$(node ops/prerequisites.js --for "$list" --packages || true)"
if [ -n "$packages" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing: $packages"
    apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    apt-get install -y -qq --no-install-recommends $packages >/dev/null
  else
    node ops/prerequisites.js --for "$list" || true
    echo "scripts/test.sh: as root it installs these itself; or: sudo apt-get install -y $packages" >&2
    exit 2
  fi
fi
builds="$(node ops/prerequisites.js --for "$list" --builds || true)"
if [ -n "$builds" ] && ! command -v go >/dev/null; then
  node ops/prerequisites.js --for "$list" || true
  exit 2
fi
phase prerequisites

# 2. npm packages, when the lockfile is not the one last installed.
stamp=node_modules/.ai-dualstack-lock
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(sha256sum package-lock.json | cut -d' ' -f1)" ]; then
  echo "node $(node --version), npm $(npm --version)"
  npm ci --no-audit --no-fund
  sha256sum package-lock.json | cut -d' ' -f1 >"$stamp"
fi
phase "npm ci"

# 3. The Go builds, in the background: one at a time (each uses both cores), in the order the suites need them.
marks="$(mktemp -d)"
chain=""
if [ -n "$builds" ]; then
  # In a session of its own, so that a failed run can stop it (and the compilers under it) at once.
  setsid bash scripts/lib/build-chain.sh "$marks" <<<"$builds" &
  chain=$!
fi
# await_builds suite: waits for the builds the suite needs; fails naming the one that did not build.
await_builds() {
  local name script needed_by
  while read -r name script needed_by; do
    if [ -z "$name" ] || [[ ",$needed_by," != *",$1,"* ]]; then continue; fi
    while [ ! -f "$marks/$name" ]; do sleep 2; done
    read -r result seconds <"$marks/$name"
    echo "$name: built in $seconds s ($script)"
    if [ "$result" != ok ]; then
      tail -n 30 "$marks/$name.log" >&2
      echo "scripts/test.sh: $script failed" >&2
      return 1
    fi
  done <<<"$builds"
}

status=0
report="$(mktemp)"

# 4. Static checks.
npx tsc --noEmit -p .
npx prettier --check . >/dev/null || { npx prettier --list-different . >&2; echo "prettier: the files above are not formatted (npx prettier --write .)" >&2; exit 1; }
npx eslint --max-warnings=0 .
phase "static checks"

# 5. The suites.
if want unit; then
  await_builds unit
  phase "builds for unit"
  npx vitest run --reporter=default --reporter=json --outputFile="$report" || status=1
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
  ' "$report" || true
  phase "unit suite"
  if [ "$status" -eq 0 ]; then
    for stack in host private public; do
      npm run -s plan -- "$stack" >/dev/null
      if verdict="$(npm run -s dualstack -- policy "$stack")"; then
        echo "plan + policy $stack: $(tail -n 1 <<<"$verdict")"
      else
        echo "$verdict"
        echo "plan + policy $stack: FAILED"
        status=1
      fi
    done
    phase "plan + policy"
  fi
fi
if want engine && [ "$status" -eq 0 ]; then
  await_builds engine
  phase "builds for engine"
  npm run -s test:engine || status=1
  phase "engine test"
fi
if want integration && [ "$status" -eq 0 ]; then
  await_builds integration
  phase "builds for integration"
  npm run -s test:integration || status=1
  phase "integration suite"
fi
if want guests && [ "$status" -eq 0 ]; then
  await_builds guests
  npm run -s test:guests || status=1
  phase "guests suite"
fi
if [ -n "$chain" ]; then
  if [ "$status" -eq 0 ]; then wait "$chain"; else kill -- "-$chain" 2>/dev/null || true; fi
fi
rm -rf "$marks" "$report"
if [ "$status" -eq 0 ]; then echo "all suites passed: ${suites[*]}"; else echo "FAILED"; fi
exit "$status"
