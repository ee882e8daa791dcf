#!/usr/bin/env bash
# run-upload.sh - resumable uploads: Depot's native session API, a plain streamed PUT, Depot's tus endpoint and the
# Node tus server (@tus/server, the kit's peer), and resuming after an interruption; one markdown report.
#   native   1 GiB through POST /v1/_uploads + PUT .../chunks/{i} + POST .../complete, 8 MiB chunks, 1 and 4
#            connections (bench/uploads/upload.mjs), against one plain PUT /v1/default/{key} of the same file, from
#            the same Node driver and from curl -T (the kit's run-http.sh shape)
#   tus      the kit's run-tus.sh (tus-js-client): 1 GiB chunked (8 MiB) and unchunked, 500 x 4 KiB sequential /
#            parallel / data in POST; against the Node tus peer and against Depot's /tus/
#   resume   upload, cut every connection when 90% of the bytes went out (mid-chunk), then resume like a new
#            client: native (GET /v1/_uploads/{id} -> send only the chunks not in receivedChunks; 1 and 4
#            connections) and tus (HEAD -> Upload-Offset -> PATCH the rest; PATCHes of 8 MiB and one PATCH),
#            Depot and the Node tus peer; the row is the bytes sent after the interruption, % of the file
#
# Usage: bench/run-upload.sh [--out FILE.md] [--sections "native tus resume"] [--no-install] [--bin DIR]
#          [--port 18092] [--chunk-mb 8] [--parallel "1 4"] [--small 500] [--tus-parallel 8] [--at 0.9]
#   --bin DIR      use an already built Depot (folder with depot.dll) instead of publishing the work tree
#   --out FILE.md  also write the report to FILE.md and the raw rows to FILE.tsv
#   --no-install   never call the kit's `setup-peers.sh install` (apt packages, npm ci in the kit's tus/)
# Env: RUNS (3; median reported), BIG_MB (1024), RUN_TIMEOUT (300 s per run), DEPOT_PORT (18092), TUS_PORT (18081),
#      SHARED_BENCH ($REPO/../shared/bench), KEEP_WORK=1, BUILD_TRIES (3) / BUILD_RETRY_S (60): the publish is retried
#      while the tree does not compile, PAUSE_MS (500: between the interruption and the resume), and the kit's
#      QUIET_PCT / QUIET_MAX_S.
# Quick check: RUNS=1 BIG_MB=256 bench/run-upload.sh --small 100
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
HERE=$REPO/bench
KIT=${SHARED_BENCH:-$REPO/../shared/bench}
[ -f "$KIT/lib/common.sh" ] || { echo "shared bench kit not found at $KIT (set SHARED_BENCH)" >&2; exit 1; }
KIT=$(cd "$KIT" && pwd)

OUT="" SECTIONS="native tus resume" INSTALL=1 PREBUILT="" CHUNK_MB=8 PARS="1 4" SMALL=500 TUS_PAR=8 AT=0.9
DEPOT_PORT=${DEPOT_PORT:-18092}
usage() { sed -n '2,25p' "$0"; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --sections) SECTIONS=$2; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --bin) PREBUILT=$2; shift 2 ;;
    --port) DEPOT_PORT=$2; shift 2 ;;
    --chunk-mb) CHUNK_MB=$2; shift 2 ;;
    --parallel) PARS=$2; shift 2 ;;
    --small) SMALL=$2; shift 2 ;;
    --tus-parallel) TUS_PAR=$2; shift 2 ;;
    --at) AT=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
for s in $SECTIONS; do
  case "$s" in native | tus | resume) ;; *) echo "unknown section '$s'" >&2; usage ;; esac
