#!/usr/bin/env bash
# run-cli.sh - the `depot` command (src/Depot.Cli, a ReadyToRun publish) against curl and rsync, and its start-up
# against an IL-only build, on the same machine and the same `depot serve` in one run; one markdown report.
#   transfer  one BIG_MB (1 GiB) file: `curl -T` PUT against `depot put FILE /bench-put-N.bin --quiet` (default
#             options: upload session), `curl` GET to a file against `depot get /bench-get.bin FILE --quiet` (SHA-256
#             verified, fsync, rename). depot's MB/s from its process wall time (date around the process: .NET
#             start-up included); curl's both from its time_total and from its process wall time. Reference: curl
#             GET followed by an fsync. CPU of the client (/usr/bin/time) and the server (/proc) in the notes. One
#             untimed `depot get` is checked against the file's SHA-256.
#   sync      FILES (10,000) x 4 KiB files in two directory levels, synced once (untimed), then the no-op re-run:
#             rsync -a over ssh (the kit's sshd peer, as run-client.sh) against
#             `depot sync DIR :default/tree-sync --quiet` as a process, both with hyperfine.
#             Target: depot's no-op sync faster than rsync's.
#   startup   hyperfine of `depot --version` and `depot stat /small.txt`: the ReadyToRun publish (its apphost) against
#             an IL-only build (`dotnet build -c Release`) run as `dotnet depot.dll` and through its own apphost.
#
# Usage: bench/run-cli.sh [--out FILE.md] [--sections "transfer sync startup"] [--no-build] [--no-install]
#          [--bin DIR] [--il-bin DIR] [--port 18094] [--files 10000] [--noop-runs 10] [--startup-runs 20]
#   --out FILE.md    also write the report to FILE.md and the raw rows to FILE.tsv
#   --no-build       use existing builds: --bin (default src/Depot.Cli/bin/Release/net10.0/RID/publish, from
#                    `dotnet publish -c Release src/Depot.Cli`) and --il-bin (default src/Depot.Cli/bin/Release/net10.0,
#                    from `dotnet build -c Release src/Depot.Cli`)
#   --bin DIR        an already published Depot (folder with depot.dll); --il-bin DIR the same for the IL-only build
#   --no-install     never call the kit's `setup-peers.sh install` (apt packages: rsync, openssh, hyperfine, jq)
# Env: RUNS (3; median reported), BIG_MB (1024), NOOP_RUNS (10) / STARTUP_RUNS (20): hyperfine runs, RUN_TIMEOUT
#      (300 s per run), DEPOT_PORT (18094), SSHD_PORT (18022), DROP_CACHES=1 (drop the page cache before every
#      transfer run; root only), SHARED_BENCH ($REPO/../shared/bench), KEEP_WORK=1, BUILD_TRIES (3) / BUILD_RETRY_S
#      (60): the builds are retried while the tree does not compile, and the kit's QUIET_PCT / QUIET_MAX_S.
# Quick check: RUNS=1 BIG_MB=256 bench/run-cli.sh --files 2000 --noop-runs 3 --startup-runs 5
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
KIT=${SHARED_BENCH:-$REPO/../shared/bench}
[ -f "$KIT/lib/common.sh" ] || { echo "shared bench kit not found at $KIT (set SHARED_BENCH)" >&2; exit 1; }
KIT=$(cd "$KIT" && pwd)

OUT="" SECTIONS="transfer sync startup" BUILD=1 INSTALL=1 PREBUILT="" IL_PREBUILT="" FILES=10000
DEPOT_PORT=${DEPOT_PORT:-18094}
: "${NOOP_RUNS:=10}" "${STARTUP_RUNS:=20}"
usage() { sed -n '2,29p' "$0"; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --sections) SECTIONS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-install) INSTALL=0; shift ;;
    --bin) PREBUILT=$2; shift 2 ;;
    --il-bin) IL_PREBUILT=$2; shift 2 ;;
    --port) DEPOT_PORT=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    --noop-runs) NOOP_RUNS=$2; shift 2 ;;
    --startup-runs) STARTUP_RUNS=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
