#!/usr/bin/env bash
# Lazy free, measured: fill one set with MEMBERS members, then DEL it while
# another client sends PINGs back to back, and print that client's PING
# latencies (p50, p99, max) during the DEL against the same figures before
# it, for redis-server and `cachectl node` side by side. Issue 11's target:
# no request waits more than ~1 ms behind the free, so cachectl's p99 and
# max during the DEL stay near its figures before it. (redis-server 7.0
# frees inline by default: its DEL of a big set stalls every client.)
#
# Usage: bench/lazyfree.sh [members]   (default 5000000)
# Env:   CORES (cachectl cores, default 1), CACHECTL_BIN
set -euo pipefail
cd "$(dirname "$0")/.."
MEMBERS=${1:-5000000}
CORES=${CORES:-1}
for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
NAME=lazyfree
# shellcheck source=bench/servers.sh
. bench/servers.sh
start redis redis-server --save '' --appendonly no --bind 127.0.0.1 --loglevel warning --port
start cachectl "$BIN" node --cores "$CORES" --port

# SADD big m0 .. m<MEMBERS-1>, 1000 members per command.
python3 - "$MEMBERS" >"$WORK/fill.resp" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for start in range(0, n, 1000):
    members = [b"m%d" % i for i in range(start, min(n, start + 1000))]
    args = [b"SADD", b"big"] + members
    out.write(b"*%d\r\n" % len(args))
    for a in args:
        out.write(b"$%d\r\n%s\r\n" % (len(a), a))
PY

for i in "${!LABELS[@]}"; do
  label=${LABELS[$i]} port=${PORTS[$i]}
  redis-cli -p "$port" --pipe <"$WORK/fill.resp" >"$WORK/pipe.$label" 2>&1 ||
    die "$label: the fill failed: $(cat "$WORK/pipe.$label")"
  card=$(redis-cli -p "$port" scard big)
  [ "$card" = "$MEMBERS" ] || die "$label: SCARD big is $card, not $MEMBERS"
  python3 - "$port" "$label" <<'PY' || die "$label: the measurement failed"
import socket, sys, threading, time
port, label = int(sys.argv[1]), sys.argv[2]

def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def pings(seconds):
    """Latencies of back-to-back PINGs for `seconds`, in ms."""
    s, out, end = conn(), [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        s.sendall(b"PING\r\n")
        if s.recv(64) != b"+PONG\r\n":
            raise SystemExit("bad PING reply")
        out.append((time.perf_counter() - t) * 1000)
    return out

def summary(xs):
    xs = sorted(xs)
    return "p50 %.3f  p99 %.3f  max %.3f ms  (%d pings)" % (
        xs[len(xs) // 2], xs[int(len(xs) * 0.99)], xs[-1], len(xs))

before = pings(1.0)
during = []
t = threading.Thread(target=lambda: during.extend(pings(1.5)))
t.start()
time.sleep(0.2)
d = conn()
t0 = time.perf_counter()
d.sendall(b"DEL big\r\n")
reply = d.recv(64)
del_ms = (time.perf_counter() - t0) * 1000
t.join()
if reply != b":1\r\n":
    raise SystemExit("DEL answered %r" % reply)
print("%-9s before DEL: %s" % (label, summary(before)))
print("%-9s during DEL: %s; the DEL itself took %.1f ms" % (label, summary(during), del_ms))
PY
done
