#!/usr/bin/env bash
# recipes/prompt_erasure.lua end to end against the test server with a
# scripted accuracy table (tests/teacher/scripts/erasure.mjs): strategy=auto
# picks the most accurate strategy per category in setup (ties to the shorter
# answers), prints the table and reports it in the manifest; calibration items
# are skipped unless reused (then from the cache); the gold check skips wrong
# answers with the reason; the student sees Orca 2's generic system message and
# only the assistant turn is trained; a planted leak (8 consecutive words, or a
# whole short sentence, of a teacher instruction) fails the run, 7 words do
# not; every input ends as an example, a skip or a failure.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
FIX=${LACUNA_FIXTURES:-$TEACHER_DIR/../fixtures}
SRC=${LACUNA_SRC:-$TEACHER_DIR/../..}
IN=$FIX/erasure/questions.jsonl
ORCA="You are Orca, an AI language model created by Microsoft. You are a cautious assistant. You carefully follow instructions. You are helpful and harmless and you follow ethical guidelines and promote positive behavior."

lc() { # runs lacuna; sets CODE, ERR
  "$LACUNA" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  CODE=$?
  ERR=$(cat "$TMP/stderr")
}

start_server --script "$TEACHER_DIR/scripts/erasure.mjs"
COMMON=(--model gpt-teacher --base-url "$BASE_URL" --no-progress)
AUTO=(-p strategy=auto -p calibration_items=2 -p gold_check=true)

lc run prompt_erasure -i "$IN" -o "$TMP/o.jsonl" "${COMMON[@]}" "${AUTO[@]}" --cache "$TMP/c.db"
expect_eq "$CODE" 0 "auto run ($ERR)"
CAL=$(jq -c .report.strategies.calibration "$TMP/o.manifest.json")
expect_eq "$(jq -r .categories.math.chosen <<<"$CAL")" step_by_step "math: the only strategy right on both items"
expect_eq "$(jq -r .categories.trivia.chosen <<<"$CAL")" recall_then_generate \
  "trivia: a tie at 2/2 goes to the shorter answers, not to the first name (explain_then_answer)"
expect_eq "$(jq -c '[.categories.trivia.strategies[] | .correct]' <<<"$CAL")" "[0,2,0,2,0]" \
  "the accuracy table per strategy (trivia, in name order)"
expect_eq "$(jq -c '[.categories.math.strategies[] | .correct]' <<<"$CAL")" "[0,0,0,1,2]" \
  "the accuracy table per strategy (math)"
expect_in "$ERR" "calibration: correct/items" "the table is printed"
expect_eq "$(grep -E '^trivia ' <<<"$ERR" | tr -s ' ')" \
  "trivia 0/2 (5) 2/2 (20) 0/2 (16) 2/2 (8) 0/2 (18) recall_then_generate" "its trivia row"
expect_in "$ERR" "8 read = 3 ok (3 examples) + 5 skipped + 0 failed" "every input is an example, a skip or a failure"
expect_eq "$(jq -r '.reason' "$TMP/o.skipped.jsonl" | grep -c '^calibration item of category')" 4 \
  "the 2 x 2 calibration items are skipped"
expect_eq "$(jq -r 'select(.line == 7) | .reason' "$TMP/o.skipped.jsonl")" \
  'gold check: the teacher'"'"'s final answer "wrong-9" is not the gold answer "9" (strategy step_by_step)' \
  "the gold check skips a wrong answer with the reason"
expect_eq "$(jq -r '.meta.orca.strategy' "$TMP/o.jsonl" | tr '\n' ' ')" "step_by_step step_by_step recall_then_generate " \
  "each item answered with its category's chosen strategy"
expect_eq "$(jq -r '.messages[0].content' "$TMP/o.jsonl" | sort -u)" "$ORCA" "the student sees Orca 2's system message"
expect_eq "$(jq -c '[.messages[] | [.role, .train]]' "$TMP/o.jsonl" | sort -u)" \
  '[["system",false],["user",false],["assistant",true]]' "only the assistant turn is trained"
expect_eq "$(grep -c -e 'numbered steps' -e 'background knowledge' -e 'Finish with one last line' "$TMP/o.jsonl")" 0 \
  "no instruction text in the output"
expect_eq "$(jq .teacher.requests "$TMP/o.manifest.json")" 24 "2 categories x 2 items x 5 strategies + 4 items"
expect_eq "$(stat_get .requests)" 24 "the server saw as many"

# reuse_calibration: the calibration items become examples too, from setup's
# replies (not paid twice, even without the cache).
lc run prompt_erasure -i "$IN" -o "$TMP/r.jsonl" "${COMMON[@]}" "${AUTO[@]}" -p reuse_calibration=true --no-cache
expect_in "$ERR" "8 read = 7 ok (7 examples) + 1 skipped + 0 failed" "reuse_calibration=true trains on them"
expect_eq "$(jq -c '.teacher.requests' "$TMP/r.manifest.json")" 24 "a reused calibration item is not paid twice"
expect_eq "$(jq -r '.meta.orca | .category + ":" + .strategy' "$TMP/r.jsonl" | sort | uniq -c | tr -s ' ' | tr '\n' ';')" \
  " 4 math:step_by_step; 3 trivia:recall_then_generate;" "the reused items carry their category's chosen strategy"

# A fixed mapping: no calibration, no skip for it.
lc run prompt_erasure -i "$IN" -o "$TMP/m.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" \
  -p mapping='{"trivia": "explain_then_answer"}' -p strategy=step_by_step