for s in $SECTIONS; do
  case "$s" in transfer | sync | startup) ;; *) echo "unknown section '$s'" >&2; usage ;; esac
done
has() { case " $SECTIONS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
[[ $FILES =~ ^[0-9]+$ && $FILES -ge 100 && $NOOP_RUNS =~ ^[0-9]+$ && $NOOP_RUNS -ge 2 && $STARTUP_RUNS =~ ^[0-9]+$ && $STARTUP_RUNS -ge 2 ]] ||
  { echo "--files takes a number >= 100, --noop-runs and --startup-runs a number >= 2" >&2; exit 2; }
if [ -n "$OUT" ]; then
  case "$OUT" in *.md) ;; *) echo "--out must end in .md (the rows go to the same name with .tsv)" >&2; exit 2 ;; esac
  mkdir -p "$(dirname "$OUT")"
  OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
fi
if [ "$BUILD" = 0 ]; then
  rid=$(dotnet --info 2>/dev/null | awk '/^ *RID:/{print $2; exit}')
  : "${PREBUILT:=$REPO/src/Depot.Cli/bin/Release/net10.0/${rid:-linux-x64}/publish}" "${IL_PREBUILT:=$REPO/src/Depot.Cli/bin/Release/net10.0}"
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
if { has sync || has startup; }; then peers=1; fi
if has sync; then sshd=1; fi
depot_bench_preflight "$peers" "$sshd"

# --- scratch dir, traps -------------------------------------------------------------
depot_bench_scratch depot-cli

# --- 1. builds (into the scratch dir: nothing is written under src/) -----------------
# The IL-only build first (`dotnet build`, no RuntimeIdentifier: portable IL, as the tests use), then the publish
# (depot_bench_build: `dotnet publish`, ReadyToRun for the SDK's RID), which reuses the referenced projects' builds
# in the same --artifacts-path.
IL_DIR=$BENCH_WORK/il-bin
if [ -n "$IL_PREBUILT" ]; then
  [ -f "$IL_PREBUILT/depot.dll" ] || die "no depot.dll in $IL_PREBUILT (build it: dotnet build -c Release src/Depot.Cli)"
  mkdir -p "$IL_DIR"
  cp -a "$IL_PREBUILT/." "$IL_DIR/"
  IL_FROM="prebuilt $IL_PREBUILT"
else
  for ((try = 1; ; try++)); do
    log "dotnet build -c Release src/Depot.Cli, IL only (try $try of $BUILD_TRIES)"
    if (cd "$REPO" && timeout 900 dotnet build src/Depot.Cli -c Release -nologo \
        --artifacts-path "$BENCH_WORK/artifacts") >"$BENCH_WORK/logs/il-build.log" 2>&1; then
      break
    fi
    grep -E 'error' "$BENCH_WORK/logs/il-build.log" | sort -u | head -n 10 >&2 || true
    [ "$try" -lt "$BUILD_TRIES" ] || die "IL build failed $BUILD_TRIES times (see above)"
    log "build failed; the tree may be mid-edit, retrying in ${BUILD_RETRY_S} s"
    sleep "$BUILD_RETRY_S"
  done
  il_dll=$(find "$BENCH_WORK/artifacts/bin/Depot.Cli" -name depot.dll -print -quit)
  [ -n "$il_dll" ] || die "the IL build wrote no depot.dll under $BENCH_WORK/artifacts/bin/Depot.Cli"
  mkdir -p "$IL_DIR"
  cp -a "$(dirname "$il_dll")/." "$IL_DIR/"
  IL_FROM="\`dotnet build -c Release src/Depot.Cli\` of the work tree"
fi
depot_bench_build 900   # publishes Depot into $BENCH_WORK/depot-bin (BIN), removes $BENCH_WORK/artifacts
[ "${DEPOT_CMD[0]}" = "$BIN/depot" ] || log "WARNING: the publish has no apphost (bin/depot); running it as dotnet depot.dll"
DEPOT="${DEPOT_CMD[*]}"   # the published CLI, as a command line (the kit's helpers run commands with bash -c)
if [ -x "$IL_DIR/depot" ]; then IL_APPHOST="$IL_DIR/depot"; else IL_APPHOST=""; fi

