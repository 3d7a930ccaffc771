#!/usr/bin/env bash
# Hostile plans (issue 11 point 1, hardened): setups that fail, loop or return
# odd plans; run:report with values that are not JSON data; finish poking at
# its read-only summary; a run kept for map; items that end every way map can
# end, counted so that the summary, the manifest and the files agree; stdin
# read twice; file and JSON params naming directories, endless or invalid files.
source "$(dirname "$0")/lib.sh"
P="$FIX/plan"
DOCS="$P/docs.jsonl"
H="$P/hostile_setup.lua"
mf() { jq -c "$2" "$1"; } # manifest query

# ---- setup errors: exit 2, the recipe's file:line, the head of a traceback
lc run "$H" -o "$TMP/e.jsonl" -p what=error
expect_code 2 "a setup error exits 2"
expect_in "$ERR" "hostile_setup.lua: setup failed: $H:7: boom in setup" "the message with the recipe's line"
expect_in "$ERR" "  stack traceback:" "the head of the traceback follows"
expect_in "$ERR" "$H:7: in local 'deeper'" "naming the recipe's frames"
expect_not_in "$ERR" "lua/lacuna/" "without lacuna's own frames"
[ ! -e "$TMP/e.jsonl" ] && ok || bad "no output after a failed setup"
lc run "$H" -o "$TMP/e.jsonl" -p what=table_error
expect_code 2 "a table thrown by setup"
expect_in "$ERR" 'setup failed: error value {"code":7}' "is shown as its JSON, not its address"
expect_in "$ERR" "$H:9: in function" "with the recipe's line in the traceback"
expect_not_in "$ERR" "table: 0x" "no address"
lc run "$H" -o "$TMP/e.jsonl" -p what=loop --max-instructions 1000000
expect_code 2 "a setup that loops forever"
expect_in "$ERR" "setup failed: $H:10: instruction limit exceeded (1000000 per item" \
  "stops at the instruction budget, at the recipe's line"

# SIGTERM stops a setup that loops without a budget: exit 130, nothing committed.
mkdir -p "$TMP/term"
"$LACUNA" run "$H" -o "$TMP/term/out.jsonl" -p what=loop --max-instructions 0 --no-progress 2>"$TMP/term.err" &
pid=$!
for ((i = 0; i < 1200; i++)); do # (the temporary outputs exist once the run is past its checks)
  ls "$TMP/term" 2>/dev/null | grep -q '\.tmp\.' && break
  sleep 0.05
done
kill -TERM "$pid"
wait "$pid"
CODE=$?
expect_code 130 "SIGTERM in a setup that loops"
expect_in "$(cat "$TMP/term.err")" "interrupted in setup, before any item; nothing was written" "says where, and that nothing was written"
expect_eq "$(ls "$TMP/term")" "" "and leaves no file"

# ---- odd plans
lc run "$H" -o "$TMP/zero.jsonl" -p what=zero
expect_code 0 "a plan of 0 items"
expect_in "$ERR" "0 planned = 0 ok (0 examples) + 0 skipped + 0 failed" "0 planned"
expect_eq "$(mf "$TMP/zero.manifest.json" .counts)" '{"planned":0,"ok":0,"examples":0,"skipped":0,"failed":0}' "0 in the manifest"
lc run "$H" -o "$TMP/empty.jsonl" -p what=empty_list
expect_in "$ERR" "0 planned = 0 ok" "an empty list plans 0 items"
lc run "$H" -o "$TMP/odd.jsonl" -p what=odd_items
expect_code 1 "items that are a function, a table, NaN, inf"
expect_in "$ERR" "5 planned = 1 ok (1 examples) + 0 skipped + 4 failed" "are items like any other"
expect_eq "$(jq -c .item "$TMP/odd.failed.jsonl" | tr '\n' ' ')" '"<function>" [1,2] "NaN" "Infinity" ' \
  "a failed item that is not JSON data is recorded sanitized"
expect_eq "$(jq -c '.sanitized | length' "$TMP/odd.failed.jsonl" | tr '\n' ' ')" '1 0 1 1 ' "and says so"
lc run "$H" -o "$TMP/f.jsonl" -p what=float_n
expect_in "$ERR" "$H:14: run:items(n): n must be an integer" "run:items(1.5) at the recipe's line"
for n in "2^63" "math.huge" "0/0"; do
  printf 'local lc = require "lacuna"\nreturn lc.recipe { name = "n", version = "1",\n  setup = function(run) return run:items(%s) end, map = function() end }\n' "$n" >"$TMP/n.lua"
  lc run "$TMP/n.lua" -o "$TMP/n.jsonl"
  expect_in "$ERR" "n.lua:3: run:items(n): n must be an integer, got " "run:items($n) is refused at the recipe's line"
