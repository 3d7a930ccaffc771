#!/usr/bin/env bash
# recipes/in2.lua in its no-key mode (qa=extractive) end to end on a small
# corpus: the plan's counts add up, contexts land within 16 tokens below their
# targets and inside [min, max], needle spans and token offsets point at the
# needle, only the answer is trained, output is byte-identical across --window
# and reruns, and 2,000 examples' needle depths pass lacuna stats' uniformity test.
source "$(dirname "$0")/lib.sh"
D="$FIX/in2"
CORPUS="$D/corpus.jsonl"
CHECK="$D/check_in2.lua"
BYTES="$FIX/tokenizer/bytelevel.json"
LEN=(-p min_tokens=1024 -p max_tokens=3000)
mf() { jq -c "$2" "$1"; }
kinds() { jq -r '.meta.in2.kind' "$1" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}'; }

# ---- an exact tokenizer: every count is the encoding's
lc run in2 -i "$CORPUS" -o "$TMP/x.jsonl" -p qa=extractive "${LEN[@]}" --tokenizer "$BYTES"
expect_code 0 "extractive run with a tokenizer"
PLAN=$(mf "$TMP/x.manifest.json" .report.plan)
items=$(jq .items <<<"$PLAN")
one=$(jq .type_I <<<"$PLAN")
short=$(jq .short <<<"$PLAN")
expect_eq "$(jq .type_II <<<"$PLAN")" 0 "extractive mode plans no type II"
expect_eq "$((one + short))" "$items" "type I + short = the planned items"
expect_eq "$short" "$(( (items + 5) / 10 ))" "10% short items by default"
expect_in "$(jq -r .note <<<"$PLAN")" "type II questions need a teacher" "the manifest says why there is no type II"
expect_eq "$(jq .segments <<<"$PLAN")" "$items" "one item per segment by default"
expect_eq "$(jq .documents <<<"$PLAN")" 12 "every document read in setup"
ok_n=$(lines "$TMP/x.jsonl")
skipped=$(lines "$TMP/x.skipped.jsonl")
expect_in "$ERR" "$items planned = $ok_n ok ($ok_n examples) + $skipped skipped + 0 failed" \
  "counts add up as planned items"
out_one=$(jq -c 'select(.meta.in2.kind == "I")' "$TMP/x.jsonl" | wc -l)
skip_one=$(jq -c 'select(.item.kind == "I")' "$TMP/x.skipped.jsonl" | wc -l)
expect_eq "$((out_one + skip_one))" "$one" "type I items: examples + skips = planned"
expect_eq "$(jq -r .reason "$TMP/x.skipped.jsonl" | grep -cv '^extractive: \|^ungrounded: ')" 0 \
  "every skip is an extractive miss or an ungrounded answer, with the reason"
lc run "$CHECK" -i "$TMP/x.jsonl" -o "$TMP/xc.jsonl" "${LEN[@]}" --tokenizer "$BYTES"
expect_in "$ERR" "$ok_n read = $ok_n ok ($ok_n examples) + 0 skipped + 0 failed" \
  "exact tokenizer: counts, offsets, lengths, spans and loss all check ($(head -c 300 "$TMP/xc.skipped.jsonl"))"
expect_eq "$(jq -c '[.meta.in2.needles[] | .byte_span[1] - .byte_span[0] > 0] | all' "$TMP/x.jsonl" | sort -u)" true \
  "every example has a needle with a non-empty span"
expect_eq "$(jq -c '[.messages[] | select(.train)] | length' "$TMP/x.jsonl" | sort -u)" 1 "one trained message"
expect_eq "$(jq -r '.meta.qa.source' "$TMP/x.jsonl" | sort -u)" extractive-cloze "questions say what they are"

# ---- the approximate counter (the default): offsets are the pieces' estimates, within 4 tokens of a recount
lc run in2 -i "$CORPUS" -o "$TMP/a.jsonl" -p qa=extractive "${LEN[@]}"
expect_code 0 "extractive run, approximate counter"
n=$(lines "$TMP/a.jsonl")
lc run "$CHECK" -i "$TMP/a.jsonl" -o "$TMP/ac.jsonl" "${LEN[@]}" -p slack=4
expect_in "$ERR" "$n read = $n ok ($n examples) + 0 skipped + 0 failed" \
  "approximate counter: lengths, spans and loss check ($(head -c 300 "$TMP/ac.skipped.jsonl"))"
expect_eq "$(jq -c '.meta.in2 | select(.kind == "I") | [.target_tokens - .context_tokens | . >= 0 and . <= 16]' \
  "$TMP/a.jsonl" | sort -u)" "[true]" "each long context is within 16 tokens below its target"