# r2r_header DLL: "ReadyToRun" when the assembly's CLI header points to a ManagedNativeHeader with the R2R signature
# ("RTR\0"), "IL only" when it has none, "?" when the file is not a PE file this reads.
r2r_header() {
  perl -e '
    open(my $f, "<:raw", $ARGV[0]) or do { print "?"; exit }; local $/; my $b = <$f>;
    sub u16 { unpack("v", substr($b, $_[0], 2)) } sub u32 { unpack("V", substr($b, $_[0], 4)) }
    my $pe = u32(0x3c); substr($b, $pe, 4) eq "PE\0\0" or do { print "?"; exit };
    my ($nsec, $optsz, $opt) = (u16($pe + 6), u16($pe + 20), $pe + 24);
    my $dd = $opt + (u16($opt) == 0x20b ? 112 : 96);
    my $off = sub { my $rva = shift; for my $i (0 .. $nsec - 1) { my $s = $opt + $optsz + 40 * $i;
        my ($vs, $va, $rs, $rp) = (u32($s + 8), u32($s + 12), u32($s + 16), u32($s + 20));
        return $rva - $va + $rp if $rva >= $va && $rva < $va + ($vs > $rs ? $vs : $rs) } return -1 };
    my $cli = $off->(u32($dd + 14 * 8)); $cli >= 0 or do { print "?"; exit };
    my $mnh = u32($cli + 64); $mnh or do { print "IL only"; exit };
    my $h = $off->($mnh); print(($h >= 0 && substr($b, $h, 4) eq "RTR\0") ? "ReadyToRun" : "?");
  ' "$1"
}
# what the publish is: depot.dll and the project assemblies it carries, published against IL-only, size and header
R2R_TABLE="" R2R_OK=1
for dll in depot.dll Depot.Client.dll Depot.Server.dll Depot.Core.dll; do
  [ -f "$BIN/$dll" ] || continue
  p=$(stat -c %s "$BIN/$dll") ph=$(r2r_header "$BIN/$dll")
  if [ -f "$IL_DIR/$dll" ]; then i=$(stat -c %s "$IL_DIR/$dll") ih=$(r2r_header "$IL_DIR/$dll"); else i="" ih="-"; fi
  R2R_TABLE+=$(awk -v d="$dll" -v p="$p" -v ph="$ph" -v i="$i" -v ih="$ih" 'BEGIN {
    printf "| %s | %.0f KiB (%s) | %s | %s |", d, p / 1024, ph, i == "" ? "-" : sprintf("%.0f KiB (%s)", i / 1024, ih),
      (i == "" || i == 0) ? "-" : sprintf("%.1f×", p / i) }')$'\n'
  if [ "$dll" = depot.dll ]; then
    [ "$ph" = ReadyToRun ] || R2R_OK=0
    if [ -n "$i" ] && [ "$p" -lt $((i * 3 / 2)) ]; then R2R_OK=0; fi
  fi
done
if [ "$R2R_OK" = 1 ]; then
  log "publish checked: depot.dll is ReadyToRun"
else
  log "WARNING: the published depot.dll does not look ReadyToRun (see the report's build table)"
fi

DEPOT_AUTH="Authorization: Bearer $DEPOT_KEY"
DEPOT_URL=http://127.0.0.1:$DEPOT_PORT
DATA_DIR=$BENCH_WORK/depot-data
DL=$BENCH_WORK/dl   # downloads land here, on the same file system as the data dir
mkdir -p "$DL" "$BENCH_WORK/cli-state"

