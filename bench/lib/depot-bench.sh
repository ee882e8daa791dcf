# shellcheck shell=bash
# What the bench/run-*.sh scripts share: scratch directory, console log, clean-up, the Depot build, report notes.
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

# port_busy PORT: true when something listens on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# depot_bench_build TIMEOUT_S: the Depot executable in $BENCH_WORK/depot-bin, from PREBUILT (a folder with depot.dll)
# or published from the work tree (nothing written under src/), retried BUILD_TRIES times BUILD_RETRY_S apart while the
# tree does not compile. Sets BIN, BUILT_FROM, DEPOT_REV, DEPOT_DIRTY, DEPOT_CMD, DEPOT_COMM, DEPOT_KEY and exports
# DEPOT_ADMIN_KEY.
depot_bench_build() {
  BIN=$BENCH_WORK/depot-bin
  if [ -n "$PREBUILT" ]; then
    [ -f "$PREBUILT/depot.dll" ] || die "no depot.dll in $PREBUILT"
    mkdir -p "$BIN"
    cp -a "$PREBUILT/." "$BIN/"
    BUILT_FROM="prebuilt $PREBUILT"
  else
    for ((try = 1; ; try++)); do
      log "dotnet publish -c Release src/Depot.Cli (try $try of $BUILD_TRIES)"
      if (cd "$REPO" && timeout "$1" dotnet publish src/Depot.Cli -c Release -nologo -o "$BIN" \
          --artifacts-path "$BENCH_WORK/artifacts") >"$BENCH_WORK/logs/build.log" 2>&1; then
        break
      fi
      grep -E 'error' "$BENCH_WORK/logs/build.log" | sort -u | head -n 10 >&2 || true
      [ "$try" -lt "$BUILD_TRIES" ] || die "Depot build failed $BUILD_TRIES times (see above)"
      log "build failed; the tree may be mid-edit, retrying in ${BUILD_RETRY_S} s"
      sleep "$BUILD_RETRY_S"
    done
    rm -rf "$BENCH_WORK/artifacts"
    BUILT_FROM="Release build of the work tree"
  fi
  DEPOT_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "no commit")
  DEPOT_DIRTY=$(git -C "$REPO" status --porcelain 2>/dev/null | wc -l)
  if [ -x "$BIN/depot" ]; then DEPOT_CMD=("$BIN/depot") DEPOT_COMM=depot; else DEPOT_CMD=(dotnet "$BIN/depot.dll") DEPOT_COMM=dotnet; fi
  DEPOT_KEY=bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  export DEPOT_ADMIN_KEY=$DEPOT_KEY
}

# depot_bench_publish_report REPORT: copies the report to $OUT (and the raw rows next to it as .tsv) when --out was
# given, and prints it.
depot_bench_publish_report() {
  if [ -n "$OUT" ]; then
    cp "$1" "$OUT"
    cp "$RESULTS" "${OUT%.md}.tsv"
    log "report written to $OUT (raw rows: ${OUT%.md}.tsv)"
  fi
  cat "$1"
}

