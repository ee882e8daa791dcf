#!/usr/bin/env bash
# run-depot.sh - benchmark Depot and its peers (nginx, machine limits) in one run and
# write one markdown report. Uses the shared kit by path (never copied into the repo).
#
# Usage: bench/run-depot.sh [--out FILE] [--sections "physical http depot rss"]
#          [--no-build] [--no-install] [--port 18090]
#          [--conc "1 16 256"] [--duration 10s] [--small-puts 2000] [--put-parallel 16]
#   sections  physical  machine limits (run-physical.sh: iperf3, dd, fdatasync, sha256 ...)
#             http      nginx peer with the kit's run-http.sh (the reference)
#             depot     `depot serve` with the same run-http.sh shapes
#             rss       peak RSS (VmHWM) of a fresh Depot server during one BIG_MB PUT
#                       (and after one GET of it); one fresh server per run
#   --out FILE  also write the report to FILE and the raw rows to FILE with .tsv
#   --no-build  use the existing Release build; --no-install skip `setup-peers.sh install`
# Env: RUNS (3), BIG_MB (1024), SHARED_BENCH (default $REPO/../shared/bench),
#      DEPOT_PORT (18090), KEEP_WORK=1 (keep the scratch dir), DEPOT_BIN (run another
#      executable with the same CLI instead of the build; a testing aid), and the kit's
#      knobs (DISK_MB, MEM_MB, RUN_TIMEOUT, QUIET_PCT, QUIET_MAX_S, NO_DROP_CACHES ...).
# Quick check: RUNS=1 BIG_MB=256 bench/run-depot.sh --sections "http depot rss"
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
KIT=${SHARED_BENCH:-$REPO/../shared/bench}
[ -f "$KIT/lib/common.sh" ] || { echo "shared bench kit not found at $KIT (set SHARED_BENCH)" >&2; exit 1; }
KIT=$(cd "$KIT" && pwd)

OUT="" SECTIONS="physical http depot rss" BUILD=1 INSTALL=1
DEPOT_PORT=${DEPOT_PORT:-18090}
HTTP_ARGS=() SMALL_PUTS=2000 PUT_PAR=16
usage() { sed -n '2,19p' "$0"; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --sections) SECTIONS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-install) INSTALL=0; shift ;;
    --port) DEPOT_PORT=$2; shift 2 ;;
    --small-puts) SMALL_PUTS=$2; HTTP_ARGS+=("$1" "$2"); shift 2 ;;
    --put-parallel) PUT_PAR=$2; HTTP_ARGS+=("$1" "$2"); shift 2 ;;
    --conc | --duration) HTTP_ARGS+=("$1" "$2"); shift 2 ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
for s in $SECTIONS; do
  case "$s" in physical | http | depot | rss) ;; *) echo "unknown section '$s'" >&2; usage ;; esac
done
has() { case " $SECTIONS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
if [ -n "$OUT" ]; then
  case "$OUT" in *.md) ;; *) echo "--out must end in .md (the rows go to the same name with .tsv)" >&2; exit 2 ;; esac
  mkdir -p "$(dirname "$OUT")"
  OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
fi

# The kit's helpers: log, die, bench_init, record_lines, start_bg/stop_bg, wait_port ...
# shellcheck source=/dev/null
. "$KIT/lib/common.sh"
# shellcheck source=lib/depot-bench.sh
. "$(dirname "$0")/lib/depot-bench.sh"

# --- 1. build ---------------------------------------------------------------------
BIN_DIR=$REPO/src/Depot.Cli/bin/Release/net10.0
if [ "$BUILD" = 1 ] && { has depot || has rss; }; then
  log "dotnet build -c Release src/Depot.Cli"
  blog=$(mktemp)
  if ! (cd "$REPO" && dotnet build -c Release src/Depot.Cli -nologo) >"$blog" 2>&1; then
    tail -n 30 "$blog" >&2
    rm -f "$blog"
    die "Depot build failed"
  fi
  rm -f "$blog"
fi

if [ "$INSTALL" = 1 ]; then "$KIT/setup-peers.sh" install; fi

# --- 2. scratch dir, traps ----------------------------------------------------------
depot_bench_scratch depot-bench