# pmeasure MODE AMOUNT SIDE CMD...: runs CMD under /usr/bin/time (client CPU), timed with `date` around the process.
#   MODE wall: VALUE = AMOUNT / process wall seconds.
#   MODE tool: VALUE = AMOUNT / the seconds on CMD's last stdout line (curl's time_total); the line
#              "AMOUNT / wall ..." is appended to the file SIDE, for a second row (the same runs' process wall time).
# Prints "VALUE wall W s, client CPU C s (user U + sys S), server CPU S s". CMD's output goes to stderr (the log).
pmeasure() {
  local mode=$1 amount=$2 side=$3 tf out rc=0 s0 s1 t0 t1
  shift 3
  tf=$(mktemp "$BENCH_WORK/logs/time.XXXXXX")
  s0=$(server_cpu)
  t0=$(date +%s.%N)
  out=$(/usr/bin/time -f '%e %U %S' -o "$tf" "$@") || rc=$?
  t1=$(date +%s.%N)
  s1=$(server_cpu)
  [ -z "$out" ] || printf '%s\n' "$out" >&2
  if [ "$rc" != 0 ]; then cat "$tf" >&2; rm -f "$tf"; return "$rc"; fi
  printf '%s\n' "$out" | awk -v m="$mode" -v a="$amount" -v side="$side" -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')" \
    -v ds=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" -v tf="$tf" '
    NF { last = $1 }
    END {
      while ((getline line < tf) > 0) if (line ~ /^[0-9.]+ [0-9.]+ [0-9.]+$/) split(line, t, " ")
      if (w <= 0) exit 1
      notes = sprintf("wall %.3f s, client CPU %.2f s (user %.2f + sys %.2f), server CPU %.2f s", w, t[2] + t[3], t[2], t[3], ds / hz)
      if (m == "tool") {
        if (last !~ /^[0-9.]+$/ || last <= 0) exit 1
        printf "%.6f %s\n", a / w, notes >> side
        printf "%.6f tool %.3f s, %s\n", a / last, last, notes
      } else printf "%.6f %s\n", a / w, notes
    }'
  rc=$?
  rm -f "$tf"
  return $rc
}
export -f pmeasure server_cpu
export BENCH_WORK DEPOT_PID=""
# side_row SIDE SECTION TEST NOTES: the process-wall lines pmeasure appended to SIDE during the last bench_value
# become a row of their own (same runs, same "others CPU"); nothing when that row failed.
side_row() {
  if [ -f "$1" ] && [ "$(grep -c . "$1")" -ge "$RUNS" ]; then tail -n "$RUNS" "$1" | record_lines "$2" "$3" MB/s "$4"; fi
  rm -f "$1"
}

T_CURL_PUT="curl PUT ${BIG_MB} MiB (curl -T; MB/s from curl's time_total)"
T_CURL_PUT_P="curl PUT ${BIG_MB} MiB, curl's process wall time"
T_PUT="depot put ${BIG_MB} MiB --quiet (process wall time)"
T_CURL_GET="curl GET ${BIG_MB} MiB to a file (MB/s from time_total; no verify, no fsync)"
T_CURL_GET_P="curl GET ${BIG_MB} MiB to a file, curl's process wall time"
T_CURL_GET_SYNC="curl GET ${BIG_MB} MiB to a file, then fsync (\`sync FILE\`), process wall time"
T_GET="depot get ${BIG_MB} MiB to a file --quiet (process wall time; SHA-256 verified, fsync, rename)"
T_RSYNC="rsync no-op re-run, $FILES files (rsync -a over ssh, process)"
T_SYNC="depot sync no-op re-run, $FILES files (depot sync DIR :default/tree-sync --quiet, process)"
T_VER="depot --version, ReadyToRun publish (apphost)"
T_VER_IL="depot --version, IL build (dotnet depot.dll)"
T_VER_ILA="depot --version, IL build (apphost)"
T_STAT="depot stat /small.txt, ReadyToRun publish (apphost)"
T_STAT_IL="depot stat /small.txt, IL build (dotnet depot.dll)"
T_STAT_ILA="depot stat /small.txt, IL build (apphost)"

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
# The CLI's connection and state, from the environment (not on the command lines, which the report shows): its own
# state dir and an empty config file path, so nothing of the user's profile or ~/.local/share is used.
unset DEPOT_PROFILE DEPOT_FINGERPRINT DEPOT_TIMEOUT DEPOT_DEBUG
export DEPOT_URL DEPOT_KEY DEPOT_STATE_DIR=$BENCH_WORK/cli-state DEPOT_CONFIG=$BENCH_WORK/cli-state/config.json

