#!/usr/bin/env bash
# redis-kv.sh TEST REDIS-BENCHMARK-ARGS...
# Runs `redis-benchmark ARGS -t TEST --csv` and prints one line
# "REQ_PER_SEC p50 Xms p99 Yms [server-cpu Z us/req]"; KV_SERVER_PID=PID (redis-server) adds its
# CPU time per request (the -n count).
set -euo pipefail
test=$1
shift
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo ""; }
n=$(printf '%s\n' "$@" | awk 'p { print; exit } $0 == "-n" { p = 1 }')
c0=""; [ -n "${KV_SERVER_PID:-}" ] && c0=$(cpu_ticks "$KV_SERVER_PID")
out=$(redis-benchmark "$@" -t "$test" --csv)
c1=""; [ -n "$c0" ] && c1=$(cpu_ticks "$KV_SERVER_PID")
printf '%s\n' "$out" >&2
# --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
printf '%s\n' "$out" | awk -F, -v c0="$c0" -v c1="$c1" -v n="${n:-0}" -v hz="$(getconf CLK_TCK)" '
  NR > 1 { gsub(/"/, ""); r = $2; p50 = $5; p99 = $7 }
  END {
    if (r == "" || r == 0) { print "redis-benchmark: no result"; exit 1 }
    cpu = (c0 != "" && c1 != "" && n > 0) ? sprintf(" server-cpu %.1f us/req", (c1 - c0) / hz / n * 1e6) : ""
    print r, "p50 " p50 "ms p99 " p99 "ms" cpu
  }'
