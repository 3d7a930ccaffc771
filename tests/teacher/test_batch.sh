#!/usr/bin/env bash
# lacuna batch submit|status|wait|collect|cancel and run --batch against the
# test server's /v1/files and /v1/batches: splitting at the limits, idempotent
# reruns, partial failure and expiry resubmitting only what is missing, a
# failed validation, requests that fail for good, cancel; the data made
# through the Batch API equals the online run's byte for byte.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
ASK=$TEACHER_DIR/recipes/ask.lua
TWO=$TEACHER_DIR/recipes/two_step.lua
Q=$TMP/q.jsonl
for i in $(seq 1 40); do echo "{\"question\":\"Batch question $i: what is $i plus $i?\"}"; done >"$Q"

start_server
batch_config() { curl -sS --max-time 10 -X POST "$SERVER_URL/batch-config" -d "$1" >/dev/null; }
bstat() { curl -sS --max-time 10 "$SERVER_URL/batch-stats" | jq -r "$1"; }
B=(--base-url "$BASE_URL" --poll 0.01 -q)
state_count() { # DB STATE
  sqlite3 "$1" "SELECT count(*) FROM batch_requests WHERE state = '$2'" 2>/dev/null || python3 - "$1" "$2" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM batch_requests WHERE state = ?", (sys.argv[2],)).fetchone()[0])
PY
}

"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/online.jsonl" --model m1 --base-url "$BASE_URL" --no-cache -q
"$LACUNA" run "$TWO" -i "$Q" -o "$TMP/online2.jsonl" --teacher attempt=a1 --teacher judge=j1 --base-url "$BASE_URL" --no-cache -q

# --- 1. export, submit split at --batch-max-requests, wait, collect
DB=$TMP/c1.db
batch_config ''
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/o1.jsonl" --model m1 --base-url "$BASE_URL" --cache "$DB" -q \
  --batch-export "$TMP/exp1.jsonl"
expect_eq $? 3 "export exits 3"
"$LACUNA" batch submit "$TMP/exp1.jsonl" --cache "$DB" "${B[@]}" --batch-max-requests 15
expect_eq $? 0 "submit"
expect_eq "$(bstat '.batch_requests | map(tostring) | join(",")')" "15,15,10" "split at 15 requests per file"
expect_eq "$(bstat .uploads)" 3 "3 uploads"
"$LACUNA" batch submit "$TMP/exp1.jsonl" --cache "$DB" "${B[@]}" --batch-max-requests 15
expect_eq "$(bstat .uploads),$(bstat .creates)" "3,3" "a second submit sends nothing"
"$LACUNA" batch status --cache "$DB" --base-url "$BASE_URL" 2>"$TMP/status.err"
expect_in "$(cat "$TMP/status.err")" "3 batches: 3 running" "status line"
"$LACUNA" batch wait --cache "$DB" "${B[@]}"
expect_eq $? 0 "wait"
"$LACUNA" batch collect --cache "$DB" "${B[@]}"
expect_eq "$(state_count "$DB" done)" 40 "40 requests done"
dl=$(bstat .downloads)
"$LACUNA" batch collect --cache "$DB" "${B[@]}"
expect_eq "$(bstat .downloads)" "$dl" "a second collect downloads nothing"
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/o1.jsonl" --model m1 --base-url "$BASE_URL" --cache "$DB" --cache-only -q
expect_eq $? 0 "the rerun finishes from the cache"
expect_true "batch data = online data" cmp -s "$TMP/o1.jsonl" "$TMP/online.jsonl"

# --- 2. split by bytes
DB=$TMP/c2.db
batch_config ''
"$LACUNA" batch submit "$TMP/exp1.jsonl" --cache "$DB" "${B[@]}" --batch-max-bytes 3000
n=$(bstat '.batch_requests | length')
max=$(bstat '.batch_requests | max')
expect_true "split by bytes into several files ($n)" [ "$n" -gt 2 ]
expect_eq "$(bstat '.batch_requests | add')" 40 "every request once"
biggest=$(( max * $(head -1 "$TMP/exp1.jsonl" | wc -c) ))
expect_true "each file within 3000 bytes (~$biggest)" [ "$biggest" -le 3200 ]

# --- 3. partial failure: only the failed requests go again
DB=$TMP/c3.db
batch_config '{"fail_rate":0.3}'
"$LACUNA" batch submit "$TMP/exp1.jsonl" --cache "$DB" "${B[@]}"
"$LACUNA" batch wait --cache "$DB" "${B[@]}"
"$LACUNA" batch collect --cache "$DB" "${B[@]}"
nretry=$(state_count "$DB" pending)
expect_true "some requests failed in the batch ($nretry)" [ "$nretry" -gt 0 ]
expect_eq "$(state_count "$DB" done)" $((40 - nretry)) "the rest is done"
"$LACUNA" batch submit --cache "$DB" "${B[@]}"
expect_eq "$(bstat '.batch_requests[-1]')" "$nretry" "the resubmit carries only the failed requests"
"$LACUNA" batch wait --cache "$DB" "${B[@]}"
"$LACUNA" batch collect --cache "$DB" "${B[@]}"
expect_eq "$(state_count "$DB" done)" 40 "all done after one resubmit"

