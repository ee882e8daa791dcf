#!/usr/bin/env bash
# run-client.sh - the C# SDK (src/Depot.Client, driven by bench/client) against curl and rsync, on the same machine
# and the same `depot serve` in one run; one markdown report.
#   transfer  1 GiB upload and download: curl against DepotClient (upload with default options = upload session,
#             parallel 8 MiB chunks, SHA-256 while read; upload with Resumable = false = one PUT after hashing the
#             file; download to a file: SHA-256 verified, fsync, rename). MB/s from each tool's own transfer time
#             (curl's time_total, the client's Stopwatch around the call), process wall time and the CPU time of
#             the client (/usr/bin/time) and of the server (/proc) in the notes. Target: client >= 0.9x curl.
#             Client rows time the first call of a fresh process; "warm" rows the median of 2 more calls in it.
#             Reference rows: the client without its SHA-256 (Verify = false), curl GET followed by an fsync.
#   sync      FILES (10,000) x 4 KiB files in two directory levels, synced once (untimed), then the no-op re-run:
#             rsync -a over ssh (the kit's sshd peer, as run-ssh.sh) against `client-bench sync` (SyncAsync,
#             upload direction, default options) as a process, both with hyperfine; plus the SyncAsync call's own
#             time in the process (first call, cold) and warm (median of 5 more calls in one process).
#             Target: Depot's no-op sync faster than rsync's.
#
# Usage: bench/run-client.sh [--out FILE.md] [--sections "transfer sync"] [--no-build] [--no-install]
#          [--bin DIR] [--client-bin DIR] [--port 18093] [--files 10000] [--noop-runs 10]
#   --out FILE.md    also write the report to FILE.md and the raw rows to FILE.tsv
#   --no-build       use existing builds: --bin (default src/Depot.Cli/bin/Release/net10.0) and --client-bin
#                    (default bench/client/bin/Release/net10.0, from `dotnet build -c Release bench/client`)
#   --bin DIR        an already built Depot (folder with depot.dll); --client-bin DIR the same for client-bench.dll
#   --no-install     never call the kit's `setup-peers.sh install` (apt packages: rsync, openssh, hyperfine, jq)
# Env: RUNS (3; median reported), BIG_MB (1024), NOOP_RUNS (10, hyperfine runs), RUN_TIMEOUT (300 s per run),
#      DEPOT_PORT (18093), SSHD_PORT (18022), DROP_CACHES=1 (drop the page cache before every transfer run instead
#      of keeping the file warm; root only), SHARED_BENCH ($REPO/../shared/bench), KEEP_WORK=1, BUILD_TRIES (3) /
#      BUILD_RETRY_S (60): the builds are retried while the tree does not compile, and the kit's QUIET_PCT /
#      QUIET_MAX_S. Without "sync" in --sections the driver is built without its sync verb (-p:ClientBenchNoSync=true).
# Quick check: RUNS=1 BIG_MB=256 bench/run-client.sh --files 2000 --noop-runs 3
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
KIT=${SHARED_BENCH:-$REPO/../shared/bench}
[ -f "$KIT/lib/common.sh" ] || { echo "shared bench kit not found at $KIT (set SHARED_BENCH)" >&2; exit 1; }
KIT=$(cd "$KIT" && pwd)

OUT="" SECTIONS="transfer sync" BUILD=1 INSTALL=1 PREBUILT="" CLIENT_PREBUILT="" FILES=10000
DEPOT_PORT=${DEPOT_PORT:-18093}
: "${NOOP_RUNS:=10}"
usage() { sed -n '2,29p' "$0"; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --sections) SECTIONS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-install) INSTALL=0; shift ;;
    --bin) PREBUILT=$2; shift 2 ;;
    --client-bin) CLIENT_PREBUILT=$2; shift 2 ;;
    --port) DEPOT_PORT=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    --noop-runs) NOOP_RUNS=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
for s in $SECTIONS; do
  case "$s" in transfer | sync) ;; *) echo "unknown section '$s'" >&2; usage ;; esac
