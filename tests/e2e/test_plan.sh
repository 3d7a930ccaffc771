#!/usr/bin/env bash
# Planned work items (DESIGN §3.2): setup(run) plans N synthetic items, groups
# of records (by a field, by count) or a list; the counts add up as planned
# items; each item's RNG depends on (seed, item key) only; run:report lands in
# the manifest; finish's summary is read-only; JSON and file params; check
# runs the plan and the first 3 items; setup's mistakes name the recipe's line.
source "$(dirname "$0")/lib.sh"
P="$FIX/plan"
R="$P/planner.lua"
DOCS="$P/docs.jsonl"
mf() { jq -c "$2" "$1"; } # manifest query

# ---- N synthetic items: 20 planned = 16 ok + 2 skipped (7, 14) + 2 failed (9, 18)
lc run "$R" -i "$DOCS" -o "$TMP/items.jsonl" -p mode=items -p n=20
expect_code 1 "items: the failed items make the exit code 1"
expect_in "$ERR" "20 planned = 16 ok (16 examples) + 2 skipped + 2 failed" "items: counts add up as planned items"
expect_eq "$(lines "$TMP/items.jsonl")" 16 "items: 16 examples"
expect_eq "$(mf "$TMP/items.manifest.json" .counts)" '{"planned":20,"ok":16,"examples":16,"skipped":2,"failed":2}' \
  "items: manifest counts planned items"
expect_eq "$(jq -c '[.line, .reason]' "$TMP/items.skipped.jsonl" | tr '\n' ' ')" '[7,"a multiple of 7"] [14,"a multiple of 7"] ' \
  "items: skips are recorded with the item"
expect_in "$(cat "$TMP/items.failed.jsonl")" "planner.lua:" "items: a failure names the recipe's line"
expect_eq "$(jq -c .item "$TMP/items.failed.jsonl" | tr '\n' ' ')" "9 18 " "items: failures carry the item"

# ---- run:report: statistics from setup and finish, in the order reported
expect_eq "$(mf "$TMP/items.manifest.json" .report)" \
  '{"records_in_setup":7,"tokenizer":{"approximate":true,"count":3},"seen":{"ok":16,"skipped":2}}' \
  "run:report puts setup's and finish's statistics into the manifest"

# ---- run.tokenizer and ctx.tokenizer: --tokenizer's model, or the approximate counter
expect_eq "$(jq -r '.messages[1].content' "$TMP/items.jsonl" | head -1)" "274099 ~ 2" "ctx.tokenizer: the approximate counter"
lc run "$R" -o "$TMP/tok.jsonl" -p mode=items -p n=2 --tokenizer "$FIX/tokenizer/bytelevel.json"
expect_eq "$(mf "$TMP/tok.manifest.json" .report.tokenizer.approximate)" false "run.tokenizer is the --tokenizer model"
expect_in "$(jq -r '.messages[1].content' "$TMP/tok.jsonl" | head -1)" "274099 = " "ctx.tokenizer is the --tokenizer model (exact)"

# ---- determinism: --window 1 vs 64, reruns, and every mode
for mode in items by size list records; do
  lc run "$R" -i "$DOCS" -o "$TMP/$mode.w1.jsonl" -p mode=$mode --window 1
  lc run "$R" -i "$DOCS" -o "$TMP/$mode.w64.jsonl" -p mode=$mode --window 64
  lc run "$R" -i "$DOCS" -o "$TMP/$mode.again.jsonl" -p mode=$mode --window 64
  expect_same_file "$TMP/$mode.w1.jsonl" "$TMP/$mode.w64.jsonl" "$mode: --window 1 and 64 give the same bytes"
  expect_same_file "$TMP/$mode.w64.jsonl" "$TMP/$mode.again.jsonl" "$mode: a rerun gives the same bytes"
