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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(free_port)
redis-server --port "$RPORT" --save '' --appendonly no --bind 127.0.0.1 \
  --protected-mode no --maxclients 10000 --loglevel warning >/tmp/compare-redis.log 2>&1 &
RPID=$!
NODE_OUT=$(mktemp)
"$BIN" node --port 0 --cores "$CORES" >"$NODE_OUT" 2>/tmp/compare-cachectl.log &
CPID=$!
trap 'kill $RPID $CPID 2>/dev/null; wait $RPID $CPID 2>/dev/null || true; rm -f "$NODE_OUT"' EXIT

for _ in $(seq 100); do
  grep -q "listening on" "$NODE_OUT" && redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
CADDR=$(grep -o '127\.0\.0\.1:[0-9]*' "$NODE_OUT" | head -1)
[ -n "$CADDR" ] || { echo "cachectl node did not start" >&2; exit 1; }

# run ADDR PIPELINE -> "rps p50 p99 failed"
run() {
  local args=(bench --target "$1" --duration "$DURATION" --connections "$CONNECTIONS"
    --pipeline "$2" --ratio "$RATIO" --keyspace "$KEYSPACE" --value-size "$VALUE_SIZE" --json -)
  [ -n "${RATE:-}" ] && args+=(--rate "$RATE")
  "$BIN" "${args[@]}" 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
op = r["latency_us"]["op"]
print("%.0f %d %d %d" % (r["throughput_per_s"], op["p50"], op["p99"], r["failed"]))'
}

echo "load: ${CONNECTIONS} connections, ratio ${RATIO}, keyspace ${KEYSPACE}, ${VALUE_SIZE}-byte values, ${DURATION} each${RATE:+, fixed rate $RATE/s}"
echo "servers: redis-server $(redis-server --version | grep -o 'v=[0-9.]*') (1 thread) vs cachectl node --cores ${CORES}"
printf '%-3s %-9s %12s %9s %9s %12s %9s %9s %7s\n' \
  P first redis_req/s p50_us p99_us cachectl_req/s p50_us p99_us ratio
for round in $(seq "$ROUNDS"); do
  for p in $PIPELINE; do
    if [ $((round % 2)) -eq 1 ]; then
      first=redis
      read -r rr rp50 rp99 rf <<<"$(run "127.0.0.1:$RPORT" "$p")"
      read -r cr cp50 cp99 cf <<<"$(run "$CADDR" "$p")"
    else
      first=cachectl
      read -r cr cp50 cp99 cf <<<"$(run "$CADDR" "$p")"
      read -r rr rp50 rp99 rf <<<"$(run "127.0.0.1:$RPORT" "$p")"
    fi
    if [ "$rf" != 0 ] || [ "$cf" != 0 ]; then
      echo "failures: redis $rf, cachectl $cf (see cachectl bench output)" >&2
    fi
    printf '%-3s %-9s %12s %9s %9s %12s %9s %9s %7.2f\n' \
      "$p" "$first" "$rr" "$rp50" "$rp99" "$cr" "$cp50" "$cp99" \
      "$(python3 -c "print($cr / max($rr, 1))")"
  done
done
echo "ratio = cachectl req/s ÷ redis req/s (same client, same load, same machine)"