done
has() { case " $SECTIONS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
[[ $FILES =~ ^[0-9]+$ && $FILES -ge 100 && $NOOP_RUNS =~ ^[0-9]+$ && $NOOP_RUNS -ge 2 ]] ||
  { echo "--files takes a number >= 100, --noop-runs a number >= 2" >&2; exit 2; }
if [ -n "$OUT" ]; then
  case "$OUT" in *.md) ;; *) echo "--out must end in .md (the rows go to the same name with .tsv)" >&2; exit 2 ;; esac
  mkdir -p "$(dirname "$OUT")"
  OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
fi
if [ "$BUILD" = 0 ]; then
  : "${PREBUILT:=$REPO/src/Depot.Cli/bin/Release/net10.0}" "${CLIENT_PREBUILT:=$REPO/bench/client/bin/Release/net10.0}"
fi
: "${BUILD_TRIES:=3}" "${BUILD_RETRY_S:=60}" "${DROP_CACHES:=0}"
[ "$DROP_CACHES" = 0 ] || [ -w /proc/sys/vm/drop_caches ] || { echo "DROP_CACHES=1 needs root" >&2; exit 2; }
export NOOP_RUNS

# The kit's helpers: log, die, bench_init, bench_value, bench_hyperfine, record_lines, start_bg/stop_bg, wait_port ...
# shellcheck source=/dev/null
. "$KIT/lib/common.sh"
# shellcheck source=lib/depot-bench.sh
. "$(dirname "$0")/lib/depot-bench.sh"

peers=0 sshd=0
if has sync; then peers=1; fi
if has sync; then sshd=1; fi
depot_bench_preflight "$peers" "$sshd"

# --- scratch dir, traps -------------------------------------------------------------
depot_bench_scratch depot-client

# --- 1. builds (into the scratch dir: nothing is written under src/ or bench/) -------
CLIENT_DIR=$BENCH_WORK/client-bin
if [ -n "$CLIENT_PREBUILT" ]; then
  [ -f "$CLIENT_PREBUILT/client-bench.dll" ] || die "no client-bench.dll in $CLIENT_PREBUILT (build it: dotnet build -c Release bench/client)"
  mkdir -p "$CLIENT_DIR"
  cp -a "$CLIENT_PREBUILT/." "$CLIENT_DIR/"
  CLIENT_FROM="prebuilt $CLIENT_PREBUILT"
else
  nosync=false
  has sync || nosync=true
  for ((try = 1; ; try++)); do
    log "dotnet publish -c Release bench/client (ClientBenchNoSync=$nosync; try $try of $BUILD_TRIES)"
    if (cd "$REPO" && timeout 900 dotnet publish bench/client -c Release -nologo -o "$CLIENT_DIR" \
        --artifacts-path "$BENCH_WORK/artifacts" -p:ClientBenchNoSync=$nosync) >"$BENCH_WORK/logs/client-build.log" 2>&1; then
      break
    fi
    grep -E 'error' "$BENCH_WORK/logs/client-build.log" | sort -u | head -n 10 >&2 || true
    if grep -qE "'(SyncAsync|SyncDirection|SyncOptions)'" "$BENCH_WORK/logs/client-build.log"; then
      log "Depot.Client has no SyncAsync yet: run with --sections transfer for now"
    fi
    [ "$try" -lt "$BUILD_TRIES" ] || die "client-bench build failed $BUILD_TRIES times (see above)"
    log "build failed; the tree may be mid-edit, retrying in ${BUILD_RETRY_S} s"
    sleep "$BUILD_RETRY_S"
  done
  CLIENT_FROM="Release build of the work tree"