expect_eq "$(jq -c '.meta.in2 | select(.kind != "short") | .context_tokens >= 1024 and .context_tokens <= 3000' \
  "$TMP/a.jsonl" | sort -u)" true "long contexts lie in [min_tokens, max_tokens]"
expect_eq "$(jq -r '.messages[0].content' "$TMP/a.jsonl" | grep -c '^Below is a context and an instruction.')" \
  "$n" \
  "FILM's template by default"

# ---- determinism: --window 1 and 64, a rerun
lc run in2 -i "$CORPUS" -o "$TMP/w1.jsonl" -p qa=extractive "${LEN[@]}" --window 1
lc run in2 -i "$CORPUS" -o "$TMP/w64.jsonl" -p qa=extractive "${LEN[@]}" --window 64
expect_same_file "$TMP/w1.jsonl" "$TMP/a.jsonl" "--window 1 gives the same bytes"
expect_same_file "$TMP/w64.jsonl" "$TMP/a.jsonl" "--window 64 gives the same bytes"
expect_same_file "$TMP/w64.skipped.jsonl" "$TMP/a.skipped.jsonl" "and the same skips"
lc run in2 -i "$CORPUS" -o "$TMP/s2.jsonl" -p qa=extractive "${LEN[@]}" --seed 2
expect_eq "$(cmp -s "$TMP/s2.jsonl" "$TMP/a.jsonl" && echo same || echo differs)" differs "another seed, another dataset"

# ---- params: items, short share, template, segment size
lc run in2 -i "$CORPUS" -o "$TMP/p.jsonl" -p qa=extractive "${LEN[@]}" -p items=40 -p short=0.25 \
  -p template='CONTEXT {context} QUESTION {instruction}' -p segment_tokens=64
expect_code 0 "params run"
expect_eq "$(mf "$TMP/p.manifest.json" '.report.plan | [.items, .type_I, .short]')" "[40,30,10]" "items=40, short=0.25"
expect_eq "$(jq -r '.messages[0].content | startswith("CONTEXT ")' "$TMP/p.jsonl" | sort -u)" true "the template param"
expect_eq "$(jq -r '.messages[0].content | test(" QUESTION Fill in the blank")' "$TMP/p.jsonl" | sort -u)" true \
  "the instruction goes where the template says"
lc run in2 -i "$CORPUS" -o "$TMP/p64.jsonl" -p qa=extractive "${LEN[@]}" -p segment_tokens=64
expect_eq "$(( $(mf "$TMP/p64.manifest.json" .report.plan.segments) > items * 3 / 2 ))" 1 \
  "smaller segments, more of them"

# ---- mistakes are named in setup
lc run in2 -i "$CORPUS" -o "$TMP/big.jsonl" -p qa=extractive
expect_code 2 "the default 32K contexts need more corpus than 12 documents"
expect_in "$ERR" "too few for contexts of max_tokens = 32768: give more documents or -p max_tokens=" \
  "says how many filler tokens there are and what to do"
[ ! -e "$TMP/big.jsonl" ] && ok || bad "no output after a failed setup"
lc run in2 -i "$CORPUS" -o "$TMP/t.jsonl" -p qa=extractive "${LEN[@]}" -p template='no slots'
expect_code 2 "a template without its slots"
expect_in "$ERR" "template must hold {context} and, after it, {instruction}" "names the template's problem"
lc run in2 -i "$CORPUS" -o "$TMP/r.jsonl" -p qa=extractive -p min_tokens=3000 -p max_tokens=3000
expect_in "$ERR" "max_tokens (3000) must be at least min_tokens + 16 (3016)" "an empty length range"
lc run in2 -i "$CORPUS" -o "$TMP/nm.jsonl" "${LEN[@]}"
expect_code 2 "teacher mode (the default) without --model stops in setup"
expect_in "$ERR" "qa=teacher needs a model: run with --model MODEL" "says a model is missing"
expect_in "$ERR" "-p qa=extractive" "suggests the no-key mode"
expect_not_in "$ERR" "teacher:chat: no model" "no item was tried"
[ ! -e "$TMP/nm.jsonl" ] && ok || bad "no output when setup stops for the missing model"

# ---- hostile corpora and parameters
lc run in2 -i "$CORPUS" -o "$TMP/seg.jsonl" -p qa=extractive -p min_tokens=100 -p max_tokens=3000 -p segment_tokens=200
expect_code 2 "needles that cannot fit the shortest context"
expect_in "$ERR" "min_tokens (100) must hold an item's needles: 1 segment of up to segment_tokens = 200 tokens" \
  "names min_tokens and segment_tokens"