done
has() { case " $SECTIONS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
[[ $CHUNK_MB =~ ^[0-9]+$ && $CHUNK_MB -ge 1 && $SMALL =~ ^[0-9]+$ && $TUS_PAR =~ ^[0-9]+$ ]] ||
  { echo "--chunk-mb / --small / --tus-parallel take positive numbers" >&2; exit 2; }
for p in $PARS; do [[ $p =~ ^[0-9]+$ && $p -ge 1 ]] || { echo "--parallel takes numbers >= 1" >&2; exit 2; }; done
awk -v a="$AT" 'BEGIN{exit !(a > 0 && a < 1)}' || { echo "--at must lie between 0 and 1" >&2; exit 2; }
if [ -n "$OUT" ]; then
  case "$OUT" in *.md) ;; *) echo "--out must end in .md (the rows go to the same name with .tsv)" >&2; exit 2 ;; esac
  mkdir -p "$(dirname "$OUT")"
  OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
fi
: "${BUILD_TRIES:=3}" "${BUILD_RETRY_S:=60}" "${PAUSE_MS:=500}"
CHUNK=$((CHUNK_MB * 1048576))
PCT=$(awk -v a="$AT" 'BEGIN{printf "%.0f", a * 100}')

# The kit's helpers: log, die, bench_init, bench_value, bench_rate, record_lines, start_bg/stop_bg, wait_port ...
# shellcheck source=/dev/null
. "$KIT/lib/common.sh"
# shellcheck source=lib/depot-bench.sh
. "$(dirname "$0")/lib/depot-bench.sh"

for tool in node curl dotnet openssl; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
if [ "$INSTALL" = 1 ]; then "$KIT/setup-peers.sh" install; fi
[ -d "$KIT/tus/node_modules/tus-js-client" ] || ! has tus || die "tus-js-client is missing in $KIT/tus (run without --no-install)"
port_busy "$DEPOT_PORT" && die "port $DEPOT_PORT is already in use (use --port)"
port_busy "${TUS_PORT:-18081}" && die "port ${TUS_PORT:-18081} (tus peer) is already in use (set TUS_PORT)"

# --- scratch dir, traps -------------------------------------------------------------
depot_bench_scratch depot-upload

# --- 1. build (into the scratch dir: nothing is written under src/) ------------------
depot_bench_build 900
DEPOT_AUTH="Authorization: Bearer $DEPOT_KEY"
DEPOT_URL=http://127.0.0.1:$DEPOT_PORT
DATA_DIR=$BENCH_WORK/depot-data

# delete_assigned: remove what tus published at server-assigned ids (M00/..., docs/http-api.md §3.16)
delete_assigned() {
  local code
  code=$(curl -sS -o "$BENCH_WORK/logs/delete-m00.txt" -w '%{http_code}' -H "$DEPOT_AUTH" -X DELETE \
    "$DEPOT_URL/v1/default/M00/?recursive" 2>>"$LOG") || code=curl-error
  case "$code" in 2* | 404) ;; *) log "WARNING: DELETE /v1/default/M00/?recursive -> $code $(head -c 300 "$BENCH_WORK/logs/delete-m00.txt")" ;; esac
}

ensure_data_files
log "sha256 of the ${BIG_MB} MiB file (untimed; every upload's published SHA-256 is checked against it)"
BIG_SHA=$(openssl dgst -sha256 -r "$DATA/big.bin" | awk '{print $1}')
DRV="node $HERE/uploads/upload.mjs --file $DATA/big.bin --chunk-size $CHUNK --target-chunk $CHUNK --sha256 $BIG_SHA --pause-ms $PAUSE_MS"

T_CURL="plain PUT ${BIG_MB} MiB, curl -T (one request)"
T_NPUT="plain PUT ${BIG_MB} MiB, Node driver (one request)"
t_sess() { echo "session upload ${BIG_MB} MiB, ${CHUNK_MB} MiB chunks, $1 connection(s)"; }
t_res() { echo "resume at ${PCT}%: native chunks, $1 connection(s)"; }
T_TUS_RES_CH="resume at ${PCT}%: tus, PATCHes of ${CHUNK_MB} MiB"
T_TUS_RES_ONE="resume at ${PCT}%: tus, one PATCH"
RES_NOTE="bytes sent after the interruption, % of the file"

