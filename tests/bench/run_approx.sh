#!/usr/bin/env bash
# The approximate token counter (lacuna.tokenizer.approximate) against exact
# counting with the Llama 3 tokenizer, on the conformance corpora english, cjk
# and code (tests/tokenizer/setup.sh builds them): token totals, their ratio,
# and the throughput of both in the same run (median of REPS, one count call
# per record). Goals (issue 9): within 10% of Llama 3, >= 5x faster than exact.
#
# Usage: tests/bench/run_approx.sh [REPS]   (default 3)
#   BUILD=path/to/build (default: build)   LACUNA_CACHE (default: ~/.cache/lacuna)
# Exit status: 0 goals met, 1 not met or a run failed, 2 setup.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${LACUNA_CACHE:-$HOME/.cache/lacuna}
export LACUNA_CACHE=$CACHE
BUILD=${BUILD:-build}
[[ -d $BUILD || ! -d $ROOT/$BUILD ]] || BUILD=$ROOT/$BUILD
bash "$ROOT/tests/tokenizer/setup.sh" >/dev/null || exit 2
LUA_CPATH="$BUILD/?.so;;" lua5.4 "$HERE/approx_bench.lua" "$CACHE/models/llama3" "$CACHE/corpus" "${1:-3}"
