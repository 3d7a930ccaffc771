#!/usr/bin/env bash
# recipes/pam.lua end to end against the test server with a scripted attempt
# model and teacher (tests/teacher/scripts/pam.mjs): good and bad cases per
# scripted question, the exact masked spans in axolotl format (the first
# attempt untrained, the loss from the verification on, in one assistant
# turn), good-case masking, more rounds, per-attempt correctness in the
# metadata, paraphrase lists from a file, balancing, accounting (every input
# an example, a skip or a failure), paid requests equal to distinct requests,
# and a rerun from the cache that pays nothing and gives the same bytes.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
SRC=${LACUNA_SRC:-$TEACHER_DIR/../..}
FIX=${LACUNA_FIXTURES:-$TEACHER_DIR/../fixtures}
IN=$FIX/pam/questions.jsonl

lc() { # runs lacuna; sets CODE, ERR
  "$LACUNA" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  CODE=$?
  ERR=$(cat "$TMP/stderr")
}
# case Q: the cases of question id Q, in order ("good bad bad").
cases() { jq -r --arg q "$1" 'select(.meta.pam.q == $q) | .meta.pam.case' "$2" | tr '\n' ' ' | sed 's/ $//'; }

PAM_ANSWERS=$IN:$FIX/pam/numbers.jsonl start_server --script "$TEACHER_DIR/scripts/pam.mjs"
COMMON=(--model teach --teacher attempt=small --base-url "$BASE_URL" --no-progress -p attempts=3)

lc run pam -i "$IN" -o "$TMP/o.jsonl" "${COMMON[@]}" --cache "$TMP/c.db"
expect_eq "$CODE" 0 "pam run ($ERR)"
expect_in "$ERR" "6 read = 5 ok (15 examples) + 1 skipped + 0 failed" "every input is an example, a skip or a failure"
# Tag each example with its question (the user turn holds it) for the checks below.
jq -c '.meta.pam.q = (.messages[0].content | capture("\\[(?<m>\\w+)\\]").m)' "$TMP/o.jsonl" >"$TMP/q.jsonl"
expect_eq "$(cases right "$TMP/q.jsonl")" "good good good" "all attempts right: three good cases"
expect_eq "$(cases wrong "$TMP/q.jsonl")" "bad bad bad" "all attempts wrong: three bad cases"
expect_eq "$(cases mixed "$TMP/q.jsonl")" "good bad bad" "one right attempt of three (gold given as option text)"
expect_eq "$(cases letter "$TMP/q.jsonl")" "good bad bad" "one-letter answers are checked"
expect_eq "$(cases noanswer "$TMP/q.jsonl")" "bad bad bad" "an attempt without an answer is a bad case"
expect_eq "$(jq -r .reason "$TMP/o.skipped.jsonl")" \
  "the teacher's explanation ends with \"So the answer is (A).\", not the gold answer (B) honey" \
  "a teacher that misses the truth: the item is skipped with the reason"
expect_eq "$(jq -c 'select(.meta.pam.q == "mixed") | [.meta.pam.attempts[] | .correct]' "$TMP/q.jsonl" | sort -u)" \
  "[true,false,false]" "the metadata records whether each attempt was correct"
expect_eq "$(jq -c 'select(.meta.pam.q == "mixed") | [.meta.pam.attempt, .meta.pam.attempts[.meta.pam.attempt - 1].answer]' \
  "$TMP/q.jsonl" | tr '\n' ' ')" '[1,"B"] [2,"A"] [3,"C"] ' "each case names its attempt and that attempt's answer"

# The exact spans. A bad case: one assistant turn; its first attempt and the
# blank line after it untrained, the rest (verification, explanation, answer) trained.
BAD=$(jq -c 'select(.meta.pam.q == "letter" and .meta.pam.attempt == 2) | .messages[1]' "$TMP/q.jsonl")
A1=$'Sample 2 reasons briefly.\nB\n\n'
expect_eq "$(jq -r '.role + " " + (.train | tostring)' <<<"$BAD")" "assistant null" \
  "one assistant turn, partly trained (train_detail, no turn-level train)"