fi
depot_bench_build 900   # publishes Depot (reusing the artifacts above), removes $BENCH_WORK/artifacts
if [ -x "$CLIENT_DIR/client-bench" ]; then CLIENT="$CLIENT_DIR/client-bench"; else CLIENT="dotnet $CLIENT_DIR/client-bench.dll"; fi
DEPOT_AUTH="Authorization: Bearer $DEPOT_KEY"
DEPOT_URL=http://127.0.0.1:$DEPOT_PORT
DATA_DIR=$BENCH_WORK/depot-data
DL=$BENCH_WORK/dl   # downloads land here, on the same file system as the data dir
mkdir -p "$DL" "$BENCH_WORK/client-state"
# the driver's environment (its own state dir for resumable uploads, so nothing is left under ~/.local/share)
CENV="env DEPOT_URL=$DEPOT_URL DEPOT_KEY=$DEPOT_KEY DEPOT_STATE_DIR=$BENCH_WORK/client-state"

# measure UNIT AMOUNT CMD...: runs CMD under /usr/bin/time; CMD's last stdout line starts with the seconds its
# transfer took (curl's time_total, the driver's Stopwatch). Prints "VALUE wall W s, client CPU C s, server CPU S s"
# with VALUE = AMOUNT / seconds for UNIT MB/s, or the seconds in ms for UNIT ms. CMD's output goes to stderr (the log).
measure() {
  local unit=$1 amount=$2 tf out rc=0 s0 s1
  shift 2
  tf=$(mktemp "$BENCH_WORK/logs/time.XXXXXX")
  s0=$(server_cpu)
  out=$(/usr/bin/time -f '%e %U %S' -o "$tf" "$@") || rc=$?
  s1=$(server_cpu)
  printf '%s\n' "$out" >&2
  if [ "$rc" != 0 ]; then cat "$tf" >&2; rm -f "$tf"; return "$rc"; fi
  printf '%s\n' "$out" | awk -v u="$unit" -v a="$amount" -v ds=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" -v tf="$tf" '
    NF { last = $1 }
    END {
      while ((getline line < tf) > 0) if (line ~ /^[0-9.]+ [0-9.]+ [0-9.]+$/) split(line, t, " ")
      if (last !~ /^[0-9.]+$/ || last <= 0) exit 1
      v = (u == "ms") ? last * 1000 : a / last
      printf "%.6f wall %.2f s, client CPU %.2f s (user %.2f + sys %.2f), server CPU %.2f s\n", v, t[1], t[2] + t[3], t[2], t[3], ds / hz
    }'
  rc=$?
  rm -f "$tf"
  return $rc
}
# curl_fsync FILE CURL-ARGS...: curl -o FILE, then fsync it (coreutils `sync FILE`); prints the seconds of both.
curl_fsync() {
  local file=$1 t0
  shift
  t0=$(date +%s.%N)
  "$@" -o "$file" >/dev/null && sync "$file" && awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.6f\n", b - a}'
}
export -f measure server_cpu curl_fsync
export BENCH_WORK DEPOT_PID=""

T_CURL_PUT="curl PUT ${BIG_MB} MiB (curl -T, one streamed PUT; the server hashes)"
T_SESS="client upload ${BIG_MB} MiB, default options (upload session, 8 MiB chunks in parallel)"
T_SESS_W="client upload ${BIG_MB} MiB, default options, warm (median of calls 2-3 in one process)"
T_SINGLE="client upload ${BIG_MB} MiB, Resumable = false (SHA-256 read first, then one PUT)"
T_SINGLE_NV="client upload ${BIG_MB} MiB, Resumable = false, Verify = false (no client SHA-256)"
T_CURL_GET="curl GET ${BIG_MB} MiB to a file (no verify, no fsync)"
T_CURL_GET_SYNC="curl GET ${BIG_MB} MiB to a file, then fsync (\`sync FILE\`)"
T_DL="client download ${BIG_MB} MiB to a file (SHA-256 verified, fsync, rename)"
T_DL_NV="client download ${BIG_MB} MiB to a file, Verify = false (no SHA-256; fsync, rename)"
T_DL_W="client download ${BIG_MB} MiB to a file, warm (median of calls 2-3 in one process)"
T_RSYNC="rsync no-op re-run, $FILES files (rsync -a over ssh, process)"
T_SYNC_P="depot sync no-op re-run, $FILES files (client-bench sync, process)"
T_SYNC_IN="depot sync no-op, SyncAsync call in that process (first call, cold)"
T_SYNC_W="depot sync no-op, SyncAsync call, warm (median of 5 more calls in one process)"

