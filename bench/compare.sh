#!/usr/bin/env bash
# Same load, two servers, one run: `cachectl bench --target` against a
# redis-server and against a `cachectl node`, then the ratio.
#
# Usage: bench/compare.sh
# Env (defaults in brackets; each maps to the bench flag of the same name):
#   DURATION [5s]  CONNECTIONS [50]  PIPELINE ["1 16"]  RATIO [1:10]
#   KEYSPACE [100000]  VALUE_SIZE [32]  RATE [unset: unthrottled]
#   CORES [1]  cores of the cachectl node (redis-server runs one thread)
#   ROUNDS [1]  rounds, alternating which server goes first
#   BIN [built here]  a cachectl binary to use instead of `cargo build --release`
#
# Latency: without RATE the client sends each request when the previous
# reply arrives (closed loop), so a stall delays the requests behind it
# instead of timing them: its p50/p99 are not corrected for coordinated
# omission, and the table says so. With RATE they are measured from each
# request's scheduled send time (corrected), and the table says that.
#
# Stops with a non-zero exit and the bench run's own output (stderr
# included) when a run exits non-zero (`cachectl bench` does on any failed
# request, wrong value read back, or a connection it could not make), or
# when the server counted fewer commands than the bench says were answered.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-50}
PIPELINE=${PIPELINE:-"1 16"}
RATIO=${RATIO:-1:10}
KEYSPACE=${KEYSPACE:-100000}
VALUE_SIZE=${VALUE_SIZE:-32}
CORES=${CORES:-1}
ROUNDS=${ROUNDS:-1}

command -v redis-server >/dev/null || {
  echo "missing redis-server (apt-get install redis-server)" >&2
  exit 2
}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=${CARGO_TARGET_DIR:-target}/release/cachectl
fi

die() {
  echo "compare: FAILED: $*" >&2
  exit 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
RPORT=$(free_port)
redis-server --port "$RPORT" --save '' --appendonly no --bind 127.0.0.1 \
  --protected-mode no --maxclients 10000 --loglevel warning >"$WORK/redis.log" 2>&1 &
RPID=$!
"$BIN" node --port 0 --cores "$CORES" >"$WORK/node.out" 2>"$WORK/node.log" &
CPID=$!
# CONT too: a stopped server would never act on the TERM and the wait would hang.
trap 'kill $RPID $CPID 2>/dev/null; kill -CONT $RPID $CPID 2>/dev/null; wait $RPID $CPID 2>/dev/null || true; rm -rf "$WORK"' EXIT

for _ in $(seq 100); do
  grep -q "listening on" "$WORK/node.out" && redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
CADDR=$(grep -o '127\.0\.0\.1:[0-9]*' "$WORK/node.out" | head -1)
[ -n "$CADDR" ] || { cat "$WORK/node.log" >&2; die "cachectl node did not start"; }
redis-cli -p "$RPORT" ping >/dev/null 2>&1 || { cat "$WORK/redis.log" >&2; die "redis-server did not start"; }

# Commands the server says it processed: INFO stats total_commands_processed
# exists on redis and on our node. Fails if the server does not answer.
count_commands() {
  local n
  n=$(redis-cli -h "${1%:*}" -p "${1##*:}" info stats 2>/dev/null | tr -d '\r' |
    awk -F: '$1=="total_commands_processed"{print $2}')
  [[ $n =~ ^[0-9]+$ ]] && echo "$n"
}

# run LABEL ADDR PIPELINE SERVER_LOG -> sets REQ P50 P99 from one
# `cachectl bench` run. Not called in $(...), so a failure here ends the script.
run() {
  local label=$1 addr=$2 pipe=$3 log=$4 rc=0 before after commands
  local args=(bench --target "$addr" --duration "$DURATION" --connections "$CONNECTIONS"
    --pipeline "$pipe" --ratio "$RATIO" --keyspace "$KEYSPACE" --value-size "$VALUE_SIZE"
    --json "$WORK/run.json")
  [ -n "${RATE:-}" ] && args+=(--rate "$RATE")
  before=$(count_commands "$addr") || die "$label ($addr) does not answer INFO"
  rm -f "$WORK/run.json"
  "$BIN" "${args[@]}" >"$WORK/run.out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "--- output (stdout and stderr) of: $BIN ${args[*]}" >&2
    cat "$WORK/run.out" >&2
    echo "--- end of the $label server's log:" >&2
    tail -20 "$log" >&2
    die "$label: cachectl bench exited $rc"
  fi
  after=$(count_commands "$addr") || die "$label ($addr) does not answer INFO after the run"
  # Requests per second is "throughput_per_s" in older builds and
  # "requests_per_s" in newer ones (the key names the unit); take either.
  read -r REQ P50 P99 commands < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
op = r["latency_us"]["op"]
rps = r["requests_per_s"] if "requests_per_s" in r else r["throughput_per_s"]
print("%.0f %d %d %d" % (rps, op["p50"], op["p99"], r["commands"]))' "$WORK/run.json")
  [ -n "${commands:-}" ] || die "$label: no results in $WORK/run.json"
  [ "$commands" -gt 0 ] || die "$label: the bench run completed no requests"
  # The bench counts a command once its reply checked out; the server must
  # have executed at least those (the delta also holds one of our INFOs).
  [ $((after - before)) -ge "$commands" ] ||
    die "$label: bench counted $commands answered commands, the server only $((after - before))"
}

if [ -n "${RATE:-}" ]; then
  LATENCY="latency corrected at $RATE req/s (coordinated-omission corrected)"
else
  LATENCY="latency closed-loop (not corrected for coordinated omission)"
fi

echo "load: ${CONNECTIONS} connections, ratio ${RATIO}, keyspace ${KEYSPACE}, ${VALUE_SIZE}-byte values, ${DURATION} each${RATE:+, fixed rate $RATE/s}"
echo "servers: redis-server $(redis-server --version | grep -o 'v=[0-9.]*') (1 thread) vs cachectl node --cores ${CORES}"
echo "p50_us/p99_us: $LATENCY"
printf '%-3s %-9s %12s %9s %9s %14s %9s %9s %7s\n' \
  P first redis_req/s p50_us p99_us cachectl_req/s p50_us p99_us ratio
for round in $(seq "$ROUNDS"); do
  for p in $PIPELINE; do
    if [ $((round % 2)) -eq 1 ]; then order="redis cachectl"; else order="cachectl redis"; fi
    first=${order%% *}
    for server in $order; do
      if [ "$server" = redis ]; then
        run redis "127.0.0.1:$RPORT" "$p" "$WORK/redis.log"
        rr=$REQ rp50=$P50 rp99=$P99
      else
        run cachectl "$CADDR" "$p" "$WORK/node.log"
        cr=$REQ cp50=$P50 cp99=$P99
      fi
    done
    printf '%-3s %-9s %12s %9s %9s %14s %9s %9s %7.2f\n' \
      "$p" "$first" "$rr" "$rp50" "$rp99" "$cr" "$cp50" "$cp99" \
      "$(python3 -c "print($cr / max($rr, 1))")"
  done
done
echo "ratio = cachectl req/s ÷ redis req/s (same client, same load, same machine)"
echo "p50_us/p99_us: $LATENCY"
