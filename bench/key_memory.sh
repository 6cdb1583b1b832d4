#!/usr/bin/env bash
# Memory per string key, side by side (issue 14, "compact store"): load the
# same N string keys (as `redis-cli --pipe` loads them: one SET per key) into
# redis-server, a 1-core `cachectl node` and a 2-core one, then print each
# server's RSS, its growth over the load, the bytes per key that growth
# comes to, and used_memory; then each node's bytes per key ÷ Redis's
# (issue 14's target: ≤ 0.6 on both node sizes, also with VALUE=200 and with
# a TTL on every key).
#
# Keys are 16 bytes (key:<12-digit index>), values VALUE bytes, distinct per
# key (v<index> padded with '.', never an integer Redis could share or
# int-encode). The payload (16 + VALUE bytes a key) is printed as the floor.
#
# Usage: bench/key_memory.sh [keys]   (default 2000000)
# Env:   VALUE (value bytes, default 32), TTL (seconds; when set every key is
#        SET k v EX $TTL; default none), CACHECTL_BIN (use this binary
#        instead of building one)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000000}
VALUE=${VALUE:-32}
TTL=${TTL:-}
TARGET=0.6
for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
NAME=key_memory
if ! [[ $N =~ ^[1-9][0-9]*$ && $N -le 1000000000000 ]]; then
  echo "$NAME: keys must be a whole number from 1 to 10^12, not '$N'" >&2
  exit 2
fi
last_index=$((N - 1))
if ! [[ $VALUE =~ ^[0-9]+$ && $VALUE -gt ${#last_index} ]]; then
  echo "$NAME: VALUE must be more than ${#last_index} bytes (v + the index), not '$VALUE'" >&2
  exit 2
fi
if [ -n "$TTL" ] && ! [[ $TTL =~ ^[1-9][0-9]*$ ]]; then
  echo "$NAME: TTL must be a whole number of seconds, not '$TTL'" >&2
  exit 2
fi
# shellcheck source=bench/servers.sh
. bench/servers.sh
start redis redis-server --save '' --appendonly no --bind 127.0.0.1 --loglevel warning --port
start node-1c "$BIN" node --cores 1 --port
start node-2c "$BIN" node --cores 2 --port

# The load, as RESP: SET key:<%012d i> v<i, as wide as N-1>.... [EX TTL];
# the last key's value goes to last.value for the read-back.
python3 - "$N" "$VALUE" "$TTL" "$WORK/last.value" >"$WORK/load.resp" <<'PY'
import sys
n, size, ttl, last = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
width = len(str(n - 1))
out = sys.stdout.buffer
tail = b"$2\r\nEX\r\n$%d\r\n%s\r\n" % (len(ttl), ttl.encode()) if ttl else b""
head = b"*5\r\n$3\r\nSET\r\n$16\r\n" if ttl else b"*3\r\n$3\r\nSET\r\n$16\r\n"
vhead = b"\r\n$%d\r\n" % size
for i in range(n):
    key = b"key:%012d" % i
    val = (b"v%0*d" % (width, i)).ljust(size, b".")
    out.write(head + key + vhead + val + b"\r\n" + tail)
with open(last, "wb") as f:
    f.write(val)
PY
last_key=$(printf 'key:%012d' "$last_index")
last_value=$(cat "$WORK/last.value")
if [ "${#last_key}" -ne 16 ] || [ "${#last_value}" -ne "$VALUE" ]; then
  die "generated a ${#last_key}-byte key / ${#last_value}-byte value"
fi

div() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.4f", a / b}'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
echo "N=$N keys, key 16 B, value $VALUE B, TTL ${TTL:-none}"
printf 'payload: %d B/key (%.1f MB in all)\n' "$((16 + VALUE))" \
  "$(div "$(((16 + VALUE) * N))" 1048576)"
printf '%-8s %13s %12s %11s %11s %14s %12s\n' \
  server rss_before_mb rss_after_mb growth_mb bytes/key used_memory_mb keys
declare -A BPK
for i in "${!LABELS[@]}"; do
  label=${LABELS[$i]} port=${PORTS[$i]} pid=${PIDS[$i]}
  base=$(rss_kb "$pid")
  pipe_load "$label" "$port" "$WORK/load.resp" "$N"
  keys=$N
  got=$(redis-cli -p "$port" get "$last_key")
  [ "$got" = "$last_value" ] || die "$label: read back '$got' for $last_key"
  if [ -n "$TTL" ]; then
    ttl=$(redis-cli -p "$port" ttl "$last_key")
    if ! [[ $ttl =~ ^[0-9]+$ && $ttl -ge 1 && $ttl -le $TTL ]]; then
      die "$label: TTL of $last_key is '$ttl', not 1..$TTL"
    fi
  fi
  used=$(redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}')
  [ -n "$used" ] || die "$label: INFO memory has no used_memory"
  after=$(rss_kb "$pid")
  BPK[$label]=$(div "$(((after - base) * 1024))" "$N")
  printf '%-8s %13.1f %12.1f %11.1f %11.1f %14.1f %12s\n' "$label" \
    "$(div "$base" 1024)" "$(div "$after" 1024)" "$(div "$((after - base))" 1024)" \
    "${BPK[$label]}" "$(div "$used" 1048576)" "$keys"
done
(( $(awk -v r="${BPK[redis]}" 'BEGIN{print (r > 0)}') )) ||
  die "redis grew by ${BPK[redis]} B/key; no ratio to take"
for label in node-1c node-2c; do
  ratio=$(div "${BPK[$label]}" "${BPK[redis]}")
  verdict=$(awk -v r="$ratio" -v t="$TARGET" 'BEGIN{print (r <= t) ? "PASS" : "MISS"}')
  printf '%s bytes/key / redis bytes/key = %.2f  %s (target <= %s)\n' \
    "$label" "$ratio" "$verdict" "$TARGET"
done