ensure_data_files   # $DATA/big.bin (BIG_MB MiB random), and the kit's small files
BIG_SHA=$(openssl dgst -sha256 -r "$DATA/big.bin" | awk '{print $1}')
if has sync; then
  log "creating $FILES x 4 KiB files in $DATA/tree-sync (untimed)"
  depot_bench_make_tree "$DATA/tree-sync" "$FILES"
fi

t0=$(date +%s)
start_depot depot
export DEPOT_PID
export BENCH_OWN_PIDS="${BENCH_OWN_PIDS:-} $DEPOT_PID"   # the server's CPU is part of every row
log "warm-up (untimed): curl and client uploads and downloads of a 64 MiB file"
{
  head -c $((64 * 1048576)) /dev/urandom >"$BENCH_WORK/warm.bin"
  for i in 1 2; do
    curl -sS -f -o /dev/null -H Expect: -H "$DEPOT_AUTH" -T "$BENCH_WORK/warm.bin" "$DEPOT_URL/v1/default/bench-warm.bin"
    curl -sS -f -o "$DL/warm.bin" -H "$DEPOT_AUTH" "$DEPOT_URL/v1/default/bench-warm.bin"
    $CENV $CLIENT upload "$BENCH_WORK/warm.bin" default/bench-warm.bin
    $CENV $CLIENT upload "$BENCH_WORK/warm.bin" default/bench-warm.bin --single
    $CENV $CLIENT download default/bench-warm.bin "$DL/warm.bin"
  done
  curl -sS -f -o /dev/null -H "$DEPOT_AUTH" -X DELETE "$DEPOT_URL/v1/default/bench-warm.bin"
  rm -f "$BENCH_WORK/warm.bin" "$DL/warm.bin"
} >>"$LOG" 2>&1 || die "warm-up failed (see logs/bench.log with KEEP_WORK=1)"

if [ "$DROP_CACHES" = 1 ]; then
  WARM="sync; echo 3 > /proc/sys/vm/drop_caches"
  CACHE_NOTE="page cache dropped before every run (the file and the stored object are read from disk)"
else
  WARM="cat $DATA/big.bin > /dev/null; sync"
  CACHE_NOTE="file kept warm in the page cache before every run (cat > /dev/null), dirty pages flushed (sync)"
fi