expect_eq "$(jq -c .train_detail <<<"$BAD")" \
  "[{\"begin_offset\":0,\"end_offset\":$((${#A1} - 1)),\"train\":false},{\"begin_offset\":${#A1},\"end_offset\":$(($(jq -r '.content | length' <<<"$BAD") - 1)),\"train\":true}]" \
  "bad case: the first attempt untrained, the loss from the verification to the end (end_offset inclusive)"
expect_eq "$(jq --arg a "$A1" '.content[:($a | length)] == $a' <<<"$BAD")" true "the untrained span is the first attempt"
expect_in "$(jq -r --argjson n ${#A1} '.content[$n:]' <<<"$BAD")" "Sorry" "the trained span starts with the negative verification"
expect_eq "$(jq -r '.content' <<<"$BAD" | tail -n 1)" "A" "and ends with the teacher's one-letter answer"
expect_eq "$(jq -r 'select(.meta.pam.case == "bad") | .messages[1].train_detail | length' "$TMP/o.jsonl" | sort -u)" 2 \
  "every bad case: one untrained and one trained span"
expect_eq "$(jq -r 'select(.meta.pam.case == "bad") | .messages[1] | .content[.train_detail[1].begin_offset:] |
  test("^(Thinking about|Let me check|Looking back)")' "$TMP/o.jsonl" | sort -u)" true \
  "every bad case's loss starts at a verification"
expect_eq "$(jq -r 'select(.meta.pam.case == "good") | [.messages[1].train, .messages[1].train_detail == null] | tostring' \
  "$TMP/o.jsonl" | sort -u)" "[true,true]" "good case (good_masking=all): the whole turn trained"
expect_eq "$(jq -r '.messages[0].train' "$TMP/o.jsonl" | sort -u)" false "the user turn is never trained"

# The prompt side: a task prompt with the question, a CoT and a self-correction
# prompt, in orders drawn per example.
expect_eq "$(jq -r '.messages[0].content | split("\n\n") | length' "$TMP/o.jsonl" | sort -u)" 4 \
  "the user turn: task prompt, question, CoT prompt, self-correction prompt"
orders=$(jq -r '.messages[0].content | split("\n\n") | map(if test("Answer choices") then "Q" else "p" end) | join("")' \
  "$TMP/o.jsonl" | sort -u | wc -l)
expect_true "the prompts come in several orders ($orders)" test "$orders" -ge 2

# Paid requests equal distinct requests: 6 questions x 3 attempts (told apart
# by sample index and seed) + one explanation per question with a wrong attempt.
expect_eq "$(jq .teacher.requests "$TMP/o.manifest.json")" 23 "3 attempts per question + 5 explanations"
expect_eq "$(curl -sS "$SERVER_URL/keys" | jq 'length')" 23 "the server saw 23 distinct requests"
expect_eq "$(curl -sS "$SERVER_URL/keys" | jq '[.[]] | max')" 1 "and none of them twice"
expect_eq "$(jq -r '.teacher.models | keys | join(",")' "$TMP/o.manifest.json")" "small,teach" \
  "the attempt model is configured apart from the teacher"

reset_stats
lc run pam -i "$IN" -o "$TMP/again.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" --window 1
expect_eq "$CODE" 0 "rerun ($ERR)"
expect_eq "$(stat_get .requests)" 0 "the rerun comes from the cache"
expect_true "the rerun gives the same bytes" cmp -s "$TMP/o.jsonl" "$TMP/again.jsonl"

# good_masking=verification: a good case trains its verification only.
lc run pam -i "$IN" -o "$TMP/v.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" -p good_masking=verification
GOOD=$(jq -c 'select(.meta.pam.case == "good" and (.messages[0].content | test("melts"))) | .messages[1]' "$TMP/v.jsonl")
expect_eq "$(jq -c .train_detail <<<"$GOOD")" \
  "[{\"begin_offset\":0,\"end_offset\":2,\"train\":false},{\"begin_offset\":3,\"end_offset\":$(($(jq -r '.content | length' <<<"$GOOD") - 1)),\"train\":true}]" \
  "good_masking=verification: 'A' and the blank line untrained, the verification trained"

