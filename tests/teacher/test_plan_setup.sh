#!/usr/bin/env bash
# setup(run) as a scheduled task: it calls the teacher with fan-out
# (chat_many's requests in flight together) and through the cache; a rerun
# pays nothing and gives the same bytes, although the server answers randomly.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
RECIPE=$TEACHER_DIR/recipes/plan_setup.lua
Q=$TMP/q.jsonl
printf '{"topic":"tides"}\n{"topic":"bees"}\n' >"$Q"

lc() { # runs lacuna; sets CODE, ERR
  "$LACUNA" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  CODE=$?
  ERR=$(cat "$TMP/stderr")
}

start_server --random --latency-ms 200
COMMON=(--model m1 --base-url "$BASE_URL" --no-progress --concurrency 16 --cache "$TMP/cache.db")

lc run "$RECIPE" -i "$Q" -o "$TMP/first.jsonl" "${COMMON[@]}"
expect_eq "$CODE" 0 "first run ($ERR)"
expect_in "$ERR" "16 planned = 16 ok" "2 records x 8 strategies planned in setup"
# setup: 8 fanned out + 1; the items: 16 (distinct prompts unless two strategies got the same reply).
expect_eq "$(stat_get .requests)" "$((9 + $(jq -r '.messages[1].content' "$TMP/first.jsonl" | wc -l)))" \
  "one request per call"
expect_true "setup's chat_many is in flight at once (max in flight $(stat_get .max_in_flight))" \
  test "$(stat_get .max_in_flight)" -ge 8
expect_eq "$(jq -c '.report.calibration.lengths | length' "$TMP/first.manifest.json")" 8 \
  "the calibration table is in the manifest"
expect_eq "$(jq -r '.teacher.requests' "$TMP/first.manifest.json")" "$(stat_get .requests)" \
  "setup's requests are accounted in the manifest"

reset_stats
lc run "$RECIPE" -i "$Q" -o "$TMP/again.jsonl" "${COMMON[@]}" --window 1
expect_eq "$CODE" 0 "rerun ($ERR)"
expect_eq "$(stat_get .requests)" 0 "the rerun comes from the cache, setup's calls included"
expect_true "the rerun gives the same bytes" cmp -s "$TMP/first.jsonl" "$TMP/again.jsonl"
expect_eq "$(jq -c .report "$TMP/again.manifest.json")" "$(jq -c .report "$TMP/first.manifest.json")" \
  "and the same report"

lc check "$RECIPE" -i "$Q" "${COMMON[@]}" --cache-only
expect_eq "$CODE" 0 "check from the cache ($ERR)"
expect_in "$(cat "$TMP/stdout")" "3 checked = 3 ok" "check: the plan and its first 3 items"
finish
