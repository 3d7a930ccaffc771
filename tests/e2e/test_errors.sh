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

# No teacher is reached: every teacher mistake is caught before sending.
lc run "$RECIPE" -i "$DIR/cases.jsonl" -o "$TMP/out.jsonl" --base-url http://127.0.0.1:9/v1 --model m \
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
  expect_in "$got" "$DIR/cases.jsonl:$n: $RECIPE:$want_line: " "case $name names the recipe's line $want_line"
done <"$DIR/cases.jsonl"

# Sandboxed and trusted recipes report the same lines.
lc run "$RECIPE" -i "$DIR/cases.jsonl" -o "$TMP/trusted.jsonl" --base-url http://127.0.0.1:9/v1 --model m \
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
finish
