#!/usr/bin/env bash
# Side-by-side, in one run: `redis-benchmark --cluster` against a two-master
# Redis Cluster (two `redis-server --cluster-enabled yes`, slots assigned
# with CLUSTER ADDSLOTSRANGE, joined with CLUSTER MEET) and against one
# `cachectl node --cluster --cores 2` (two shards, one per core, each on its
# own port). Prints SET and GET ops/s per pipeline depth, the ratio, and
# each side's server CPU seconds per million requests (utime+stime of the
# server processes from /proc, both redis-servers summed).
#
# Usage: bench/cluster_compare.sh [requests-per-test]   (default 1000000)
# Env:   PIPELINES (default "1 16"), CLIENTS (default 50), KEYSPACE (-r,
#        default 100000), ROUNDS (default 1; even rounds run cachectl first),
#        CACHECTL_BIN (skip the build), RUN_TIMEOUT (seconds, default 600)
#
# It never prints a figure it could not check: it stops non-zero when
# redis-benchmark fails or hangs, a row is missing, a server died, or a
# sample of keys read back through `redis-cli -c` differs from what was
# written.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-1000000}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
ROUNDS=${ROUNDS:-1}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
for tool in redis-server redis-cli redis-benchmark timeout python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools)" >&2; exit 2; }
done
NAME=cluster_compare
# shellcheck source=bench/servers.sh
. bench/servers.sh

# The Redis Cluster: two masters, half the slots each.
r1=$(free_port) r2=$(free_port)
for p in "$r1" "$r2"; do
  mkdir -p "$WORK/rc$p"
  (cd "$WORK/rc$p" && exec redis-server --port "$p" --cluster-enabled yes \
    --cluster-config-file nodes.conf --save '' --appendonly no --bind 127.0.0.1 \
    --loglevel warning) >"$WORK/rc$p.log" 2>&1 &
  LABELS+=("redis-cluster") PORTS+=("$p") PIDS+=("$!") LOGS+=("$WORK/rc$p.log")
done
for p in "$r1" "$r2"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
redis-cli -p "$r1" cluster addslotsrange 0 8191 >/dev/null
redis-cli -p "$r2" cluster addslotsrange 8192 16383 >/dev/null
redis-cli -p "$r1" cluster meet 127.0.0.1 "$r2" >/dev/null
for _ in $(seq 200); do
  redis-cli -p "$r1" cluster info | grep -q 'cluster_state:ok' &&
    redis-cli -p "$r2" cluster info | grep -q 'cluster_state:ok' && break
  sleep 0.1
done
redis-cli -p "$r1" cluster info | grep -q 'cluster_state:ok' || die "the Redis Cluster never reached cluster_state:ok"
REDIS_PIDS="${PIDS[0]} ${PIDS[1]}"

# cachectl: one node, two cores, each a shard on its own port.
cport=$(free_port)
"$BIN" node --cluster --cores 2 --port "$cport" --core-ports 0 >"$WORK/cachectl.log" 2>&1 &
LABELS+=("cachectl") PORTS+=("$cport") PIDS+=("$!") LOGS+=("$WORK/cachectl.log")
CPID=$!
for _ in $(seq 100); do grep -q 'cluster core ports' "$WORK/cachectl.log" && break; sleep 0.1; done
c0=$(sed -n 's/.*cluster core ports \([0-9]*\),.*/\1/p' "$WORK/cachectl.log")
[ -n "$c0" ] || { cat "$WORK/cachectl.log" >&2; die "cachectl printed no core ports"; }

ticks() { local t=0 p; for p in $1; do [ -r "/proc/$p/stat" ] || die "server pid $p is gone"; t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo "$t"; }
HZ=$(getconf CLK_TCK)

# run LABEL PORT PIDS P: one redis-benchmark --cluster run of SET and GET.
run() {
  local label=$1 port=$2 pids=$3 p=$4 before after csv
  before=$(ticks "$pids")
  csv=$WORK/$label-P$p.csv
  if ! timeout "$RUN_TIMEOUT" redis-benchmark --cluster -h 127.0.0.1 -p "$port" -t set,get \
    -n "$N" -c "$CLIENTS" -P "$p" -r "$KEYSPACE" --csv >"$csv" 2>"$WORK/err"; then
    cat "$WORK/err" >&2
    die "redis-benchmark --cluster against $label failed"
  fi
  after=$(ticks "$pids")
  for t in SET GET; do
    local ops
    ops=$(awk -F'"' -v t="$t" '$2==t {print $4}' "$csv")
    [ -n "$ops" ] || die "no $t row for $label -P $p"
    echo "$label $p $t $ops $(( (after - before) ))" >>"$WORK/results"
  done
}

# check PORT: a sample of keys written with `redis-cli -c` reads back.
check() {
  local port=$1 i
  for i in $(seq 1 50); do
    redis-cli -c -p "$port" set "cc:check:$i" "value-$i" >/dev/null
  done
  for i in $(seq 1 50); do
    [ "$(redis-cli -c -p "$port" get "cc:check:$i")" = "value-$i" ] || die "cc:check:$i read back wrong on port $port"
  done
}
check "$r1"
check "$c0"

: >"$WORK/results"
for round in $(seq "$ROUNDS"); do
  for p in $PIPELINES; do
    if [ $((round % 2)) -eq 1 ]; then
      run redis-cluster "$r1" "$REDIS_PIDS" "$p"
      run cachectl "$c0" "$CPID" "$p"
    else
      run cachectl "$c0" "$CPID" "$p"
      run redis-cluster "$r1" "$REDIS_PIDS" "$p"
    fi
  done
done
check "$r1"
check "$c0"

echo "# redis-benchmark --cluster, $N requests per test, -c $CLIENTS, -r $KEYSPACE, $ROUNDS round(s), $(date -u +%F)"
printf '%-4s %-4s %14s %14s %7s %12s %12s %7s\n' P test redis-cluster cachectl ratio "cpu-s/M rc" "cpu-s/M cc" "cpu x"
python3 - "$WORK/results" "$N" "$HZ" <<'EOF'
import sys, collections
rows = collections.defaultdict(list)
n, hz = int(sys.argv[2]), int(sys.argv[3])
for line in open(sys.argv[1]):
    label, p, t, ops, ticks = line.split()
    # SET and GET share one run's CPU ticks: split evenly by requests.
    rows[(p, t, label)].append((float(ops), int(ticks) / hz / 2 / (n / 1e6)))
for p in sorted({k[0] for k in rows}, key=int):
    for t in ("SET", "GET"):
        rc = rows[(p, t, "redis-cluster")]
        cc = rows[(p, t, "cachectl")]
        ro = sum(x for x, _ in rc) / len(rc)
        co = sum(x for x, _ in cc) / len(cc)
        rcpu = sum(c for _, c in rc) / len(rc)
        ccpu = sum(c for _, c in cc) / len(cc)
        print(f"{p:<4} {t:<4} {ro:>14.0f} {co:>14.0f} {co/ro:>7.2f} {rcpu:>12.2f} {ccpu:>12.2f} {ccpu/rcpu:>7.2f}")
EOF
