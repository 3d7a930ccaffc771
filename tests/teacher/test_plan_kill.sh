#!/usr/bin/env bash
# Planned runs against the test server (issue 11 point 1, hardened):
# - determinism: a recipe sharing state across items the ways README allows
#   gives the same bytes at --concurrency 1, 7 and 64 and under --jobs 2,
#   while the server fails a fifth of the requests and the cache is off;
#   the shared counter README forbids gives what README says it gives;
# - kill -9 during setup and during the items: the rerun writes exactly the
#   uninterrupted run's files, whole, removing the killed run's temporary
#   files, with setup's finished calls from the cache;
# - lacuna check sends setup's requests and the first 3 items', no more.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
FIXTURES=${LACUNA_FIXTURES:-$TEACHER_DIR/../fixtures}
SHARED=$FIXTURES/plan/shared_state.lua
PLANNED=$TEACHER_DIR/recipes/plan_setup.lua

lc() { # runs lacuna; sets CODE, ERR
  "$LACUNA" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  CODE=$?
  ERR=$(cat "$TMP/stderr")
}

# ---- determinism whatever the concurrency, shared state included
start_server --latency-ms 5 --fault-rate 0.2 --seed 11
T=(--model m1 --base-url "$BASE_URL" --no-progress --no-cache --retry-base 0.01 --max-retries 20)
for c in 1 7 64; do
  lc run "$SHARED" -o "$TMP/c$c.jsonl" "${T[@]}" --concurrency "$c"
  expect_eq "$CODE" 0 "concurrency $c ($ERR)"
done
expect_true "a fifth of the requests failed and were retried ($(stat_get '.faults | add'))" \
  test "$(stat_get '[.faults[]] | add // 0')" -ge 10
expect_eq "$(wc -l <"$TMP/c1.jsonl" | tr -d ' ')" 40 "40 examples"
expect_true "--concurrency 1 and 7 give the same bytes" cmp -s "$TMP/c1.jsonl" "$TMP/c7.jsonl"
expect_true "--concurrency 1 and 64 give the same bytes" cmp -s "$TMP/c1.jsonl" "$TMP/c64.jsonl"
lc run "$SHARED" -o "$TMP/j2.jsonl" "${T[@]}" --concurrency 7 --jobs 2
expect_eq "$CODE" 0 "--jobs 2 ($ERR)"
expect_true "--jobs 2 gives the same bytes" cmp -s "$TMP/c1.jsonl" "$TMP/j2.jsonl"
# The counter README forbids: without a teacher call items run one after
# another in plan order, so it repeats at any concurrency; under --jobs each
# shard process counts from 0.
N=(-p teacher=false -p tally=true --no-progress)
lc run "$SHARED" -o "$TMP/t1.jsonl" "${N[@]}" --concurrency 1
lc run "$SHARED" -o "$TMP/t64.jsonl" "${N[@]}" --concurrency 64 --window 1024
expect_true "a shared counter without teacher calls: the same at 1 and 64" cmp -s "$TMP/t1.jsonl" "$TMP/t64.jsonl"
lc run "$SHARED" -o "$TMP/tj.jsonl" "${N[@]}" --jobs 2
expect_in "$(sed -n 21p "$TMP/tj.jsonl")" "tally 1" "under --jobs 2 the second shard's first item counts 1"
expect_in "$(sed -n 21p "$TMP/t1.jsonl")" "tally 21" "where one process counts 21"
stop_server

# ---- kill -9 during setup and during the items, then the same command again
start_server --latency-ms 400
Q=$TMP/q.jsonl
printf '{"topic":"tides"}\n{"topic":"bees"}\n{"topic":"ants"}\n' >"$Q"
K=(--model m1 --base-url "$BASE_URL" --no-progress --concurrency 4)
lc run "$PLANNED" -i "$Q" -o "$TMP/ref/out.jsonl" "${K[@]}" --cache "$TMP/ref.db"
expect_eq "$CODE" 0 "the uninterrupted run ($ERR)"
expect_in "$ERR" "24 planned = 24 ok" "plans 3 records x 8 strategies"
# wait_requests N: until the server has received N requests (up to 60 s).
wait_requests() {
  local i
  for ((i = 0; i < 1200; i++)); do
    [ "$(stat_get .requests)" -ge "$1" ] && return 0
    sleep 0.05
  done
  return 1
}
kill_run_at() { # requests description: starts the run, kills it with SIGKILL once the server has that many
  reset_stats
  "$LACUNA" run "$PLANNED" -i "$Q" -o "$TMP/k/out.jsonl" "${K[@]}" --cache "$TMP/k.db" >/dev/null 2>&1 &
  local pid=$!
  expect_true "$2: the run reached $1 requests" wait_requests "$1"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  KILLED_AT=$(stat_get .requests)
}
# setup: 8 requests fanned out 4 at a time, then 1; the items' come after 9.
kill_run_at 1 "in setup"
expect_true "killed in setup ($KILLED_AT requests received)" test "$KILLED_AT" -le 8
expect_eq "$(ls "$TMP/k" | grep -c '\.tmp\.')" 3 "in setup: the temporary files are left, and nothing else"
expect_eq "$(ls "$TMP/k" | grep -c 'manifest')" 0 "in setup: no manifest"
kill_run_at 14 "in the items"
lc run "$PLANNED" -i "$Q" -o "$TMP/k/out.jsonl" "${K[@]}" --cache "$TMP/k.db"
expect_eq "$CODE" 0 "the rerun ($ERR)"
expect_in "$ERR" "removed 3 temporary files of an interrupted run" "removes the killed run's files"
expect_in "$ERR" "24 planned = 24 ok (24 examples) + 0 skipped + 0 failed" "the rerun accounts for every item once"
for f in out.jsonl out.skipped.jsonl out.failed.jsonl; do
  expect_true "the rerun's $f equals the uninterrupted run's" cmp -s "$TMP/ref/$f" "$TMP/k/$f"
done
expect_eq "$(ls "$TMP/k" | grep -c '\.tmp\.')" 0 "no temporary file left"
expect_eq "$(jq -c . "$TMP/k/out.jsonl" | wc -l | tr -d ' ')" 24 "every line whole JSON"
expect_true "setup's answered calls and the items' come from the cache ($(jq .teacher.cache_hits "$TMP/k/out.manifest.json") hits)" \
  test "$(jq .teacher.cache_hits "$TMP/k/out.manifest.json")" -ge 9

# ---- check: setup's requests and the first 3 items', nothing more
reset_stats
lc check "$PLANNED" -i "$Q" --model m1 --base-url "$BASE_URL" --no-cache --concurrency 64
expect_eq "$CODE" 0 "check ($ERR)"
expect_in "$(cat "$TMP/stdout")" "# planned items: the first 3 of 24 checked" "check plans and checks 3 items"
expect_eq "$(stat_get .requests)" 12 "9 requests of setup + 3 of the items, at --concurrency 64"
stop_server

# ---- a teacher that fails setup's call: exit 2, the recipe's line, nothing written
start_server --faults 400 --fault-rate 1
lc run "$PLANNED" -i "$Q" -o "$TMP/tf/out.jsonl" --model m1 --base-url "$BASE_URL" --no-progress --no-cache
expect_eq "$CODE" 2 "a failed teacher call in setup exits 2"
expect_in "$ERR" "setup failed: $PLANNED:15: teacher default" "at the recipe's line"
expect_in "$ERR" "HTTP 400" "with the server's answer"
expect_true "and writes nothing" test ! -e "$TMP/tf/out.jsonl"
finish
