# shellcheck shell=bash
# Shared by the side-by-side scripts (redis_compare.sh, parser_cost.sh):
# pick the cachectl binaries, start servers on fresh ports, and stop every
# one of them on exit. Source it after setting NAME (the script's name, for
# messages); it defines die, start, free_port, BIN, WORK and the server
# arrays LABELS PORTS PIDS LOGS (in start order).

die() {
  echo "$NAME: FAILED: $*" >&2
  exit 1
}

# CACHECTL_BIN=path skips the build (e.g. to compare a saved binary);
# BASELINE_BIN=path is a second build to run beside it.
BASELINE_BIN=${BASELINE_BIN:-}
if [ -z "${CACHECTL_BIN:-}" ]; then
  cargo build --release --quiet
fi
BIN=${CACHECTL_BIN:-${CARGO_TARGET_DIR:-target}/release/cachectl}
for b in "$BIN" ${BASELINE_BIN:+"$BASELINE_BIN"}; do
  [ -x "$b" ] || die "$b is not an executable cachectl binary"
done

WORK=$(mktemp -d)
LABELS=() PORTS=() PIDS=() LOGS=()
cleanup() {
  local pid
  # CONT too: a stopped server (SIGSTOP) would never act on the TERM, and
  # the wait below would hang.
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start LABEL COMMAND... : run a server on a fresh port (the command gets the
# port appended as its last argument) and wait until it answers PING.
start() {
  local label=$1 port log
  shift
  port=$(free_port)
  log=$WORK/$label.log
  "$@" "$port" >"$log" 2>&1 &
  LABELS+=("$label") PORTS+=("$port") PIDS+=("$!") LOGS+=("$log")
  for _ in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$log" >&2
  die "$label did not answer PING on port $port"
}

# pipe_load LABEL PORT FILE N : load FILE (RESP) with `redis-cli --pipe` and
# check that all N replies came back without an error and DBSIZE is N.
pipe_load() {
  local label=$1 port=$2 file=$3 n=$4 keys
  redis-cli -p "$port" --pipe <"$file" >"$WORK/pipe.$label" 2>&1 ||
    die "$label: redis-cli --pipe failed: $(cat "$WORK/pipe.$label")"
  grep -q "errors: 0, replies: $n\$" "$WORK/pipe.$label" ||
    die "$label: the load did not get $n clean replies: $(tail -2 "$WORK/pipe.$label")"
  keys=$(redis-cli -p "$port" dbsize)
  [ "$keys" = "$n" ] || die "$label holds $keys keys, not $n"
}
