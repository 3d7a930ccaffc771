#!/usr/bin/env bash
# recipes/in2.lua against a hostile teacher (scripts/in2_hostile.mjs): prose,
# JSON without the answer, wrong types, an array, empty and huge answers,
# ungrounded answers and answers of stopwords, a fenced JSON block, a reply
# fixed only when re-asked. Every planned item ends ok, skipped with its reason
# or failed with the teacher's fault, and the counts add up; the kept examples
# train only the answer and keep their needle metadata.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
FIX=${LACUNA_FIXTURES:-$TEACHER_DIR/../fixtures}
LEN=(-p min_tokens=1024 -p max_tokens=3000)

start_server --script "$TEACHER_DIR/scripts/in2_hostile.mjs"
{ cat "$FIX/in2/corpus.jsonl"
  jq -nc '{id: "zh", text: ("我们今天去公园散步，天气很好。然后我们在北京吃了午饭。" * 12)}'; } >"$TMP/corpus.jsonl"
"$LACUNA" run in2 -i "$TMP/corpus.jsonl" -o "$TMP/t.jsonl" "${LEN[@]}" -p type2=0.4 --model m1 \
  --base-url "$BASE_URL" --no-progress --cache "$TMP/cache.db" >"$TMP/stdout" 2>"$TMP/stderr"
CODE=$?
ERR=$(cat "$TMP/stderr")
expect_eq "$CODE" 1 "a run with failed items exits 1 ($(tail -3 "$TMP/stderr"))"
items=$(jq .report.plan.items "$TMP/t.manifest.json")
ok_n=$(wc -l <"$TMP/t.jsonl")
skipped=$(wc -l <"$TMP/t.skipped.jsonl")
nfail=$(wc -l <"$TMP/t.failed.jsonl")
expect_in "$ERR" "$items planned = $ok_n ok ($ok_n examples) + $skipped skipped + $nfail failed" "the summary line"
expect_eq "$((ok_n + skipped + nfail))" "$items" "every planned item is ok, skipped or failed"
expect_true "some items are ok ($ok_n)" test "$ok_n" -ge 1
expect_true "some items fail ($nfail)" test "$nfail" -ge 1

# Skips say why: the ungrounded answer's missing words, or that it has none to find.
expect_eq "$(jq -r .reason "$TMP/t.skipped.jsonl" | sed -E 's/"[^"]*"/"…"/' | sort -u)" \
  "$(printf '%s\n' 'ungrounded: the answer "…" has no content word to find in the needle segments' \
    "ungrounded: the answer's words zebras, quietly are not in the needle segments")" "skip reasons"
# Failures name the teacher's fault, after the re-asks.
reasons=$(jq -r .error "$TMP/t.failed.jsonl" | sed -E 's/^item:[0-9]+: recipes\/in2.lua:[0-9]+: //' | sort -u)
for want in "teacher reply is not valid JSON (byte 1: unexpected 'T') after 3 attempts" \
  "teacher reply is reply: missing field 'answer' after 3 attempts" \
  "teacher reply is reply: expected object after 3 attempts" \
  "teacher reply is answer is empty after 3 attempts" \
  "teacher reply is answer is longer than 2000 bytes after 3 attempts"; do
  expect_in "$reasons" "$want" "a failure reason"
done
expect_true "wrong types are named" grep -Eq "teacher reply is reply.(question|answer): expected string" <<<"$reasons"
expect_eq "$(jq -r .error "$TMP/t.failed.jsonl" | grep -vc 'teacher reply is ')" 0 "every failure is the teacher's"

# What is kept: the answer alone trained, grounded, with the needles' metadata.
expect_eq "$(jq -c '[.messages[0].train, .messages[1].train]' "$TMP/t.jsonl" | sort -u)" "[false,true]" \
  "loss only on the answer"
expect_eq "$(jq -r '.messages[1].content' "$TMP/t.jsonl" | grep -Ec 'zebras|^it is the one$')" 0 "no ungrounded answer kept"
expect_eq "$(jq -c '.meta.in2 | (.needles | length) >= 1 and (.context_tokens | type) == "number"' "$TMP/t.jsonl" |
  sort -u)" true "needle metadata in every example"
expect_eq "$(jq -c 'select(.meta.in2.kind == "II") | .meta.in2.gap >= 0' "$TMP/t.jsonl" | sort -u)" true \
  "type II examples record the gap"
expect_true "answers from inside a CJK run are grounded" test \
  "$(jq -r 'select(.meta.qa.document == "zh") | .messages[1].content' "$TMP/t.jsonl" | wc -l)" -ge 1
expect_eq "$(jq -r .reason "$TMP/t.skipped.jsonl" | LC_ALL=C grep -c $'[\xe4-\xe9]')" 0 \
  "no CJK answer skipped as ungrounded"
# The fenced block and the reply fixed on a re-ask are kept.
expect_true "a fenced or re-asked reply is kept" test "$(jq -r '.messages[1].content' "$TMP/t.jsonl" | wc -l)" -ge 2
"$LACUNA" run "$FIX/in2/check_in2.lua" -i "$TMP/t.jsonl" -o "$TMP/c.jsonl" "${LEN[@]}" -p slack=4 --no-progress \
  >"$TMP/stdout" 2>"$TMP/stderr"
expect_in "$(cat "$TMP/stderr")" "$ok_n read = $ok_n ok ($ok_n examples) + 0 skipped + 0 failed" \
  "lengths, offsets and loss ($(head -c 300 "$TMP/c.skipped.jsonl"))"
finish
