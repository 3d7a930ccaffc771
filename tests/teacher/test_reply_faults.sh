#!/usr/bin/env bash
# Replies real servers and proxies send that the default faults do not cover:
# a 200 with an HTML page, a body cut mid-JSON on a connection-delimited
# reply, a chunked reply that stalls, and odd 200 bodies (scripts/odd_replies.mjs).
# Each becomes a retry and then a failure of its item with a clear message, or
# a success (no usage, impossible usage counts: counted as 0), never a hang or
# a crash; the manifest's request count equals the server's. An exhausted
# quota (429 insufficient_quota) is not retried, and a Retry-After longer than
# --timeout fails the item at once.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
ASK=$TEACHER_DIR/recipes/ask.lua
OPTS=(--model m --no-cache --max-retries 2 --retry-base 0.01 --timeout 5 -q --no-progress)

for kind in html cutclose chunkstall; do
  start_server --fault-rate 1 --faults "$kind" --stall-ms 1500
  printf '{"question":"%s 1"}\n{"question":"%s 2"}\n' "$kind" "$kind" >"$TMP/$kind.jsonl"
  timeout 60 "$LACUNA" run "$ASK" -i "$TMP/$kind.jsonl" -o "$TMP/$kind.out.jsonl" --base-url "$BASE_URL" "${OPTS[@]}" 2>/dev/null
  expect_eq "$?" 1 "$kind: the items fail (exit 1), no hang"
  expect_eq "$(jq -s length "$TMP/$kind.out.failed.jsonl")" 2 "$kind: both items are failures"
  err=$(jq -r .error "$TMP/$kind.out.failed.jsonl" | head -1)
  case $kind in
    html) expect_in "$err" "reply is not JSON (byte 1: unexpected '<')" "$kind: message" ;;
    cutclose) expect_in "$err" "reply is not JSON" "$kind: message" ;;
    chunkstall) expect_in "$err" "partial" "$kind: message" ;;
  esac
  expect_in "$err" "gave up after 3 attempts" "$kind: retried"
  expect_eq "$(jq .teacher.requests "$TMP/$kind.out.manifest.json")" "$(stat_get .requests)" "$kind: manifest requests = server's"
  expect_eq "$(stat_get .requests)" 6 "$kind: 3 attempts per item"
  stop_server
done

start_server --script "$TEACHER_DIR/scripts/odd_replies.mjs"
Q=$TMP/odd.jsonl
for q in "no usage" "bad usage" "usage number" "empty body" "null body" "no message" "error in 200" "no content" "quota" "daily limit"; do
  echo "{\"question\":\"$q\"}"
done >"$Q"
timeout 60 "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/odd.out.jsonl" --base-url "$BASE_URL" "${OPTS[@]}" 2>/dev/null
expect_eq "$?" 1 "odd replies: exit 1"
M=$TMP/odd.out.manifest.json
expect_eq "$(jq -c .counts "$M")" '{"read":10,"ok":3,"examples":3,"skipped":0,"failed":7}' "odd replies: counts"
expect_eq "$(jq .teacher.requests "$M")" "$(stat_get .requests)" "odd replies: manifest requests = server's"
expect_eq "$(jq .teacher.prompt_tokens "$M"),$(jq .teacher.completion_tokens "$M")" "0,0" \
  "absent, impossible and non-table usage counts as 0 tokens"
fail_of() { jq -r --argjson l "$1" 'select(.line == $l) | .error' "$TMP/odd.out.failed.jsonl"; }
expect_in "$(fail_of 4)" "reply is not JSON (byte 1: unexpected end of input) (gave up after 3 attempts)" "empty body"
expect_in "$(fail_of 5)" "reply is not a JSON object" "null body"
expect_in "$(fail_of 6)" "reply choice 1 has no message" "no message"
expect_in "$(fail_of 7)" "reply has no choices: upstream model crashed" "an error object in a 200 is quoted"
expect_in "$(fail_of 8)" "HTTP 204" "204 fails the item"
expect_in "$(fail_of 9)" "HTTP 429: You exceeded your current quota" "an exhausted quota fails at once"
expect_not_in "$(fail_of 9)" "gave up after" "an exhausted quota is not retried"
expect_in "$(fail_of 10)" "the server asks to retry after 86400 s, more than --timeout 5 s" \
  "a Retry-After beyond --timeout fails the item instead of waiting a day"
finish
