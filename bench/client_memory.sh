#!/usr/bin/env bash
# Client memory under attack (issue 12): the big-bulk attack and slow-loris
# clients against a release-built `cachectl node --maxmemory 64mb`.
#
# 1. Big bulks: the node's keys are filled to --maxmemory first (64 KiB
#    values until -OOM), then ATTACKERS connections each declare a BULK_MB
#    bulk and send SEND_MB of it in 1 MiB writes, all at once. This runs once
#    per --maxmemory-clients value in CLIENTS (0 = off, Redis's default).
#    Printed: the node's idle RSS after the fill (the fixed overhead, keys
#    included), its peak RSS during the attack and for a second after
#    (sampled from /proc every 10 ms), the bound maxmemory +
#    maxmemory-clients + the overhead, how many attackers were closed
#    (INFO evicted_clients), and whether an ordinary client was served
#    throughout (a PING every 100 ms, each answered within 1 s).
# 2. Slow loris: LORIS clients each send the first bytes of a GET and then
#    one byte a second for LORIS_SECS seconds, never a whole request.
#    Printed: RSS and INFO mem_clients_normal before and while they are
#    connected, per client.
#
# It measures memory, not time, so a loaded machine changes little.
# Usage: bench/client_memory.sh
# Env: CLIENTS (default "0 64mb 1gb"), ATTACKERS (8), BULK_MB (512),
#      SEND_MB (130), LORIS (500), LORIS_SECS (5), CORES (2),
#      CACHECTL_BIN (skip the build, use this binary).
# Fails (non-zero) if the node dies, or, with maxmemory-clients on, if the
# peak passes the bound or the ordinary client was not served.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-"0 64mb 1gb"}
ATTACKERS=${ATTACKERS:-8}
BULK_MB=${BULK_MB:-512}
SEND_MB=${SEND_MB:-130}
LORIS=${LORIS:-500}
LORIS_SECS=${LORIS_SECS:-5}
CORES=${CORES:-2}

for tool in redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-tools)" >&2; exit 2; }
done
NAME=client_memory
# shellcheck source=bench/servers.sh
. bench/servers.sh

HELPER=$WORK/attack.py
cat >"$HELPER" <<'EOF'
import os, socket, sys, threading, time

def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise SystemExit("node gone")

def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

def reply(s):
    buf = b""
    while not buf.endswith(b"\r\n"):
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed")
        buf += d
    return buf

def info(port, field):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(cmd("INFO", "everything"))
    head = reply(s)
    n = int(head[1:head.index(b"\r\n")])
    body = head[head.index(b"\r\n") + 2:]
    while len(body) < n + 2:
        body += s.recv(65536)
    s.close()
    for line in body.decode().split("\r\n"):
        if line.startswith(field + ":"):
            return int(line.split(":")[1])
    raise SystemExit(f"no {field}")

def fill(port):
    s = socket.create_connection(("127.0.0.1", port))
    value = b"v" * 65536
    i = 0
    while True:
        s.sendall(cmd("SET", f"fill:{i}", value))
        r = reply(s)
        if r.startswith(b"-OOM"):
            return i
        if not r.startswith(b"+OK"):
            raise SystemExit(f"fill: {r!r}")
        i += 1

def attack(port, pid, attackers, bulk, send):
    peak = [rss(pid)]
    done = threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss(pid))
            time.sleep(0.01)
    served = [True]
    def ordinary():
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(1.0)
        while not done.is_set():
            try:
                s.sendall(cmd("PING"))
                if reply(s) != b"+PONG\r\n":
                    served[0] = False
            except Exception:
                served[0] = False
                return
            time.sleep(0.1)
    closed = [0]
    def one(i):
        s = socket.create_connection(("127.0.0.1", port))
        chunk = b"x" * (1 << 20)
        try:
            s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\nattack:%d\r\n$%d\r\n" % (len(f"attack:{i}"), i, bulk))
            for _ in range(send >> 20):
                s.sendall(chunk)
        except OSError:
            closed[0] += 1
            return
        # Sent all of it: hold the connection for the rest of the sampling.
        time.sleep(1.0)
        s.close()
    threads = [threading.Thread(target=sample), threading.Thread(target=ordinary)]
    threads += [threading.Thread(target=one, args=(i,)) for i in range(attackers)]
    for t in threads:
        t.start()
    for t in threads[2:]:
        t.join()
    time.sleep(1.0)
    done.set()
    for t in threads[:2]:
        t.join()
    return peak[0], closed[0], served[0]