# start_depot NAME [VAR=VALUE ...]: `depot serve` on DATA_DIR (with those variables and DEPOT_SERVER_ENV in its
# environment); waits for /healthz; sets DEPOT_PID and DEPOT_RUNNING. stop_depot stops it.
start_depot() {
  local name=$1 i up=0
  shift
  mkdir -p "$DATA_DIR"
  # shellcheck disable=SC2086
  start_bg "$name" "$DEPOT_COMM" env ${DEPOT_SERVER_ENV:-} "$@" "${DEPOT_CMD[@]}" serve "$DATA_DIR" --listen "127.0.0.1:$DEPOT_PORT"
  DEPOT_RUNNING=$name
  read -r DEPOT_PID _ <"$BENCH_WORK/pids/$name.pid"
  for ((i = 0; i < 300; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "$DEPOT_URL/healthz" 2>/dev/null; then up=1; break; fi
    [ -e "/proc/$DEPOT_PID" ] && ! awk '{sub(/^.*\) /, ""); exit ($1 == "Z" ? 0 : 1)}' "/proc/$DEPOT_PID/stat" 2>/dev/null ||
      { tail -n 20 "$BENCH_WORK/logs/$name.log" >&2; die "depot exited during start-up"; }
    sleep 0.1
  done
  # `env` exec'd the server: the pid is the same, its comm is now the server's
  DEPOT_COMM=$(cat "/proc/$DEPOT_PID/comm" 2>/dev/null || echo "$DEPOT_COMM")
  echo "$DEPOT_PID $DEPOT_COMM" >"$BENCH_WORK/pids/$name.pid"
  [ "$up" = 1 ] || { tail -n 20 "$BENCH_WORK/logs/$name.log" >&2; die "depot: no 200 from $DEPOT_URL/healthz within 30 s"; }
  log "depot pid $DEPOT_PID on $DEPOT_URL"
}
stop_depot() { stop_bg "$DEPOT_RUNNING"; DEPOT_RUNNING=""; }

# depot_bench_log_summary: how many lines the Depot server logged, and the distinct fail/error/warn lines (tokens
# of 16+ characters masked), for the end of a report.
depot_bench_log_summary() {
  local log="$BENCH_WORK/logs/depot.log" nerr
  [ -f "$log" ] || return 0
  nerr=$(grep -ciE 'fail|error|exception|warn' "$log" || true)
  echo
  echo "Depot server log: $(wc -l <"$log") lines; $nerr mention fail/error/exception/warn."
  if [ "$nerr" -gt 0 ]; then
    echo
    echo '```'
    grep -iE 'fail|error|exception|warn' "$log" | cut -c14- | sed -E 's/[A-Za-z0-9_-]{16,}/…/g' |
      sort | uniq -c | sort -rn | head -n 15
    echo '```'
  fi
}

# server_cpu: utime + stime of the server (DEPOT_PID), in clock ticks.
server_cpu() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$DEPOT_PID/stat"; }

# depot_bench_make_tree DIR N: N files of 4 KiB random bytes in DIR/dNN/eN/fNNNNN.bin (100 per directory), the tree
# the sync rows compare against rsync.
depot_bench_make_tree() {
  perl -e '
    my ($root, $n) = @ARGV; open(my $r, "<:raw", "/dev/urandom") or die;
    for my $i (0 .. $n - 1) {
      my $d = sprintf("%s/d%02d/e%02d", $root, int($i / 1000) % 100, int($i / 100) % 10);
      if ($i % 100 == 0) { system("mkdir", "-p", $d) == 0 or die }
      read($r, my $buf, 4096) == 4096 or die;
      open(my $f, ">:raw", sprintf("%s/f%05d.bin", $d, $i)) or die; print $f $buf; close($f) or die;
    }' "$1" "$2"
}

# depot_bench_preflight PEERS SSHD: the tools every Depot run needs (curl, dotnet, openssl, perl, time); with PEERS=1
# also the kit's peer tools (rsync, ssh, sshd, hyperfine, jq; installed by the kit's setup-peers.sh unless INSTALL=0);
# a free DEPOT_PORT, and with SSHD=1 a free SSHD_PORT for the kit's sshd peer. Dies with the reason otherwise.
depot_bench_preflight() {
  local peers=$1 sshd=$2 tool
  if [ "$INSTALL" = 1 ] && [ "$peers" = 1 ]; then "$KIT/setup-peers.sh" install; fi
  for tool in curl dotnet openssl perl /usr/bin/time; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
  if [ "$peers" = 1 ]; then
    for tool in rsync ssh sshd hyperfine jq; do
      command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || die "$tool is not installed (run without --no-install)"
    done
  fi
  port_busy "$DEPOT_PORT" && die "port $DEPOT_PORT is already in use (use --port)"
  if [ "$sshd" = 1 ]; then port_busy "${SSHD_PORT:-18022}" && die "port ${SSHD_PORT:-18022} (sshd peer) is already in use (set SSHD_PORT)"; fi
  return 0
}
