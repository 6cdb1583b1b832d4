#!/usr/bin/env bash
# The CPU a server spends on one big request that arrives in small pieces:
# redis-server vs `cachectl node --cores 1`, the same ~7 MB SET sent to each
# in 4 KiB writes, each write its own TCP segment (TCP_NODELAY) followed by a
# short pause so that, on an idle enough machine, it lands in its own read.
# A parser that re-reads the partial request on every read, or a read buffer
# that is copied as it grows, shows up here as CPU per request far above
# Redis's.
#
# Usage: bench/parser_cost.sh
# A/B against the build from before a change:
#   git worktree add /tmp/before <commit> &&
#     (cd /tmp/before && CARGO_TARGET_DIR=/tmp/before/target cargo build --release)
#   BASELINE_BIN=/tmp/before/target/release/cachectl bench/parser_cost.sh
# Env:   ROUNDS (default 20): requests per server; the first round goes in
#          the order redis, cachectl[, baseline], the next in reverse, and
#          so on;
#        SHAPE: set (default: SET of one SIZE-byte value) or mset (the same
#          bytes as an MSET of SIZE/100 keys with 100-byte values, which
#          shows a parser that re-reads the arguments it has already
#          delimited);
#        SIZE (value bytes, default 7000000), PIECE (bytes per write, default
#          4096), PAUSE_US (pause after each write, default 200);
#        MAX_RATIO (fail if cachectl's CPU is over this many times redis's;
#          default: only print, as on a shared machine the ratio is noisy);
#        CACHECTL_BIN (use this binary instead of `cargo build --release`);
#        BASELINE_BIN (a second cachectl binary, e.g. the build from before a
#          change: it runs as a third server labelled "baseline").
#
# Per server it prints CPU seconds in total and per request, twice: from
# utime+stime in /proc/PID/stat (clock ticks, 10 ms) and from the sum of
# /proc/PID/task/*/schedstat (ns; the ratio uses this one), and the ratio
# to redis. The CPU counted is the server's from the request's first byte
# to its reply, so a server's idle timers (Redis's serverCron) count too,
# a little, on both sides. Every SET reply
# must be +OK, and the value is read back once per server (GET) and compared
# byte for byte. Any failure — a server that dies, a wrong reply, a value
# that differs — stops the script with a non-zero exit and the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

SHAPE=${SHAPE:-set}
ROUNDS=${ROUNDS:-20}
SIZE=${SIZE:-7000000}
PIECE=${PIECE:-4096}
PAUSE_US=${PAUSE_US:-200}
MAX_RATIO=${MAX_RATIO:-}

for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools)" >&2; exit 2; }
done
NAME=parser_cost
# shellcheck source=bench/servers.sh
. bench/servers.sh
start redis redis-server --save '' --appendonly no --bind 127.0.0.1 --loglevel warning --port
start cachectl "$BIN" node --cores 1 --port
[ -n "$BASELINE_BIN" ] && start baseline "$BASELINE_BIN" node --cores 1 --port

servers=()
for i in "${!LABELS[@]}"; do servers+=("${LABELS[i]}:${PORTS[i]}:${PIDS[i]}"); done

status=0
python3 - "$SHAPE" "$ROUNDS" "$SIZE" "$PIECE" "$PAUSE_US" "$MAX_RATIO" "${servers[@]}" <<'PY' || status=$?
import os, random, socket, sys, time

shape = sys.argv[1]
rounds, size, piece, pause_us = (int(a) for a in sys.argv[2:6])
max_ratio = float(sys.argv[6] or 0)
servers = [s.split(":") for s in sys.argv[7:]]
HZ = os.sysconf("SC_CLK_TCK")

