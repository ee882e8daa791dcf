#!/usr/bin/env bash
# run-kv.sh - small-value key-value throughput: Depot against Redis, same machine, one run.
#   Redis: redis-benchmark SET and GET, VALUE bytes, CONNS clients, pipeline 1 (as the kit's run-redis.sh)
#   Depot: wrk over HTTP/1.1 keep-alive, CONNS connections, random keys out of KEYS pre-loaded ones
#          GET  /v1/default/kv-NNNNN                         (bench/kv/get.lua)
#          PUT  /v1/default/kv-NNNNN with a VALUE-byte body  (bench/kv/put.lua; every PUT replaces a value)
# Prints a markdown table (req/s, p50/p99, Depot/Redis for GET and for SET/PUT), then the kit's table.
#
# Usage: bench/run-kv.sh [--out FILE.md] [--no-install] [--bin DIR] [--port 18091]
#          [--conns 50] [--threads 2] [--duration 10s] [--keys 10000] [--value-size 1024] [--log-off-row]
#   --bin DIR      use an already published Depot (folder with depot.dll) instead of building
#   --log-off-row  one more row: Depot GET with the request log off (Logging__LogLevel__Default=Warning)
#   --out FILE.md  also write the report to FILE.md and the raw rows to FILE.tsv
#   --no-install   never call the kit's `setup-peers.sh install` (it is called only when wrk/redis are missing)
# Env: RUNS (3; median reported), REDIS_N (200000 requests per redis-benchmark run), RUN_TIMEOUT (120 s per run),
#      DEPOT_PORT (18091), REDIS_PORT (16379), SHARED_BENCH ($REPO/../shared/bench), KEEP_WORK=1,
#      BUILD_TRIES (3) / BUILD_RETRY_S (60): the build is retried while the tree does not compile,
#      DEPOT_SERVER_ENV ("NAME=VALUE ..." added to the server's environment for every row),
#      WARM_UP (10s: untimed wrk GETs before the Depot rows, so tiered JIT has settled),
#      and the kit's QUIET_PCT / QUIET_MAX_S.
# Quick check: RUNS=1 bench/run-kv.sh --duration 5s
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
HERE=$REPO/bench
KIT=${SHARED_BENCH:-$REPO/../shared/bench}
[ -f "$KIT/lib/common.sh" ] || { echo "shared bench kit not found at $KIT (set SHARED_BENCH)" >&2; exit 1; }
KIT=$(cd "$KIT" && pwd)

OUT="" INSTALL=1 PREBUILT="" CONNS=50 THREADS=2 DURATION=10s KEYS=10000 VALUE=1024 LOG_OFF_ROW=0
DEPOT_PORT=${DEPOT_PORT:-18091}
usage() { sed -n '2,21p' "$0"; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --bin) PREBUILT=$2; shift 2 ;;
    --port) DEPOT_PORT=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --value-size) VALUE=$2; shift 2 ;;
    --log-off-row) LOG_OFF_ROW=1; shift ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
[[ $KEYS =~ ^[0-9]+$ ]] && [ "$KEYS" -ge 1 ] && [ "$KEYS" -le 100000 ] || { echo "--keys must be 1..100000" >&2; exit 2; }
[[ $CONNS =~ ^[0-9]+$ && $THREADS =~ ^[0-9]+$ && $VALUE =~ ^[0-9]+$ ]] || { echo "--conns/--threads/--value-size take numbers" >&2; exit 2; }
[ "$THREADS" -le "$CONNS" ] || THREADS=$CONNS
if [ -n "$OUT" ]; then
  case "$OUT" in *.md) ;; *) echo "--out must end in .md (the rows go to the same name with .tsv)" >&2; exit 2 ;; esac
  mkdir -p "$(dirname "$OUT")"
  OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
fi
: "${WARM_UP:=10s}" "${RUN_TIMEOUT:=120}" "${REDIS_N:=200000}" "${REDIS_PORT:=16379}" "${BUILD_TRIES:=3}" "${BUILD_RETRY_S:=60}"
export RUN_TIMEOUT REDIS_PORT

# The kit's helpers: log, die, bench_init, bench_value, record_lines, start_bg/stop_bg, wait_port ...
# shellcheck source=/dev/null
. "$KIT/lib/common.sh"
# shellcheck source=lib/depot-bench.sh
. "$(dirname "$0")/lib/depot-bench.sh"

if [ "$INSTALL" = 1 ]; then
  for tool in wrk redis-server redis-benchmark curl; do
    command -v "$tool" >/dev/null || { "$KIT/setup-peers.sh" install; break; }
  done
fi
for tool in wrk redis-server redis-benchmark curl dotnet; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
port_busy "$DEPOT_PORT" && die "port $DEPOT_PORT is already in use (use --port)"
port_busy "$REDIS_PORT" && die "port $REDIS_PORT (redis) is already in use (set REDIS_PORT)"

# --- scratch dir, traps -------------------------------------------------------------
depot_bench_scratch depot-kv

