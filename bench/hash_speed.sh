#!/usr/bin/env bash
# Speed of small hashes, the kind caches keep (listpack encoding): redis-server
# vs `cachectl node` (and, with BASELINE_BIN, a second cachectl build) under
# redis-benchmark's custom-command mode, in one run. Each server first gets
# KEYSPACE hashes of 10 short fields, then each command runs N times on
# random ones of them: HGET, HSET of an existing field, HINCRBY, HGETALL.
# Prints ops/s and the server's CPU seconds per million requests
# (utime+stime from /proc/PID/stat), as bench/redis_compare.sh does.
#
# Usage: bench/hash_speed.sh [requests-per-command]   (default 300000)
# Env:   CORES (default 1), PIPE (redis-benchmark -P, default 1),
#        CLIENTS (default 50), KEYSPACE (default 100000), ROUNDS (default 2;
#          odd rounds run the servers in start order, even rounds reversed),
#        CACHECTL_BIN, BASELINE_BIN (as bench/servers.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300000}
CORES=${CORES:-1}
PIPE=${PIPE:-1}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
ROUNDS=${ROUNDS:-2}
for tool in redis-server redis-cli redis-benchmark python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
NAME=hash_speed
# shellcheck source=bench/servers.sh
. bench/servers.sh
start redis redis-server --save '' --appendonly no --bind 127.0.0.1 --loglevel warning --port
start cachectl "$BIN" node --cores "$CORES" --port
[ -n "$BASELINE_BIN" ] && start baseline "$BASELINE_BIN" node --cores "$CORES" --port
HZ=$(getconf CLK_TCK)

# redis-benchmark writes __rand_int__ as 12 digits, so the load does too.
python3 - "$KEYSPACE" >"$WORK/load.resp" <<'PY'
import sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    args = [b"HSET", b"h:%012d" % i]
    for j in range(10):
        args += [b"f%d" % j, b"value-%d-%d" % (i, j)]
    out.write(b"*%d\r\n" % len(args))
    for a in args:
        out.write(b"$%d\r\n%s\r\n" % (len(a), a))
PY

COMMANDS=(
  "hget h:__rand_int__ f5"
  "hset h:__rand_int__ f5 value-x-5"
  "hincrby h:__rand_int__ counter 1"
  "hgetall h:__rand_int__"
)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A RPS CPU

run_server() {
  local i=$1 label=${LABELS[$1]} port=${PORTS[$1]} pid=${PIDS[$1]} c t0 t1 rps enc
  redis-cli -p "$port" flushall >/dev/null
  pipe_load "$label" "$port" "$WORK/load.resp" "$KEYSPACE"
  for c in "${COMMANDS[@]}"; do
    t0=$(ticks "$pid")
    # shellcheck disable=SC2086 # the command's words are meant to split
    redis-benchmark -p "$port" -c "$CLIENTS" -P "$PIPE" -r "$KEYSPACE" -n "$N" --csv $c \
      >"$WORK/out" 2>"$WORK/err" || die "$label: redis-benchmark $c: $(cat "$WORK/err")"
    t1=$(ticks "$pid")
    rps=$(awk -F'"' 'NR>1 && $4!="" {print $4; exit}' "$WORK/out")
    [[ $rps =~ ^[0-9.]+$ ]] || die "$label: $c gave no rate: $(cat "$WORK/out")"
    RPS[$label,$c]="${RPS[$label,$c]:-} $rps"
    CPU[$label,$c]=$((${CPU[$label,$c]:-0} + t1 - t0))
  done
  # The hashes stayed small, and the writes landed.
  enc=$(redis-cli -p "$port" object encoding h:000000000001)
  [ "$enc" = listpack ] || die "$label: a hash's encoding is '$enc', not listpack"
  [ "$(redis-cli -p "$port" hlen h:000000000001)" -le 11 ] || die "$label: a hash grew past 11 fields"
}

order=("${!LABELS[@]}")
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then seq_=("${order[@]}"); else
    seq_=()
    for ((k = ${#order[@]} - 1; k >= 0; k--)); do seq_+=("${order[$k]}"); done
  fi
  for i in "${seq_[@]}"; do run_server "$i"; done
done

mean() { tr ' ' '\n' | awk 'NF {s += $1; n++} END {printf "%.0f", s / n}'; }
echo "redis-benchmark -c $CLIENTS -P $PIPE -r $KEYSPACE -n $N, $ROUNDS round(s); cachectl node --cores $CORES"
printf '%-34s' command
for l in "${LABELS[@]}"; do printf '%12s %9s' "$l" "cpu_s/M"; done
echo "   cachectl/redis"
for c in "${COMMANDS[@]}"; do
  printf '%-34s' "$c"
  for l in "${LABELS[@]}"; do
    printf '%12s %9s' "$(echo "${RPS[$l,$c]}" | mean)" \
      "$(awk -v t="${CPU[$l,$c]}" -v hz="$HZ" -v n="$((N * ROUNDS))" 'BEGIN{printf "%.3f", t / hz / (n / 1e6)}')"
  done
  awk -v a="$(echo "${RPS[cachectl,$c]}" | mean)" -v b="$(echo "${RPS[redis,$c]}" | mean)" \
    'BEGIN{printf "   %.2f\n", a / b}'
done
