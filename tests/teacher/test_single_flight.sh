#!/usr/bin/env bash
# Single flight (issue 9.3): identical requests in flight at the same time,
# from different items or inside one chat_many, reach the server once; every
# caller gets the same reply; usage is counted once; and a rerun from the
# cache is byte-identical to the first run, although the server answers
# randomly (--random: a sampling teacher answers the same request differently).
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
RECIPE=$TEACHER_DIR/recipes/dup_ask.lua
Q=$TMP/q.jsonl
for i in $(seq 1 40); do echo "{\"topic\":\"t$((i % 5))\"}"; done >"$Q"
# 5 topics: "tell me about tK" and "more on tK" each, and one "shared": 11 keys.
KEYS=11

lc() { # runs lacuna; sets CODE, ERR
  "$LACUNA" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  CODE=$?
  ERR=$(cat "$TMP/stderr")
}

# Latency long enough that every item's requests are in flight together.
start_server --random --latency-ms 300
COMMON=(--model m1 --base-url "$BASE_URL" --no-progress --concurrency 64 --cache "$TMP/cache.db")

# The server is a sampling teacher: the same request twice, two replies.
body='{"model":"m1","messages":[{"role":"user","content":"x"}]}'
chat "$body"; first=$(jq -r '.choices[0].message.content' <<<"$BODY_OUT")
chat "$body"; second=$(jq -r '.choices[0].message.content' <<<"$BODY_OUT")
expect_ne "$first" "$second" "--random: identical requests get different replies"
reset_stats

lc run "$RECIPE" -i "$Q" -o "$TMP/first.jsonl" "${COMMON[@]}"
expect_eq "$CODE" 0 "first run ($ERR)"
expect_eq "$(wc -l <"$TMP/first.jsonl" | tr -d ' ')" 40 "first run: every item written"
expect_eq "$(stat_get .requests)" "$KEYS" "first run: one request per distinct request"
keys=$(curl -sS "$SERVER_URL/keys")
expect_eq "$(jq 'length' <<<"$keys")" "$KEYS" "the server saw every request key"
expect_eq "$(jq '[.[] | select(. != 1)] | length' <<<"$keys")" 0 "the server saw each request key once"

# Every caller got the reply: items of one topic carry the same text, and the
# two identical requests inside one chat_many got the same reply.
expect_eq "$(jq -s 'group_by(.meta.topic) | map(map(.messages[1].content) | unique | length) | max' "$TMP/first.jsonl")" 1 \
  "items asking the same question got the same reply"
expect_eq "$(jq -s 'map(.messages[1].content | split("\n") | .[1] == .[2]) | all' "$TMP/first.jsonl")" true \
  "identical requests inside one chat_many got the same reply"
expect_eq "$(jq -s 'map(.messages[1].content | split("\n") | .[3]) | unique | length' "$TMP/first.jsonl")" 1 \
  "the request shared by every item got one reply"

# Usage and requests are counted once per reply.
M=$TMP/first.manifest.json
expect_eq "$(jq .teacher.requests "$M")" "$KEYS" "manifest: requests counted once"
# 40 items make 160 calls: each is a request, a cache hit or a coalesced call.
expect_eq "$(jq '.teacher | .requests + .cache_hits + .coalesced' "$M")" 160 \
  "manifest: requests + cache hits + coalesced calls = the calls made"
expect_true "manifest: most calls were coalesced" test "$(jq .teacher.coalesced "$M")" -gt 100
if command -v sqlite3 >/dev/null; then # (not a dependency: checked when present)
  expect_eq "$(jq .teacher.prompt_tokens "$M")" "$(sqlite3 "$TMP/cache.db" 'select sum(prompt_tokens) from responses')" \
    "manifest: prompt tokens of the $KEYS replies, each once"
fi

# The rerun answers from the cache: byte-identical, nothing sent.
reset_stats
lc run "$RECIPE" -i "$Q" -o "$TMP/rerun.jsonl" "${COMMON[@]}"
expect_eq "$CODE" 0 "rerun ($ERR)"
expect_true "the rerun from the cache is byte-identical to the first run" cmp -s "$TMP/first.jsonl" "$TMP/rerun.jsonl"
expect_eq "$(stat_get .requests)" 0 "the rerun sends nothing"

# A request that fails fails every caller waiting for it, with the same error.
server_config '{"fault_rate":1,"faults":["400"]}'
reset_stats
head -10 "$Q" | sed 's/"t\([0-9]\)"/"u\1"/' >"$TMP/q10.jsonl"
lc run "$RECIPE" -i "$TMP/q10.jsonl" -o "$TMP/fail.jsonl" "${COMMON[@]}" --no-cache
expect_eq "$CODE" 1 "a failing request: the items fail"
expect_eq "$(wc -l <"$TMP/fail.failed.jsonl" | tr -d ' ')" 10 "every waiting item is a recorded failure"
expect_eq "$(jq '[.[] | select(. != 1)] | length' <<<"$(curl -sS "$SERVER_URL/keys")")" 0 \
  "a failing request is not repeated for its waiters"
msgs=$(jq -r '.error | sub("^[^ ]* "; "")' "$TMP/fail.failed.jsonl" | sort -u)
expect_eq "$(wc -l <<<"$msgs" | tr -d ' ')" 1 "the waiters carry the leader's error"
expect_in "$msgs" "HTTP 400: Invalid request" "the leader's error is the server's 400"
finish
