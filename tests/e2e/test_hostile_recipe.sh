#!/usr/bin/env bash
# What careless or hostile recipes return or raise: error values that are
# tables, userdata or functions are described by their JSON or type, never by
# an address (so failed.jsonl is the same bytes on every run), and a list of
# examples with a hole or a non-index key fails its item instead of silently
# dropping examples.
source "$(dirname "$0")/lib.sh"
R=$FIX/recipes/hostile_results.lua
for i in 1 2 3 4 5 6 7; do echo "{\"n\":$i}"; done >"$TMP/in.jsonl"
lc run "$R" -i "$TMP/in.jsonl" -o "$TMP/a.jsonl" --window 1
expect_code 1 "failed items: exit 1"
expect_eq "$(jq -c .counts "$TMP/a.manifest.json")" '{"read":7,"ok":1,"examples":2,"skipped":1,"failed":5}' "counts"
err_of() { jq -r --argjson l "$1" 'select(.line == $l) | .error' "$TMP/a.failed.jsonl"; }
expect_in "$(err_of 1)" 'in.jsonl:1: error value {"code":1}' "an error table is written as its JSON"
expect_in "$(err_of 2)" "in.jsonl:2: Example (2 messages: user, assistant)" "an error userdata with __tostring: its text"
expect_in "$(err_of 3)" "map returned a list with a hole: element 2 is nil" "a hole in the list fails the item"
expect_in "$(err_of 4)" "map returned a list with the key named" "a non-index key fails the item"
expect_in "$(err_of 6)" "in.jsonl:6: (an error value of type function)" "an error function: its type"
expect_not_in "$(jq -r .error "$TMP/a.failed.jsonl")" "0x" "no address in any message"
lc run "$R" -i "$TMP/in.jsonl" -o "$TMP/b.jsonl" --window 7
expect_same_file "$TMP/b.failed.jsonl" "$TMP/a.failed.jsonl" "failed.jsonl is the same bytes on every run"
finish
