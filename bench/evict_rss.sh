#!/usr/bin/env bash
# Eviction accuracy: does `--maxmemory` bound what the process really holds?
# Start `cachectl node --maxmemory M --maxmemory-policy allkeys-lru`, write
# BYTES of fresh keys into it (far more than fit) with `redis-cli --pipe`,
# and report the node's RSS at the end and its peak (VmHWM) beside
# M + the empty node's RSS. Issue 14's target: within 15% of that.
#
# Usage: bench/evict_rss.sh [bytes-to-write]   (default 2g)
# Env:   MAXMEMORY (default 256mb), CORES (default 2), VALUE (value bytes,
#        default 100; `mix` for sizes spread over 32..512, which spreads the
#        keys over many size classes), CACHECTL_BIN, REDIS=1 (run
#        redis-server the same way beside it, for reference)
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL=${1:-2g}
MAXMEMORY=${MAXMEMORY:-256mb}
CORES=${CORES:-2}
VALUE=${VALUE:-100}
for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
bytes() { # 2g, 256mb, 100k, 123 -> bytes
  python3 -c 'import re,sys; m=re.fullmatch(r"(\d+)\s*([kmg]?)b?", sys.argv[1].lower()) or sys.exit("bad size: "+sys.argv[1]); print(int(m[1]) * {"":1,"k":1024,"m":1024**2,"g":1024**3}[m[2]])' "$1"
}
TOTAL_B=$(bytes "$TOTAL")
MAX_B=$(bytes "$MAXMEMORY")
[ "$VALUE" = mix ] || [[ "$VALUE" =~ ^[0-9]+$ ]] || {
  echo "evict_rss: VALUE must be a byte count or 'mix', not '$VALUE'" >&2
  exit 2
}
NAME=evict_rss
# shellcheck source=bench/servers.sh
. bench/servers.sh
start cachectl "$BIN" node --cores "$CORES" --maxmemory "$MAXMEMORY" \
  --maxmemory-policy allkeys-lru --port
if [ "${REDIS:-0}" = 1 ]; then
  start redis redis-server --save '' --appendonly no --bind 127.0.0.1 --loglevel warning \
    --maxmemory "$MAXMEMORY" --maxmemory-policy allkeys-lru --port
fi

status_kb() { awk -v f="$2:" '$1==f {print $2}' "/proc/$1/status"; }
info() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1==f {print $2}'; }
mb() { awk -v a="$1" 'BEGIN{printf "%.1f", a / 1048576}'; }

# SET key:<i> <value> until TOTAL bytes of keys and values were sent; the
# values are distinct per key. Generated on the fly: no file of gigabytes.
gen() {
  python3 - "$TOTAL_B" "$VALUE" <<'PY'
import random, sys
total, value = int(sys.argv[1]), sys.argv[2]
rng = random.Random(14)
out = sys.stdout.buffer
sent, i = 0, 0
buf = []
while sent < total:
    n = rng.randint(32, 512) if value == "mix" else int(value)
    k = b"key:%012d" % i
    v = (b"v%d." % i).ljust(n, b".")[:n]
    buf.append(b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$%d\r\n%s\r\n" % (k, n, v))
    sent += len(k) + n
    i += 1
    if len(buf) >= 4096:
        out.write(b"".join(buf))
        buf.clear()
out.write(b"".join(buf))
sys.stderr.write("%d\n" % i)
PY
}

echo "writing $(mb "$TOTAL_B") MB of keys and values (VALUE=$VALUE) into maxmemory $(mb "$MAX_B") MB"
printf '%-9s %9s %9s %9s %10s %11s %10s %8s %s\n' server empty_mb rss_mb peak_mb target_mb used_mem_mb keys evicted verdict
for i in "${!LABELS[@]}"; do
  label=${LABELS[$i]} port=${PORTS[$i]} pid=${PIDS[$i]}
  empty=$(status_kb "$pid" VmRSS)
  gen 2>"$WORK/count.$label" | redis-cli -p "$port" --pipe >"$WORK/pipe.$label" 2>&1 ||
    die "$label: redis-cli --pipe failed: $(cat "$WORK/pipe.$label")"
  sent=$(cat "$WORK/count.$label")
  grep -q "errors: 0, replies: $sent\$" "$WORK/pipe.$label" ||
    die "$label: the load did not get $sent clean replies: $(tail -2 "$WORK/pipe.$label")"
  rss=$(status_kb "$pid" VmRSS)
  peak=$(status_kb "$pid" VmHWM)
  used=$(info "$port" memory used_memory)
  evicted=$(info "$port" stats evicted_keys)
  keys=$(redis-cli -p "$port" dbsize)
  [ "$evicted" -gt 0 ] || die "$label evicted nothing: the write did not pass maxmemory"
  target_kb=$((MAX_B / 1024 + empty))
  verdict=$(awk -v r="$rss" -v p="$peak" -v t="$target_kb" -v m="$((MAX_B / 1024))" 'BEGIN{
    d = (r > t ? r - t : t - r) / m; dp = (p - t) / m;
    printf "end %+.1f%%, peak %+.1f%% of maxmemory: %s", (r - t) * 100 / m, dp * 100,
      (d <= 0.15 && dp <= 0.15) ? "PASS" : "MISS" }')
  printf '%-9s %9.1f %9.1f %9.1f %10.1f %11.1f %10s %8s %s\n' "$label" \
    "$(awk -v a="$empty" 'BEGIN{print a/1024}')" "$(awk -v a="$rss" 'BEGIN{print a/1024}')" \
    "$(awk -v a="$peak" 'BEGIN{print a/1024}')" "$(awk -v a="$target_kb" 'BEGIN{print a/1024}')" \
    "$(mb "$used")" "$keys" "$evicted" "$verdict"
done
