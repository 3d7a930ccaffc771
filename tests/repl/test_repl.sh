#!/usr/bin/env bash
# lacuna repl in a real terminal (issue 14, point 1): readline and its history
# file, chunks continued over lines, the pretty printer, examples in colour,
# teacher calls with a spinner through the run's cache, Ctrl-C at the prompt,
# in a CPU loop and in a teacher call (the REPL goes on), :reload keeping the
# cache (an edited prompt misses, an unchanged one hits), :params, :set, :run,
# :cost (sends nothing), :cache, :tokens (straddling tokens marked) and :quit.
source "$(dirname "$0")/../teacher/lib.sh"
source "$(dirname "$0")/lib.sh"
cp "$HERE/teach.lua" "$TMP/teach.lua"
cp "$HERE/questions.jsonl" "$TMP/questions.jsonl"
mkdir "$TMP/tok" && cp "$FIX/tokenizer/bytelevel.json" "$TMP/tok/tokenizer.json" &&
  cp "$FIX/jinja/chatml_trim/tokenizer_config.json" "$TMP/tok/"
start_server
requests() { stat_get .requests; }

repl_start teach.lua -i questions.jsonl --model m1 --base-url "$BASE_URL" --history "$TMP/history" \
  --tokenizer tok
expect_screen "loaded teach 1.0.0" "the recipe is loaded"
expect_screen "teach>" "the prompt names the recipe"

# Expressions, statements, the printer, continuation lines.
type_line '1 + 1'
expect_screen $'teach> 1 + 1\n2' "an expression prints its value"
type_line 't = {1, 2, {a = "x\ny"}, name = "n"}'
type_line 't'
expect_screen '{ 1, 2, { a = "x\ny" }, name = "n" }' "a table prints on one line, strings escaped"
type_line 'deep = {{{{{{1}}}}}}'
type_line 'deep'
expect_screen '{ { { { {...1} } } } }' "nesting is cut at depth 4"
type_line 'function twice(n)'
expect_screen $'\n>>' "an unfinished chunk asks for more"
type_line '  return 2 * n'
type_line 'end'
type_line 'twice(21)'
expect_screen $'teach> twice(21)\n42' "a multi-line function, then its call"
type_line '3 *'
type_line '4'
expect_screen $'>> 4\n12' "an expression cut short continues"
type_line 'error("boom")'
expect_screen "error: stdin:1: boom" "an error is printed, the REPL goes on"

# Tab completes names, fields, methods and commands.
keys -l 'string.up'
keys Tab
sleep 0.2
keys -l '("ab")'
keys Enter
expect_screen $'string.upper("ab")\n"AB"' "Tab completes a library field"
type_line 'word = "x"'
keys -l 'word:re'
keys Tab
sleep 0.2
keys -l 'p(3)'
keys Enter
expect_screen $'word:rep(3)\n"xxx"' "Tab completes a string's method"

# Ctrl-C at the prompt drops the line; in a CPU loop it stops the loop.
keys -l 'half = '
sleep 0.3
keys C-c
expect_screen "teach> half = ^C" "Ctrl-C at the prompt drops the line"
type_line 'while true do end'
sleep 0.5
keys C-c
expect_screen "interrupted" "Ctrl-C stops a CPU loop" 3
type_line 'half'
expect_screen $'teach> half\nnil' "the REPL goes on after Ctrl-C"

# An example prints as a conversation, trained text green, masked grey.
type_line 'lc.example():user("u?"):assistant{lc.part("guess", false), lc.part(" fixed", true)}'
expect_screen "assistant  guess fixed" "an example prints as a conversation"
colors=$(screen -e)
expect_in "$colors" $'\e[90mguess\e[32m fixed' "masked grey, trained green"

# Teacher calls: a spinner while the request is in flight, the run's cache after.
server_config '{"latency_ms": 1500}'
type_line 'r = teacher:chat{messages = {{role = "user", content = "slow one"}}, max_tokens = 8}'
expect_screen "teacher: 1 in flight" "a spinner while the teacher answers" 3
expect_screen $'max_tokens = 8}\nteach>' "the call returns" 10
type_line 'r.text'
expect_screen $'r.text\n"reply to slow one' "the reply" 3
type_line 'r.cached'
expect_screen $'r.cached\nfalse' "not from the cache the first time" 3
type_line 'teacher:chat{messages = {{role = "user", content = "slow one"}}, max_tokens = 8}.cached'
expect_screen $'.cached\ntrue' "the same request again: a cache hit" 3
# Ctrl-C during a teacher call.
type_line 'teacher:chat{messages = {{role = "user", content = "never mind"}}}'
expect_screen "teacher: 1 in flight" "the slow call is in flight" 3
keys C-c
expect_screen $'interrupted\nteach>' "Ctrl-C interrupts the teacher call" 3
type_line '2 + 2'
expect_screen $'teach> 2 + 2\n4' "the REPL goes on after an interrupted call"
type_line 'teacher:chat{messages = {{role = "user", content = "after"}}}.text'
expect_screen "teacher: 1 in flight" "the spinner comes back after an interrupted call" 3
expect_screen '"reply to after' "and the call completes" 5
server_config '{"latency_ms": 0}'

