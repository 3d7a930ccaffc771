#!/usr/bin/env bash
# A teacher pool used again after an interrupted run (a C host or the REPL
# keeps its pool): the tasks the interrupt fails are never resumed, but the
# scheduler closes their to-be-closed variables, so the slots, queue places
# and reservations they held go back to the pool. Before, the pool kept
# counting them in flight and a second run on it waited forever.
source "$(dirname "$0")/lib.sh"
: "${LUA_CPATH:?set LUA_CPATH to the lacuna module}"
start_server --latency-ms 2000
out=$(LD_PRELOAD=${LACUNA_PRELOAD:-} ASAN_OPTIONS=detect_leaks=0 timeout 60 lua5.4 "$TEACHER_DIR/pool_interrupt.lua" "$BASE_URL" 2>&1)
code=$?
echo "$out"
expect_eq "$code" 0 "the script finishes (no run waits forever)"
expect_in "$out" "first run: 0 done, 6 failed, interrupted true" "the first run is interrupted with every item failed"
expect_in "$out" "after the interrupt: inflight 0, queued 0, waiters 0, reserving 0" "nothing is left counted in the pool"
expect_in "$out" "second run: 6 done, 0 failed, interrupted false" "a second run on the same pool completes every item"
expect_in "$out" "after the second run: inflight 0, queued 0" "and leaves the pool empty"
finish
