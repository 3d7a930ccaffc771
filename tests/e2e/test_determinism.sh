#!/usr/bin/env bash
# The same command gives byte-identical output, whatever the window; another
# seed gives other output.
source "$(dirname "$0")/lib.sh"
R="$FIX/recipes/shuffle_rng.lua"
IN="$FIX/e2e/words.jsonl"

lc run "$R" -i "$IN" -o "$TMP/a.jsonl" --seed 42
expect_code 0 "first run"
lc run "$R" -i "$IN" -o "$TMP/b.jsonl" --seed 42
expect_code 0 "second run"
expect_same_file "$TMP/a.jsonl" "$TMP/b.jsonl" "same command, same bytes"
lc run "$R" -i "$IN" -o "$TMP/c.jsonl" --seed 42 --window 1
expect_same_file "$TMP/a.jsonl" "$TMP/c.jsonl" "window 1 gives the same bytes"
lc run "$R" -i "$IN" -o "$TMP/d.jsonl" --seed 42 --window 1000
expect_same_file "$TMP/a.jsonl" "$TMP/d.jsonl" "window 1000 gives the same bytes"
lc run "$R" -i "$IN" -o "$TMP/e.jsonl" --seed 43
if cmp -s "$TMP/a.jsonl" "$TMP/e.jsonl"; then bad "another seed must change the output"; else ok; fi
expect_eq "$(lines "$TMP/a.jsonl")" 300 "all items written"
# The rng stream of an item depends on (seed, index) only: item 5 of a run
# limited to 10 items equals item 5 of the full run.
lc run "$R" -i "$IN" -o "$TMP/f.jsonl" --seed 42 --limit 10
expect_eq "$(sed -n 5p "$TMP/f.jsonl")" "$(sed -n 5p "$TMP/a.jsonl")" "per-item streams"
# Inputs read from a .jsonl.gz give the same output.
gzip -c "$IN" >"$TMP/words.jsonl.gz"
lc run "$R" -i "$TMP/words.jsonl.gz" -o "$TMP/g.jsonl" --seed 42
expect_same_file "$TMP/a.jsonl" "$TMP/g.jsonl" "gzip input"

finish