if has transfer; then
  DEL="curl -sS -o /dev/null -H '$DEPOT_AUTH' -X DELETE $DEPOT_URL/v1/default"
  PREPARE=$WARM CLEANUP="$DEL/bench-curl-\$RUN.bin" bench_value transfer "$T_CURL_PUT" MB/s \
    "measure MB/s $BIG_MBYTES curl -sS -f -o /dev/null -w '%{time_total}\n' -H Expect: -H '$DEPOT_AUTH' -T $DATA/big.bin $DEPOT_URL/v1/default/bench-curl-\$RUN.bin" \
    "time_total; no Expect: 100-continue (as the kit's run-http.sh)"
  PREPARE=$WARM CLEANUP="$DEL/bench-sess-\$RUN.bin" bench_value transfer "$T_SESS" MB/s \
    "measure MB/s $BIG_MBYTES $CENV $CLIENT upload $DATA/big.bin default/bench-sess-\$RUN.bin" \
    "Stopwatch around UploadAsync; verified at completion"
  PREPARE=$WARM CLEANUP="$DEL/bench-sessw-\$RUN.bin" bench_value transfer "$T_SESS_W" MB/s \
    "measure MB/s $BIG_MBYTES $CENV $CLIENT upload $DATA/big.bin default/bench-sessw-\$RUN.bin --repeat 2" \
    "Stopwatch; calls 2 and 3 replace the object of call 1; CPU times in the notes are for the 3 calls"
  PREPARE=$WARM CLEANUP="$DEL/bench-single-\$RUN.bin" bench_value transfer "$T_SINGLE" MB/s \
    "measure MB/s $BIG_MBYTES $CENV $CLIENT upload $DATA/big.bin default/bench-single-\$RUN.bin --single" \
    "Stopwatch around UploadAsync; the file is read twice (hash, then send)"
  PREPARE=$WARM CLEANUP="$DEL/bench-nv-\$RUN.bin" bench_value transfer "$T_SINGLE_NV" MB/s \
    "measure MB/s $BIG_MBYTES $CENV $CLIENT upload $DATA/big.bin default/bench-nv-\$RUN.bin --single --no-verify" \
    "Stopwatch; the SDK's streamed PUT without its hashing (the server still hashes): the transport's own cost"

  log "storing the ${BIG_MB} MiB object for the downloads (untimed)"
  curl -sS -f -o "$BENCH_WORK/logs/get-object.json" -H Expect: -H "$DEPOT_AUTH" -T "$DATA/big.bin" "$DEPOT_URL/v1/default/bench-get.bin" ||
    die "PUT of the download object failed"
  grep -q "$BIG_SHA" "$BENCH_WORK/logs/get-object.json" || die "the stored object's SHA-256 is not the file's ($(head -c 300 "$BENCH_WORK/logs/get-object.json"))"
  if [ "$DROP_CACHES" = 1 ]; then GWARM=$WARM; else GWARM="curl -sS -f -o /dev/null -H '$DEPOT_AUTH' $DEPOT_URL/v1/default/bench-get.bin; sync"; fi
  GET="curl -sS -f -w '%{time_total}\n' -H '$DEPOT_AUTH' $DEPOT_URL/v1/default/bench-get.bin"
  PREPARE=$GWARM CLEANUP="rm -f $DL/curl-\$RUN.bin" bench_value transfer "$T_CURL_GET" MB/s \
    "measure MB/s $BIG_MBYTES $GET -o $DL/curl-\$RUN.bin" "time_total"
  PREPARE=$GWARM CLEANUP="rm -f $DL/curls-\$RUN.bin" bench_value transfer "$T_CURL_GET_SYNC" MB/s \
    "measure MB/s $BIG_MBYTES bash -c 'curl_fsync \"\$@\"' curl_fsync $DL/curls-\$RUN.bin $GET" \
    "curl, then fsync of the file: wall time of both (a reference for the client's fsync, not one of the issue's rows)"
  PREPARE=$GWARM CLEANUP="rm -f $DL/client-\$RUN.bin" bench_value transfer "$T_DL" MB/s \
    "measure MB/s $BIG_MBYTES $CENV $CLIENT download default/bench-get.bin $DL/client-\$RUN.bin" \
    "Stopwatch around DownloadAsync"
  PREPARE=$GWARM CLEANUP="rm -f $DL/clientw-\$RUN.bin" bench_value transfer "$T_DL_W" MB/s \
    "measure MB/s $BIG_MBYTES $CENV $CLIENT download default/bench-get.bin $DL/clientw-\$RUN.bin --repeat 2" \
    "Stopwatch; each call replaces the file; CPU times in the notes are for the 3 calls"
  PREPARE=$GWARM CLEANUP="rm -f $DL/clientnv-\$RUN.bin" bench_value transfer "$T_DL_NV" MB/s \
    "measure MB/s $BIG_MBYTES $CENV $CLIENT download default/bench-get.bin $DL/clientnv-\$RUN.bin --no-verify" \
    "Stopwatch; the SDK's download without its hashing: the transport, the file write and the fsync"
  # one untimed check that the client's download is the file
  if $CENV $CLIENT download default/bench-get.bin "$DL/check.bin" >>"$LOG" 2>&1 &&
    [ "$(openssl dgst -sha256 -r "$DL/check.bin" | awk '{print $1}')" = "$BIG_SHA" ]; then
    log "client download checked: SHA-256 matches the file"
  else
    log "WARNING: the client's download does not match the file"
  fi
  rm -f "$DL/check.bin"
  curl -sS -o /dev/null -H "$DEPOT_AUTH" -X DELETE "$DEPOT_URL/v1/default/bench-get.bin" || true
