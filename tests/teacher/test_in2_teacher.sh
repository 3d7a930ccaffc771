#!/usr/bin/env bash
# recipes/in2.lua with a teacher (tests/teacher/scripts/in2_qa.mjs): type I and
# type II questions as JSON, type II needles at independent depths with their
# gap, groundedness skips with the reason, counts that add up as planned items,
# one request per item, and a rerun from the cache that pays nothing and gives
# the same bytes.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
FIX=${LACUNA_FIXTURES:-$TEACHER_DIR/../fixtures}
CORPUS=$FIX/in2/corpus.jsonl
LEN=(-p min_tokens=1024 -p max_tokens=3000)

lc() { # runs lacuna; sets CODE, ERR
  "$LACUNA" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  CODE=$?
  ERR=$(cat "$TMP/stderr")
}

start_server --script "$TEACHER_DIR/scripts/in2_qa.mjs" --latency-ms 20
COMMON=(--model m1 --base-url "$BASE_URL" --no-progress --cache "$TMP/cache.db")

lc run in2 -i "$CORPUS" -o "$TMP/t.jsonl" "${LEN[@]}" "${COMMON[@]}"
expect_eq "$CODE" 0 "teacher run ($ERR)"
PLAN=$(jq -c .report.plan "$TMP/t.manifest.json")
items=$(jq .items <<<"$PLAN")
one=$(jq .type_I <<<"$PLAN")
two=$(jq .type_II <<<"$PLAN")
short=$(jq .short <<<"$PLAN")
expect_eq "$((one + two + short))" "$items" "type I + type II + short = the planned items"
expect_eq "$two" "$(( ((items - short) * 2 + 5) / 10 ))" "20% of the long items are type II by default"
expect_eq "$(jq -r '.qa' <<<"$PLAN")" teacher "the plan says who writes the questions"
ok_n=$(wc -l <"$TMP/t.jsonl")
skipped=$(wc -l <"$TMP/t.skipped.jsonl")
expect_in "$ERR" "$items planned = $ok_n ok ($ok_n examples) + $skipped skipped + 0 failed" \
  "counts add up as planned items"
# Items that ask about the same segment share one request (single flight or the cache).
expect_eq "$(jq '.teacher | .requests + .cache_hits + .coalesced' "$TMP/t.manifest.json")" "$items" \
  "one teacher call per item"
expect_eq "$(jq .teacher.requests "$TMP/t.manifest.json")" "$(stat_get .requests)" "the manifest counts the requests sent"

# Groundedness: the Amazon passages' answers are not in them.
expect_true "some items are skipped as ungrounded ($skipped)" test "$skipped" -ge 1
expect_eq "$(jq -r .reason "$TMP/t.skipped.jsonl" | sort -u)" \
  "ungrounded: the answer's words purple, elephants are not in the needle segments" "the skip names the missing words"
expect_eq "$(jq -r '.messages[1].content' "$TMP/t.jsonl" | grep -c 'purple elephants')" 0 "no ungrounded answer is kept"

# Both types, each with its needles; type II at independent depths, with the gap.
expect_eq "$(jq -r 'select(.meta.in2.kind == "I") | .meta.in2.needles | length' "$TMP/t.jsonl" | sort -u)" \
  1 \
  "type I: one needle"
II=$(jq -c 'select(.meta.in2.kind == "II")' "$TMP/t.jsonl")
expect_true "type II examples are written" test -n "$II"
expect_eq "$(jq -c '(.meta.in2.needles | length) == .meta.qa.segments and .meta.qa.segments >= 2' <<<"$II" |
  sort -u)" true \
  "type II: one needle per segment, 2 or more"
expect_eq "$(jq -c '.meta.in2 | (.gap | type) == "number" and .gap >= 0 and .gap < .context_tokens' <<<"$II" |
  sort -u)" true \
  "type II: the gap between the needles is recorded"
expect_eq "$(jq -c '.meta.in2.needles | (.[0].byte_span[0] < .[1].byte_span[0])' <<<"$II" | sort -u | wc -l)" 2 \
  "type II: the needles' order in the context is drawn, not fixed"
expect_eq "$(jq -r '.messages[1].content' <<<"$II" | grep -vc ' and ')" 0 "type II answers come from the type II prompt"
expect_eq "$(jq -r '.meta.qa.source' "$TMP/t.jsonl" | sort -u)" teacher "questions come from the teacher"
lc run "$FIX/in2/check_in2.lua" -i "$TMP/t.jsonl" -o "$TMP/c.jsonl" "${LEN[@]}" -p slack=4
expect_in "$ERR" "$ok_n read = $ok_n ok ($ok_n examples) + 0 skipped + 0 failed" \
  "lengths, offsets and loss check ($(head -c 300 "$TMP/c.skipped.jsonl"))"

# A rerun from the cache: nothing paid, the same bytes, whatever --window.
reset_stats
lc run in2 -i "$CORPUS" -o "$TMP/again.jsonl" "${LEN[@]}" "${COMMON[@]}" --window 1
expect_eq "$CODE" 0 "rerun ($ERR)"
expect_eq "$(stat_get .requests)" 0 "the rerun comes from the cache"
expect_true "the rerun gives the same bytes" cmp -s "$TMP/t.jsonl" "$TMP/again.jsonl"
expect_true "and the same skips" cmp -s "$TMP/t.skipped.jsonl" "$TMP/again.skipped.jsonl"
finish
