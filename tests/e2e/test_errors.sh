#!/usr/bin/env bash
# Errors caused by the recipe name the recipe's line, never lacuna's own
# (issue 9.5). tests/fixtures/errors/mistakes.lua makes one caller mistake per
# input record, on the line marked `-- case:NAME`; each recorded failure must
# carry exactly that file:line, including mistakes made in tail calls
# (`return lc.skip(123)`) and inside lacuna's wrappers. Load-time mistakes
# (the recipe declaration, param declarations) are checked the same way.
source "$(dirname "$0")/lib.sh"
DIR="$FIX/errors"
RECIPE="$DIR/mistakes.lua"

# No teacher is reached: every teacher mistake is caught before sending. (Run
# from the fixture folder: Lua shortens long chunk names in positions.)
cd "$DIR" || exit 1
lc run mistakes.lua -i cases.jsonl -o "$TMP/out.jsonl" --base-url http://127.0.0.1:9/v1 --model m \
  --no-cache --max-retries 0 -q
expect_code 1 "every case fails its item"
ncases=$(wc -l <"$DIR/cases.jsonl" | tr -d ' ')
expect_eq "$(lines "$TMP/out.failed.jsonl")" "$ncases" "one recorded failure per case"
expect_not_in "$(jq -r .error "$TMP/out.failed.jsonl")" "lua/lacuna/" "no failure names lacuna's own files"

n=0
while IFS= read -r rec; do
  n=$((n + 1))
  name=$(jq -r .case <<<"$rec")
  want_line=$(grep -n -- "-- case:$name\$" "$RECIPE" | cut -d: -f1)
  got=$(jq -r --arg c "$name" 'select(.item.case == $c) | .error' "$TMP/out.failed.jsonl")
  expect_in "$got" "cases.jsonl:$n: mistakes.lua:$want_line: " "case $name names the recipe's line $want_line"
done <"$DIR/cases.jsonl"

# Sandboxed and trusted recipes report the same lines.
lc run mistakes.lua -i cases.jsonl -o "$TMP/trusted.jsonl" --base-url http://127.0.0.1:9/v1 --model m \
  --no-cache --max-retries 0 -q --trust
expect_eq "$(jq -r .error "$TMP/trusted.failed.jsonl")" "$(jq -r .error "$TMP/out.failed.jsonl")" \
  "--trust reports the same errors"

# Load-time mistakes: exit 2, the message names the declaration's line.
load_case() { # name want_text lua_line...: a recipe whose lines 3.. are lua_line...
  # (line 2 is `return lc.recipe {`, where a mistake in the table is found)
  local name=$1 want=$2; shift 2
  printf '%s\n' 'local lc = require "lacuna"' 'return lc.recipe {' "$@" '}' >"$TMP/$name.lua"
  echo '{"x":1}' >"$TMP/one.jsonl"
  lc run "$TMP/$name.lua" -i "$TMP/one.jsonl" -o "$TMP/$name.jsonl"
  expect_code 2 "load-time $name: usage error"
  expect_in "$ERR" "$TMP/$name.lua:$want" "load-time $name names the recipe's line"
  expect_not_in "$ERR" "lua/lacuna/" "load-time $name: no lacuna line"
}
load_case input_type "2: recipe input field 'x': type must be one of" \
  '  name = "r", version = "1", input = { x = "strng" },' '  map = function() end,'
load_case param_default "3: default of int param: expected an integer" \
  '  name = "r", version = "1", params = { n = lc.int(1.5) },' '  map = function() end,'
load_case unknown_field "2: recipe: unknown field 'mapp'" \
  '  name = "r", version = "1", mapp = function() end,'
# One example a format cannot represent fails alone (issue 9.4): the item's
# other examples are written, the failure names the item's file:line and the
# example's index, and carries no lacuna-internal prefix.
printf '{"q":"Q1"}\n{"q":"Q2"}\n' >"$TMP/two.jsonl"
lc run "$DIR/pam_three.lua" -i "$TMP/two.jsonl" -o "$TMP/oa.jsonl" --format openai
expect_code 1 "openai with a partly trained example: exit 1 (an example could not be written)"
expect_eq "$(lines "$TMP/oa.jsonl")" 4 "openai: the good examples of both items are written"
expect_eq "$(jq -r .meta.case "$TMP/oa.jsonl" | tr '\n' ' ')" "good good2 good good2 " "openai: in order"
expect_eq "$(lines "$TMP/oa.failed.jsonl")" 2 "openai: one recorded failure per bad example"
expect_eq "$(jq -r '"\(.line) \(.example)"' "$TMP/oa.failed.jsonl" | tr '\n' ' ')" "1 2 2 2 " \
  "openai: failures carry the item's line and the example's index"
F=$(jq -r .error "$TMP/oa.failed.jsonl")
expect_in "$F" "$TMP/two.jsonl:1: example 2 of 3: format 'openai' cannot represent this example: message 2 (assistant) is partly trained" \
  "openai: the failure names file:line, the example and the reason"
expect_not_in "$F" "lua/lacuna/" "openai: no internal prefix"
expect_in "$ERR" "2 read = 2 ok (4 examples) + 0 skipped + 0 failed" "openai: the items are ok"
expect_in "$ERR" "2 examples of ok items could not be written in format openai" "openai: the lost examples are counted"
expect_eq "$(jq .counts.failed_examples "$TMP/oa.manifest.json")" 2 "openai: manifest counts failed examples"
lc run "$DIR/pam_three.lua" -i "$TMP/two.jsonl" -o "$TMP/split.jsonl" --format openai --split-partial
expect_code 0 "--split-partial: every example written"
expect_eq "$(lines "$TMP/split.jsonl")" 6 "--split-partial: three examples per item"
expect_eq "$(sed -n 2p "$TMP/split.jsonl" | jq -c '[.messages[] | .weight]')" "[null,0,1]" \
  "--split-partial: the bad case's assistant message split at the mask"
lc check "$DIR/pam_three.lua" -i "$TMP/two.jsonl" --format openai
expect_code 1 "check: an example that cannot be written fails the check"
expect_in "$OUT" "# FAIL $TMP/two.jsonl:1: example 2 of 3: format 'openai' cannot represent" "check: shows the example's failure"
expect_in "$OUT" "2 checked = 2 ok (4 examples) + 0 skipped + 0 failed; 2 examples could not be written" "check: counts it"
# An item whose only example cannot be written fails as a whole, without prefix.
cat >"$TMP/bad_only.lua" <<'LUA'
local lc = require "lacuna"
return lc.recipe { name = "b", version = "1", map = function()
  return lc.example():user("u", true):assistant("a")
end }
LUA
lc run "$TMP/bad_only.lua" -i "$TMP/two.jsonl" -o "$TMP/bo.jsonl" --format openai
expect_code 1 "an item with no writable example fails"
expect_eq "$(jq -r .error "$TMP/bo.failed.jsonl" | head -1)" \
  "$TMP/two.jsonl:1: format 'openai' cannot represent this example: message 1 (user) is trained, but OpenAI fine-tuning trains only assistant messages; use --format axolotl, which keeps per-span masks" \
  "the item's failure is the format's reason, with file:line and no internal prefix"
finish
