#!/usr/bin/env bash
# Bad input: every malformed line, invalid UTF-8, missing or mistyped field and
# failing item is recorded with file:line and the run goes on; configuration
# mistakes stop the run with exit code 2 and a clear message.
source "$(dirname "$0")/lib.sh"
BAD="$FIX/e2e/bad.jsonl"

lc run chat_mask -i "$BAD" -o "$TMP/bad.jsonl"
expect_code 1 "a run with failed items exits 1"
expect_eq "$(lines "$TMP/bad.jsonl")" 3 "the good records are written"
expect_eq "$(lines "$TMP/bad.failed.jsonl")" 6 "every bad record is a recorded failure"
expect_eq "$(lines "$TMP/bad.skipped.jsonl")" 1 "the record without an assistant turn is skipped"
expect_in "$ERR" "10 read = 3 ok (3 examples) + 1 skipped + 6 failed" "counts add up"
F=$(cat "$TMP/bad.failed.jsonl")
expect_in "$F" "bad.jsonl:2: " "malformed JSON names its line"
expect_in "$F" "bad.jsonl:4: invalid UTF-8 at byte" "invalid UTF-8 names line and byte"
expect_in "$F" "bad.jsonl:5: field 'messages': expected array, got string" "mistyped field"
expect_in "$F" "bad.jsonl:7: messages[2].role: unknown role 'bot'" "bad nested field named by path"
expect_in "$F" "bad.jsonl:8: messages[1].content: expected string, got integer" "mistyped nested field"
expect_in "$F" "bad.jsonl:10: record: has none of messages" "record of unknown shape"
expect_in "$ERR" "lacuna: $BAD:2: " "failures are shown on stderr as lacuna: FILE:LINE: message"

# --max-failures stops the run early but keeps what was done.
lc run chat_mask -i "$BAD" -o "$TMP/stop.jsonl" --max-failures 1
expect_code 1 "--max-failures exit code"
expect_in "$ERR" "stopped early: more than 1 failures (--max-failures); everything done so far is kept" "--max-failures message"
expect_eq "$(lines "$TMP/stop.failed.jsonl")" 2 "--max-failures stops after the second failure"

# Configuration errors: exit 2, nothing written.
lc run chat_mask -i "$BAD" -o "$TMP/p.jsonl" -p nope=1
expect_code 2 "unknown param"
expect_in "$ERR" "lacuna: unknown param 'nope' for recipe chat_mask (known: keep_id, policy, system)" "unknown param message"
[ -e "$TMP/p.jsonl" ] && bad "nothing is written on a configuration error" || ok
lc run chat_mask -i "$BAD" -o "$TMP/p.jsonl" -p policy=some
expect_code 2 "ill-typed enum param"
expect_in "$ERR" "param 'policy' (enum(last|all_assistant|all|input)): 'some' is not one of last, all_assistant, all, input" "enum message"
lc run chat_mask -i "$BAD" -o "$TMP/p.jsonl" -p keep_id=maybe
expect_code 2 "ill-typed bool param"
expect_in "$ERR" "'maybe' is not a boolean" "bool message"
lc run chat_mask -i "$TMP/does-not-exist.jsonl" -o "$TMP/p.jsonl"
expect_code 2 "missing input"
expect_in "$ERR" "does-not-exist.jsonl" "missing input names the file"

# Recipe mistakes.
lc run "$FIX/recipes/syntax_error.lua" -i "$BAD" -o "$TMP/s.jsonl"
expect_code 2 "recipe syntax error"
expect_in "$ERR" "lacuna: $FIX/recipes/syntax_error.lua:4:" "syntax error names file and line"
lc check "$FIX/recipes/not_a_recipe.lua"
expect_code 2 "recipe that returns no declaration"
expect_in "$ERR" "must return lacuna.recipe{...}" "declaration message"
lc check "$FIX/recipes/bad_param.lua"
expect_code 2 "recipe with an ill-declared param"
expect_in "$ERR" "bad_param.lua:5: default of int param: expected an integer" "param declaration message"

# A recipe that errors on one item: the others complete; the failure keeps
# the error and the head of its traceback.
lc run "$FIX/recipes/fails_on_three.lua" -i "$FIX/e2e/numbers.jsonl" -o "$TMP/f.jsonl"
expect_code 1 "one failing item"
expect_eq "$(lines "$TMP/f.jsonl")" 4 "the other items complete"
F=$(cat "$TMP/f.failed.jsonl")
expect_in "$F" "numbers.jsonl:3: " "failure names the input line"
expect_in "$F" "fails_on_three.lua:9: three is right out" "failure keeps the recipe's error"
expect_in "$F" "stack traceback:" "failure keeps the traceback head"
expect_in "$F" "\"item\":{\"n\":3}" "failure keeps the item"

finish