# rounds=2: two wrong attempts, each followed by a trained negative verification.
lc run pam -i "$IN" -o "$TMP/r.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" -p rounds=2
R=$(jq -c 'select(.meta.pam.case == "bad" and (.messages[0].content | test("cut paper"))) | .messages[1]' "$TMP/r.jsonl" | head -n 1)
expect_eq "$(jq -c '[.train_detail[].train]' <<<"$R")" "[false,true,false,true]" "rounds=2: attempt, NV, attempt, NV + answer"
expect_eq "$(jq -r '.content | [scan("Sorry")] | length' <<<"$R")" 2 "two negative verifications"
expect_eq "$(jq -r 'select(.meta.pam.case == "bad") | .meta.pam.rounds' "$TMP/r.jsonl" | sort -u)" 2 \
  "rounds=2: every bad case holds two wrong attempts (each question here has at least two)"

# checker=judge: the teacher judges each answer; the same cases as by option letter.
reset_stats
lc run pam -i "$IN" -o "$TMP/j.jsonl" "${COMMON[@]}" --cache "$TMP/j.db" -p checker=judge
expect_eq "$CODE" 0 "checker=judge ($ERR)"
expect_eq "$(jq -r .meta.pam.case "$TMP/j.jsonl" | tr '\n' ' ')" "$(jq -r .meta.pam.case "$TMP/o.jsonl" | tr '\n' ' ')" \
  "checker=judge finds the same good and bad cases"
expect_eq "$(jq -r '.messages[0].content' "$TMP/j.jsonl" | sort | md5sum)" "$(jq -r '.messages[0].content' "$TMP/o.jsonl" | sort | md5sum)" \
  "and writes the same prompts"
expect_eq "$(jq .teacher.requests "$TMP/j.manifest.json")" "$(curl -sS "$SERVER_URL/keys" | jq 'length')" \
  "judge calls included, paid requests equal distinct requests"

# Questions without choices, checked as numbers (and by the judge).
for checker in number judge; do
  lc run pam -i "$FIX/pam/numbers.jsonl" -o "$TMP/num.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" -p checker=$checker
  expect_eq "$CODE" 0 "checker=$checker on numbers ($ERR)"
  expect_eq "$(jq -r .meta.pam.case "$TMP/num.jsonl" | tr '\n' ' ')" "good bad bad good good good bad bad bad " \
    "checker=$checker: the cases of [mixed], [right], [wrong]"
done
expect_eq "$(jq -r 'select(.meta.pam.case == "bad") | .messages[1].content | split("\n") | last' "$TMP/num.jsonl" | sort -u | tr '\n' ' ')" \
  "So the answer is: 12. So the answer is: 7. " "bad cases end with the teacher's number"
expect_eq "$(jq -c 'select(.meta.pam.case == "bad") | .messages[1] | [.content[:(.train_detail[0].end_offset + 1)], .train_detail[0].train]' \
  "$TMP/num.jsonl" | head -n 1)" '["Sample 2 computes.\nSo the answer is: 14.\n\n",false]' \
  "the attempt (5 + 7 -> 14) and the blank line after it untrained"

# The self-correction prompts replaced from a file (one a line).
lc run pam -i "$IN" -o "$TMP/p.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" \
  -p correction_prompts="$SRC/recipes/data/pam_correction_prompts.txt"
expect_eq "$CODE" 0 "run with correction_prompts from a file ($ERR)"
expect_eq "$(jq -r '.messages[0].content | split("\n\n")[]' "$TMP/p.jsonl" | grep -cxFf "$SRC/recipes/data/pam_correction_prompts.txt")" 15 \
  "every example holds one of the file's self-correction prompts"

# Balancing: good_keep=0 keeps no good case (an all-right question is skipped);
# balance measures the accuracy in setup and pays nothing more for it.
lc run pam -i "$IN" -o "$TMP/b.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" -p good_keep=0
expect_in "$ERR" "6 read = 4 ok (10 examples) + 2 skipped + 0 failed" "good_keep=0: only bad cases"
expect_eq "$(jq -r .meta.pam.case "$TMP/b.jsonl" | sort -u)" bad "no good case kept"
expect_in "$(jq -r .reason "$TMP/b.skipped.jsonl")" "no case kept: 3 distinct attempts, all right" "the skip says why"
lc run pam -i "$IN" -o "$TMP/bal.jsonl" "${COMMON[@]}" --no-cache -p balance=true -p balance_sample=6
expect_eq "$CODE" 0 "balance run ($ERR)"
expect_eq "$(jq -c '.report.balance | [.questions, .attempts, .correct]' "$TMP/bal.manifest.json")" "[6,18,5]" \
  "balance: the attempt model's accuracy measured on 6 questions"
