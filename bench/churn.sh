#!/usr/bin/env bash
# Start/stop churn of `cachectl node`: start, PING, SIGTERM — N times — and
# count starts that never served and stops that did not exit 0. Used to chase
# the rare two-core start stall (see node::spawn_start_watchdog).
#
# Usage: bench/churn.sh [runs] [cores]   (default 200 runs, 2 cores)
# Env:   CACHECTL_BIN (default: target/release/cachectl, built if missing)
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-200}; CORES=${2:-2}
BIN=${CACHECTL_BIN:-target/release/cachectl}
[ -x "$BIN" ] || cargo build --release --quiet
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
stalled=0; bad_exit=0
for i in $(seq "$RUNS"); do
  "$BIN" node --port 0 --cores "$CORES" >"$tmp/out" 2>"$tmp/err" & pid=$!
  for _ in $(seq 300); do grep -q listening "$tmp/out" && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
  port=$(grep -o '127.0.0.1:[0-9]*' "$tmp/out" | cut -d: -f2)
  if [ -z "$port" ] || ! timeout 5 redis-cli -p "$port" ping >/dev/null 2>&1; then
    stalled=$((stalled + 1)); echo "run $i: never served: $(tail -1 "$tmp/err")"
    kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; continue
  fi
  kill -TERM $pid
  if ! timeout 10 tail --pid=$pid -f /dev/null; then kill -9 $pid; fi
  wait $pid; rc=$?
  if [ $rc -ne 0 ]; then bad_exit=$((bad_exit + 1)); echo "run $i: exit $rc: $(tail -1 "$tmp/err")"; fi
done
echo "$RUNS runs, $CORES cores: $stalled never served, $bad_exit bad exits"
