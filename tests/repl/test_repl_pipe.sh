#!/usr/bin/env bash
# lacuna repl off a terminal (issue 14, point 1): lines come from stdin with no
# prompt and no history; examples are marked [[trained]] without colour
# (--color forces colour); :run, :tokens without a chat template (each message
# tokenized alone), :load of a shipped recipe, and errors that do not end it.
source "$(dirname "$0")/../e2e/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
SAMPLE=$LACUNA_SRC/recipes/samples/chat.jsonl
cd "$TMP"
mkdir tok && cp "$FIX/tokenizer/bytelevel.json" tok/tokenizer.json
export HOME=$TMP NO_COLOR=

repl() { # STDIN ARGS...: runs lacuna repl ARGS with STDIN as its input
  local input=$1
  shift
  printf '%s' "$input" | "$LACUNA" repl "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  CODE=$?
  OUT=$(cat "$TMP/stdout")
  ERR=$(cat "$TMP/stderr")
}

repl $'1 + 1\nx = {b = 2, a = {1, 2}}\nx\nfor i = 1, 2 do\n  print(i)\nend\nerror("no")\n2, "two"\n' --no-history
expect_code 0 "end of input leaves with 0"
expect_eq "$OUT" $'2\n{ a = { 1, 2 }, b = 2 }\n1\n2\nerror: stdin:1: no\n2\t"two"' "values, a loop over lines, an error, two values"
expect_not_in "$OUT" "lacuna>" "no prompt off a terminal"
[ ! -e "$TMP/.lacuna_history" ] && ok || bad "no history file off a terminal"

repl $':params\n:run 1\nresults[1].meta.id\nex = lc.example():user("ab"):assistant{lc.part("a", false), lc.part("b", true)}\nex\n:tokens ex\n:tokens\n:set policy nope\n:load nosuch\n:quit\nprint("not reached")\n' chat_mask -i "$SAMPLE" --tokenizer tok
expect_code 0 ":quit leaves with 0"
expect_in "$OUT" "loaded chat_mask 1.0.0" "the recipe is loaded"
expect_in "$OUT" 'policy           enum(last|all_assistant|all|input) = "all_assistant"' ":params"
expect_in "$OUT" "assistant  [[100 °C (212 °F) at standard atmospheric pressure.]]" ":run 1 shows the example, trained in [[ ]]"
expect_in "$OUT" "# chat_mask 1.0.0: 1 checked = 1 ok (1 examples)" ":run 1 checks one item"
expect_in "$OUT" $'"c1"' "results holds :run's examples"
expect_in "$OUT" "assistant  a[[b]]" "an example value, its trained part marked"
expect_in "$OUT" "-- message 2 (assistant), tokenized alone" ":tokens without a chat template tokenizes each message"
expect_in "$OUT" "straddles a mask boundary" ":tokens marks the token 'ab' across the boundary"
expect_eq "$(grep -c 'tokenized alone' "$TMP/stdout")" 4 ":tokens without EXPR shows the last value"
expect_in "$OUT" "error: param 'policy'" ":set with a bad value is refused"
expect_in "$OUT" "error: nosuch: no such recipe file" ":load of a missing recipe"
expect_not_in "$OUT" "not reached" ":quit stops reading"
expect_not_in "$OUT" $'\e[' "no colour off a terminal"

repl $'map({question = 1})\nmap({})\n' "$HERE/teach.lua" --no-history
expect_in "$OUT" "error: map: the record does not match the recipe's input: field 'question': expected string, got integer" \
  "map checks the record against the recipe's input"
repl $'map({})\n' --no-history
expect_in "$OUT" "error: no recipe loaded" "map without a recipe"

# :cost on a planned recipe sends nothing (no server is running): the plan's
# 40 items, 2 of them sampled, 2 requests each, one with max_tokens 100.
repl $':cost 2\n:set price m=1/10\n:cost 2\n' "$HERE/planned.lua" -p n=40 --model m --base-url http://127.0.0.1:9/v1 --no-history
expect_code 0 ":cost of a planned recipe"
expect_in "$OUT" "cost estimate: 2 of 40 items sampled (x20)" ":cost scales to the plan's size"
expect_in "$OUT" "whole run: 80 requests" ":cost counts both requests of each item"
expect_in "$OUT" "at most 4,000 completion tokens" "max_tokens bounds the completions (2 x 100 x 20)"
expect_in "$OUT" "2 requests of the sample set no max_tokens" ":cost says which completions it cannot bound"
expect_in "$OUT" "no price for m" "without a price it says how to give one"
expect_in "$OUT" "m                        80 requests, 160 prompt + 4,000 completion tokens (max_tokens), \$0.0402" ":set price gives dollars"
expect_not_in "$ERR" "Connection refused" "nothing was sent"

repl $'lc.example():user("q"):assistant("a")\n' --color --no-history
expect_in "$OUT" $'\e[32ma\e[0m' "--color colours the trained text"
repl $':tokens lc.example():user("q")\n' --no-history
expect_in "$OUT" "error: :tokens needs --tokenizer DIR" ":tokens without a tokenizer says so"
finish