fi

SYNC_RESULT="" RSYNC_VERSION=""
if has sync; then
  "$KIT/setup-peers.sh" start sshd >/dev/null
  bench_init   # re-read peers.env (SSH_DIR, SSHD_PORT)
  SSH="ssh -F $SSH_DIR/ssh_config"
  RSYNC="rsync -a -e '$SSH' $DATA/tree-sync/ bench:$SSH_DIR/dst/tree-sync/"
  SYNC="$CENV $CLIENT sync $DATA/tree-sync default/tree-sync"
  log "full syncs of the $FILES files (untimed): rsync over ssh, then the depot client"
  timeout -k 5 "$RUN_TIMEOUT" bash -c "$RSYNC" >>"$LOG" 2>&1 || die "rsync's first full sync failed (see logs/bench.log with KEEP_WORK=1)"
  timeout -k 5 "$RUN_TIMEOUT" bash -c "$SYNC" >>"$LOG" 2>&1 || die "the client's first full sync failed (see logs/bench.log with KEEP_WORK=1)"
  n=$(find "$SSH_DIR/dst/tree-sync" -type f | wc -l)
  [ "$n" = "$FILES" ] || log "WARNING: rsync's target has $n files, not $FILES"
  # what a no-op run reports (it must send nothing)
  SYNC_RESULT=$(timeout -k 5 "$RUN_TIMEOUT" bash -c "$SYNC" 2>&1 | sed -n 's/^call 1: [0-9.]* s: //p' | head -c 600) || true
  log "a no-op client sync reports: $SYNC_RESULT"
  RSYNC_VERSION=$(rsync --version | awk 'NR==1{print $3}')

  bench_hyperfine sync "$T_RSYNC" "$NOOP_RUNS" "$RSYNC" "hyperfine, 1 warm-up; ssh session setup + file-list compare"
  bench_hyperfine sync "$T_SYNC_P" "$NOOP_RUNS" "$SYNC" "hyperfine, 1 warm-up; .NET start-up + SyncAsync"
  RUNS=$NOOP_RUNS bench_value sync "$T_SYNC_IN" ms "measure ms 0 $SYNC" "Stopwatch around the first SyncAsync of a fresh process"
  bench_value sync "$T_SYNC_W" ms "measure ms 0 $SYNC --repeat 5" "Stopwatch; median of calls 2-6 in one process"
fi
is_alive "$DEPOT_PID" "$DEPOT_COMM" || log "WARNING: depot died during the run"
stop_depot
# after Depot: the kit's `stop` stops every process with a pid file in $BENCH_WORK/pids, Depot's included
if has sync; then "$KIT/setup-peers.sh" stop >/dev/null; fi
log "all sections done in $(($(date +%s) - t0)) s"