log "warm-up (untimed): curl and depot uploads and downloads of a 64 MiB file, depot stat"
{
  head -c $((64 * 1048576)) /dev/urandom >"$BENCH_WORK/warm.bin"
  for i in 1 2; do
    curl -sS -f -o /dev/null -H Expect: -H "$DEPOT_AUTH" -T "$BENCH_WORK/warm.bin" "$DEPOT_URL/v1/default/bench-warm.bin"
    curl -sS -f -o "$DL/warm.bin" -H "$DEPOT_AUTH" "$DEPOT_URL/v1/default/bench-warm.bin"
    rm -f "$DL/warm.bin"
    $DEPOT put "$BENCH_WORK/warm.bin" /bench-warm.bin --quiet
    $DEPOT get /bench-warm.bin "$DL/warm.bin" --quiet
    rm -f "$DL/warm.bin"
    $DEPOT stat /bench-warm.bin
  done
  curl -sS -f -o /dev/null -H "$DEPOT_AUTH" -X DELETE "$DEPOT_URL/v1/default/bench-warm.bin"
  rm -f "$BENCH_WORK/warm.bin"
} >>"$LOG" 2>&1 || die "warm-up failed (see logs/bench.log with KEEP_WORK=1; is 'depot put/get' there yet?)"

if [ "$DROP_CACHES" = 1 ]; then
  WARM="sync; echo 3 > /proc/sys/vm/drop_caches"
  CACHE_NOTE="page cache dropped before every run (the file and the stored object are read from disk)"
else
  WARM="cat $DATA/big.bin > /dev/null; sync"
  CACHE_NOTE="file kept warm in the page cache before every run (cat > /dev/null), dirty pages flushed (sync)"
fi

