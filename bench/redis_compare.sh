#!/usr/bin/env bash
# Side-by-side: redis-server vs `cachectl node` under the same redis-benchmark
# load, in one run. Prints ops/s per test and the ratio, plus each server's
# CPU seconds per million requests (utime+stime from /proc/PID/stat).
#
# Usage: bench/redis_compare.sh [requests-per-test]   (default 500000)
# Env:   CORES (cachectl cores, default 2), PIPELINES (default "1 16"),
#        CACHECTL_BIN (use this binary instead of building one),
#        CLIENTS (default 50), KEYSPACE (-r, default 100000), ROUNDS (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-500000}
CORES=${CORES:-2}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
ROUNDS=${ROUNDS:-1}
TESTS=set,get,incr,mset

for tool in redis-server redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools)" >&2; exit 2; }
done
# CACHECTL_BIN=path skips the build (e.g. to compare a saved binary).
if [ -z "${CACHECTL_BIN:-}" ]; then
  cargo build --release --quiet
fi
BIN=${CACHECTL_BIN:-target/release/cachectl}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(free_port); CPORT=$(free_port)

redis-server --port "$RPORT" --save '' --appendonly no --bind 127.0.0.1 --loglevel warning >/tmp/compare-redis.log 2>&1 &
RPID=$!
"$BIN" node --port "$CPORT" --cores "$CORES" >/tmp/compare-cachectl.log 2>&1 &
CPID=$!
trap 'kill $RPID $CPID 2>/dev/null; wait $RPID $CPID 2>/dev/null || true; rm -f "$CLIENT_TIME"' EXIT
for p in "$RPORT" "$CPORT"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# The client's own CPU, as a share of one CPU over its run: redis-benchmark
# is one thread, so near 100% it, not the server, sets the pace.
TIMER=()
CLIENT_TIME=$(mktemp)
[ -x /usr/bin/time ] && TIMER=(/usr/bin/time -f '%e %U %S' -o "$CLIENT_TIME")

# run PORT PID PIPELINE -> prints "test rps" lines, then "cpu <ticks>" and
# "client <percent of a CPU>"
run() {
  local port=$1 pid=$2 pipe=$3 before after
  before=$(ticks "$pid")
  "${TIMER[@]}" redis-benchmark -p "$port" -t "$TESTS" -c "$CLIENTS" -P "$pipe" -r "$KEYSPACE" -n "$N" --csv 2>/dev/null \
    | awk -F'"' 'NR>1 && $2!="" {name=$2; sub(/ .*/, "", name); print name, $4}'
  after=$(ticks "$pid")
  echo "cpu $((after - before))"
  if [ ${#TIMER[@]} -gt 0 ]; then
    awk '{ if ($1 > 0) printf "client %.0f\n", 100 * ($2 + $3) / $1 }' "$CLIENT_TIME"
  fi
}

printf '%-6s %-4s %14s %14s %7s\n' test P redis_ops/s cachectl_ops/s ratio
for round in $(seq "$ROUNDS"); do
  for pipe in $PIPELINES; do
    r=$(run "$RPORT" "$RPID" "$pipe"); c=$(run "$CPORT" "$CPID" "$pipe")
    while read -r name rps; do
      case $name in cpu | client) continue ;; esac
      crps=$(awk -v n="$name" '$1==n {print $2}' <<<"$c")
      printf '%-6s %-4s %14.0f %14.0f %7.2f\n' "$name" "$pipe" "$rps" "$crps" "$(awk -v a="$crps" -v b="$rps" 'BEGIN{print a/b}')"
    done <<<"$r"
    ntests=$(grep -vcE '^(cpu|client)' <<<"$r")
    total=$((N * ntests))
    rcpu=$(awk '$1=="cpu"{print $2}' <<<"$r"); ccpu=$(awk '$1=="cpu"{print $2}' <<<"$c")
    printf 'cpu-s/Mreq P%-3s redis %.3f  cachectl %.3f  (ratio %.2f)\n' "$pipe" \
      "$(awk -v t="$rcpu" -v hz="$HZ" -v n="$total" 'BEGIN{print t/hz/(n/1e6)}')" \
      "$(awk -v t="$ccpu" -v hz="$HZ" -v n="$total" 'BEGIN{print t/hz/(n/1e6)}')" \
      "$(awk -v a="$ccpu" -v b="$rcpu" 'BEGIN{ if (b==0) print 0; else print a/b}')"
    rcl=$(awk '$1=="client"{print $2}' <<<"$r"); ccl=$(awk '$1=="client"{print $2}' <<<"$c")
    [ -n "$rcl" ] && printf 'client P%-3s redis-benchmark used %s%% of a CPU against redis, %s%% against cachectl\n' \
      "$pipe" "$rcl" "$ccl"
  done
done
