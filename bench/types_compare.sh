#!/usr/bin/env bash
# Issue 11's speed check: redis-benchmark's own tests of the collection
# types, redis-server vs `cachectl node` side by side in one run (all the
# checks and figures of bench/redis_compare.sh, which this runs).
#
# Usage: bench/types_compare.sh [requests-per-test]   (default 500000)
# Env:   as bench/redis_compare.sh; CORES defaults to 1 here (the target is
#        ratio >= 1.0 at -P 1 and >= 1.5 at -P 16 on a 1-core node; run
#        again with CORES=2 for the 2-core figures beside them).
set -euo pipefail
cd "$(dirname "$0")/.."
export CORES=${CORES:-1}
export TESTS=${TESTS:-lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,lrange_300,lrange_600}
exec bench/redis_compare.sh "$@"
