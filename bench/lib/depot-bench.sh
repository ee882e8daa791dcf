# shellcheck shell=bash
# What bench/run-depot.sh and bench/run-kv.sh share: scratch directory, console log, clean-up, report notes.
# Needs the kit's lib/common.sh (bench_init, stop_bg, log) and $KIT. Sets BENCH_WORK, CONSOLE, DEPOT_RUNNING.

# depot_bench_scratch PREFIX: a fresh scratch dir; on exit, stop Depot (if DEPOT_RUNNING names it) and the kit's
# peers, then remove the dir unless KEEP_WORK is set.
depot_bench_scratch() {
  BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  export BENCH_WORK
  bench_init
  : >"$RESULTS"
  CONSOLE=$BENCH_WORK/logs/console.log
  DEPOT_RUNNING=""
  trap depot_bench_cleanup EXIT
  trap 'exit 130' INT TERM
  # everything the kit logs (RESULT, WARNING, FAIL lines) also goes to logs/console.log
  exec 2> >(tee -a "$CONSOLE" >&2)
}

depot_bench_cleanup() {
  local rc=$?
  [ -n "$DEPOT_RUNNING" ] && stop_bg "$DEPOT_RUNNING"
  "$KIT/setup-peers.sh" stop || true
  if [ -z "${KEEP_WORK:-}" ]; then rm -rf "$BENCH_WORK"; else log "kept $BENCH_WORK"; fi
  exit $rc
}

# depot_bench_run_notes: the report's notes on the run itself: rows measured while the machine was still busy, and
# the kit's warnings (keys masked).
depot_bench_run_notes() {
  busy=$(grep -c 'still busy' "$CONSOLE" || true)
  if [ "$busy" -gt 0 ]; then
    echo
    echo "$busy times the machine was still busy after QUIET_MAX_S=${QUIET_MAX_S:-20} s of waiting (see \"others CPU\")."
  fi
  if grep -qE 'WARNING|FAIL|ERROR' "$CONSOLE"; then
    echo
    echo "## Warnings during the run"
    echo
    echo '```'
    grep -E 'WARNING|FAIL|ERROR' "$CONSOLE" | sed 's/Bearer [^ ]*/Bearer ***/' | head -n 40
    echo '```'
  fi
}