# tus_resume_rows SECTION ENDPOINT [extra driver args]: the two tus resume rows
tus_resume_rows() {
  local s=$1 ep=$2
  shift 2
  bench_value "$s" "$T_TUS_RES_CH" "% resent" "$DRV --mode tus-resume --endpoint $ep --chunk-size $CHUNK --at $AT $*" "$RES_NOTE"
  bench_value "$s" "$T_TUS_RES_ONE" "% resent" "$DRV --mode tus-resume --endpoint $ep --chunk-size 0 --at $AT $*" "$RES_NOTE"
}

t0=$(date +%s)
# --- 2. the Node tus peer (alone on the machine) -----------------------------------------
if has tus || has resume; then
  "$KIT/setup-peers.sh" start tus >/dev/null
  bench_init   # re-read peers.env (TUS_URL)
  if has tus; then
    "$KIT/run-tus.sh" --chunk-mb "$CHUNK_MB" --small "$SMALL" --parallel "$TUS_PAR" ||
      log "WARNING: run-tus.sh against the Node tus peer exited with $?"
  fi
  if has resume; then tus_resume_rows tus:tus-node "$TUS_URL"; fi
  "$KIT/setup-peers.sh" stop >/dev/null
fi

# --- 3. Depot ------------------------------------------------------------------------------
start_depot depot
export BENCH_OWN_PIDS="${BENCH_OWN_PIDS:-} $DEPOT_PID"   # the server's CPU is part of every Depot row
log "depot warm-up (untimed): plain PUTs, a session, tus uploads"
{
  head -c $((4 * CHUNK)) /dev/urandom >"$BENCH_WORK/warm.bin"
  W="node $HERE/uploads/upload.mjs --base $DEPOT_URL --file $BENCH_WORK/warm.bin --chunk-size $CHUNK"
  for i in 1 2 3; do
    curl -sS -f -o /dev/null -H Expect: -H "$DEPOT_AUTH" -T "$BENCH_WORK/warm.bin" "$DEPOT_URL/v1/default/bench-warm.bin"
    BENCH_AUTH=$DEPOT_AUTH $W --mode put --key bench-warm.bin
    BENCH_AUTH=$DEPOT_AUTH $W --mode chunks --parallel 2 --key bench-warm.bin
  done
  curl -sS -f -o /dev/null -H "$DEPOT_AUTH" -X DELETE "$DEPOT_URL/v1/default/bench-warm.bin" || true
  if [ -d "$KIT/tus/node_modules/tus-js-client" ]; then
    BENCH_AUTH=$DEPOT_AUTH node "$KIT/tus/client.mjs" --endpoint "$DEPOT_URL/tus/" --mode big --file "$BENCH_WORK/warm.bin" --chunk-size "$CHUNK"
    BENCH_AUTH=$DEPOT_AUTH node "$KIT/tus/client.mjs" --endpoint "$DEPOT_URL/tus/" --mode small --file "$DATA/small-4k.bin" --count 50 --parallel 4
  fi
  rm -f "$BENCH_WORK/warm.bin"
  delete_assigned
} >>"$LOG" 2>&1 || log "WARNING: depot warm-up failed (see logs/bench.log with KEEP_WORK=1)"

if has native; then
  PREPARE=sync CLEANUP="curl -sS -o /dev/null -H '$DEPOT_AUTH' -X DELETE $DEPOT_URL/v1/default/bench-put-\$RUN.bin" \
    bench_rate depot "$T_CURL" MB/s "$BIG_MBYTES" \
    "curl -sS -f -o /dev/null -H Expect: -H '$DEPOT_AUTH' -T $DATA/big.bin $DEPOT_URL/v1/default/bench-put-\$RUN.bin" \
    "curl -T, Content-Length set, durable when answered; deleted after the run"
  PREPARE=sync bench_value depot "$T_NPUT" MB/s \
    "BENCH_AUTH='$DEPOT_AUTH' $DRV --mode put --base $DEPOT_URL --key bench-nput-\$RUN.bin" \
    "node:http, body streamed from the file in 1 MiB writes; SHA-256 checked, deleted after the run"
  for p in $PARS; do
    PREPARE=sync bench_value depot "$(t_sess "$p")" MB/s \
      "BENCH_AUTH='$DEPOT_AUTH' $DRV --mode chunks --parallel $p --base $DEPOT_URL --key bench-sess-$p-\$RUN.bin" \
      "create + $(((BIG_MB * 1048576 + CHUNK - 1) / CHUNK)) chunk PUTs + complete, keep-alive; SHA-256 checked, deleted after the run"
  done