expect_eq "$(jq .teacher.requests "$TMP/bal.manifest.json")" 23 "balance: setup's attempts are not paid twice (no cache)"

# seeded=false: the k attempts of a question are the same body, told apart by
# their sample index only: each is paid once (k samples of one prompt), and
# a rerun pays nothing.
reset_stats
lc run pam -i "$IN" -o "$TMP/u.jsonl" "${COMMON[@]}" --cache "$TMP/u.db" -p seeded=false
expect_eq "$CODE" 0 "seeded=false run ($ERR)"
expect_eq "$(jq .teacher.requests "$TMP/u.manifest.json")" 23 "seeded=false: still 3 samples per question"
expect_eq "$(curl -sS "$SERVER_URL/keys" | jq -c '[.[]] | sort | group_by(.) | map([.[0], length])')" "[[1,5],[3,6]]" \
  "the server saw each question's attempt body 3 times (k samples) and each explanation once"
reset_stats
lc run pam -i "$IN" -o "$TMP/u2.jsonl" "${COMMON[@]}" --cache "$TMP/u.db" -p seeded=false
expect_eq "$(stat_get .requests)" 0 "seeded=false: the rerun comes from the cache"
expect_true "seeded=false: the rerun gives the same bytes" cmp -s "$TMP/u.jsonl" "$TMP/u2.jsonl"

# --format openai cannot mask part of a turn: each bad case fails alone, the
# item's good cases are written (an item with bad cases only fails whole).
lc run pam -i "$IN" -o "$TMP/oa.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" --format openai
expect_eq "$CODE" 1 "openai: the bad cases cannot be written"
expect_eq "$(jq -c '.counts | [.failed, .failed_examples]' "$TMP/oa.manifest.json")" "[2,4]" \
  "2 items of bad cases only fail; the 4 bad cases of mixed items fail alone"
expect_eq "$(wc -l <"$TMP/oa.jsonl" | tr -d ' ')" 5 "the good cases are written"

# The attempt model as a model of the default teacher: the same requests, so
# the cache of the first run answers them all.
lc run pam -i "$IN" -o "$TMP/d.jsonl" --model teach --base-url "$BASE_URL" --no-progress -p attempts=3 \
  --cache "$TMP/c.db" -p attempt_teacher= -p attempt_model=small
expect_eq "$CODE" 0 "attempt_teacher= with attempt_model ($ERR)"
expect_eq "$(jq -c '.teacher | [.requests, .cache_hits]' "$TMP/d.manifest.json")" "[0,23]" \
  "the same attempt requests as through --teacher attempt=small"
expect_true "and the same output" cmp -s "$TMP/o.jsonl" "$TMP/d.jsonl"

"$LACUNA" run pam -i - -o "$TMP/s.jsonl" "${COMMON[@]}" --no-cache -p balance=true <"$IN" >/dev/null 2>"$TMP/stderr"
expect_eq "$?" 2 "balance cannot read stdin twice"
expect_in "$(cat "$TMP/stderr")" "give a file, not stdin" "and says so"

# Without an attempt teacher the run stops before any item, saying how to configure one.
lc run pam -i "$IN" -o "$TMP/n.jsonl" --model teach --base-url "$BASE_URL" --no-progress --cache "$TMP/c.db"
expect_eq "$CODE" 2 "no attempt teacher: a configuration error"
expect_in "$ERR" "--teacher attempt=MODEL" "the message says how to configure it"
# lacuna pack / reproduce: the run regenerates byte for byte with no teacher.
mkdir -p "$TMP/pack/run" "$TMP/pack/elsewhere"
cp "$IN" "$TMP/pack/run/q.jsonl"
(cd "$TMP/pack/run" && "$LACUNA" run pam -i q.jsonl -o out/pam.jsonl "${COMMON[@]}" -q &&
  "$LACUNA" pack out/pam.jsonl 2>/dev/null)
expect_eq "$?" 0 "a pam run packs"
out=$(cd "$TMP/pack/elsewhere" && "$LACUNA" reproduce ../run/out/pam.pack.jsonl.gz 2>&1)
expect_in "$out" "byte-identical to the packed dataset (15 examples" "and reproduces without a teacher"

finish
