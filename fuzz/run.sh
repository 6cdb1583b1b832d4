#!/usr/bin/env bash
# Run every fuzz target for a short, bounded time (FUZZ_SECONDS, default 20)
# from its checked-in seed corpus; exit non-zero on the first crash or
# failed property. The corpus the run grows is kept under fuzz/target/, so
# the seeds in fuzz/corpus/ stay as committed. A crashing input is saved in
# fuzz/artifacts/<target>/ (replay: cargo +nightly fuzz run <target> <file>).
#
# Needs: the nightly toolchain (rustup) and cargo-fuzz, which this installs
# with `cargo install cargo-fuzz --locked` when it is missing.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-20}"
targets=(resp_request line lb_protocol origin_json commands)

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: the nightly toolchain is not installed" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    nice cargo install cargo-fuzz --locked
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
nice cargo +nightly fuzz build
for t in "${targets[@]}"; do
    work="$CARGO_TARGET_DIR/run-corpus/$t"
    mkdir -p "$work"
    echo "== fuzz $t for ${seconds}s"
    log="$CARGO_TARGET_DIR/run-$t.log"
    rc=0
    nice cargo +nightly fuzz run "$t" "$work" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || rc=$?
    grep -E '^(Done|stat::number_of_executed_units)' "$log" || true
    if [ "$rc" -ne 0 ]; then
        tail -n 40 "$log" >&2
        echo "fuzz/run.sh: $t failed (exit $rc); the input is in fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
echo "fuzz/run.sh: ${#targets[@]} targets, ${seconds}s each, no crash"