# Depot runs from a private copy of the build, so a rebuild in the repo during the
# benchmark cannot change the binaries under a running server.
DEPOT_CMD=() DEPOT_COMM="" DEPOT_VERSION="-"
if has depot || has rss; then
  if [ -z "${DEPOT_BIN:-}" ]; then
    [ -f "$BIN_DIR/depot.dll" ] || die "no Depot build at $BIN_DIR (run without --no-build)"
    mkdir -p "$BENCH_WORK/depot-bin"
    cp -a "$BIN_DIR/." "$BENCH_WORK/depot-bin/"
  fi
  if [ -n "${DEPOT_BIN:-}" ]; then   # testing aid: another executable with the same CLI
    DEPOT_CMD=("$DEPOT_BIN") DEPOT_COMM=$(basename "$DEPOT_BIN" | cut -c1-15)
  elif [ -x "$BENCH_WORK/depot-bin/depot" ]; then
    DEPOT_CMD=("$BENCH_WORK/depot-bin/depot") DEPOT_COMM=depot
  else
    DEPOT_CMD=(dotnet "$BENCH_WORK/depot-bin/depot.dll") DEPOT_COMM=dotnet
  fi
  DEPOT_VERSION=$(timeout 10 "${DEPOT_CMD[@]}" --version 2>/dev/null | head -n1 || true)
  DEPOT_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "no commit")
  DEPOT_DIRTY=$(git -C "$REPO" status --porcelain 2>/dev/null | wc -l)
  DEPOT_KEY=bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  export DEPOT_ADMIN_KEY=$DEPOT_KEY
  DEPOT_AUTH="Authorization: Bearer $DEPOT_KEY"
  DEPOT_URL=http://127.0.0.1:$DEPOT_PORT
fi

