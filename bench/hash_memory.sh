#!/usr/bin/env bash
# Memory for hashes, side by side: load N hashes of FIELDS small fields each
# (as `redis-cli --pipe` loads them: one HSET per hash) into redis-server and
# into `cachectl node`, then print each server's RSS and used_memory, and
# cachectl's RSS ÷ Redis's (issue 11's target: ≤ 1.0).
#
# Usage: bench/hash_memory.sh [hashes]   (default 1000000)
# Env:   FIELDS (default 10), CORES (cachectl cores, default 1),
#        CACHECTL_BIN (use this binary instead of building one)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
FIELDS=${FIELDS:-10}
CORES=${CORES:-1}
for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
NAME=hash_memory
# shellcheck source=bench/servers.sh
. bench/servers.sh
start redis redis-server --save '' --appendonly no --bind 127.0.0.1 --loglevel warning --port
start cachectl "$BIN" node --cores "$CORES" --port

# The load, as RESP: HSET user:<i> f0 v<i>-0 ... f<F-1> v<i>-<F-1>.
python3 - "$N" "$FIELDS" >"$WORK/load.resp" <<'PY'
import sys
n, f = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
for i in range(n):
    args = [b"HSET", b"user:%d" % i]
    for j in range(f):
        args += [b"f%d" % j, b"v%d-%d" % (i, j)]
    out.write(b"*%d\r\n" % len(args))
    for a in args:
        out.write(b"$%d\r\n%s\r\n" % (len(a), a))
PY

div() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.4f", a / b}'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
printf '%-9s %12s %14s %12s %12s\n' server rss_mb used_memory_mb keys encoding
declare -A RSS
for i in "${!LABELS[@]}"; do
  label=${LABELS[$i]} port=${PORTS[$i]} pid=${PIDS[$i]}
  base=$(rss_kb "$pid")
  pipe_load "$label" "$port" "$WORK/load.resp" "$N"
  keys=$N
  got=$(redis-cli -p "$port" hget "user:$((N - 1))" "f$((FIELDS - 1))")
  [ "$got" = "v$((N - 1))-$((FIELDS - 1))" ] || die "$label: read back '$got'"
  enc=$(redis-cli -p "$port" object encoding user:0)
  used=$(redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}')
  RSS[$label]=$(rss_kb "$pid")
  printf '%-9s %12.1f %14.1f %12s %12s\n' "$label" "$(div "${RSS[$label]}" 1024)" \
    "$(div "$used" 1048576)" "$keys" "$enc"
  echo "  ($label RSS before the load: $((base / 1024)) MB)"
done
printf 'cachectl RSS / redis RSS = %.2f (N=%d hashes of %d fields, cachectl --cores %d)\n' \
  "$(div "${RSS[cachectl]}" "${RSS[redis]}")" "$N" "$FIELDS" "$CORES"