SIDE=$BENCH_WORK/logs/side.txt
if has transfer; then
  DEL="curl -sS -o /dev/null -H '$DEPOT_AUTH' -X DELETE $DEPOT_URL/v1/default"
  rm -f "$SIDE"
  PREPARE=$WARM CLEANUP="$DEL/bench-curl-\$RUN.bin" bench_value transfer "$T_CURL_PUT" MB/s \
    "pmeasure tool $BIG_MBYTES $SIDE curl -sS -f -o /dev/null -w '%{time_total}\n' -H Expect: -H '$DEPOT_AUTH' -T $DATA/big.bin $DEPOT_URL/v1/default/bench-curl-\$RUN.bin" \
    "no Expect: 100-continue (as the kit's run-http.sh)"
  side_row "$SIDE" transfer "$T_CURL_PUT_P" "the runs of the row above, timed as processes (date around curl)"
  PREPARE=$WARM CLEANUP="$DEL/bench-put-\$RUN.bin" bench_value transfer "$T_PUT" MB/s \
    "pmeasure wall $BIG_MBYTES - $DEPOT put $DATA/big.bin /bench-put-\$RUN.bin --quiet" \
    "default options: a stat of the target, then an upload session (SHA-256 while read, verified at completion)"

  log "storing the ${BIG_MB} MiB object for the downloads (untimed)"
  curl -sS -f -o "$BENCH_WORK/logs/get-object.json" -H Expect: -H "$DEPOT_AUTH" -T "$DATA/big.bin" "$DEPOT_URL/v1/default/bench-get.bin" ||
    die "PUT of the download object failed"
  grep -q "$BIG_SHA" "$BENCH_WORK/logs/get-object.json" || die "the stored object's SHA-256 is not the file's ($(head -c 300 "$BENCH_WORK/logs/get-object.json"))"
  if [ "$DROP_CACHES" = 1 ]; then GWARM=$WARM; else GWARM="curl -sS -f -o /dev/null -H '$DEPOT_AUTH' $DEPOT_URL/v1/default/bench-get.bin; sync"; fi
  GET="curl -sS -f -H '$DEPOT_AUTH' $DEPOT_URL/v1/default/bench-get.bin"
  PREPARE=$GWARM CLEANUP="rm -f $DL/curl-\$RUN.bin" bench_value transfer "$T_CURL_GET" MB/s \
    "pmeasure tool $BIG_MBYTES $SIDE $GET -w '%{time_total}\n' -o $DL/curl-\$RUN.bin" ""
  side_row "$SIDE" transfer "$T_CURL_GET_P" "the runs of the row above, timed as processes (date around curl)"
  PREPARE=$GWARM CLEANUP="rm -f $DL/curls-\$RUN.bin" bench_value transfer "$T_CURL_GET_SYNC" MB/s \
    "pmeasure wall $BIG_MBYTES - sh -c \"$GET -o $DL/curls-\$RUN.bin && sync $DL/curls-\$RUN.bin\"" \
    "a reference for depot's fsync: curl, then coreutils sync of the file"
  PREPARE=$GWARM CLEANUP="rm -f $DL/depot-\$RUN.bin" bench_value transfer "$T_GET" MB/s \
    "pmeasure wall $BIG_MBYTES - $DEPOT get /bench-get.bin $DL/depot-\$RUN.bin --quiet" \
    "written to a temporary file, SHA-256 checked, fsync, rename"
  # one untimed check that depot get's file is the file
  if $DEPOT get /bench-get.bin "$DL/check.bin" --quiet >>"$LOG" 2>&1 &&
    [ "$(openssl dgst -sha256 -r "$DL/check.bin" | awk '{print $1}')" = "$BIG_SHA" ]; then
    GET_CHECK="SHA-256 of a \`depot get\` download matches the file"
    log "depot get checked: SHA-256 matches the file"
  else
    GET_CHECK="**the \`depot get\` download does not match the file**"
    log "WARNING: depot get's download does not match the file"
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
  SYNC="$DEPOT sync $DATA/tree-sync :default/tree-sync --quiet"
  log "full syncs of the $FILES files (untimed): rsync over ssh, then depot sync"
  timeout -k 5 "$RUN_TIMEOUT" bash -c "$RSYNC" >>"$LOG" 2>&1 || die "rsync's first full sync failed (see logs/bench.log with KEEP_WORK=1)"
  timeout -k 5 "$RUN_TIMEOUT" bash -c "$SYNC" >>"$LOG" 2>&1 || die "depot's first full sync failed (see logs/bench.log with KEEP_WORK=1)"
  n=$(find "$SSH_DIR/dst/tree-sync" -type f | wc -l)
  [ "$n" = "$FILES" ] || log "WARNING: rsync's target has $n files, not $FILES"
  # what a no-op run reports (it must send nothing)
  json=$(timeout -k 5 "$RUN_TIMEOUT" $DEPOT sync "$DATA/tree-sync" :default/tree-sync --json 2>>"$LOG") || true
  printf 'no-op sync --json: %s\n' "$(printf '%s' "$json" | head -c 2000)" >>"$LOG"
  SYNC_RESULT=$(printf '%s' "$json" | jq -r '"sent \(.sent), skipped \(.skipped), deleted \(.deleted), dirs created \(.directoriesCreated), \(.bytes) bytes, \(.failures | length) failed"' 2>/dev/null) ||
    SYNC_RESULT="(no JSON: $(printf '%s' "$json" | head -c 200))"
  log "a no-op depot sync reports: $SYNC_RESULT"
  case "$SYNC_RESULT" in "sent 0, skipped $FILES,"*) ;; *) log "WARNING: the no-op depot sync did not skip all $FILES files: $SYNC_RESULT" ;; esac
  RSYNC_VERSION=$(rsync --version | awk 'NR==1{print $3}')

  bench_hyperfine sync "$T_RSYNC" "$NOOP_RUNS" "$RSYNC" "hyperfine, 1 warm-up; ssh session setup + file-list compare"
  bench_hyperfine sync "$T_SYNC" "$NOOP_RUNS" "$SYNC" "hyperfine, 1 warm-up; .NET start-up + listing + compare"
fi