def fail(msg):
    print(f"parser_cost: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)

def ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name may hold spaces: fields count from after ')'.
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        fail(f"server pid {pid} is gone")
    return int(fields[11]) + int(fields[12])  # utime, stime

def sched_ns(pid):
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass  # a thread that just exited
    except OSError:
        fail(f"server pid {pid} is gone")
    return total

def connect(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=60)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def read_exact(s, n, what):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            fail(f"{what}: connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)

def read_line(s, what):
    line = bytearray()
    while not line.endswith(b"\r\n"):
        c = s.recv(1)
        if not c:
            fail(f"{what}: connection closed mid-reply ({bytes(line)!r})")
        line += c
        if len(line) > 1024:
            fail(f"{what}: reply line too long: {bytes(line[:100])!r}...")
    return bytes(line)

def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)

# Random bytes, so CR, LF and NUL occur inside the bulks.
rng = random.Random(20240610)
if shape == "set":
    key = b"parser_cost:big"
    value = rng.randbytes(size)
    request = encode([b"SET", key, value])
    check = [(key, value)]
elif shape == "mset":
    # The same bytes as many small arguments: MSET of 100-byte values.
    pairs = [(b"parser_cost:%08d" % i, rng.randbytes(100)) for i in range(size // 100)]
    request = encode([b"MSET"] + [x for kv in pairs for x in kv])
    check = [pairs[0], pairs[len(pairs) // 2], pairs[-1]]
else:
    fail(f"unknown SHAPE {shape!r} (set or mset)")
pieces = [request[i:i + piece] for i in range(0, len(request), piece)]
pause = pause_us / 1e6

def send_set(label, s):
    for i, p in enumerate(pieces):
        try:
            s.sendall(p)
        except OSError as e:
            # The server closed on us: show what it said first.
            s.settimeout(1)
            try:
                said = s.recv(200)
            except OSError:
                said = b""
            fail(f"{label}: sending piece {i + 1} of {len(pieces)}: {e}; the server said {said!r}")
        if pause:
            # time.sleep has ~50 µs of slack; that only lengthens the pause.
            time.sleep(pause)
    reply = read_line(s, f"{label} SET")
    if reply != b"+OK\r\n":
        fail(f"{label}: SET answered {reply!r}, expected +OK")

def check_get(label, s):
    for key, value in check:
        s.sendall(encode([b"GET", key]))
        head = read_line(s, f"{label} GET {key.decode()}")
        if head != b"$%d\r\n" % len(value):
            fail(f"{label}: GET {key.decode()} answered {head!r}, expected ${len(value)}")
        body = read_exact(s, len(value) + 2, f"{label} GET")
        if body[:-2] != value or body[-2:] != b"\r\n":
            diff = next((i for i in range(len(value)) if body[i] != value[i]), len(value))
            fail(f"{label}: GET {key.decode()} returned other bytes than were SET "
                 f"(first difference at byte {diff})")

def run():
    conns = {label: connect(port) for label, port, _ in servers}
    spent = {label: [0, 0] for label, _, _ in servers}  # ticks, ns
    for r in range(rounds):
        order = servers if r % 2 == 0 else servers[::-1]
        for label, port, pid in order:
            t0, n0 = ticks(pid), sched_ns(pid)
            send_set(label, conns[label])
            t1, n1 = ticks(pid), sched_ns(pid)
            spent[label][0] += t1 - t0
            spent[label][1] += n1 - n0
            if r == 0:
                check_get(label, conns[label])
    return spent

try:
    spent = run()
except OSError as e:  # a refused connection, a reply that never came
    fail(f"{type(e).__name__}: {e}")

what = "one SET" if shape == "set" else f"one MSET of {len(pairs)} keys,"
print(f"{what} of {size} bytes ({len(request)} on the wire) in {len(pieces)} writes "
      f"of {piece} bytes, {pause_us} µs apart; {rounds} requests per server")
print(f"{'server':<10} {'cpu s (ticks)':>14} {'ms/req':>8} {'cpu s (schedstat)':>18} {'ms/req':>8} {'÷ redis':>8}")
base = spent[servers[0][0]][1] or 1
for label, _, _ in servers:
    t, ns = spent[label]
    print(f"{label:<10} {t / HZ:>14.2f} {t / HZ / rounds * 1e3:>8.2f} "
          f"{ns / 1e9:>18.3f} {ns / 1e6 / rounds:>8.2f} {ns / base:>8.2f}")
ratio = spent["cachectl"][1] / base
if "baseline" in spent:
    print(f"cachectl ÷ baseline: {spent['cachectl'][1] / (spent['baseline'][1] or 1):.2f}")
if max_ratio and ratio > max_ratio:
    fail(f"cachectl took {ratio:.2f}× redis-server's CPU, over MAX_RATIO={max_ratio}")
PY
[ "$status" -eq 0 ] || die "driver exited with status $status"
for i in "${!PIDS[@]}"; do
  kill -0 "${PIDS[i]}" 2>/dev/null || { tail -20 "${LOGS[i]}" >&2; die "${LABELS[i]} died"; }
done