# :params, :set
type_line ':params'
expect_screen 'prefix           string = "Q: "' ":params lists the params and values"
type_line ':set prefix Ask: '
expect_screen 'prefix = "Ask:"' ":set changes a param"
type_line ':set nope 1'
expect_screen "error: :set nope: not a param of teach (params: prefix)" ":set names a wrong key"
type_line ':set prefix "Q: "'
expect_screen 'prefix = "Q: "' ":set takes a quoted value"

# :run N, then :reload: an unchanged recipe hits the cache, an edited prompt misses.
before=$(requests)
type_line ':run 2'
expect_screen "# teach 1.0.0: 2 checked = 2 ok (2 examples)" ":run 2 maps two items"
expect_screen "assistant  Let me think. reply to Q: two" ":run shows the results as conversations"
expect_eq "$(requests)" $((before + 2)) ":run sent 2 requests"
type_line 'results[1].meta.q'
expect_screen $'results[1].meta.q\n"one"' "results holds the examples of the last :run"
type_line ':reload'
expect_screen "reloaded (unchanged) teach 1.0.0" ":reload of an unchanged file"
type_line ':run 2'
expect_count "# teach 1.0.0: 2 checked" 2 ":run again"
expect_eq "$(requests)" $((before + 2)) "an unchanged recipe is answered from the cache"
sed -i 's/prefix .. rec.question }/prefix .. rec.question .. "?" }/' "$TMP/teach.lua"
type_line ':reload'
# The first :reload printed the cache line too: wait for this reload's own line.
expect_count "reloaded teach 1.0.0" 1 ":reload of an edited file"
expect_count "the teacher cache is kept" 2 "each :reload says the cache is kept"
type_line ':run 2'
expect_screen "reply to Q: two?" "the edited prompt is used"
expect_eq "$(requests)" $((before + 4)) "the edited prompt misses the cache"

# :cost N sends nothing; with a price it says dollars.
type_line ':set price m1=2/8'
before=$(requests)
type_line ':cost 2'
expect_screen "cost estimate: 2 of 4 items sampled (x2), prompt tokens counted with --tokenizer" ":cost samples 2 of 4"
expect_screen "whole run: 4 requests" ":cost extrapolates to the whole run"
expect_screen "2 requests of the sample are cached already (free)" ":cost knows the cached ones"
expect_screen 'at most $0.00' ":cost in dollars"
expect_eq "$(requests)" "$before" ":cost sends nothing"

# :cache KEY shows a cached request and its response.
type_line 'r.key:sub(1, 12)'
for ((i = 0; i < 100; i++)); do
  key=$(screen | grep -o '^"[0-9a-f]\{12\}"' | tail -1 | tr -d '"')
  [ -n "$key" ] && break
  sleep 0.05
done
type_line ":cache $key"
expect_screen 'content = "slow one"' ":cache shows the request"
expect_screen 'content = "reply to slow one' ":cache shows the response"

# :tokens: token by token, a token across a mask boundary marked S.
type_line ':tokens lc.example():user("x"):assistant{lc.part("a", false), lc.part("b a", true)}'
expect_screen "rendered with the chat template" ":tokens renders with the chat template"
expect_screen "straddles a mask boundary" ":tokens marks a straddling token"
expect_screen "straddling (S, masked)" ":tokens sums up"

# :help, an unknown command, :quit; the history file keeps the lines.
keys -l ':hel'
keys Tab
sleep 0.2
keys Enter
expect_screen ":cost N               estimate" ":help lists the commands"
type_line ':what'
expect_screen "unknown command ':what'" "an unknown command"
type_line ':quit'
expect_screen "REPL-EXITED 0" ":quit leaves with 0"
hist=$(cat "$TMP/history")
expect_in "$hist" "twice(21)" "the history file has the lines"
expect_in "$hist" $'function twice(n)\n  return 2 * n\nend' "a multi-line chunk is kept"

# `lacuna run` shares the REPL's cache: the items :run answered cost nothing.
before=$(requests)
(cd "$TMP" && "$LACUNA" run teach.lua -i questions.jsonl -o out.jsonl --limit 2 --model m1 --base-url "$BASE_URL" -q)
expect_eq "$?" 0 "lacuna run after the session"
expect_eq "$(requests)" "$before" "lacuna run is answered from the cache the REPL filled"
expect_in "$(cat "$TMP/out.jsonl")" "reply to Q: two?" "with the same replies"

# A new session reads the history: Up brings the last line back.
repl_start --history "$TMP/history"
expect_screen "lacuna>" "a session without a recipe"
keys Up
expect_screen "lacuna> :quit" "Up recalls the last line of the previous session"
keys C-u
# Reverse search finds the multi-line chunk as one entry; run again, it defines twice.
keys C-r
keys -l 'return 2 *'
sleep 0.3
keys Enter
type_line 'twice(5)'
expect_screen $'twice(5)\n10' "a multi-line chunk comes back from the history file as one entry"
type_line 'recipe'
expect_screen $'lacuna> recipe\nnil' "no recipe loaded"
type_line ':run 1'
expect_screen "error: no recipe loaded" ":run needs a recipe"
keys C-d
expect_screen "REPL-EXITED 0" "Ctrl-D leaves"
finish