done
# The stream depends on the item's key, not on the plan's other items: item 3
# draws the same with n=20 and n=5.
lc run "$R" -i "$DOCS" -o "$TMP/five.jsonl" -p mode=items -p n=5
expect_eq "$(sed -n 3p "$TMP/five.jsonl")" "$(sed -n 3p "$TMP/items.w1.jsonl")" "item 3's RNG stream comes from (seed, 3)"
lc run "$R" -i "$DOCS" -o "$TMP/seed.jsonl" -p mode=items -p n=5 --seed 9
expect_not_in "$(sed -n 1p "$TMP/seed.jsonl")" "$(sed -n 1p "$TMP/five.jsonl" | jq -r '.messages[1].content')" \
  "another seed draws another stream"

# ---- groups by a field: adjacent records sharing it; by count
expect_eq "$(jq -r '.messages[0].content' "$TMP/by.w1.jsonl" | tr '\n' '/')" \
  "Alpha one. | Alpha two./Beta one./Gamma one. | Gamma two. | Gamma three./Delta one./" "groups by doc"
lc run "$R" -i "$DOCS" -o "$TMP/by.jsonl" -p mode=by
expect_in "$ERR" "4 planned (7 records read) = 4 ok (4 examples) + 0 skipped + 0 failed" "groups by field: counts"
expect_eq "$(mf "$TMP/by.manifest.json" '.counts | [.planned, .read]')" "[4,7]" "groups: manifest has planned items and records read"
expect_eq "$(jq -r '.messages[0].content' "$TMP/size.w1.jsonl" | tr '\n' '/')" \
  "Alpha one. | Alpha two. | Beta one./Gamma one. | Gamma two. | Gamma three./Delta one./" "groups of 3 records"
expect_eq "$(jq -r '.messages[0].content' "$TMP/list.w1.jsonl" | head -2 | tr '\n' '/')" "a:Alpha one./a:Alpha two./" \
  "a list built in setup: one item per element"
lc run "$R" -i "$DOCS" -o "$TMP/list.jsonl" -p mode=list
expect_in "$ERR" "7 planned = 7 ok" "list: counts"

# Bad lines inside groups fail the group they fall in; nothing is lost.
lc run "$R" -i "$P/bad_docs.jsonl" -o "$TMP/badby.jsonl" -p mode=by -p scan=false
expect_code 1 "bad groups fail"
expect_in "$ERR" "4 planned (4 records read) = 1 ok (1 examples) + 0 skipped + 3 failed" "bad groups: counts add up"
FAILS=$(cat "$TMP/badby.failed.jsonl")
expect_in "$FAILS" "bad_docs.jsonl:2:" "a malformed line fails with its file:line"
expect_in "$FAILS" "bad_docs.jsonl:3: record 1 of the group: " "a record that does not match names its group record"
expect_in "$FAILS" 'bad_docs.jsonl:4: records with doc = \"a\" are not adjacent (a group of them ended at ' \
  "a key seen again after its group ended is an error naming both"

# ---- run:records() in setup: a bad line stops setup with its file:line
lc run "$R" -i "$P/bad_docs.jsonl" -o "$TMP/bad.jsonl" -p mode=items
expect_code 2 "a bad line read in setup fails the run"
expect_in "$ERR" "planner.lua: setup failed: " "says setup failed"
expect_in "$ERR" "bad_docs.jsonl:2: " "names the bad line's file:line"
[ ! -e "$TMP/bad.jsonl" ] && ok || bad "no output after a failed setup"

# ---- no input needed when setup plans the items; --limit counts items
lc run "$R" -o "$TMP/noin.jsonl" -p mode=items -p n=6 --limit 4
expect_code 0 "synthetic items without input"
expect_in "$ERR" "4 planned = 4 ok" "--limit takes the first 4 planned items"

# ---- finish's summary is read-only
lc run "$P/finish_writes.lua" -o "$TMP/fw.jsonl"
expect_code 1 "a finish that writes the summary fails"
expect_in "$ERR" "finish failed: " "says finish failed"
expect_in "$ERR" "cannot modify summary.counts" "the write is refused"
expect_in "$ERR" "finish_writes.lua:7:" "at the recipe's line"
expect_eq "$(mf "$TMP/fw.manifest.json" .counts.ok)" 2 "the counts are unchanged"

