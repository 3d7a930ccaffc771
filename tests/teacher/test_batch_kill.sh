#!/usr/bin/env bash
# lacuna run --batch killed with SIGKILL between and inside its steps (upload,
# create, wait, collect; both steps of a two-step recipe), then rerun with
# the same command: the output equals the online run's byte for byte, and no
# request is carried by two batches (nothing is paid twice).
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
TWO=$TEACHER_DIR/recipes/two_step.lua
Q=$TMP/q.jsonl
for i in $(seq 1 40); do echo "{\"question\":\"Kill question $i: name $i colours.\"}"; done >"$Q"

start_server
batch_config() { curl -sS --max-time 10 -X POST "$SERVER_URL/batch-config" -d "$1" >/dev/null; }
bstat() { curl -sS --max-time 10 "$SERVER_URL/batch-stats" | jq -r "$1"; }
T=(--teacher attempt=a1 --teacher judge=j1 --base-url "$BASE_URL" -q --poll 0.02)

"$LACUNA" run "$TWO" -i "$Q" -o "$TMP/online.jsonl" "${T[@]}" --no-cache

# Waits (up to 10 s) until the jq filter on /batch-stats is true.
wait_for() {
  local i
  for ((i = 0; i < 200; i++)); do
    [ "$(bstat "$1")" = true ] && return 0
    sleep 0.05
  done
  return 1
}
# Reruns the same command until it ends (at most 5 times).
rerun() { # DB OUT
  local i rc
  for ((i = 0; i < 5; i++)); do
    "$LACUNA" run "$TWO" -i "$Q" -o "$2" "${T[@]}" --cache "$1" --batch
    rc=$?
    [ "$rc" -ne 130 ] && return "$rc"
  done
  return 1
}

# 1. killed while the create's reply is on its way: the rerun finds the
# batch by its metadata instead of creating a second one.
batch_config '{"create_delay_ms":1500}'
"$LACUNA" run "$TWO" -i "$Q" -o "$TMP/k1.jsonl" "${T[@]}" --cache "$TMP/k1.db" --batch &
pid=$!
expect_true "the create arrived" wait_for '.creates == 1'
sleep 0.2
kill -9 "$pid"
wait "$pid" 2>/dev/null
batch_config '{}'
rerun "$TMP/k1.db" "$TMP/k1.jsonl"
expect_eq $? 0 "rerun after a kill inside create"
expect_true "same bytes as online (kill inside create)" cmp -s "$TMP/k1.jsonl" "$TMP/online.jsonl"
expect_eq "$(bstat .creates)" 1 "the rerun created only the second step's batch"
expect_true "the rerun looked for the lost batch" [ "$(bstat .lists)" -ge 1 ]

# 2. killed while waiting for each step's batch
batch_config '{"polls_per_state":15}'
"$LACUNA" run "$TWO" -i "$Q" -o "$TMP/k2.jsonl" "${T[@]}" --cache "$TMP/k2.db" --batch &
pid=$!
wait_for '.gets >= 3' >/dev/null
kill -9 "$pid"
wait "$pid" 2>/dev/null
"$LACUNA" run "$TWO" -i "$Q" -o "$TMP/k2.jsonl" "${T[@]}" --cache "$TMP/k2.db" --batch &
pid=$!
wait_for '.creates == 2 and .gets >= 50' >/dev/null
kill -9 "$pid"
wait "$pid" 2>/dev/null
rerun "$TMP/k2.db" "$TMP/k2.jsonl"
expect_eq $? 0 "rerun after kills while waiting"
expect_true "same bytes as online (kills while waiting)" cmp -s "$TMP/k2.jsonl" "$TMP/online.jsonl"
expect_eq "$(bstat .creates)" 2 "one batch per step, none twice"
expect_eq "$(bstat '.batch_requests | add')" 80 "every request carried once"

# 3. kills at random moments, each followed by a rerun that is killed too
for trial in 1 2 3 4; do
  db=$TMP/r$trial.db
  out=$TMP/r$trial.jsonl
  batch_config '{"polls_per_state":3}'
  for k in 1 2 3; do
    "$LACUNA" run "$TWO" -i "$Q" -o "$out" "${T[@]}" --cache "$db" --batch &
    pid=$!
    sleep "0.$(( (RANDOM % 60) + 5 ))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rerun "$db" "$out"
  expect_eq $? 0 "trial $trial: the last rerun completes"
  expect_true "trial $trial: same bytes as online" cmp -s "$out" "$TMP/online.jsonl"
  expect_eq "$(bstat '.batch_requests | add')" 80 "trial $trial: every request carried by one batch only"
done
finish