expect_in "$ERR" "8 read = 8 ok (8 examples)" "mapping: every item trained"
expect_eq "$(jq -r '.meta.orca | .category + ":" + .strategy' "$TMP/m.jsonl" | sort -u | tr '\n' ' ')" \
  "math:step_by_step trivia:explain_then_answer " "categories follow the mapping, the rest the strategy param"
expect_eq "$(jq -c '.report.strategies.calibration // "none"' "$TMP/m.manifest.json")" '"none"' "no calibration without auto"

# The erasure proof: a planted 8-word run of the instruction fails the run loudly;
# 7 words do not.
LEAK=$FIX/erasure/leak.jsonl
lc run prompt_erasure -i "$LEAK" -o "$TMP/l.jsonl" "${COMMON[@]}" --cache "$TMP/c.db"
expect_eq "$CODE" 1 "a leak: nonzero exit"
expect_in "$ERR" "4 read = 3 ok (3 examples) + 0 skipped + 1 failed" "the leaking item fails, alone"
expect_eq "$(jq -r '.error' "$TMP/l.failed.jsonl")" \
  "$LEAK:2: erasure proof failed: the assistant message holds the 8-word run \"task by reasoning in explicit numbered steps restate\" of strategy step_by_step's instruction" \
  "the failure names the leaked words and the strategy"
expect_in "$ERR" "finish failed: erasure proof failed: 1 example(s) held teacher instruction text ($LEAK:2)" \
  "finish fails the run with a summary"
expect_eq "$(grep -c LEAK8 "$TMP/l.jsonl")" 0 "the leaking example is not written"
expect_eq "$(grep -c NEAR7 "$TMP/l.jsonl")" 1 "a 7-word run is no leak"
# A strategy table from a file, with a short sentence: repeating it is a leak too.
lc run prompt_erasure -i "$LEAK" -o "$TMP/t.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" \
  -p strategies=@"$FIX/erasure/terse.json" -p strategy=terse
expect_eq "$CODE" 1 "leaks under a table read from a file"
expect_eq "$(jq -r '.line' "$TMP/t.failed.jsonl" | tr '\n' ' ')" "2 4 " "the 8-word run and the sentence"
expect_in "$(jq -r 'select(.line == 4) | .error' "$TMP/t.failed.jsonl")" \
  "holds the sentence \"be brief\" of strategy terse's instruction" "a whole sentence, however short"
expect_eq "$(jq -r '.report.strategies.strategies | join(",")' "$TMP/t.manifest.json")" "careful,terse" \
  "the file's table replaced the built-in one"

# The shipped multiple-choice table (recipes/data) replaces the built-in one, calibration included.
lc run prompt_erasure -i "$IN" -o "$TMP/mc.jsonl" "${COMMON[@]}" "${AUTO[@]}" --cache "$TMP/c.db" \
  -p strategies=@"$SRC/recipes/data/strategies_multiple_choice.json"
expect_eq "$CODE" 0 "recipes/data/strategies_multiple_choice.json ($ERR)"
expect_eq "$(jq -c '.report.strategies | [.strategies, .calibration.categories.math.chosen]' "$TMP/mc.manifest.json")" \
  '[["direct_answer","eliminate_options","recall_then_choose","step_by_step"],"step_by_step"]' \
  "its four strategies calibrated"

# Mistakes stop the run before any item.
lc run prompt_erasure -i "$IN" -o "$TMP/e.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" \
  -p strategies=@"$FIX/erasure/terse.json" -p strategy=terse -p system="Be brief. You are a helpful assistant."
expect_eq "$CODE" 2 "a system message holding an instruction sentence"
expect_in "$ERR" "the student's system message holds the sentence \"be brief\"" "says which"
lc run prompt_erasure -i "$IN" -o "$TMP/e.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" -p strategy=chain
expect_eq "$CODE" 2 "an unknown strategy"
expect_in "$ERR" "strategy: unknown strategy 'chain' (strategies: direct_answer, explain_then_answer," "names the known ones"
"$LACUNA" run prompt_erasure -i - -o "$TMP/s.jsonl" "${COMMON[@]}" "${AUTO[@]}" --no-cache <"$IN" >/dev/null 2>"$TMP/stderr"
expect_eq "$?" 2 "strategy=auto cannot read stdin twice"
expect_in "$(cat "$TMP/stderr")" "strategy=auto reads the inputs in setup and again for the items" "and says so"
printf '%s\n' '{"question": "q", "category": "poetry"}' >"$TMP/nogold.jsonl"
lc run prompt_erasure -i "$TMP/nogold.jsonl" -o "$TMP/e.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" -p strategy=auto
expect_eq "$CODE" 2 "auto without gold answers"
expect_in "$ERR" "category poetry: strategy auto needs items with a gold answer" "says why"
# lacuna pack / reproduce: calibration included, the run regenerates byte for byte with no teacher.
mkdir -p "$TMP/pack/run" "$TMP/pack/elsewhere"
cp "$IN" "$TMP/pack/run/q.jsonl"
(cd "$TMP/pack/run" && "$LACUNA" run prompt_erasure -i q.jsonl -o out/o.jsonl "${COMMON[@]}" "${AUTO[@]}" -q 2>/dev/null &&
  "$LACUNA" pack out/o.jsonl 2>/dev/null)
expect_eq "$?" 0 "an auto-calibrated run packs"
out=$(cd "$TMP/pack/elsewhere" && "$LACUNA" reproduce ../run/out/o.pack.jsonl.gz 2>&1)
expect_in "$out" "byte-identical to the packed dataset (3 examples" "and reproduces without a teacher"

finish
