#!/usr/bin/env bash
# Two runtimes in one process (tests/e2e/embed_threads.c): two threads, each
# with its own Lua state, recipe and teacher server, run at the same time and
# write exactly what each writes when run alone. Shared state between runtimes
# (a scheduler counter, an instruction budget, libcurl's setup) would show as
# failed or different items.
source "$(dirname "$0")/../teacher/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
THREADS=${LACUNA_EMBED_THREADS:?set LACUNA_EMBED_THREADS to the embed_threads program}
R=$TEACHER_DIR/recipes
for i in $(seq 1 40); do echo "{\"question\":\"Question $i?\"}"; done >"$TMP/q.jsonl"

start_server --latency-ms 2
URL_A=$BASE_URL
start_server --latency-ms 3
URL_B=$BASE_URL
COMMON=(--no-progress --no-cache --quiet)
args_a() { echo run "$R/ask.lua" -i "$TMP/q.jsonl" -o "$1" --base-url "$URL_A" --model m-a -p samples=3 --concurrency 4; }
args_b() { echo run "$R/two_step.lua" -i "$TMP/q.jsonl" -o "$1" --base-url "$URL_B" \
  --teacher attempt=m-attempt --teacher judge=m-judge --concurrency 3; }

# shellcheck disable=SC2046 # the argument lists hold no spaces
"$LACUNA" $(args_a "$TMP/a.jsonl") "${COMMON[@]}"
expect_eq "$?" 0 "A alone"
# shellcheck disable=SC2046
"$LACUNA" $(args_b "$TMP/b.jsonl") "${COMMON[@]}"
expect_eq "$?" 0 "B alone"
expect_eq "$(wc -l <"$TMP/a.jsonl" | tr -d ' ')" 120 "A alone: three samples per item"
expect_eq "$(wc -l <"$TMP/b.jsonl" | tr -d ' ')" 40 "B alone: one example per item"

for round in 1 2 3; do
  # shellcheck disable=SC2046
  out=$("$THREADS" $(args_a "$TMP/a$round.jsonl") "${COMMON[@]}" -- $(args_b "$TMP/b$round.jsonl") "${COMMON[@]}" 2>"$TMP/err")
  expect_eq "$?" 0 "round $round: both threads succeed ($out; $(head -c 500 "$TMP/err"))"
  expect_true "round $round: A in a thread writes what A alone writes" cmp -s "$TMP/a.jsonl" "$TMP/a$round.jsonl"
  expect_true "round $round: B in a thread writes what B alone writes" cmp -s "$TMP/b.jsonl" "$TMP/b$round.jsonl"
done
finish