# --- 1. build (into the scratch dir: nothing is written under src/) ------------------
depot_bench_build 600
export BENCH_AUTH="Authorization: Bearer $DEPOT_KEY"   # read by bench/kv/wrk-kv.sh
DEPOT_URL=http://127.0.0.1:$DEPOT_PORT
BASE=$DEPOT_URL/v1/default
DATA_DIR=$BENCH_WORK/depot-data

WRK="$HERE/kv/wrk-kv.sh $THREADS $CONNS $DURATION"
# untimed: JIT, record cache, page cache
warm_depot() {
  log "depot warm-up: wrk GET $WARM_UP"
  timeout -k 5 120 "$HERE/kv/wrk-kv.sh" "$THREADS" "$CONNS" "$WARM_UP" "$HERE/kv/get.lua" "$BASE" "$KEYS" kv- >>"$LOG" 2>&1 ||
    log "WARNING: depot GET warm-up failed (see logs/bench.log with KEEP_WORK=1)"
}

# --- 2. Redis ---------------------------------------------------------------------------
"$KIT/setup-peers.sh" start redis >/dev/null
bench_init   # re-read peers.env
read -r REDIS_PID _ <"$BENCH_WORK/pids/redis.pid"
RB="KV_SERVER_PID=$REDIS_PID $HERE/kv/redis-kv.sh"
RARGS="-h 127.0.0.1 -p $REDIS_PORT -n $REDIS_N -c $CONNS -d $VALUE -r $KEYS -P 1"
T_SET="SET $VALUE B values, $CONNS clients, pipeline 1"
T_GET="GET $VALUE B values, $CONNS clients, pipeline 1"
bench_value kv:redis "$T_SET" req/s "$RB set $RARGS" "redis-benchmark, $REDIS_N requests, $KEYS keys, no persistence"
bench_value kv:redis "$T_GET" req/s "$RB get $RARGS" "redis-benchmark, $REDIS_N requests, $KEYS keys"
"$KIT/setup-peers.sh" stop >/dev/null

# --- 3. Depot -----------------------------------------------------------------------------
start_depot depot
head -c "$VALUE" /dev/urandom >"$BENCH_WORK/value.bin"
log "pre-loading $KEYS keys of $VALUE bytes (curl --parallel 16)"
awk -v n="$KEYS" -v base="$BASE" -v f="$BENCH_WORK/value.bin" 'BEGIN {
  for (i = 0; i < n; i++) printf "upload-file = \"%s\"\nurl = \"%s/kv-%05d\"\noutput = \"/dev/null\"\n", f, base, i }' >"$BENCH_WORK/preload.cfg"
timeout -k 5 "$RUN_TIMEOUT" curl -sS -f --parallel --parallel-max 16 -H Expect: -H "$BENCH_AUTH" \
  -K "$BENCH_WORK/preload.cfg" >>"$LOG" 2>&1 || die "pre-loading the keys failed (see logs/bench.log with KEEP_WORK=1)"
curl -sS -f -H "$BENCH_AUTH" -o "$BENCH_WORK/check.bin" "$BASE/kv-$(printf %05d $((KEYS - 1)))" &&
  cmp -s "$BENCH_WORK/value.bin" "$BENCH_WORK/check.bin" || die "GET of a pre-loaded key did not return its value"
warm_depot

T_DGET="GET $VALUE B values, $CONNS connections (wrk -t$THREADS -d$DURATION)"
T_DPUT="PUT (update) $VALUE B values, $CONNS connections (wrk -t$THREADS -d$DURATION)"
T_DGETQ="GET $VALUE B values, $CONNS connections, request log off (wrk -t$THREADS -d$DURATION)"
bench_value kv:depot "$T_DGET" req/s "KV_SERVER_PID=$DEPOT_PID $WRK $HERE/kv/get.lua $BASE $KEYS kv-" "HTTP/1.1 keep-alive, random of $KEYS keys, request log on (default)"
bench_value kv:depot "$T_DPUT" req/s "KV_SERVER_PID=$DEPOT_PID $WRK $HERE/kv/put.lua $BASE $KEYS kv- $VALUE" "HTTP/1.1 keep-alive, random of $KEYS existing keys; each PUT is hashed, fsync'd, renamed, recorded"
is_alive "$DEPOT_PID" "$DEPOT_COMM" || log "WARNING: depot died during the run"
SERVER_LOGS=("$BENCH_WORK/logs/depot.log")
stop_depot

if [ "$LOG_OFF_ROW" = 1 ]; then
  start_depot depot-quiet Logging__LogLevel__Default=Warning
  warm_depot
  bench_value kv:depot "$T_DGETQ" req/s "KV_SERVER_PID=$DEPOT_PID $WRK $HERE/kv/get.lua $BASE $KEYS kv-" "Logging__LogLevel__Default=Warning (no request lines)"
  SERVER_LOGS+=("$BENCH_WORK/logs/depot-quiet.log")
  stop_depot
fi

