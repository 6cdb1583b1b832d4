#!/usr/bin/env bash
# Side-by-side: redis-server vs `cachectl node` under the same redis-benchmark
# load, in one run. Prints ops/s per test and the ratio, plus each server's
# CPU seconds per million requests (utime+stime from /proc/PID/stat) and
# redis-benchmark's own CPU share.
#
# Usage: bench/redis_compare.sh [requests-per-test]   (default 500000)
# Env:   CORES (cachectl cores, default 2), PIPELINES (default "1 16"),
#        CACHECTL_BIN (use this binary instead of building one),
#        BASELINE_BIN (a second cachectl binary, e.g. the build from before a
#          change: it runs as a third server labelled "baseline", and each row
#          also shows cachectl ÷ baseline),
#        CLIENTS (default 50), KEYSPACE (-r, default 100000), ROUNDS (default 1),
#        TESTS (redis-benchmark -t names, default set,get,incr,mset),
#        DATASIZE (-d, default 3), RUN_TIMEOUT (seconds per redis-benchmark
#          run before it counts as hung, default 600),
#        CACHECTL_ARGS, BASELINE_ARGS (extra `cachectl node` flags for each),
#        CACHECTL_PASS (a password for the cachectl server: its node gets it
#          with --requirepass-file, redis-cli and redis-benchmark log in)
#
# The cost of AUTH and the client limits (one binary, both ways):
#   CACHECTL_PASS=sesame BASELINE_BIN=target/release/cachectl \
#     BASELINE_ARGS="--maxmemory-clients 0 --client-output-buffer-limit 'normal 0 0 0'" \
#     CACHECTL_ARGS="--maxmemory-clients 10%" ROUNDS=4 bench/redis_compare.sh 1000000
#
# A/B of two builds (the binary from before a change and after it):
#   git stash; cargo build --release; cp target/release/cachectl /tmp/before
#   git stash pop; cargo build --release
#   BASELINE_BIN=/tmp/before CACHECTL_BIN=target/release/cachectl ROUNDS=4 \
#     bench/redis_compare.sh 1000000
#
# Odd rounds run the servers in the order redis, cachectl[, baseline], even
# rounds in reverse, so over every two rounds each pair of servers (in
# particular cachectl and baseline) has run in both orders and no server
# always gets the cold start or the warm machine. The `first` column says
# who went first.
#
# The script never prints a figure it could not check. It stops with a
# non-zero exit and the failing command's stderr when:
#   - redis-benchmark exits non-zero (it exits 1 on any error reply or lost
#     connection), or runs longer than RUN_TIMEOUT (it spins forever against
#     a server that went away before it connected);
#   - a test has no CSV row, or the server did not process the requests
#     (server-side count, see count_commands below);
#   - a value read back differs from the one written (see check_sample and
#     check_benchmark_values below);
#   - a server process died.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-500000}
CORES=${CORES:-2}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
ROUNDS=${ROUNDS:-1}
TESTS=${TESTS:-set,get,incr,mset}
DATASIZE=${DATASIZE:-3}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}

for tool in redis-server redis-cli redis-benchmark timeout python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools)" >&2; exit 2; }
done
NAME=redis_compare
# shellcheck source=bench/servers.sh
. bench/servers.sh
start redis redis-server --save '' --appendonly no --bind 127.0.0.1 --loglevel warning --port
CACHECTL_PASS=${CACHECTL_PASS:-}
pass_args=()
if [ -n "$CACHECTL_PASS" ]; then
  printf '%s\n' "$CACHECTL_PASS" >"$WORK/pass"
  pass_args=(--requirepass-file "$WORK/pass")