done
printf 'local lc = require "lacuna"\nreturn lc.recipe { name = "n", version = "1",\n  setup = function(run) return run:groups { by = "doc", sise = 2 } end, map = function() end }\n' >"$TMP/n.lua"
lc run "$TMP/n.lua" -i "$DOCS" -o "$TMP/n.jsonl"
expect_in "$ERR" "n.lua:3: run:groups: unknown option 'sise' (by or size)" "run:groups with a misspelt option"
lc run "$H" -o "$TMP/f.jsonl" -p what=not_a_list
expect_code 2 "a table with a hole"
expect_in "$ERR" "setup returned a" "is refused"
printf 'return require("lacuna").recipe { name = "h", version = "1", setup = function() return { "a", nil, "c" } end,\n  map = function(i) return require("lacuna").example():user(tostring(i)):assistant("a") end }\n' >"$TMP/hole.lua"
lc run "$TMP/hole.lua" -o "$TMP/hole.jsonl"
expect_code 2 "a list whose # passes a hole"
expect_in "$ERR" "setup returned a list with a hole: item 2 of 3 is nil" "names the nil item, not map(nil)"
cat >"$TMP/listparam.lua" <<'LUA'
local lc = require "lacuna"
return lc.recipe { name = "lp", version = "1",
  params = { items = lc.json({ { q = "a" }, { q = "b" } }, "items"), arr = lc.bool(false, "") },
  setup = function(run) if run.params.arr then return lc.json.array { "x", "y" } end return run.params.items end,
  map = function(item) return lc.example():user(type(item) == "string" and item or item.q):assistant("a") end }
LUA
lc run "$TMP/listparam.lua" -o "$TMP/lp.jsonl"
expect_code 0 "a list param returned by setup"
expect_eq "$(jq -r '.messages[0].content' "$TMP/lp.jsonl" | tr '\n' /)" "a/b/" "plans its elements"
lc run "$TMP/listparam.lua" -o "$TMP/lp.jsonl" -p arr=true
expect_eq "$(jq -r '.messages[0].content' "$TMP/lp.jsonl" | tr '\n' /)" "x/y/" "and an lc.json.array"

lc run "$H" -o "$TMP/unret.jsonl" -p what=unreturned
expect_code 2 "a plan made but not returned"
expect_in "$ERR" "setup made a plan (run:items or run:groups) but returned nothing" "is an error, not 0 items"
lc run "$H" -o "$TMP/noplan.jsonl" -p what=nothing
expect_code 2 "no plan and no input"
expect_in "$ERR" "setup returned no plan, so the items are the input records, and there is no input (-i FILE)" \
  "is an error, not 0 items"
lc check "$H" -p what=nothing
expect_code 2 "check: no plan and no input"
lc run "$P/planner.lua" -o "$TMP/nogroups.jsonl" -p mode=by
expect_code 2 "groups and no input"
expect_in "$ERR" "setup returned run:groups{...}, which groups the input records, and there is no input" "is an error"

# ---- run:records(): read twice from a file; stdin only once
lc run "$H" -i "$DOCS" -o "$TMP/twice.jsonl" -p what=twice
expect_in "$ERR" "14 planned = 14 ok" "a file read twice in setup gives its records twice"
lc run "$H" -i - -o "$TMP/twice.jsonl" -p what=twice <"$DOCS"
expect_code 2 "stdin read twice in setup"
expect_in "$ERR" "$H:20: run:records(): stdin (-i -) can be read only once" "is an error at the second pass"
"$LACUNA" run "$P/planner.lua" -i - -o "$TMP/stdin.jsonl" -p mode=by <"$DOCS" >/dev/null 2>"$TMP/stderr"
CODE=$? ERR=$(cat "$TMP/stderr")
expect_code 2 "a plan that reads stdin after setup read it"
expect_in "$ERR" "its plan reads them again: stdin (-i -) can be read only once" "fails instead of planning 0 items"
"$LACUNA" run "$P/planner.lua" -i - -o "$TMP/stdin.jsonl" -p mode=by -p scan=false <"$DOCS" >/dev/null 2>"$TMP/stderr"
expect_in "$(cat "$TMP/stderr")" "4 planned (7 records read) = 4 ok" "stdin read once by the plan"