# ---- setup's errors name the recipe's line
lc run "$P/setup_error.lua" -o "$TMP/se.jsonl"
expect_code 2 "a setup error fails the run"
expect_in "$ERR" "setup_error.lua: setup failed: " "says setup failed"
expect_in "$ERR" "setup_error.lua:6: attempt to index" "names the recipe's line"
misuse() { # what expected
  lc run "$P/setup_misuse.lua" -o "$TMP/sm.jsonl" -p what="$1"
  expect_code 2 "[$1] fails"
  expect_in "$ERR" "$2" "[$1] says why, at the recipe's line"
}
misuse groups "setup_misuse.lua:6: run:groups: give exactly one of by = FIELD or size = N"
misuse report "setup_misuse.lua:7: run:report('f'): the value is not JSON data"
misuse params "setup_misuse.lua:8: cannot modify run.params.what"
misuse other "setup returned a number; return nothing (one item per record), a list of items"

# ---- JSON and file params
lc run "$P/params_json.lua" -o "$TMP/pj.jsonl"
expect_eq "$(jq -r '.messages[0].content' "$TMP/pj.jsonl" | tr '\n' '/')" "default=1/" "the JSON default"
lc run "$P/params_json.lua" -o "$TMP/pj.jsonl" -p strategies=@"$P/strategies.json" -p phrases="$P/phrases.txt"
expect_code 0 "params from files"
expect_eq "$(jq -r '.messages[0].content' "$TMP/pj.jsonl" | tr '\n' '/')" \
  "careful=3/direct=1/Say it again./In other words:/" "a JSON file and a file of lines"
expect_eq "$(mf "$TMP/pj.manifest.json" .params.strategies.careful.weight)" 3 "the manifest holds the param's value"
lc run "$P/params_json.lua" -o "$TMP/pj.jsonl" -p 'strategies={"inline": {"weight": 5}}'
expect_eq "$(jq -r '.messages[0].content' "$TMP/pj.jsonl")" "inline=5" "inline JSON"
lc run "$P/params_json.lua" -o "$TMP/pj.jsonl" -p 'strategies={"inline": '
expect_code 2 "bad inline JSON"
expect_in "$ERR" "param 'strategies' (json): not JSON (line 1, column" "names the param"
expect_in "$ERR" "to read a file, write -p strategies=@FILE" "hints at @FILE"
lc run "$P/params_json.lua" -o "$TMP/pj.jsonl" -p strategies=@"$P/strategies_bad.json"
expect_in "$ERR" "param 'strategies' (json): $P/strategies_bad.json: line 2, column" "a bad JSON file: param, file, line"
lc run "$P/params_json.lua" -o "$TMP/pj.jsonl" -p strategies=@"$TMP/none.json"
expect_in "$ERR" "param 'strategies' (json): cannot read $TMP/none.json" "a missing file"
lc run "$P/params_json.lua" -o "$TMP/pj.jsonl" -p phrases="$TMP/none.txt"
expect_in "$ERR" "param 'phrases' (file (lines)): cannot read $TMP/none.txt" "a missing file param"
lc info "$P/params_json.lua"
expect_in "$OUT" 'strategies  json = {"default":{"weight":1}}' "info shows the JSON default"
expect_in "$OUT" "file (lines)" "info shows the file kind"

# ---- check: the plan and its first 3 items
lc check "$R" -i "$DOCS" -p mode=items -p n=20
expect_code 0 "check"
expect_in "$OUT" "# planned items: the first 3 of 20 checked" "check says what it planned"
expect_in "$OUT" "3 checked = 3 ok (3 examples)" "check runs 3 items"
expect_eq "$(printf '%s\n' "$OUT" | grep -c '^{')" 3 "three examples printed"
lc check "$R" -p mode=items
expect_code 0 "check needs no input when setup plans"
lc check "$P/setup_error.lua"
expect_code 2 "check reports a setup error"
expect_in "$ERR" "setup_error.lua:6:" "with the recipe's line"

finish