# --- 4. report ---------------------------------------------------------------------------
kv_table() {
  awk -F'\t' -v tset="$T_SET" -v tget="$T_GET" -v dget="$T_DGET" -v dput="$T_DPUT" -v dgetq="$T_DGETQ" -v conns="$CONNS" -v value="$VALUE" '
    function num(x) { return x ~ /^[0-9.eE+-]+$/ }
    function f(x,   s, i) { if (!num(x)) return x; s = sprintf("%.0f", x); i = length(s) - 3
      while (i > 0) { s = substr(s, 1, i) "," substr(s, i + 1); i -= 3 }; return s }
    function lat(n,   a, b) { a = b = "-"
      if (match(n, /p50 [0-9.]+[a-z]*/)) a = substr(n, RSTART + 4, RLENGTH - 4)
      if (match(n, /p99 [0-9.]+[a-z]*/)) b = substr(n, RSTART + 4, RLENGTH - 4)
      return a " / " b }
    function cpu(n) { return match(n, /server-cpu [0-9.]+/) ? substr(n, RSTART + 11, RLENGTH - 11) : "-" }
    function row(what, r, d, target,   ratio, verdict, cr) {
      ratio = (num(v[r]) && num(v[d]) && v[r] > 0) ? v[d] / v[r] : ""
      verdict = "-"
      if (target != "" && ratio != "") verdict = (ratio >= target ? "≥ " target "× — met" : "≥ " target "× — not met")
      cr = (cpu(nt[r]) != "-" && cpu(nt[d]) != "-" && cpu(nt[d]) > 0) ? sprintf("%.2f×", cpu(nt[r]) / cpu(nt[d])) : "-"
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", what, f(v[r]), lat(nt[r]), cpu(nt[r]), f(v[d]), lat(nt[d]), cpu(nt[d]),
        ratio == "" ? "-" : sprintf("**%.2f×**", ratio), cr, verdict
    }
    { v[$1 "|" $2] = $3; nt[$1 "|" $2] = $8 }
    END {
      print "| " value " B values, " conns " connections | Redis req/s | Redis p50 / p99 | Redis CPU µs/req | Depot req/s | Depot p50 / p99 | Depot CPU µs/req | Depot / Redis | Redis CPU / Depot CPU | target |"
      print "| --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | --- |"
      row("GET (Redis GET / Depot HTTP GET)", "kv:redis|" tget, "kv:depot|" dget, "0.3")
      if (("kv:depot|" dgetq) in v) row("GET, Depot request log off", "kv:redis|" tget, "kv:depot|" dgetq, "0.3")
      row("write (Redis SET / Depot HTTP PUT update)", "kv:redis|" tset, "kv:depot|" dput, "")
    }' "$RESULTS"
}

report=$BENCH_WORK/report.md
{
  echo "# Depot key-value benchmark against Redis ($(date -u +%F))"
  echo
  echo "Generated by bench/run-kv.sh (RUNS=$RUNS, $KEYS keys of $VALUE bytes, $CONNS connections/clients, wrk -t$THREADS -d$DURATION)."
  echo "Depot: $BUILT_FROM at git $DEPOT_REV ($DEPOT_DIRTY uncommitted paths), .NET SDK $(cd "$REPO" && dotnet --version 2>/dev/null || echo '?');"
  echo "\`depot serve DIR --listen 127.0.0.1:$DEPOT_PORT\`, default settings, admin key as Bearer token, request log on unless the row says otherwise."
  echo "Redis $(redis-server --version | awk '{print $3}' | sed 's/v=//'): the kit's peer (no persistence), \`redis-benchmark -c $CONNS -P 1 -d $VALUE -r $KEYS -n $REDIS_N\`."
  echo "Depot's keys were pre-loaded untimed (curl --parallel) and warmed with $WARM_UP of GETs; wrk picks a random key per request (bench/kv/*.lua)."
  echo "Depot PUTs are durable (hash, fsync, rename, SQLite record); Redis SETs are in memory only."
  echo
  echo "## Depot / Redis"
  echo
  echo "Medians of $RUNS runs; p50 / p99 and the server's CPU time (user + system, /proc) per request of the median run."
  echo "CPU per request is less disturbed by other load than req/s: with client and server on the same 2 cores,"
  echo "req/s is bounded by 2 cores / (server + client CPU per request). Redis and redis-benchmark are single-threaded,"
  echo "so other load on the machine slows them more than Depot and wrk (2 threads each): with a high \"others CPU\""
  echo "the req/s ratio flatters Depot; the CPU ratio (Redis CPU / Depot CPU per request) does not."
  echo
  kv_table
  echo
  "$KIT/lib/report.sh" "$RESULTS"
  depot_bench_run_notes
  nerr=$(cat "${SERVER_LOGS[@]}" | grep -ciE 'fail|error|exception|warn' || true)
  echo
  echo "Depot server log: $(cat "${SERVER_LOGS[@]}" | wc -l) lines; $nerr mention fail/error/exception/warn."
  if [ "$nerr" -gt 0 ]; then
    echo
    echo '```'
    cat "${SERVER_LOGS[@]}" | grep -iE 'fail|error|exception|warn' | cut -c14- | sort | uniq -c | sort -rn | head -n 15
    echo '```'
  fi
} >"$report"
depot_bench_publish_report "$report"