# groups by an integer field: a key seen again after its group ended is found
# by its stream (the integer itself; negative ones too) and names both places.
printf '{"doc":"-3","n":-3}\n{"doc":"5","n":5}\n{"doc":"5b","n":5}\n{"doc":"x","n":7}\n{"doc":"-3b","n":-3}\n{"doc":"s","n":"5"}\n' >"$TMP/int_keys.jsonl"
cat >"$TMP/by_n.lua" <<'LUA'
local lc = require "lacuna"
return lc.recipe { name = "by_n", version = "1",
  setup = function(run) return run:groups { by = "n" } end,
  map = function(g)
    local docs = {}
    for i, r in ipairs(g) do docs[i] = r.doc end
    return lc.example():user(table.concat(docs, ",")):assistant("a")
  end }
LUA
lc run "$TMP/by_n.lua" -i "$TMP/int_keys.jsonl" -o "$TMP/by_n.jsonl"
expect_code 1 "a key seen again"
expect_in "$ERR" "5 planned (6 records read) = 4 ok (4 examples) + 0 skipped + 1 failed" "fails its group only"
expect_eq "$(jq -r '.messages[0].content' "$TMP/by_n.jsonl" | tr '\n' /)" "-3/5,5b/x/s/" \
  "adjacent records group; the string \"5\" is another key than 5"
expect_in "$(cat "$TMP/by_n.failed.jsonl")" "int_keys.jsonl:5: records with n = -3 are not adjacent (a group of them ended at $TMP/int_keys.jsonl:1)" \
  "names both lines"

# ---- run:report values
report_err() { # case message
  lc run "$P/report_values.lua" -o "$TMP/rv.jsonl" -p what="$1"
  expect_code 2 "[$1] exits 2"
  expect_in "$ERR" "$2" "[$1] says why, at the recipe's line"
}
report_err cycle "report_values.lua:8: run:report('c'): the value is not JSON data: json.encode: table cycle"
report_err function "report_values.lua:9: run:report('f'): the value is not JSON data: json.encode: cannot encode a function"
report_err userdata "report_values.lua:10: run:report('u'): the value is not JSON data"
report_err nan "report_values.lua:11: run:report('n'): the value is not JSON data: json.encode: cannot encode NaN"
report_err bool_key "report_values.lua:12: run:report('k'): the value is not JSON data: json.encode: cannot encode a table key of type boolean"
report_err bad_key "report_values.lua:13: run:report(key, value): key is not valid UTF-8"
report_err deep "report_values.lua:18: run:report('d'): the value is not JSON data: json.encode: nesting deeper than"
expect_eq "$(printf '%s\n' "$ERR" | head -1 | wc -c)" "$(printf '%s\n' "$ERR" | head -1 | cut -c1-600 | wc -c)" \
  "[deep] the path to the fault is cut short"
lc run "$P/report_values.lua" -o "$TMP/rv.jsonl" -p what=ok
expect_code 0 "report keys named like the manifest's own"
expect_eq "$(mf "$TMP/rv.manifest.json" '[.counts.ok, .report]')" \
  '[2,{"counts":"mine","report":[1,2],"summary_counts":{"examples":2,"failed":0,"ok":2,"planned":2,"skipped":0}}]' \
  "stay under report; the summary's counts report as data"
summary_err() { # case message
  lc run "$P/report_values.lua" -o "$TMP/rv.jsonl" -p what="$1"
  expect_code 1 "[$1] a finish that fails exits 1"
  expect_in "$ERR" "finish failed: $P/report_values.lua:$2" "[$1] is refused at the recipe's line"
  expect_eq "$(mf "$TMP/rv.manifest.json" .counts.ok)" 2 "[$1] the counts are unchanged"
}
lc run "$P/report_values.lua" -o "$TMP/rv.jsonl" -p what=finish_error
expect_code 1 "an error in finish"
expect_in "$ERR" "report_values.lua: finish failed: $P/report_values.lua:31: finish went wrong
  stack traceback:
    [C]: in function 'error'
    $P/report_values.lua:31: in function" "names the recipe's line, with its traceback"
expect_not_in "$ERR" "call_limited" "and no frame of lacuna's"
summary_err rawset "26: bad argument #1 to 'rawset' (table expected, got userdata)"
summary_err rawset_counts "27: bad argument #1 to 'rawset' (table expected, got userdata)"
summary_err metatable "28: bad argument #1 to 'setmetatable'"
summary_err counts_write "29: cannot modify summary.counts.ok from a recipe"

# ---- a run kept in an upvalue: run:report and run:records belong to setup and finish
lc run "$P/stash_run.lua" -o "$TMP/stash.jsonl" -p what=report
expect_code 1 "run:report from map fails the item"
expect_in "$ERR" "stash_run.lua:8: run:report is available in setup and finish only" "at the recipe's line"
expect_eq "$(mf "$TMP/stash.manifest.json" .report)" null "and reports nothing in completion order"
lc run "$P/stash_run.lua" -o "$TMP/stash.jsonl" -p what=records
expect_in "$ERR" "stash_run.lua:9: run:records is available in setup and finish only" "run:records from map"
lc run "$P/stash_run.lua" -i "$DOCS" -o "$TMP/stash.jsonl" -p what=iterator
expect_in "$ERR" "stash_run.lua:10: run:records(): the iterator works in setup and finish only" \
  "setup's run:records() iterator called from map"

