#!/usr/bin/env bash
# Two runtimes in two threads of one process (tests/e2e/embed_threads.c)
# reading JSONL full of escapes at the same time: each writes exactly what a
# run alone writes. The decoder's scratch buffer and cJSON's arena were once
# shared by the process, and two threads decoding escaped strings at once
# corrupted each other's text.
source "$(dirname "$0")/lib.sh"
THREADS=${LACUNA_EMBED_THREADS:?set LACUNA_EMBED_THREADS to the embed_threads program}

awk -v n=100000 'BEGIN {
  for (i = 1; i <= n; i++)
    printf "{\"messages\":[{\"role\":\"user\",\"content\":\"line %d\\nwith \\\"escapes\\\" \\u00e9\"},{\"role\":\"assistant\",\"content\":\"It is\\t%d.\"}]}\n", i, i
}' >"$TMP/in.jsonl"
# (\u0000 sends a line through cJSON: its arena is exercised too)
awk -v n=20000 'BEGIN {
  for (i = 1; i <= n; i++)
    printf "{\"messages\":[{\"role\":\"user\",\"content\":\"q%d \\u0000 \\n\"},{\"role\":\"assistant\",\"content\":\"a\\t%d\"}]}\n", i, i
}' >>"$TMP/in.jsonl"

lc run chat_mask -i "$TMP/in.jsonl" -o "$TMP/alone.jsonl" -q
expect_code 0 "alone"
expect_eq "$(lines "$TMP/alone.jsonl")" 120000 "alone: every record is an example"

for round in 1 2; do
  out=$("$THREADS" run chat_mask -i "$TMP/in.jsonl" -o "$TMP/a$round.jsonl" -q -- \
    run chat_mask -i "$TMP/in.jsonl" -o "$TMP/b$round.jsonl" -q 2>"$TMP/err")
  expect_eq "$?" 0 "round $round: both threads succeed ($out; $(head -c 300 "$TMP/err"))"
  expect_true "round $round: thread A writes what a run alone writes" cmp -s "$TMP/alone.jsonl" "$TMP/a$round.jsonl"
  expect_true "round $round: thread B writes what a run alone writes" cmp -s "$TMP/alone.jsonl" "$TMP/b$round.jsonl"
done
finish
