#!/usr/bin/env bash
# Reading the cache back (issue 16.4): a run that writes entries reads them
# back later in the same run (its lookups share a read snapshot that must not
# hide them); a --cache-only rerun answers every call from the cache with the
# same bytes and sends nothing, also as --jobs 2 shards reading one cache
# file; a --cache-only miss still fails its item with the same message.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
ASK=$TEACHER_DIR/recipes/ask.lua
Q=$TMP/q.jsonl
# 40 items asking 7 distinct questions, each again and again through the run.
for i in $(seq 1 40); do echo "{\"question\":\"Question $((i * 3 % 7)): what is $((i * 3 % 7)) squared?\"}"; done >"$Q"

start_server --latency-ms 2
COMMON=(--model m1 --base-url "$BASE_URL" --no-progress -q --cache "$TMP/cache.db")

# One item at a time: every repeat comes after its first answer was stored.
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/first.jsonl" "${COMMON[@]}" --concurrency 1 --window 1
expect_eq "$?" 0 "the first run"
M=$TMP/first.manifest.json
expect_eq "$(jq -c '[.teacher.requests, .teacher.cache_hits, (.teacher.coalesced // 0)]' "$M")" "[7,33,0]" \
  "first run: 7 requests, every repeat a cache hit of this run's own entries"
expect_eq "$(stat_get .requests)" 7 "the server saw 7 requests"

reset_stats
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/again.jsonl" "${COMMON[@]}" --cache-only
expect_eq "$?" 0 "--cache-only rerun"
expect_true "--cache-only rerun: the first run's bytes" cmp -s "$TMP/first.jsonl" "$TMP/again.jsonl"
expect_eq "$(jq -c '[.teacher.requests, .teacher.cache_hits]' "$TMP/again.manifest.json")" "[0,40]" \
  "--cache-only rerun: 40 cache hits, no request"

"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/jobs.jsonl" "${COMMON[@]}" --cache-only --jobs 2
expect_eq "$?" 0 "--cache-only --jobs 2"
expect_true "--cache-only --jobs 2: the first run's bytes" cmp -s "$TMP/first.jsonl" "$TMP/jobs.jsonl"
expect_eq "$(stat_get .requests)" 0 "--cache-only runs sent nothing"

# Hits while requests are on their way (the teacher lets the snapshot go
# then): new questions at a slow server between cached ones.
start_server --latency-ms 100
COMMON=(--model m1 --base-url "$BASE_URL" --no-progress -q --cache "$TMP/cache.db")
for i in $(seq 1 40); do
  if [ $((i % 4)) = 0 ]; then echo "{\"question\":\"New question $i\"}"; else sed -n "${i}p" "$Q"; fi
done >"$TMP/mixed.jsonl"
"$LACUNA" run "$ASK" -i "$TMP/mixed.jsonl" -o "$TMP/mixed.out.jsonl" "${COMMON[@]}" --concurrency 8
expect_eq "$?" 0 "a run mixing hits and requests"
expect_eq "$(jq -c '[.teacher.requests, .teacher.cache_hits]' "$TMP/mixed.out.manifest.json")" "[10,30]" \
  "mixed run: 10 new questions sent, 30 answered from the cache"
expect_eq "$(jq -s 'map(.messages[1].content | length > 0) | all' "$TMP/mixed.out.jsonl")" true "every item answered"
"$LACUNA" run "$ASK" -i "$TMP/mixed.jsonl" -o "$TMP/mixed2.jsonl" "${COMMON[@]}" --cache-only
expect_true "mixed run, then --cache-only: the same bytes" cmp -s "$TMP/mixed.out.jsonl" "$TMP/mixed2.jsonl"

# A question the cache has never seen: its item fails, the others are read.
{ cat "$Q"; echo '{"question":"A question nobody asked"}'; } >"$TMP/q2.jsonl"
"$LACUNA" run "$ASK" -i "$TMP/q2.jsonl" -o "$TMP/miss.jsonl" "${COMMON[@]}" --cache-only
expect_eq "$?" 1 "--cache-only with a miss exits 1"
expect_true "--cache-only with a miss: the other items' bytes" cmp -s "$TMP/first.jsonl" "$TMP/miss.jsonl"
expect_in "$(cat "$TMP/miss.failed.jsonl")" "and --cache-only forbids calling the teacher" "the miss's message"
expect_eq "$(stat_get .requests)" 10 "a --cache-only miss sends nothing (the 10 are the mixed run's)"
finish