# --- 4. expiry: only the unfinished requests go again
DB=$TMP/c4.db
batch_config '{"expire_next":1,"expire_done":0.5}'
"$LACUNA" batch submit "$TMP/exp1.jsonl" --cache "$DB" "${B[@]}"
"$LACUNA" batch wait --cache "$DB" "${B[@]}"
"$LACUNA" batch collect --cache "$DB" "${B[@]}" 2>/dev/null
missing=$(state_count "$DB" pending)
expect_true "an expired batch leaves some requests ($missing)" [ "$missing" -gt 0 ] && [ "$missing" -lt 40 ]
"$LACUNA" batch submit --cache "$DB" "${B[@]}"
expect_eq "$(bstat '.batch_requests[-1]')" "$missing" "the resubmit carries only the expired requests"
"$LACUNA" batch wait --cache "$DB" "${B[@]}" && "$LACUNA" batch collect --cache "$DB" "${B[@]}"
expect_eq "$(state_count "$DB" done)" 40 "all done after the expiry"

# --- 5. a batch that fails validation goes again whole; --batch-max-attempts 1
# records failures per request, and run --batch fails those items with the reason
DB=$TMP/c5.db
batch_config '{"fail_next":1}'
"$LACUNA" batch submit "$TMP/exp1.jsonl" --cache "$DB" "${B[@]}"
"$LACUNA" batch wait --cache "$DB" "${B[@]}" && "$LACUNA" batch collect --cache "$DB" "${B[@]}"
expect_eq "$(state_count "$DB" pending)" 40 "a failed batch puts its requests back"
"$LACUNA" batch submit --cache "$DB" "${B[@]}" && "$LACUNA" batch wait --cache "$DB" "${B[@]}" &&
  "$LACUNA" batch collect --cache "$DB" "${B[@]}"
expect_eq "$(state_count "$DB" done)" 40 "done on the second batch"

DB=$TMP/c6.db
batch_config '{"fail_rate":0.2}'
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/o6.jsonl" --model m6 --cache "$DB" "${B[@]}" --batch --batch-max-attempts 1
expect_eq $? 1 "run --batch with failures exits 1"
nfail=$(state_count "$DB" failed)
expect_true "failures recorded per request ($nfail)" [ "$nfail" -gt 0 ]
expect_eq "$(lines=$(wc -l <"$TMP/o6.failed.jsonl"); echo $lines)" "$nfail" "one failed item per failed request"
expect_in "$(head -1 "$TMP/o6.failed.jsonl")" "failed in the Batch API: batch request HTTP 500" "the item says why"
expect_eq "$(jq '.counts.ok + .counts.failed' "$TMP/o6.manifest.json")" 40 "counts add up"

# --- 6. run --batch with two dependent steps: one cycle per step, same bytes as online
DB=$TMP/c7.db
batch_config ''
"$LACUNA" run "$TWO" -i "$Q" -o "$TMP/o7.jsonl" --teacher attempt=a1 --teacher judge=j1 --cache "$DB" "${B[@]}" --batch
expect_eq $? 0 "run --batch two steps"
expect_true "two-step batch data = online data" cmp -s "$TMP/o7.jsonl" "$TMP/online2.jsonl"
expect_eq "$(jq -c '[.batch.cycles, .batch.batches, .batch.submitted]' "$TMP/o7.manifest.json")" "[3,2,80]" \
  "3 cycles (2 steps + the writing one), 2 batches, 80 requests"
expect_eq "$(curl -sS "$SERVER_URL/stats" | jq '.requests')" 120 "no chat request was sent online (only the baselines' 40 + 80)"

# --- 7. cancel: the unanswered requests go back to pending
DB=$TMP/c8.db
batch_config '{"polls_per_state":100}'
"$LACUNA" batch submit "$TMP/exp1.jsonl" --cache "$DB" "${B[@]}"
"$LACUNA" batch cancel --cache "$DB" "${B[@]}"
expect_eq "$(bstat .cancels)" 1 "one cancel"
batch_config '{"polls_per_state":1}'
"$LACUNA" batch wait --cache "$DB" "${B[@]}" && "$LACUNA" batch collect --cache "$DB" "${B[@]}"
expect_eq "$(state_count "$DB" pending)" 40 "a cancelled batch's requests are pending again"

# --- 7b. two submits at once on one cache never put a request in two batches
DB=$TMP/c10.db
batch_config ''
"$LACUNA" batch submit "$TMP/exp1.jsonl" --cache "$DB" "${B[@]}" --batch-max-requests 5 &
p1=$!
"$LACUNA" batch submit "$TMP/exp1.jsonl" --cache "$DB" "${B[@]}" --batch-max-requests 5 &
p2=$!
wait "$p1"; wait "$p2"
expect_eq "$(bstat '.batch_requests | add')" 40 "40 requests in all batches together"

# --- 8. a refused key stops submit with the reason; the rerun with the right
# key resumes the half-made job without a second upload of the same requests
stop_server
TEST_SERVER_API_KEY=k1 start_server
B=(--base-url "$BASE_URL" --poll 0.01 -q)
batch_config '{}'
DB=$TMP/c9.db
OPENAI_API_KEY=wrong "$LACUNA" batch submit "$TMP/exp1.jsonl" --cache "$DB" --base-url "$BASE_URL" 2>"$TMP/key.err"
expect_eq $? 1 "a wrong key fails submit"
expect_in "$(cat "$TMP/key.err")" "HTTP 401" "and says why"
OPENAI_API_KEY=k1 "$LACUNA" batch submit --cache "$DB" "${B[@]}"
expect_eq "$(bstat '.batch_requests | map(tostring) | join(",")')" "40" "the resumed job carries the 40 requests once"
OPENAI_API_KEY=k1 "$LACUNA" batch wait --cache "$DB" "${B[@]}" && OPENAI_API_KEY=k1 "$LACUNA" batch collect --cache "$DB" "${B[@]}"
expect_eq "$(state_count "$DB" done)" 40 "done with the right key"

# --- 9. the cache is schema 2 and still serves the plain cache commands
expect_in "$("$LACUNA" cache stats --cache "$TMP/c1.db")" "(schema 2)" "schema 2"
finish