if has startup; then
  curl -sS -f -o /dev/null -H Expect: -H "$DEPOT_AUTH" -T "$DATA/small-4k.bin" "$DEPOT_URL/v1/default/small.txt" ||
    die "PUT of /small.txt failed"
  IL="dotnet $IL_DIR/depot.dll"
  $DEPOT stat /small.txt >>"$LOG" 2>&1 || die "depot stat /small.txt failed (see logs/bench.log with KEEP_WORK=1)"
  $IL stat /small.txt >>"$LOG" 2>&1 || die "the IL build's depot stat /small.txt failed (see logs/bench.log with KEEP_WORK=1)"
  bench_hyperfine startup "$T_VER" "$STARTUP_RUNS" "$DEPOT --version" "hyperfine, 1 warm-up; no server contact"
  bench_hyperfine startup "$T_VER_IL" "$STARTUP_RUNS" "$IL --version" "hyperfine, 1 warm-up; the muxer, then JIT of everything"
  [ -z "$IL_APPHOST" ] || bench_hyperfine startup "$T_VER_ILA" "$STARTUP_RUNS" "$IL_APPHOST --version" "hyperfine, 1 warm-up; same host as the publish, no R2R code"
  bench_hyperfine startup "$T_STAT" "$STARTUP_RUNS" "$DEPOT stat /small.txt" "hyperfine, 1 warm-up; StatAsync against the local server"
  bench_hyperfine startup "$T_STAT_IL" "$STARTUP_RUNS" "$IL stat /small.txt" "hyperfine, 1 warm-up"
  [ -z "$IL_APPHOST" ] || bench_hyperfine startup "$T_STAT_ILA" "$STARTUP_RUNS" "$IL_APPHOST stat /small.txt" "hyperfine, 1 warm-up"
fi
is_alive "$DEPOT_PID" "$DEPOT_COMM" || log "WARNING: depot died during the run"
stop_depot
# after Depot: the kit's `stop` stops every process with a pid file in $BENCH_WORK/pids, Depot's included
if has sync; then "$KIT/setup-peers.sh" stop >/dev/null; fi
log "all sections done in $(($(date +%s) - t0)) s"

# --- report ------------------------------------------------------------------------
summary() {
  awk -F'\t' -v tcp="$T_CURL_PUT" -v tcpp="$T_CURL_PUT_P" -v tput="$T_PUT" -v tcg="$T_CURL_GET" -v tcgp="$T_CURL_GET_P" \
    -v tcs="$T_CURL_GET_SYNC" -v tget="$T_GET" -v trs="$T_RSYNC" -v tsy="$T_SYNC" \
    -v tv="$T_VER" -v tvi="$T_VER_IL" -v tva="$T_VER_ILA" -v ts="$T_STAT" -v tsi="$T_STAT_IL" -v tsa="$T_STAT_ILA" '
    function num(x) { return x ~ /^[0-9.eE+-]+$/ }
    function f(x,   s, i) { if (!num(x)) return (x == "" ? "-" : x)
      if (x >= 100) { s = sprintf("%.0f", x); i = length(s) - 3
        while (i > 0) { s = substr(s, 1, i) "," substr(s, i + 1); i -= 3 }; return s }
      return x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x) }
    # row WHAT KEY REF TARGET HIGHER: value, reference, ratio (value / reference if HIGHER, else reference / value)
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
      row(tcpp, tcpp, "", "", 1)
      row(tput " (ratio: depot / curl time_total)", tput, tcp, "", 1)
      row("(the same, against curl'"'"'s process wall time)", tput, tcpp, "", 1)
      row(tcg, tcg, "", "", 1)
      row(tcgp, tcgp, "", "", 1)
      row(tcs, tcs, "", "", 1)
      row(tget " (ratio: depot / curl time_total)", tget, tcg, "", 1)
      row("(the same, against curl'"'"'s process wall time)", tget, tcgp, "", 1)
      row("(the same, against curl + fsync)", tget, tcs, "", 1)
      row(trs, trs, "", "", 0)
      row(tsy " (ratio: rsync / depot)", tsy, trs, "1", 0)
      row(tv, tv, "", "", 0)
      row(tvi " (ratio: IL / ReadyToRun time)", tvi, tv, "", 1)
      row(tva " (ratio: IL / ReadyToRun time)", tva, tv, "", 1)
      row(ts, ts, "", "", 0)
      row(tsi " (ratio: IL / ReadyToRun time)", tsi, ts, "", 1)
      row(tsa " (ratio: IL / ReadyToRun time)", tsa, ts, "", 1)
    }' "$RESULTS"
}