fi

if has tus; then
  BENCH_AUTH=$DEPOT_AUTH "$KIT/run-tus.sh" --name depot --endpoint "$DEPOT_URL/tus/" --server-pid "$DEPOT_PID" \
    --chunk-mb "$CHUNK_MB" --small "$SMALL" --parallel "$TUS_PAR" || log "WARNING: run-tus.sh against depot exited with $?"
  # tus keeps the objects it published (DELETE /tus/{id} ends the session only), at server-assigned ids under M00/
  delete_assigned
fi

if has resume; then
  for p in $PARS; do
    PREPARE=sync bench_value depot "$(t_res "$p")" "% resent" \
      "BENCH_AUTH='$DEPOT_AUTH' $DRV --mode resume --parallel $p --at $AT --base $DEPOT_URL --key bench-res-$p-\$RUN.bin" "$RES_NOTE"
  done
  export BENCH_AUTH=$DEPOT_AUTH
  tus_resume_rows tus:depot "$DEPOT_URL/tus/" --base "$DEPOT_URL" --tus-key "bench-tusres-\$RUN.bin"
  unset BENCH_AUTH
fi
is_alive "$DEPOT_PID" "$DEPOT_COMM" || log "WARNING: depot died during the run"
stop_depot
log "all sections done in $(($(date +%s) - t0)) s"

# --- 4. report ---------------------------------------------------------------------------
summary() {
  awk -F'\t' -v curl="$T_CURL" -v nput="$T_NPUT" -v pars="$PARS" -v chunk="$CHUNK_MB" -v big="$BIG_MB" \
    -v tsess="$(t_sess X)" -v tres="$(t_res X)" -v ttch="$T_TUS_RES_CH" -v tt1="$T_TUS_RES_ONE" '
    function num(x) { return x ~ /^[0-9.eE+-]+$/ }
    function f(x,   s, i) { if (!num(x)) return (x == "" ? "-" : x)
      if (x >= 100) { s = sprintf("%.0f", x); i = length(s) - 3
        while (i > 0) { s = substr(s, 1, i) "," substr(s, i + 1); i -= 3 }; return s }
      return x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x) }
    function verdict(r, t, hi) { if (r == "") return "-"; return (hi ? r >= t : r <= t) ? "met" : "**not met**" }
    function ratio(what, vs, d, o, u, t,   r) {
      r = (num(d) && num(o) && o > 0) ? d / o : ""
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", what, vs, f(d) " " u, f(o) " " u, r == "" ? "-" : sprintf(sprintf("%.2f", r) + 0 == t + 0 ? "**%.3f×**" : "**%.2f×**", r),
        t == "" ? "-" : "≥ " t "×", t == "" ? "-" : verdict(r, t, 1)
    }
    { v[$1 "|" $2] = $3 }
    END {
      limit = sprintf("%.2f", (0.1 * big + chunk) / big * 100 + 1e-9)
      print "| Depot row | against | Depot | other | Depot / other | target | |"
      print "| --- | --- | ---: | ---: | ---: | --- | --- |"
      n = split(pars, P, " ")
      for (i = 1; i <= n; i++) {
        t = tsess; sub(/X/, P[i], t)
        ratio(t, nput, v["depot|" t], v["depot|" nput], "MB/s", "0.8")
        ratio(t, curl, v["depot|" t], v["depot|" curl], "MB/s", "0.8")
      }
      split("upload " big " MiB, chunkSize " chunk " MiB|upload " big " MiB, unchunked (1 PATCH)", B, "|")
      for (i = 1; i <= 2; i++) ratio("tus: " B[i], "Node tus, same test", v["tus:depot|" B[i]], v["tus:tus-node|" B[i]], "MB/s", "2")
      for (k in v) if (k ~ /^tus:depot\|.*x 4 KiB uploads/) { split(k, q, "|"); sm[++m] = q[2] }
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (sm[j] < sm[i]) { x = sm[i]; sm[i] = sm[j]; sm[j] = x }
      for (i = 1; i <= m; i++) ratio("tus: " sm[i], "Node tus, same test", v["tus:depot|" sm[i]], v["tus:tus-node|" sm[i]], "files/s", "2")
      print ""
      printf "| resume (1 upload of %s MiB, cut at the interruption point) | bytes sent again, %% of the file | target ≤ 10%% + 1 chunk = %s%% |\n", big, limit
      print "| --- | ---: | --- |"
      for (i = 1; i <= n; i++) { t = tres; sub(/X/, P[i], t)
        if (("depot|" t) in v) printf "| Depot, %s | %s | %s |\n", t, f(v["depot|" t]), verdict(num(v["depot|" t]) ? v["depot|" t] : "", limit, 0) }
      split(ttch "|" tt1, R, "|")
      for (i = 1; i <= 2; i++) for (s = 1; s <= 2; s++) { sec = s == 1 ? "tus:depot" : "tus:tus-node"
        if ((sec "|" R[i]) in v) printf "| %s, %s | %s | %s |\n", s == 1 ? "Depot" : "Node tus", R[i], f(v[sec "|" R[i]]),
          s == 1 ? verdict(num(v[sec "|" R[i]]) ? v[sec "|" R[i]] : "", limit, 0) : "(peer)" }
    }' "$RESULTS"
}

