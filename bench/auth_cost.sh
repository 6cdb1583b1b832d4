#!/usr/bin/env bash
# What AUTH and the client limits cost per request, in instructions, which
# (unlike CPU seconds on this shared 2-CPU machine) repeat to a fraction of
# a percent: a 1-core `cachectl node` runs under callgrind twice, with the
# same redis-benchmark load (SET then GET, 50 clients):
#   A: --requirepass-file (every connection logs in with AUTH)
#      --maxmemory-clients 64mb, --client-output-buffer-limit
#      'normal 64mb 16mb 10' (both checked on every read and reply);
#   B: no password, --maxmemory-clients 0,
#      --client-output-buffer-limit 'normal 0 0 0' (no limits to check).
# Prints the user-space instructions of the node's connection tasks for each
# (COLLECT, below: accepting, reading, parsing, running and replying; not
# the executor's idle loop or start-up), their difference per request, and that difference as a share
# of A's user-space instructions per request. The kernel's TCP path is the
# same in both and is ~74% of a request's CPU at -P 1 (docs/BENCH.md), so
# the user-space share is an upper bound on the share of CPU per request.
#
# Usage: bench/auth_cost.sh [requests-per-test]   (default 100000)
# Env:   PIPELINES (default "1 16"), CACHECTL_BIN, COLLECT (a callgrind
#        --toggle-collect pattern)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
PIPELINES=${PIPELINES:-1 16}
for tool in valgrind redis-cli redis-benchmark python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
# Only what runs inside a connection's task is counted: the executor's
# idle polling depends on timing (how fast the client sends), which made
# whole-run counts swing by ±2% between identical runs.
COLLECT=${COLLECT:-*roles::node::conn::serve*}
NAME=auth_cost
# shellcheck source=bench/servers.sh
. bench/servers.sh
PASS=sesame-$RANDOM$RANDOM
printf '%s\n' "$PASS" >"$WORK/pass"
chmod 600 "$WORK/pass"

# run LABEL PIPE AUTH? NODE-FLAGS...: one node under callgrind, the load,
# then a clean stop; prints the node's instruction count.
run() {
  local label=$1 pipe=$2 auth=$3 port pid out t
  shift 3
  port=$(free_port)
  out=$WORK/cg.$label.$pipe
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="$COLLECT" "$BIN" node --cores 1 --port "$port" "$@" \
    >"$WORK/$label.log" 2>&1 &
  pid=$!
  local login=()
  [ "$auth" = yes ] && login=(-a "$PASS")
  for _ in $(seq 300); do
    redis-cli -p "$port" "${login[@]}" --no-auth-warning ping 2>/dev/null | grep -q PONG && break
    sleep 0.2
  done
  redis-cli -p "$port" "${login[@]}" --no-auth-warning ping 2>/dev/null | grep -q PONG ||
    die "$label did not start: $(cat "$WORK/$label.log")"
  for t in set get; do
    redis-benchmark -p "$port" "${login[@]}" -t "$t" -c 50 -P "$pipe" -r 100000 -n "$N" -q \
      >"$WORK/bench.out" 2>&1 || die "$label: redis-benchmark -t $t: $(cat "$WORK/bench.out")"
  done
  # A wrong password is refused, so A really checked one.
  if [ "$auth" = yes ]; then
    # (Captured first: with pipefail, grep -q stopping early would fail
    # the pipeline.)
    t=$(redis-cli -p "$port" -a wrong --no-auth-warning ping 2>&1 || true)
    [[ $t == *WRONGPASS* ]] || die "$label: a wrong password was not refused: $t"
  fi
  kill -INT "$pid"
  wait "$pid" || true
  [ -s "$out" ] || die "$label: callgrind wrote no profile: $(tail -5 "$WORK/$label.log")"
  awk '/^summary:/ {print $2}' "$out"
}

printf '%-4s %14s %14s %12s %12s %8s\n' P A_instr B_instr delta/req A/req share
for pipe in $PIPELINES; do
  a=$(run A "$pipe" yes --requirepass-file "$WORK/pass" --maxmemory-clients 64mb \
    --client-output-buffer-limit 'normal 64mb 16mb 10')
  b=$(run B "$pipe" no --maxmemory-clients 0 --client-output-buffer-limit 'normal 0 0 0')
  reqs=$((2 * N))
  awk -v p="$pipe" -v a="$a" -v b="$b" -v n="$reqs" 'BEGIN {
    printf "%-4s %14d %14d %12.1f %12.1f %7.2f%%\n", p, a, b, (a - b) / n, a / n, 100 * (a - b) / a }'
done
