#!/usr/bin/env bash
# wrk-kv.sh THREADS CONNS DURATION SCRIPT URL [SCRIPT ARGS...]
# Runs wrk with a Lua script (bounded by DURATION) and prints one line
# "REQ_PER_SEC p50 X p99 Y [server-cpu Z us/req]" (the shape of the shared kit's lib/wrk.sh).
# BENCH_AUTH="Name: value" adds that header. KV_SERVER_PID=PID adds the server's CPU time
# (user+system, from /proc) per completed request. Fails if any response was not 2xx/3xx,
# on socket errors other than timeouts, or when no request completed.
set -euo pipefail
t=$1 c=$2 d=$3 script=$4 url=$5
shift 5
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo ""; }
c0=""; [ -n "${KV_SERVER_PID:-}" ] && c0=$(cpu_ticks "$KV_SERVER_PID")
out=$(wrk -t"$t" -c"$c" -d"$d" --timeout 5s --latency ${BENCH_AUTH:+-H "$BENCH_AUTH"} -s "$script" "$url" -- "$@")
c1=""; [ -n "$c0" ] && c1=$(cpu_ticks "$KV_SERVER_PID")
printf '%s\n' "$out" >&2
printf '%s\n' "$out" | awk -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" '
  /Requests\/sec/  { r = $2 }
  / requests in /  { n = $1 }
  /^ +50%/         { p50 = $2 }
  /^ +99%/         { p99 = $2 }
  /Non-2xx/        { bad = $NF }
  /Socket errors/  { if ($0 ~ /(connect|read|write) [1-9]/) err = $0 }
  END {
    if (bad || err) { print "wrk: non-2xx=" bad " " err; exit 1 }
    if (r == "" || r == 0) { print "wrk: no requests completed"; exit 1 }
    cpu = (c0 != "" && c1 != "" && n > 0) ? sprintf(" server-cpu %.1f us/req", (c1 - c0) / hz / n * 1e6) : ""
    print r, "p50 " p50 " p99 " p99 cpu
  }'