report=$BENCH_WORK/report.md
{
  echo "# Depot command-line benchmark ($(date -u +%F))"
  echo
  echo "Generated by bench/run-cli.sh (RUNS=$RUNS, BIG_MB=$BIG_MB, FILES=$FILES, NOOP_RUNS=$NOOP_RUNS, STARTUP_RUNS=$STARTUP_RUNS,"
  echo "sections: $SECTIONS) with the shared kit's lib/report.sh and sshd peer."
  echo
  echo "Depot: $BUILT_FROM at git $DEPOT_REV ($DEPOT_DIRTY uncommitted paths), .NET SDK $(cd "$REPO" && dotnet --version 2>/dev/null || echo '?');"
  echo "the rows run the publish (\`${DEPOT_CMD[*]#"$BENCH_WORK/"}\`, a copy in the scratch dir) as the client and as the server"
  echo "(\`depot serve DIR --listen 127.0.0.1:$DEPOT_PORT\`, default settings, admin key). IL-only build: $IL_FROM."
  echo "The client reads DEPOT_URL / DEPOT_KEY from its environment, its own DEPOT_STATE_DIR and no config file;"
  echo "untimed warm-up of the server (curl and depot puts / gets of 64 MiB) before the rows."
  echo
  echo "| assembly | published | IL-only build | published / IL |"
  echo "| --- | ---: | ---: | ---: |"
  printf '%s' "$R2R_TABLE"
  echo
  if [ "$R2R_OK" = 1 ]; then
    echo "The publish is ReadyToRun: its depot.dll carries a ReadyToRun header (\"RTR\" signature behind the CLI header's"
    echo "ManagedNativeHeader) and is much larger than the IL build's (precompiled native code next to the IL)."
  else
    echo "**The publish does not look ReadyToRun** (no ReadyToRun header in depot.dll, or not 1.5× the IL build's size):"
    echo "the startup rows do not show what ReadyToRun buys. Check PublishReadyToRun / RuntimeIdentifier in src/Depot.Cli/Depot.Cli.csproj."
  fi
  if has transfer; then
    echo
    echo "Transfers: $CACHE_NOTE; each uploaded object is deleted after its run, each download removed."
    echo "depot's MB/s come from its process wall time (\`date\` around the process: .NET start-up, the connection and"
    echo "the whole command included); curl's from its own time_total and, on a second row from the same runs, from its"
    echo "process wall time. curl neither verifies nor fsyncs a download; \`depot get\` checks the SHA-256, fsyncs and"
    echo "renames. Client and server share the 2 cores. ${GET_CHECK:-}."
  fi
  if [ -n "$SYNC_RESULT" ]; then
    echo
    echo "Sync: $FILES files of 4 KiB (d00..dNN/e0..e9/f*.bin), one full sync of each kind first (untimed), rsync $RSYNC_VERSION"
    echo "over the kit's sshd (default cipher). A no-op \`depot sync --json\` reported: $SYNC_RESULT."
  fi
  if has startup; then
    echo
    echo "Startup: hyperfine (1 warm-up, $STARTUP_RUNS runs, shell spawn subtracted). \`--version\` touches no server; \`stat\`"
    echo "asks the local server about one file (StatAsync). \"IL build (dotnet depot.dll)\" is the IL-only build through the"
    echo "\`dotnet\` muxer; \"IL build (apphost)\" the same build through its own apphost, as the publish runs: the ratio of"
    echo "that row is what ReadyToRun alone buys. Ratios: IL time / ReadyToRun time (> 1 = ReadyToRun faster)."
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