report=$BENCH_WORK/report.md
{
  echo "# Depot resumable-upload benchmark ($(date -u +%F))"
  echo
  echo "Generated by bench/run-upload.sh (RUNS=$RUNS, BIG_MB=$BIG_MB, ${CHUNK_MB} MiB chunks, sections: $SECTIONS)"
  echo "with the shared kit's run-tus.sh / lib/report.sh and bench/uploads/upload.mjs."
  echo
  echo "Depot: $BUILT_FROM at git $DEPOT_REV ($DEPOT_DIRTY uncommitted paths), .NET SDK $(cd "$REPO" && dotnet --version 2>/dev/null || echo '?');"
  echo "\`depot serve DIR --listen 127.0.0.1:$DEPOT_PORT\`, default settings, admin key as Bearer token; untimed warm-up"
  echo "(plain PUTs, sessions and tus uploads of $((4 * CHUNK_MB)) MiB, 50 small tus uploads) before its rows."
  echo "Every Depot upload is durable when answered (fsync'd chunks; SHA-256, rename and record at completion)."
  echo "The Node tus peer (@tus/server + @tus/file-store) does not fsync. Client and server share the 2 cores."
  echo "Each ${BIG_MB} MiB upload is deleted after its run (the kit's advice on this VM), tus uploads on Depot after run-tus.sh."
  echo
  echo "## Ratios and targets (issue 4)"
  echo
  echo "Medians from the table below. Session uploads and the Node-driver PUT use the same client code"
  echo "(bench/uploads/upload.mjs, node:http keep-alive, file read with positional reads); curl -T is the kit's PUT shape."
  echo
  summary
  echo
  echo "Resume rows: the client sends until ${PCT}% of the file's bytes went out, then drops every connection in the middle"
  echo "of a request, waits ${PAUSE_MS} ms, and resumes as a new client would (native: GET the session and send the chunks"
  echo "missing from receivedChunks; tus: HEAD for Upload-Offset and PATCH from there). The published object's size and"
  echo "SHA-256 (native) or the final Upload-Offset (tus) are checked. Each cut request shows up in Depot's log as a"
  echo "warning (\"Unexpected end of request content\"); that is the interruption, not a fault."
  echo
  "$KIT/lib/report.sh" "$RESULTS"
  depot_bench_run_notes
  depot_bench_log_summary
} >"$report"
depot_bench_publish_report "$report"