# ---- accounting: every item ends as ok, skip or failure; files, summary and manifest agree
lc run "$P/accounting.lua" -o "$TMP/acc.jsonl" --format openai
expect_code 1 "failed items make exit 1"
expect_in "$ERR" "100 planned = 30 ok (50 examples) + 30 skipped + 40 failed" "the summary adds up to the plan"
expect_in "$ERR" "10 examples of ok items could not be written in format openai" "and counts the examples the format refused"
expect_eq "$(mf "$TMP/acc.manifest.json" .counts)" \
  '{"planned":100,"ok":30,"examples":50,"skipped":30,"failed":40,"failed_examples":10}' "the manifest's counts"
expect_eq "$(lines "$TMP/acc.jsonl") $(lines "$TMP/acc.skipped.jsonl") $(lines "$TMP/acc.failed.jsonl")" "50 30 50" \
  "the files' lines: examples, skips, failures + failed examples"
expect_eq "$(mf "$TMP/acc.manifest.json" '[.outputs[].lines]')" "[50,30,50]" "the manifest's line counts"
expect_eq "$(jq -r .reason "$TMP/acc.skipped.jsonl" | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')" "10 10 10 " \
  "nil, {} and lc.skip are skips, 10 each"
expect_eq "$(jq -r 'select(.example == null) | .line % 10' "$TMP/acc.failed.jsonl" | sort -u | tr '\n' ' ')" "2 4 5 8 " \
  "an error, a string, a list with a non-example and a list with a hole fail their item"

# ---- file and JSON params
PJ="$P/params_json.lua"
mkdir -p "$TMP/dir"
lc run "$PJ" -o "$TMP/pj.jsonl" -p phrases="$TMP/dir"
expect_code 2 "a directory as a file param"
expect_in "$ERR" "param 'phrases' (file (lines)): cannot read $TMP/dir: Is a directory" "names the param and the path"
lc run "$PJ" -o "$TMP/pj.jsonl" -p strategies=@"$TMP/dir"
expect_in "$ERR" "param 'strategies' (json): cannot read $TMP/dir: Is a directory" "a directory as a JSON file"
lc run "$PJ" -o "$TMP/pj.jsonl" -p phrases=/dev/zero
expect_code 2 "an endless file param"
expect_in "$ERR" "param 'phrases' (file (lines)): /dev/zero is larger than 64 MiB" "stops at the cap instead of filling memory"
printf 'fine\n\377 bad\n' >"$TMP/bad.txt"
lc run "$PJ" -o "$TMP/pj.jsonl" -p phrases="$TMP/bad.txt"
expect_in "$ERR" "param 'phrases' (file (lines)): $TMP/bad.txt: line 2, byte 6: invalid UTF-8" "invalid UTF-8 with its line"
lc run "$PJ" -o "$TMP/pj.jsonl" -p phrases=<(printf 'Piped one.\nPiped two.\n')
expect_code 0 "a pipe as a file param (process substitution)"
expect_in "$(cat "$TMP/pj.jsonl")" "Piped two." "is read"
ln -s "$P/phrases.txt" "$TMP/link.txt"
lc run "$PJ" -o "$TMP/pj.jsonl" -p phrases="$TMP/link.txt"
expect_in "$(cat "$TMP/pj.jsonl")" "Say it again." "a symlink named on the command line is followed"
param_decl() { # declaration message
  printf 'local lc = require "lacuna"\nreturn lc.recipe { name = "d", version = "1",\n  params = { x = %s },\n  map = function() end }\n' "$1" >"$TMP/decl.lua"
  lc info "$TMP/decl.lua"
  expect_code 2 "[$1] is refused"
  expect_in "$ERR" "$2" "[$1] says why"
}
param_decl 'lc.file("doc", { default = "/etc/passwd" })' "decl.lua:3: file param: unknown option 'default'"
param_decl 'lc.int(1, "doc", { kind = "file" })' "decl.lua:3: int param: unknown option 'kind'"
param_decl 'lc.int(1, "doc", { min = "0" })' "decl.lua:3: int param: option min must be a number"
param_decl 'lc.enum({ 1, 2 }, nil, "doc")' "decl.lua:3: enum choice 1 must be a string"
param_decl 'lc.string("a", "doc", { lines = true })' "decl.lua:3: string param: unknown option 'lines'"

finish
