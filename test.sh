#!/usr/bin/env bash
# Runs Depot's whole test suite and ends with one line "N passed, N failed".
# Usage: ./test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Crash]
# Everything the tests need is installed here, never by hand.
set -uo pipefail
cd "$(dirname "$0")"

need() { command -v "$1" >/dev/null 2>&1; }
install_apt() {
  if [ "$(id -u)" = 0 ] && need apt-get; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 || echo "warning: apt-get install $* failed" >&2
  else
    echo "warning: missing $*; install it (root needed)" >&2
  fi
}
need curl || install_apt curl
need kill || install_apt procps
# The CLI's progress-bar tests run `depot` on a pseudo-terminal with util-linux `script`.
need script || install_apt bsdutils
# The tus tests drive the real tus-js-client from Node (test/js): they fail, never skip, when it is missing.
{ need node && need npm; } || install_apt nodejs npm
if need node && need npm; then
  (cd test/js && npm ci --no-audit --no-fund --loglevel=error) || echo "warning: npm ci in test/js failed; the tus-js-client tests will fail" >&2
fi
need dotnet || { echo "The .NET 10 SDK is required (https://dot.net)." >&2; exit 1; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
results=$(mktemp -d "${TMPDIR:-/tmp}/depot-test.XXXXXX")
trap 'rm -rf "$results"' EXIT

dotnet build Depot.slnx -c Release -nologo -v q || { echo "0 passed, 1 failed"; exit 1; }
# One formatter, checked: a formatting difference fails the run (fix with `dotnet format Depot.slnx`).
format_failed=0
if ! dotnet format Depot.slnx --verify-no-changes --no-restore -v q; then
  echo "formatting differs from .editorconfig: run 'dotnet format Depot.slnx'" >&2
  format_failed=1
fi

dotnet test Depot.slnx -c Release --no-build -nologo \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" "$@"
status=$?

# Count from the TRX files (one per test project), not from console text.
read -r passed failed < <(cat "$results"/*.trx 2>/dev/null | tr '>' '\n' | awk '
  /<Counters / {
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^passed=/) { gsub(/[^0-9]/, "", $i); p += $i }
      if ($i ~ /^failed=/) { gsub(/[^0-9]/, "", $i); f += $i }
      if ($i ~ /^error=/) { gsub(/[^0-9]/, "", $i); f += $i }
      if ($i ~ /^timeout=/) { gsub(/[^0-9]/, "", $i); f += $i }
      if ($i ~ /^aborted=/) { gsub(/[^0-9]/, "", $i); f += $i }
    }
  }
  END { print p + 0, f + 0 }')
# Name each failed test and the start of its message just above the count, where a short CI log keeps it.
cat "$results"/*.trx 2>/dev/null | awk '
  /<UnitTestResult / { failedTest = ($0 ~ /outcome="Failed"/); if (failedTest && match($0, /testName="[^"]*"/)) print "FAILED: " substr($0, RSTART + 10, RLENGTH - 11) }
  failedTest && /<Message>/ { inMessage = 1; lines = 0 }
  failedTest && inMessage { if (lines++ < 8) { sub(/^ */, "  "); print } }
  /<\/Message>/ { inMessage = 0 }
  /<\/UnitTestResult>/ { failedTest = 0 }'
failed=$((failed + format_failed))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the run failed without a counted test failure (a crash or no results): never report green
fi
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