lc run in2 -i "$CORPUS" -o "$TMP/st.jsonl" -p qa=extractive "${LEN[@]}" -p short_tokens=100
expect_code 2 "short contexts that cannot hold their needle"
expect_in "$ERR" "short_tokens (100) must hold a needle segment of up to segment_tokens = 128 tokens" "names short_tokens"
lc run in2 -i "$CORPUS" -o "$TMP/cap.jsonl" -p qa=extractive "${LEN[@]}" -p pool_capacity=5
expect_code 2 "a pool capacity too small for the contexts"
expect_in "$ERR" "(pool_capacity = 5 kept 5 of 61 segments)" "names the pool's capacity"
head -1 "$CORPUS" >"$TMP/one.jsonl"
lc run in2 -i "$TMP/one.jsonl" -o "$TMP/one_out.jsonl" -p qa=extractive
expect_code 2 "one document has no other documents to fill with"
expect_in "$ERR" "the pool holds 0 tokens outside its largest document" "no negative count"
expect_not_in "$ERR" "max_tokens=-" "no negative max_tokens suggested"
{ head -3 "$CORPUS"; echo '{"id": "x"}'; } >"$TMP/notext.jsonl"
lc run in2 -i "$TMP/notext.jsonl" -o "$TMP/nt.jsonl" -p qa=extractive "${LEN[@]}"
expect_in "$ERR" "notext.jsonl:4: field 'text': missing (expected string)" "a record without text: file, line, field"
{ head -3 "$CORPUS"; printf '{"id": "cut", "text": "abc'; } >"$TMP/cut.jsonl"
lc run in2 -i "$TMP/cut.jsonl" -o "$TMP/cut_out.jsonl" -p qa=extractive "${LEN[@]}"
expect_in "$ERR" "cut.jsonl:4: byte 27: unexpected end of input" "a truncated last line: file and line"
# Empty and blank documents, a 20,000-byte word, CJK without spaces, NUL bytes and CRLF:
# every item ends ok or skipped, and what is kept keeps in2's promises.
{ cat "$CORPUS"
  jq -nc '{id: "empty", text: ""}, {id: "blank", text: " \n\t "}, {id: "big", text: ("x" * 20000)},
    {id: "cjk", text: ("我们今天去公园散步天气很好然后吃了午饭。" * 100)},
    {id: "nul", text: ("Zero\u0000byte here. In 1999 the Example Company made 42 widgets.\r\nAnother.\r\n" * 20)}'
} >"$TMP/hostile.jsonl"
lc run in2 -i "$TMP/hostile.jsonl" -o "$TMP/h.jsonl" -p qa=extractive "${LEN[@]}"
expect_code 0 "a hostile corpus"
h_items=$(jq .report.plan.items "$TMP/h.manifest.json")
expect_eq "$(($(lines "$TMP/h.jsonl") + $(lines "$TMP/h.skipped.jsonl")))" "$h_items" "every item ok or skipped"
lc run "$CHECK" -i "$TMP/h.jsonl" -o "$TMP/hc.jsonl" "${LEN[@]}" -p slack=8
expect_in "$ERR" "0 skipped + 0 failed" "hostile corpus: lengths, offsets and loss ($(head -c 300 "$TMP/hc.skipped.jsonl"))"

# ---- 2,000 examples: depths uniform, lengths spread evenly
lc run in2 -i "$CORPUS" -o "$TMP/big.jsonl" -p qa=extractive -p items=2000 -p min_tokens=256 -p max_tokens=1024
expect_code 0 "2,000 items"
lc stats "$TMP/big.jsonl" --json
expect_code 0 "lacuna stats reads the output"
S=$OUT
expect_eq "$(jq .bad <<<"$S")" 0 "no bad lines"
expect_eq "$(jq '.in2.lines' <<<"$S")" "$(lines "$TMP/big.jsonl")" "every line is an IN2 example"
p=$(jq .depth_deciles.p <<<"$S")
expect_eq "$(jq "$p >= 0.01" <<<null)" true "needle depths pass the chi-square uniformity test (p = $p)"
# Long contexts' lengths: 4 equal bins over [272, 1024] hold within 10% of a quarter each.
expect_eq "$(jq -c '[.meta.in2 | select(.kind == "I") | .context_tokens]' "$TMP/big.jsonl" | jq -s -c 'add |
  (length / 4) as $q | group_by(((. - 256) * 4 / 769) | floor) | map(length) |
  (length == 4 and all(. > $q * 0.9 and . < $q * 1.1))')" true "lengths spread evenly over [min, max]"
finish