def loris(port, pid, n, secs):
    before_rss, before_mem = rss(pid), info(port, "mem_clients_normal")
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"*2\r\n$3\r\nGET\r\n$100\r\nk")
        socks.append(s)
    for _ in range(secs):
        time.sleep(1.0)
        for s in socks:
            s.sendall(b"k")
    during_rss, during_mem = rss(pid), info(port, "mem_clients_normal")
    for s in socks:
        s.close()
    return before_rss, during_rss, before_mem, during_mem

mode = sys.argv[1]
port, pid = int(sys.argv[2]), int(sys.argv[3])
if mode == "fill":
    print(fill(port))
elif mode == "attack":
    peak, closed, served = attack(port, pid, int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    print(peak, closed, served, info(port, "evicted_clients"))
elif mode == "rss":
    print(rss(pid))
elif mode == "loris":
    print(*loris(port, pid, int(sys.argv[4]), int(sys.argv[5])))
EOF

mib() { python3 -c "print(f'{$1 / 1048576:.0f} MiB')"; }
bytes_of() { python3 -c "
s='$1'.lower(); m={'kb':1<<10,'mb':1<<20,'gb':1<<30}
print(next((int(s[:-2])*v for k,v in m.items() if s.endswith(k)), None) or int(s))"; }

status=0
echo "big-bulk attack: $ATTACKERS clients x ${BULK_MB} MB declared, ${SEND_MB} MB sent each; --maxmemory 64mb, $CORES cores"
printf '%-20s %10s %10s %10s %9s %8s %s\n' maxmemory-clients overhead peak bound evicted served verdict
for x in $CLIENTS; do
  start "node-$x" "$BIN" node --cores "$CORES" --maxmemory 64mb --maxmemory-clients "$x" --port
  i=$((${#PIDS[@]} - 1))
  port=${PORTS[i]} pid=${PIDS[i]}
  python3 "$HELPER" fill "$port" "$pid" >/dev/null
  base=$(python3 "$HELPER" rss "$port" "$pid")
  read -r peak closed served evicted < <(python3 "$HELPER" attack "$port" "$pid" \
    "$ATTACKERS" $((BULK_MB << 20)) $((SEND_MB << 20)))
  kill -0 "$pid" 2>/dev/null || die "the node with --maxmemory-clients $x died"
  limit=$(bytes_of "$x")
  if [ "$limit" -gt 0 ]; then
    bound=$((base + (64 << 20) + limit))
    verdict=within
    if [ "$peak" -gt "$bound" ] || [ "$served" != True ]; then verdict=EXCEEDED status=1; fi
    shown_bound=$(mib "$bound")
  else
    shown_bound=none verdict=-
  fi
  printf '%-20s %10s %10s %10s %9s %8s %s\n' "$x" "$(mib "$base")" "$(mib "$peak")" \
    "$shown_bound" "$evicted/$ATTACKERS" "$served" "$verdict"
  kill "$pid"
done

start loris "$BIN" node --cores "$CORES" --maxmemory 64mb --port
i=$((${#PIDS[@]} - 1))
read -r rss0 rss1 mem0 mem1 < <(python3 "$HELPER" loris "${PORTS[i]}" "${PIDS[i]}" "$LORIS" "$LORIS_SECS")
kill -0 "${PIDS[i]}" 2>/dev/null || die "the node died under slow loris"
echo
echo "slow loris: $LORIS clients, one byte a second for ${LORIS_SECS} s, no request ever complete"
echo "  RSS           $(mib "$rss0") -> $(mib "$rss1"): $(( (rss1 - rss0) / LORIS )) bytes per client"
echo "  client memory $mem0 -> $mem1 bytes (mem_clients_normal): $(( (mem1 - mem0) / LORIS )) bytes per client"
exit $status