fi
eval "cachectl_args=(${CACHECTL_ARGS:-})"
eval "baseline_args=(${BASELINE_ARGS:-})"
start cachectl "$BIN" node --cores "$CORES" "${pass_args[@]}" "${cachectl_args[@]}" --port
[ -n "$BASELINE_BIN" ] && start baseline "$BASELINE_BIN" node --cores "$CORES" "${baseline_args[@]}" --port
NSERVERS=${#LABELS[@]}

# rcli PORT ARGS...: redis-cli to the server on PORT, logged in when it is
# the cachectl server and that has a password. auth_args PORT: the same
# for redis-benchmark.
rcli() {
  local port=$1
  shift
  if [ -n "$CACHECTL_PASS" ] && [ "$port" = "${PORTS[1]}" ]; then
    REDISCLI_AUTH=$CACHECTL_PASS redis-cli -p "$port" "$@"
  else
    redis-cli -p "$port" "$@"
  fi
}
auth_args() {
  if [ -n "$CACHECTL_PASS" ] && [ "$1" = "${PORTS[1]}" ]; then
    printf '%s\n' -a "$CACHECTL_PASS"
  fi
}

HZ=$(getconf CLK_TCK)
ticks() {
  [ -r "/proc/$1/stat" ] || die "server pid $1 is gone"
  awk '{print $14+$15}' "/proc/$1/stat"
}

# gone I: stop, with the end of server I's log (a crash message is there).
gone() {
  local i=$1
  tail -20 "${LOGS[i]}" >&2
  die "${LABELS[i]} (pid ${PIDS[i]}, port ${PORTS[i]}) is not running or not answering"
}
# alive I: the server process still runs and answers PING.
alive() {
  if ! kill -0 "${PIDS[$1]}" 2>/dev/null || ! rcli "${PORTS[$1]}" ping >/dev/null 2>&1; then
    gone "$1"
  fi
}

# Commands the server says it has processed (fails if it does not answer).
# The only counter both servers have: redis and our node both report INFO
# stats total_commands_processed (INFO commandstats exists only on redis).
# Neither counts a command it rejected as unknown, so the delta over one
# redis-benchmark run is what the server really executed.
count_commands() {
  local n
  n=$(rcli "$1" info stats 2>/dev/null | tr -d '\r' | awk -F: '$1=="total_commands_processed"{print $2}')
  [[ $n =~ ^[0-9]+$ ]] && echo "$n"
}

# A sample of our own keys, written before a server's tests and read back
# after them: random bytes (so CR, LF and NUL occur) of varying length,
# compared byte for byte. redis-cli -x sends stdin as the last argument
# unchanged; --raw prints the value unchanged plus one newline.
SAMPLE=20
write_sample() {
  local port=$1 i reply
  for i in $(seq "$SAMPLE"); do
    head -c $((DATASIZE + i * 97)) /dev/urandom >"$WORK/sample.$i"
    reply=$(rcli "$port" -x SET "redis_compare:sample:$i" <"$WORK/sample.$i")
    [ "$reply" = OK ] || die "SET redis_compare:sample:$i on port $port answered: $reply"
  done
}
check_sample() {
  local label=$1 port=$2 i
  for i in $(seq "$SAMPLE"); do
    rcli "$port" --raw GET "redis_compare:sample:$i" >"$WORK/got"
    cmp -s <(cat "$WORK/sample.$i"; echo) "$WORK/got" ||
      die "$label: GET redis_compare:sample:$i returned other bytes than were SET ($(wc -c <"$WORK/got") bytes incl. newline, expected $(($(wc -c <"$WORK/sample.$i") + 1)))"
  done
}

# The SET test's own values. redis-benchmark SETs key:NNNNNNNNNNNN (12
# digits, 0 <= N < KEYSPACE) to one value of DATASIZE bytes per run (7.x
# fills it with pseudo-random printable bytes from a fixed seed, older
# versions with 'x'), so every key it wrote holds the same bytes. Read the
# first 1000 keys back: each must be missing or exactly DATASIZE bytes, all
# present ones equal, and at least one present. The value itself is kept in
# $WORK/bvalue.LABEL and compared across servers once all have run.
check_benchmark_values() {
  local label=$1 port=$2 count i keys=()
  count=$((KEYSPACE < 1000 ? KEYSPACE : 1000))
  for ((i = 0; i < count; i++)); do keys+=("$(printf 'key:%012d' "$i")"); done
  rcli "$port" --raw MGET "${keys[@]}" >"$WORK/mget"
  # A value with a newline in it would show up as an extra line.
  [ "$(wc -l <"$WORK/mget")" -eq "$count" ] ||
    die "$label: MGET of $count keys gave $(wc -l <"$WORK/mget") lines"
  grep -v '^$' "$WORK/mget" | sort -u >"$WORK/bvalue.$label" || true
  [ -s "$WORK/bvalue.$label" ] ||
    die "$label: none of key:000000000000..$count read back after the SET test (N=$N too small for KEYSPACE=$KEYSPACE?)"
  [ "$(wc -l <"$WORK/bvalue.$label")" -eq 1 ] ||
    die "$label: keys written by one SET test hold different values: $(head -c 200 "$WORK/bvalue.$label")"
  [ "$(head -1 "$WORK/bvalue.$label" | tr -d '\n' | wc -c)" -eq "$DATASIZE" ] ||
    die "$label: SET test values are not $DATASIZE bytes: $(head -c 200 "$WORK/bvalue.$label")"
}

# The client's own CPU, as a share of one CPU over its run: redis-benchmark
# is one thread, so near 100% it, not the server, sets the pace.
TIMER=()
[ -x /usr/bin/time ] && TIMER=(/usr/bin/time -f '%e %U %S' -o "$WORK/time")

# Results of the latest run_server, per label: RPS[label,row], REQS[label]
# (requests the server counted), CPU[label] (ticks), CLIENT[label] (%).
declare -A RPS REQS CPU CLIENT
ROWS=() # row names (first word of the CSV test name), in order

# run_server I PIPE: every test of TESTS against server I, one redis-benchmark
# run per test so each one's exit code, CSV rows and server-side count are
# checked on their own.
run_server() {
  local i=$1 pipe=$2 label=${LABELS[$1]} port=${PORTS[$1]} pid=${PIDS[$1]}
  local test cmd rc before after t0 t1 done_ rows name rps expect_min expect_max e u s auth
  local ticks_sum=0 reqs_sum=0 elapsed=0 cputime=0 rows_here=()
  alive "$i"
  # Every server starts each block from the same empty state, so the order
  # of servers and pipelines does not change what GET finds.
  rcli "$port" flushall >/dev/null
  write_sample "$port"
  for test in ${TESTS//,/ }; do
    mapfile -t auth < <(auth_args "$port")
    cmd=(redis-benchmark -h 127.0.0.1 -p "$port" "${auth[@]}" -t "$test" -c "$CLIENTS" -P "$pipe"
      -r "$KEYSPACE" -d "$DATASIZE" -n "$N" --csv)
    before=$(count_commands "$port") || gone "$i"
    t0=$(ticks "$pid")
    rc=0
    "${TIMER[@]}" timeout "$RUN_TIMEOUT" "${cmd[@]}" >"$WORK/out" 2>"$WORK/err" || rc=$?
    if [ "$rc" -ne 0 ]; then
      echo "--- stderr of: ${cmd[*]}" >&2
      cat "$WORK/err" >&2
      echo "--- stdout:" >&2
      cat "$WORK/out" >&2
      [ "$rc" -eq 124 ] && die "$label: redis-benchmark -t $test ran over RUN_TIMEOUT=${RUN_TIMEOUT}s (server gone or stuck?)"
      die "$label: redis-benchmark -t $test -P $pipe exited $rc"
    fi
    # redis-benchmark warns (e.g. "Could not fetch server CONFIG") but goes on.
    [ -s "$WORK/err" ] && sed "s/^/redis_compare: $label $test: redis-benchmark: /" "$WORK/err" >&2
    t1=$(ticks "$pid")
    # No PING here: it would count as a command.
    after=$(count_commands "$port") || gone "$i"

    # CSV rows: "NAME ...","rps",... One -t usually gives one row; a few
    # give more (lrange_100 runs an LPUSH fill first), each of N requests.
    awk -F'"' 'NR>1 && $2!="" {name=$2; sub(/ .*/, "", name); print name, $4}' "$WORK/out" >"$WORK/rows"
    rows=$(wc -l <"$WORK/rows")
    awk -v t="$test" 'tolower($1)==t {found=1} END {exit !found}' "$WORK/rows" ||
      die "$label: redis-benchmark -t $test printed no $test row; its output was: $(cat "$WORK/out")"

    # Requests the server executed in this run. The delta also holds the
    # two CONFIG GETs redis-benchmark sends at start (save, appendonly) and
    # one of our two INFOs (a server counts INFO either before or after it
    # answers it; one of the pair falls inside either way). With -P the
    # client sends whole batches of P, so it may send up to P-1 more than
    # N per row; it never sends fewer when every reply arrived.
    # A server with a password also counts the AUTH of each of the
    # CLIENTS connections and of redis-benchmark's two setup connections.
    done_=$((after - before - 3 - (${#auth[@]} > 0 ? CLIENTS + 2 : 0)))
    expect_min=$((rows * N))
    expect_max=$((rows * pipe * ((N + pipe - 1) / pipe)))
    if [ "$done_" -lt "$expect_min" ] || [ "$done_" -gt "$expect_max" ]; then
      die "$label: -t $test -P $pipe: server executed $done_ commands, expected $expect_min..$expect_max ($rows row(s) of $N)"
    fi
    reqs_sum=$((reqs_sum + done_))
    ticks_sum=$((ticks_sum + t1 - t0))

    while read -r name rps; do
      [[ $rps =~ ^[0-9.]+$ ]] || die "$label: -t $test row $name has rps '$rps'"
      RPS[$label,$name]=$rps
      rows_here+=("$name")
    done <"$WORK/rows"

    if [ ${#TIMER[@]} -gt 0 ]; then
      # GNU time puts a note before its line when the command failed; the
      # last line is ours.
      read -r e u s < <(tail -1 "$WORK/time")
      elapsed=$(awk -v a="$elapsed" -v b="$e" 'BEGIN{print a+b}')
      cputime=$(awk -v a="$cputime" -v u="$u" -v s="$s" 'BEGIN{print a+u+s}')
    fi

    [ "$test" = set ] && check_benchmark_values "$label" "$port"
  done
  check_sample "$label" "$port"

  # The first server to run fixes the rows; every other one must give the same.
  if [ ${#ROWS[@]} -eq 0 ]; then
    ROWS=("${rows_here[@]}")
  elif [ "${ROWS[*]}" != "${rows_here[*]}" ]; then
    die "$label gave rows '${rows_here[*]}', another server '${ROWS[*]}'"
  fi
  REQS[$label]=$reqs_sum
  CPU[$label]=$ticks_sum
  CLIENT[$label]=$(awk -v c="$cputime" -v e="$elapsed" 'BEGIN{ if (e > 0) printf "%.0f", 100 * c / e; else printf "?" }')
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0) print "inf"; else printf "%.2f", a / b }'; }
cpu_per_m() { awk -v t="$1" -v hz="$HZ" -v n="$2" 'BEGIN{ printf "%.3f", t / hz / (n / 1e6) }'; }

echo "redis-benchmark -t $TESTS -c $CLIENTS -r $KEYSPACE -d $DATASIZE -n $N; cachectl node --cores $CORES"
echo "servers: redis $(redis-server --version | grep -o 'v=[0-9.]*'), cachectl $BIN${BASELINE_BIN:+, baseline $BASELINE_BIN}"
echo "every figure below is from runs that exited 0, with the server's own command count ≥ N per test and read-back values checked"
if [ -n "$BASELINE_BIN" ]; then
  printf '%-3s %-11s %-4s %-9s %14s %14s %7s %14s %8s\n' rnd test P first redis_ops/s cachectl_ops/s ratio baseline_ops/s vs_base
else
  printf '%-3s %-11s %-4s %-9s %14s %14s %7s\n' rnd test P first redis_ops/s cachectl_ops/s ratio
fi
for round in $(seq "$ROUNDS"); do
  for pipe in $PIPELINES; do
    # This round's order: start order, reversed in even rounds.
    order=()
    for ((k = 0; k < NSERVERS; k++)); do
      if [ $((round % 2)) -eq 1 ]; then order+=("$k"); else order+=($((NSERVERS - 1 - k))); fi
    done
    for i in "${order[@]}"; do run_server "$i" "$pipe"; done

    # Same bytes for the SET test's values on every server.
    if [ -e "$WORK/bvalue.redis" ]; then
      for label in "${LABELS[@]}"; do
        cmp -s "$WORK/bvalue.redis" "$WORK/bvalue.$label" ||
          die "SET test values differ: redis has '$(cat "$WORK/bvalue.redis")', $label has '$(cat "$WORK/bvalue.$label")'"
      done
    fi

    first=${LABELS[${order[0]}]}
    for name in "${ROWS[@]}"; do
      r=${RPS[redis,$name]} c=${RPS[cachectl,$name]}
      if [ -n "$BASELINE_BIN" ]; then
        b=${RPS[baseline,$name]}
        printf '%-3s %-11s %-4s %-9s %14.0f %14.0f %7s %14.0f %8s\n' "$round" "$name" "$pipe" "$first" \
          "$r" "$c" "$(ratio "$c" "$r")" "$b" "$(ratio "$c" "$b")"
      else
        printf '%-3s %-11s %-4s %-9s %14.0f %14.0f %7s\n' "$round" "$name" "$pipe" "$first" "$r" "$c" "$(ratio "$c" "$r")"
      fi
    done

    # CPU per million requests the server itself counted as executed.
    declare -A CPM=()
    line="cpu-s/Mreq P$pipe"
    for label in "${LABELS[@]}"; do
      CPM[$label]=$(cpu_per_m "${CPU[$label]}" "${REQS[$label]}")
      line+="  $label ${CPM[$label]} (${REQS[$label]} req)"
    done
    line+="  (ratio $(ratio "${CPM[cachectl]}" "${CPM[redis]}")"
    [ -n "$BASELINE_BIN" ] && line+=", vs_base $(ratio "${CPM[cachectl]}" "${CPM[baseline]}")"
    echo "$line)"
    if [ ${#TIMER[@]} -gt 0 ]; then
      line="client P$pipe redis-benchmark used"
      for label in "${LABELS[@]}"; do line+=" ${CLIENT[$label]}% of a CPU against $label,"; done
      echo "${line%,}"
    fi
  done
done