# --- report ------------------------------------------------------------------------
summary() {
  awk -F'\t' -v tcp="$T_CURL_PUT" -v tse="$T_SESS" -v tsew="$T_SESS_W" -v tsi="$T_SINGLE" -v tdlw="$T_DL_W" -v tsnv="$T_SINGLE_NV" -v tdnv="$T_DL_NV" -v tcg="$T_CURL_GET" -v tcs="$T_CURL_GET_SYNC" \
    -v tdl="$T_DL" -v trs="$T_RSYNC" -v tsp="$T_SYNC_P" -v tsn="$T_SYNC_IN" -v tsw="$T_SYNC_W" '
    function num(x) { return x ~ /^[0-9.eE+-]+$/ }
    function f(x,   s, i) { if (!num(x)) return (x == "" ? "-" : x)
      if (x >= 100) { s = sprintf("%.0f", x); i = length(s) - 3
        while (i > 0) { s = substr(s, 1, i) "," substr(s, i + 1); i -= 3 }; return s }
      return x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x) }
    # row WHAT KEY VS_KEY TARGET HIGHER: value, reference, ratio (value / reference if HIGHER, else reference / value)
    function row(what, k, ref, t, higher,   d, o, r) {
      if (!(k in v)) return
      d = v[k]; o = (ref in v) ? v[ref] : ""
      r = (num(d) && num(o) && d > 0 && o > 0) ? (higher ? d / o : o / d) : ""
      printf "| %s | %s %s | %s | %s | %s | %s |\n", what, f(d), u[k], ref == "" ? "-" : f(o) " " u[ref],
        r == "" ? "-" : sprintf("**%.2f×**", r), t == "" ? "-" : (higher ? "≥ " t "×" : "> " t "× (depot faster)"),
        (t == "" || r == "") ? "" : ((higher ? r >= t + 0 : r > t + 0) ? "met" : "**not met**")
    }
    { v[$2] = $3; u[$2] = $6 }
    END {
      print "| row | median | reference | ratio | target | |"
      print "| --- | ---: | ---: | ---: | --- | --- |"
      row(tcp, tcp, "", "", 1)
      row(tse, tse, tcp, "0.9", 1)
      row(tsew, tsew, tcp, "0.9", 1)
      row(tsi, tsi, tcp, "0.9", 1)
      row(tsnv, tsnv, tcp, "", 1)
      row(tcg, tcg, "", "", 1)
      row(tcs, tcs, tcg, "", 1)
      row(tdl, tdl, tcg, "0.9", 1)
      row(tdlw, tdlw, tcg, "0.9", 1)
      row("(the same, against curl + fsync)", tdl, tcs, "", 1)
      row(tdnv " (against curl + fsync)", tdnv, tcs, "", 1)
      row(trs, trs, "", "", 0)
      row(tsp " (ratio: rsync / depot, > 1 = depot faster)", tsp, trs, "1", 0)
      row(tsn, tsn, trs, "", 0)
      row(tsw, tsw, trs, "", 0)
    }' "$RESULTS"
}

report=$BENCH_WORK/report.md
{
  echo "# Depot C# client benchmark ($(date -u +%F))"
  echo
  echo "Generated by bench/run-client.sh (RUNS=$RUNS, BIG_MB=$BIG_MB, FILES=$FILES, NOOP_RUNS=$NOOP_RUNS, sections: $SECTIONS)"
  echo "with the shared kit's lib/report.sh and sshd peer."
  echo
  echo "Depot: $BUILT_FROM at git $DEPOT_REV ($DEPOT_DIRTY uncommitted paths), .NET SDK $(cd "$REPO" && dotnet --version 2>/dev/null || echo '?');"
  echo "client-bench (bench/client, DepotClient): $CLIENT_FROM. \`depot serve DIR --listen 127.0.0.1:$DEPOT_PORT\`, default"
  echo "settings, admin key as Bearer token; untimed warm-up (curl and client uploads / downloads of 64 MiB) before the rows."
  echo "Transfers: $CACHE_NOTE; each uploaded object is deleted after its run, each download removed."
  echo "MB/s from each tool's own transfer time (curl's time_total, the client's Stopwatch around the call: process"
  echo "start-up excluded for both); the notes have the process's wall time and the CPU time of the client and the server."
  echo "curl neither verifies nor fsyncs a download; the client checks the SHA-256, fsyncs and renames. Client and"
  echo "server share the 2 cores. Rows without \"warm\" time the first call of a fresh client-bench process (JIT and"
  echo "connection set-up inside the call, as for a command-line tool); \"warm\" rows the median of two more calls in it."
  if [ -n "$SYNC_RESULT" ]; then
    echo
    echo "Sync: $FILES files of 4 KiB (d00..dNN/e0..e9/f*.bin), one full sync of each kind first (untimed), rsync $RSYNC_VERSION"
    echo "over the kit's sshd (default cipher). A no-op client sync reported: \`$SYNC_RESULT\`"
  fi
  echo
  echo "## Ratios and targets"
  echo
  summary
  echo
  "$KIT/lib/report.sh" "$RESULTS"
  depot_bench_run_notes
  depot_bench_log_summary
} >"$report"
depot_bench_publish_report "$report"
