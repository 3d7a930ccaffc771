#!/usr/bin/env bash
# The recipe-facing teacher API: the JSON helper re-asks a bounded number of
# times, named teachers reach their own models, a multi-step recipe goes
# through the batch export/import cycle once per step, and the progress line.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
R=$TEACHER_DIR/recipes
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo missing; fi; }
for i in 1 2 3 4 5; do echo "{\"question\":\"Question $i?\"}"; done >"$TMP/q.jsonl"

start_server --script "$TEACHER_DIR/scripts/json_reask.mjs"
COMMON=(--base-url "$BASE_URL" --no-progress --no-cache --retry-base 0.01)

# chat_json: prose first, JSON (in a fence) after the correction message.
"$LACUNA" run "$R/json_ask.lua" -i "$TMP/q.jsonl" -o "$TMP/j.jsonl" "${COMMON[@]}" 2>"$TMP/err"
expect_eq "$?" 0 "chat_json re-asks until the reply is valid"
expect_eq "$(jq -r '.messages[1].content' "$TMP/j.jsonl" | sort -u)" "C" "chat_json returns the parsed value"
expect_eq "$(stat_get '.requests')" 10 "one re-ask per item"
# A reply that never satisfies the schema: bounded, then a recorded failure.
reset_stats
"$LACUNA" run "$R/json_ask.lua" -i "$TMP/q.jsonl" -o "$TMP/jn.jsonl" "${COMMON[@]}" -p model=json-never-valid 2>"$TMP/err"
expect_eq "$?" 1 "an always-invalid JSON reply fails its items"
expect_in "$(head -1 "$TMP/jn.failed.jsonl")" "reply: missing field 'answer' after 3 attempts" "the failure says why"
expect_eq "$(stat_get '.requests')" 15 "max_reasks bounds the attempts (3 per item)"

# Named teachers and a two-step recipe.
"$LACUNA" run "$R/two_step.lua" -i "$TMP/q.jsonl" -o "$TMP/t.jsonl" "${COMMON[@]}" \
  --teacher attempt=m-attempt --teacher judge=m-judge 2>"$TMP/err"
expect_eq "$?" 0 "two named teachers"
expect_eq "$(jq -r '.meta.models' "$TMP/t.jsonl" | sort -u)" "m-attempt+m-judge" "each named teacher uses its model"
expect_eq "$(jq -c '[.messages[1].train_detail[].train]' "$TMP/t.jsonl" | sort -u)" "[false,true]" \
  "the attempt is masked, the judgement trained"
"$LACUNA" run "$R/two_step.lua" -i "$TMP/q.jsonl" -o "$TMP/t2.jsonl" "${COMMON[@]}" --teacher attempt=m-attempt 2>"$TMP/err"
expect_eq "$?" 1 "a teacher that is not configured fails the items"
expect_in "$(head -1 "$TMP/t2.failed.jsonl")" "no teacher named 'judge'" "and says which"

# The batch cycle, once per step: export (exit 3), answer, import; twice; then done.
play_batch() { # in out
  python3 - "$1" "$2" "$BASE_URL" <<'PY'
import json, sys, urllib.request
src, dst, base = sys.argv[1:4]
with open(dst, "w") as out:
    for i, line in enumerate(open(src)):
        req = json.loads(line)
        r = urllib.request.urlopen(urllib.request.Request(base + "/chat/completions",
            data=json.dumps(req["body"]).encode(), headers={"Content-Type": "application/json"}))
        out.write(json.dumps({"id": "b%d" % i, "custom_id": req["custom_id"],
                              "response": {"status_code": 200, "body": json.loads(r.read())}}) + "\n")
PY
}
B=(--base-url "$BASE_URL" --no-progress --cache "$TMP/batch.db" --teacher attempt=m-attempt --teacher judge=m-judge)
for step in 1 2; do
  "$LACUNA" run "$R/two_step.lua" -i "$TMP/q.jsonl" -o "$TMP/b.jsonl" "${B[@]}" --batch-export "$TMP/in$step.jsonl" 2>"$TMP/err"
  expect_eq "$?" 3 "batch step $step: exported"
  expect_eq "$(lines "$TMP/in$step.jsonl")" 5 "batch step $step: one request per item"
  play_batch "$TMP/in$step.jsonl" "$TMP/out$step.jsonl"
  "$LACUNA" cache import-batch "$TMP/out$step.jsonl" --cache "$TMP/batch.db" 2>/dev/null
  expect_eq "$?" 0 "batch step $step: imported"
done
reset_stats
"$LACUNA" run "$R/two_step.lua" -i "$TMP/q.jsonl" -o "$TMP/b.jsonl" "${B[@]}" --cache-only 2>"$TMP/err"
expect_eq "$?" 0 "after two cycles the run completes from the cache"
expect_eq "$(stat_get '.requests')" 0 "without a request"
expect_true "and equals the direct run" cmp -s "$TMP/b.jsonl" "$TMP/t.jsonl"

# Progress: off a terminal, a line every --progress-interval seconds.
server_config '{"latency_ms":100}'
"$LACUNA" run "$R/two_step.lua" -i "$TMP/q.jsonl" -o "$TMP/p.jsonl" --base-url "$BASE_URL" --no-cache \
  --teacher attempt=m-attempt --teacher judge=m-judge --concurrency 1 --progress-interval 0.2 2>"$TMP/err"
expect_in "$(cat "$TMP/err")" "in flight, " "the progress line shows requests in flight"
expect_in "$(cat "$TMP/err")" "cache hits, " "and cache hits"
expect_in "$(grep -m1 ' done' "$TMP/err")" "%), ETA " "and the share of the input done with an ETA"

finish