# start_depot NAME DATA_DIR : fresh `depot serve` on DEPOT_PORT; sets DEPOT_PID.
# The pid file gets the process's real /proc comm once it serves (so stop_bg finds it).
start_depot() {
  local name=$1 dir=$2 i up=0
  if (exec 3<>"/dev/tcp/127.0.0.1/$DEPOT_PORT") 2>/dev/null; then die "port $DEPOT_PORT is already in use (use --port)"; fi
  mkdir -p "$dir"
  start_bg "$name" "$DEPOT_COMM" "${DEPOT_CMD[@]}" serve "$dir" --listen "127.0.0.1:$DEPOT_PORT"
  DEPOT_RUNNING=$name
  read -r DEPOT_PID _ <"$BENCH_WORK/pids/$name.pid"
  for ((i = 0; i < 300; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "$DEPOT_URL/healthz" 2>/dev/null ||
      curl -fsS -o /dev/null --max-time 2 -H "$DEPOT_AUTH" "$DEPOT_URL/healthz" 2>/dev/null; then
      up=1; break
    fi
    [ -e "/proc/$DEPOT_PID" ] && ! awk '{sub(/^.*\) /, ""); exit ($1 == "Z" ? 0 : 1)}' "/proc/$DEPOT_PID/stat" 2>/dev/null ||
      { tail -n 20 "$BENCH_WORK/logs/$name.log" >&2; die "depot exited during start-up"; }
    sleep 0.1
  done
  DEPOT_COMM=$(cat "/proc/$DEPOT_PID/comm" 2>/dev/null || echo "$DEPOT_COMM")
  echo "$DEPOT_PID $DEPOT_COMM" >"$BENCH_WORK/pids/$name.pid"
  [ "$up" = 1 ] || { tail -n 20 "$BENCH_WORK/logs/$name.log" >&2; die "depot: no 200 from $DEPOT_URL/healthz within 30 s"; }
}
stop_depot() { stop_bg "$DEPOT_RUNNING"; DEPOT_RUNNING=""; }

# untimed warm-up (JIT, connection pools, database): a few small and one 8 MiB round trip
warm_depot() {
  local c=(curl -sS -f -o /dev/null -H Expect: -H "$DEPOT_AUTH" --max-time 60) i
  head -c 8388608 /dev/urandom >"$BENCH_WORK/warm.bin"
  for i in $(seq 1 20); do
    "${c[@]}" -T "$DATA/small-4k.bin" "$DEPOT_URL/v1/default/bench-warm-$i.bin"
    "${c[@]}" "$DEPOT_URL/v1/default/bench-warm-$i.bin"
    "${c[@]}" -I "$DEPOT_URL/v1/default/bench-warm-$i.bin"
    "${c[@]}" -X DELETE "$DEPOT_URL/v1/default/bench-warm-$i.bin"
  done
  "${c[@]}" -T "$BENCH_WORK/warm.bin" "$DEPOT_URL/v1/default/bench-warm-big.bin"
  "${c[@]}" "$DEPOT_URL/v1/default/bench-warm-big.bin"
  "${c[@]}" -X DELETE "$DEPOT_URL/v1/default/bench-warm-big.bin"
  rm -f "$BENCH_WORK/warm.bin"
}

# --- peers and data -------------------------------------------------------------------
peers=()
has physical && peers+=(iperf3)
has http && peers+=(nginx)
if [ ${#peers[@]} -gt 0 ]; then "$KIT/setup-peers.sh" start "${peers[@]}" >/dev/null; fi
bench_init   # re-read peers.env (ports, NGINX_URL)
ensure_data_files

t0=$(date +%s)
# --- physical limits --------------------------------------------------------------------
if has physical; then
  "$KIT/run-physical.sh" || log "WARNING: run-physical.sh exited with $?"
  # Depot's durable small-file sequence without HTTP and database: write 4 KiB to a temp
  # file, fsync it, rename it into place, fsync the directory. The bound for small PUTs.
  cat >"$BENCH_WORK/durable.pl" <<'PERL'
use strict; use warnings; use IO::Handle; use Fcntl;
my ($n, $dir, $src, $tag) = @ARGV;
open(my $in, '<:raw', $src) or die "$src: $!"; local $/; my $buf = <$in>; close $in;
sysopen(my $dh, $dir, O_RDONLY | O_DIRECTORY) or die "$dir: $!";
for my $i (1 .. $n) {
  my $t = "$dir/tmp/$tag-$i.part";
  sysopen(my $fh, $t, O_WRONLY | O_CREAT | O_EXCL, 0644) or die "$t: $!";
  syswrite($fh, $buf) == length($buf) or die "write $t: $!";
  $fh->sync or die "fsync $t: $!";
  close $fh or die "close $t: $!";
  rename($t, "$dir/$tag-$i.bin") or die "rename $t: $!";
  $dh->sync or die "fsync $dir: $!";
}
PERL
  D=$BENCH_WORK/durable/\$RUN
  PREPARE="rm -rf $BENCH_WORK/durable; mkdir -p $D/tmp; sync" CLEANUP="rm -rf $BENCH_WORK/durable" bench_rate physical \
    "durable small files: $SMALL_PUTS x (4 KiB write, fsync, rename, dir fsync), sequential" files/s "$SMALL_PUTS" \
    "perl $BENCH_WORK/durable.pl $SMALL_PUTS $D $DATA/small-4k.bin q" "perl, one process; Depot's PUT sequence without HTTP and database"
  PREPARE="rm -rf $BENCH_WORK/durable; mkdir -p $D/tmp; sync" CLEANUP="rm -rf $BENCH_WORK/durable" bench_rate physical \
    "durable small files: $SMALL_PUTS x (4 KiB write, fsync, rename, dir fsync), $PUT_PAR parallel" files/s "$SMALL_PUTS" \
    "seq 1 $PUT_PAR | xargs -P $PUT_PAR -I{} perl $BENCH_WORK/durable.pl $((SMALL_PUTS / PUT_PAR)) $D $DATA/small-4k.bin p{}" \
    "perl, $PUT_PAR processes x $((SMALL_PUTS / PUT_PAR)) files, one directory"
fi

# --- nginx, then Depot, with the same shapes -----------------------------------------------
if has http; then
  "$KIT/run-http.sh" --name nginx --base "$NGINX_URL" ${HTTP_ARGS[@]+"${HTTP_ARGS[@]}"} ||
    log "WARNING: run-http.sh against nginx exited with $?"
fi

if has depot; then
  start_depot depot "$BENCH_WORK/depot-data"
  log "depot pid $DEPOT_PID on $DEPOT_URL; warming up"
  warm_depot || log "WARNING: depot warm-up requests failed (see logs/depot.log)"
  BENCH_AUTH=$DEPOT_AUTH "$KIT/run-http.sh" --name depot --base "$DEPOT_URL/v1/default" \
    --server-pid "$DEPOT_PID" ${HTTP_ARGS[@]+"${HTTP_ARGS[@]}"} || log "WARNING: run-http.sh against depot exited with $?"
  is_alive "$DEPOT_PID" "$DEPOT_COMM" || log "WARNING: depot server died during the http run"
  stop_depot
fi

# --- peak RSS of a fresh server during one BIG_MB upload ------------------------------------
# VmHWM (/proc/PID/status) is the peak resident set since the process started, so one
# reading after the request is the peak during it. One fresh server per run.
kb_to_mb() { awk -v k="$1" 'BEGIN{printf "%.3f", k * 1024 / 1e6}'; }
hwm_kb() { awk '/^VmHWM:/{print $2}' "/proc/$1/status"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' "/proc/$1/stat"; }
if has rss; then
  S=depot
  T_IDLE="peak RSS (VmHWM) after start-up + /healthz"
  T_PUT="peak RSS (VmHWM) during PUT ${BIG_MB} MiB"
  T_GET="peak RSS (VmHWM) after PUT + GET ${BIG_MB} MiB"
  log "run  $S | $T_PUT"
  idle="" put="" get="" ok=1
  _t_begin
  for ((r = 1; r <= RUNS; r++)); do
    start_depot depot-rss "$BENCH_WORK/depot-rss-$r"
    # own CPU: the server counts as the kit's (it is in pids/), so "others CPU" stays honest
    h0=$(hwm_kb "$DEPOT_PID")
    u0=$(now)
    if ! timeout -k 5 "$RUN_TIMEOUT" curl -sS -f -o /dev/null -H Expect: -H "$DEPOT_AUTH" \
        -T "$DATA/big.bin" "$DEPOT_URL/v1/default/bench-rss.bin" >>"$LOG" 2>&1; then
      record_fail $S "$T_PUT" MB "PUT failed in run $r"; ok=0; stop_depot; break
    fi
    u1=$(now)
    h1=$(hwm_kb "$DEPOT_PID") c1=$(cpu_s "$DEPOT_PID")
    if ! timeout -k 5 "$RUN_TIMEOUT" curl -sS -f -o /dev/null -H "$DEPOT_AUTH" \
        "$DEPOT_URL/v1/default/bench-rss.bin" >>"$LOG" 2>&1; then
      record_fail $S "$T_GET" MB "GET failed in run $r"; ok=0; stop_depot; break
    fi
    h2=$(hwm_kb "$DEPOT_PID")
    echo "rss run $r: VmHWM kB idle $h0, after PUT $h1, after GET $h2; server CPU after PUT ${c1}s" >>"$LOG"
    idle+="$(kb_to_mb "$h0")"$'\n'
    put+="$(kb_to_mb "$h1") PUT $(awk -v a="$u0" -v b="$u1" -v m="$BIG_MBYTES" 'BEGIN{printf "%.0f MB/s", m/(b-a)}'), server CPU ${c1}s since start"$'\n'
    get+="$(kb_to_mb "$h2")"$'\n'
    stop_depot
    rm -rf "$BENCH_WORK/depot-rss-$r"
    sync
  done
  _t_end
  if [ "$ok" = 1 ]; then
    printf '%s' "$idle" | record_lines $S "$T_IDLE" MB "fresh server, VmHWM; MB = 10^6 bytes"
    printf '%s' "$put" | record_lines $S "$T_PUT" MB "fresh server, curl -T, VmHWM after the PUT"
    printf '%s' "$get" | record_lines $S "$T_GET" MB "same server, curl -o /dev/null"
  fi
fi
log "all sections done in $(($(date +%s) - t0)) s"

# --- 5. report ---------------------------------------------------------------------------
ratios() {
  awk -F'\t' -v big="$BIG_MBYTES" '
    function num(x) { return x ~ /^[0-9.eE+-]+$/ }
    function f(x) { if (!num(x)) return x; return x >= 100 ? sprintf("%.0f", x) : (x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x)) }
    function row(what, vs, d, p, u,   r) {
      r = (num(d) && num(p) && p > 0) ? sprintf(d / p < 0.1 ? "%.3fx" : "%.2fx", d / p) : "-"
      printf "| %s | %s | %s | %s | %s | %s |\n", what, vs, f(d), f(p), u, r
    }
    $1 == "http:nginx" { ng[$2] = $3 }
    $1 == "http:depot" { dp[$2] = $3; un[$2] = $6; ord[++n] = $2
                         if ($2 ~ /\(PUT\)$/) put = $3; if ($2 ~ /\(GET\)$/) get = $3 }
    $1 == "physical" && $2 ~ /fdatasync/        { fds = $3; fdsn = $2 }
    $1 == "physical" && $2 ~ /page cache only/  { pcw = $3; pcwn = $2 }
    $1 == "physical" && $2 ~ /^openssl dgst -sha256/ { sha = $3; shan = $2 }
    $1 == "physical" && $2 ~ /warm page cache/  { pcr = $3; pcrn = $2 }
    $1 == "physical" && $2 ~ /^durable small files.*sequential$/ { dseq = $3; dseqn = $2 }
    $1 == "physical" && $2 ~ /^durable small files.*parallel$/   { dpar = $3; dparn = $2 }
    $1 == "http:depot" && $2 ~ /^PUT .*sequential/ { sseq = $3 }
    $1 == "http:depot" && $2 ~ /^PUT .*parallel$/  { spar = $3 }
    $1 == "depot" && $2 ~ /during PUT/          { rss = $3; rssn = $2 }
    END {
      print "| Depot row | compared with | Depot | other | unit | Depot / other |"
      print "| --- | --- | ---: | ---: | --- | ---: |"
      for (i = 1; i <= n; i++) { t = ord[i]; if (t in ng) row(t, "nginx, same test", dp[t], ng[t], un[t]) }
      if (put != "" && fds != "") row("upload PUT (http:depot)", "physical: " fdsn, put, fds, "MB/s")
      if (put != "" && pcw != "") row("upload PUT (http:depot)", "physical: " pcwn, put, pcw, "MB/s")
      if (put != "" && sha != "") row("upload PUT (http:depot)", "physical: " shan " (Depot hashes every upload)", put, sha, "MB/s")
      if (sseq != "" && dseq != "") row("small PUTs, sequential (http:depot)", "physical: " dseqn, sseq, dseq, "files/s")
      if (spar != "" && dpar != "") row("small PUTs, parallel (http:depot)", "physical: " dparn, spar, dpar, "files/s")
      if (get != "" && pcr != "") row("download GET (http:depot)", "physical: " pcrn, get, pcr, "MB/s")
      if (rss != "") row(rssn, "size of the uploaded file", rss, big, "MB")
    }' "$RESULTS"
}

report=$BENCH_WORK/report.md
{
  echo "# Depot benchmark ($(date -u +%F))"
  echo
  echo "Generated by bench/run-depot.sh (RUNS=$RUNS, BIG_MB=$BIG_MB, sections: $SECTIONS)"
  echo "with the shared kit's run-physical.sh / run-http.sh / lib/report.sh."
  if has depot || has rss; then
    echo
    echo "Depot: Release build of git $DEPOT_REV ($DEPOT_DIRTY uncommitted paths when the build was copied), \`depot --version\`: ${DEPOT_VERSION:--};"
    echo ".NET SDK $(cd "$REPO" && dotnet --version 2>/dev/null || echo '?');"
    echo "\`depot serve DIR --listen 127.0.0.1:$DEPOT_PORT\`, default settings, admin key as Bearer token."
    echo "Before the http:depot rows the server got an untimed warm-up (20 small PUT/GET/HEAD/DELETE, one 8 MiB PUT/GET)."
  fi
  echo
  "$KIT/lib/report.sh" "$RESULTS"
  echo
  echo "## Ratios"
  echo
  echo "Medians from the table above; > 1 means Depot is faster (or, for RSS, uses more)."
  echo
  r=$(ratios)
  if [ "$(printf '%s\n' "$r" | wc -l)" -gt 2 ]; then printf '%s\n' "$r"; else echo "(no comparable rows in this run)"; fi
  depot_bench_run_notes
  if ls "$BENCH_WORK"/logs/depot*.log >/dev/null 2>&1; then
    nerr=$(cat "$BENCH_WORK"/logs/depot*.log | grep -ciE 'fail|error|exception|warn' || true)
    echo
    echo "Depot server log (stdout, one info line per request): $(cat "$BENCH_WORK"/logs/depot*.log | wc -l) lines," \
      "$(cat "$BENCH_WORK"/logs/depot*.log | wc -c | awk '{printf "%.1f MB", $1/1e6}'); $nerr lines mention fail/error/exception/warn."
    if [ "$nerr" -gt 0 ]; then
      echo
      echo '```'
      cat "$BENCH_WORK"/logs/depot*.log | grep -iE 'fail|error|exception|warn' | sort | uniq -c | sort -rn | head -n 15
      echo '```'
    fi
  fi
} >"$report"
depot_bench_publish_report "$report"
