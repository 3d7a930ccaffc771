#!/usr/bin/env bash
# Requests libcurl sends again by itself (issue 8, point 7): when a reused
# keep-alive connection is reset before the reply, libcurl rewinds the body
# and re-sends the POST on a new connection without telling its caller. lacuna
# counts every send, so the manifest's request count equals what the server
# received.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
ASK=$TEACHER_DIR/recipes/ask.lua
Q=$TMP/q.jsonl
for i in $(seq 1 400); do echo "{\"question\":\"Count me $i\"}"; done >"$Q"

start_server --latency-ms 1 --faults reset --fault-rate 0.25 --seed 11
for conc in 1 8; do
  reset_stats
  "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/r$conc.jsonl" --model m1 --base-url "$BASE_URL" --no-progress -q \
    --no-cache --retry-base 0.001 --max-retries 30 --concurrency $conc
  expect_eq "$?" 0 "--concurrency $conc: every item completes despite resets"
  sent=$(jq .teacher.requests "$TMP/r$conc.manifest.json")
  received=$(stat_get .requests)
  resets=$(stat_get '.faults.reset // 0')
  echo "--concurrency $conc: manifest requests $sent, server received $received, resets $resets"
  expect_eq "$sent" "$received" "--concurrency $conc: the manifest counts every request the server received"
  expect_eq "$(jq .teacher.retries "$TMP/r$conc.manifest.json")" "$resets" "--concurrency $conc: each reset is one retry"
  [ "$resets" -gt 20 ] && ok || bad "--concurrency $conc: the server reset connections ($resets)"
done

# The blocking client (outside a run) reports its sends too: with every
# reused connection reset, libcurl's own re-sends show up as sends > 1.
reset_stats
cat >"$TMP/post.lua" <<LUA
local core = require("lacuna").core
local c = core.http.client {}
local total = 0
for i = 1, 100 do
  local _, _, _, _, sends = c:post("$BASE_URL/chat/completions", { "Content-Type: application/json" },
    '{"model":"m","messages":[{"role":"user","content":"p' .. i .. '"}]}')
  total = total + sends
end
print(total, c:stats().requests)
LUA
# Under the sanitizers the stock interpreter needs their runtimes preloaded.
read -r total client_requests < <(LD_PRELOAD=${LACUNA_PRELOAD:-} ASAN_OPTIONS=detect_leaks=0 lua5.4 "$TMP/post.lua")
echo "blocking client: 100 posts, $total sends counted, server received $(stat_get .requests)"
expect_eq "$total" "$(stat_get .requests)" "the client's send count equals the server's request count"
expect_eq "$client_requests" "$total" "client:stats().requests counts the re-sends too"
[ "$total" -gt 100 ] && ok || bad "libcurl re-sent some requests by itself ($total sends for 100 posts)"

finish
