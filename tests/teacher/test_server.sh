#!/usr/bin/env bash
# The OpenAI-compatible test server itself (server.mjs): deterministic replies,
# request validation (400) and authorization (401) bodies, every fault kind,
# Retry-After in both forms, the seeded fault draws, the script hook, keep-alive,
# latency and the /stats counters. Every server is started and stopped here.
source "$(dirname "$0")/lib.sh"
SCRIPT=$TEACHER_DIR/scripts/example.mjs

msg() { # CONTENT [extra JSON fields] -> a chat request body
  jq -cn --arg c "$1" --argjson extra "${2:-{\}}" '{model: "test-model", messages: [{role: "user", content: $c}]} + $extra'
}
jqb() { printf '%s' "$BODY_OUT" | jq -r "$1" 2>/dev/null; }
header() { printf '%s\n' "$HEADERS_OUT" | awk -v h="$(echo "$1" | tr 'A-Z' 'a-z')" -F': ' 'tolower($1) == h { print $2 }'; }

# ---- start-up: port file, stdout line, bad options ----
start_server --log "$TMP/server.log" || { echo "0 passed, 1 failed"; exit 1; }
expect_eq "$(cat "$TMP/server$SERVER_SEQ.out")" "listening on 127.0.0.1:$PORT" "stdout names the port"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/health")" 200 "GET /health"
"$NODE" "$SERVER_JS" --bogus >/dev/null 2>"$TMP/err"
expect_eq "$?" 2 "unknown option exits 2"
expect_in "$(cat "$TMP/err")" "unknown option '--bogus'" "unknown option message"
"$NODE" "$SERVER_JS" --faults 429,teapot >/dev/null 2>"$TMP/err"
expect_eq "$?" 2 "unknown fault kind exits 2"
expect_in "$(cat "$TMP/err")" "unknown fault kind 'teapot'" "unknown fault kind message"

# ---- deterministic replies ----
chat "$(msg 'hi there')"
expect_eq "$HTTP" 200 "plain request"
first=$BODY_OUT
digest=$(jqb '.id | ltrimstr("chatcmpl-")')
expect_true "digest is 16 hex digits" grep -Eq '^[0-9a-f]{16}$' <<<"$digest"
expect_eq "$(jqb '.choices[0].message.content')" "reply to hi there [$digest]" "default content"
expect_eq "$(jqb '[.object, .created, .model, .choices[0].finish_reason, .choices[0].message.role] | join(" ")')" \
  "chat.completion 1700000000 test-model stop assistant" "object, fixed created, echoed model, finish_reason"
# prompt "hi there" = 8 chars -> 2 tokens; content 35 chars -> 9 tokens.
expect_eq "$(jqb '[.usage.prompt_tokens, .usage.completion_tokens, .usage.total_tokens] | map(tostring) | join(" ")')" "2 9 11" "usage"
chat "$(msg 'hi there')"
expect_eq "$BODY_OUT" "$first" "same request, byte-identical reply"
# Key order (top level and inside messages) is not part of the request.
chat '{"messages":[{"content":"hi there","role":"user"}],"model":"test-model"}'
expect_eq "$BODY_OUT" "$first" "canonical form ignores key order"
# Fields outside the canonical set (user, stream_options...) do not change it.
chat "$(msg 'hi there' '{"user":"someone","logit_bias":{}}')"
expect_eq "$BODY_OUT" "$first" "non-canonical fields ignored"
for extra in '{"temperature":0.7}' '{"top_p":0.9}' '{"seed":3}' '{"max_tokens":100}' '{"stop":["zzz"]}' '{"n":1}'; do
  chat "$(msg 'hi there' "$extra")"
  expect_ne "$(jqb .id)" "chatcmpl-$digest" "$extra changes the digest"
done
chat '{"model":"other-model","messages":[{"role":"user","content":"hi there"}]}'
expect_ne "$(jqb .id)" "chatcmpl-$digest" "model changes the digest"
expect_eq "$(jqb .model)" "other-model" "model echoed"
# System and earlier turns count for usage; the reply quotes the last user turn.
chat '{"model":"m","messages":[{"role":"system","content":"12345678"},{"role":"user","content":"first"},{"role":"assistant","content":"ok"},{"role":"user","content":"second"}]}'
expect_eq "$(jqb '.choices[0].message.content | startswith("reply to second [")')" true "reply quotes the last user message"
expect_eq "$(jqb .usage.prompt_tokens)" 6 "prompt tokens = ceil(21 chars / 4)"
# A restarted server (another process) gives the same bytes.
first_server=$SERVER_URL
start_server
chat "$(msg 'hi there')"
expect_eq "$BODY_OUT" "$first" "same reply from another server process"
stop_server
SERVER_URL=$first_server BASE_URL=$first_server/v1

# n, max_tokens, stop, response_format
chat "$(msg 'hi there' '{"n":3}')"
d3=$(jqb '.id | ltrimstr("chatcmpl-")')
expect_eq "$(jqb '[.choices[] | "\(.index):\(.message.content)"] | join("|")')" \
  "0:reply to hi there [$d3#0]|1:reply to hi there [$d3#1]|2:reply to hi there [$d3#2]" "n=3 choices"
expect_eq "$(jqb '.usage.completion_tokens')" 30 "n=3 usage sums the choices (3 x ceil(38 chars / 4))"
chat "$(msg 'hi there' '{"max_tokens":2}')"
expect_eq "$(jqb '.choices[0].finish_reason')" length "max_tokens below the reply: finish_reason length"
expect_eq "$(jqb '.choices[0].message.content')" "reply to" "content cut at max_tokens*4 chars"
expect_eq "$(jqb '.usage.completion_tokens')" 2 "usage of the cut reply"
chat "$(msg 'hi there' '{"max_tokens":50}')"
expect_eq "$(jqb '.choices[0].finish_reason')" stop "max_tokens above the reply: stop"
chat "$(msg 'hi there' '{"stop":"there"}')"
expect_eq "$(jqb '.choices[0].message.content')" "reply to hi " "stop sequence cuts the reply"
chat "$(msg 'hi there' '{"response_format":{"type":"json_object"}}')"
dj=$(jqb '.id | ltrimstr("chatcmpl-")')
expect_eq "$(jqb '.choices[0].message.content | fromjson | .answer')" "$dj" "json_object reply is JSON"
schema='{"response_format":{"type":"json_schema","json_schema":{"name":"qa","schema":{"type":"object","properties":{"question":{"type":"string"},"score":{"type":"integer","minimum":1},"tags":{"type":"array","items":{"type":"string"}},"ok":{"type":"boolean"},"kind":{"enum":["x","y"]}},"required":["question","score"]}}}}'
chat "$(msg 'hi there' "$schema")"
expect_eq "$(jqb '.choices[0].message.content | fromjson | [(.question | length), .score, (.tags | length), .ok, .kind] | map(tostring) | join(" ")')" \
  "16 1 1 true x" "json_schema reply is an instance of the schema"

# ---- 400 and 404/405 bodies ----
expect_400() { # body param description
  chat "$1"
  expect_eq "$HTTP" 400 "$3: status"
  expect_eq "$(jqb '[.error.type, (.error.param | tostring), (.error.code | tostring), (.error.message | length > 0)] | map(tostring) | join(" ")')" \
    "invalid_request_error $2 null true" "$3: OpenAI error body"
}
expect_400 '{"messages":[{"role":"user","content":"x"}]}' model "missing model"
expect_400 '{"model":7,"messages":[{"role":"user","content":"x"}]}' model "model not a string"
expect_400 '{"model":"m"}' messages "missing messages"
expect_400 '{"model":"m","messages":[]}' messages "empty messages"
expect_400 '{"model":"m","messages":{"role":"user"}}' messages "messages not an array"
expect_400 '{"model":"m","messages":[{"role":"wizard","content":"x"}]}' 'messages[0].role' "bad role"
expect_400 '{"model":"m","messages":[{"role":"user","content":"x"},{"role":"user"}]}' 'messages[1].content' "missing content"
expect_400 '{"model":"m","messages":[{"role":"user","content":"x"}],"n":0}' n "bad n"
expect_400 '{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":-1}' max_tokens "bad max_tokens"
expect_400 '{"model": "m", "messages": [' null "malformed JSON"
expect_in "$(jqb .error.message)" "could not parse the JSON body" "malformed JSON message"
expect_400 '[1,2]' null "body not an object"
HTTP=$(curl -s -o "$TMP/b" -w '%{http_code}' "$BASE_URL/chat/completions")
expect_eq "$HTTP" 405 "GET on the chat endpoint"
HTTP=$(curl -s -o "$TMP/b" -w '%{http_code}' "$SERVER_URL/v1/nowhere")
expect_eq "$HTTP $(jq -r .error.type "$TMP/b")" "404 invalid_request_error" "unknown path"
HTTP=$(curl -s -o "$TMP/b" -w '%{http_code}' -d "$(msg x)" "$SERVER_URL/chat/completions")
expect_eq "$HTTP" 200 "also served without the /v1 prefix"

# ---- every fault kind, forced by X-Test-Fault ----
reset_stats
chat "$(msg 'hi there')" -H 'X-Test-Fault: 429'
expect_eq "$HTTP" 429 "429: status"
expect_eq "$(header retry-after)" 1 "429: Retry-After in seconds (default 1)"
expect_eq "$(jqb '.error.code')" rate_limit_exceeded "429: OpenAI error body"
for s in 500 502 503 504; do
  chat "$(msg 'hi there')" -H "X-Test-Fault: $s"
  expect_eq "$HTTP $(jqb .error.type)" "$s server_error" "$s: status and error body"
done
chat "$(msg 'hi there')" -H 'X-Test-Fault: 400'
expect_eq "$HTTP $(jqb .error.type)" "400 invalid_request_error" "injected 400"
chat "$(msg 'hi there')" -H 'X-Test-Fault: reset'
expect_eq "$HTTP" 000 "reset: no response"
expect_true "reset: curl sees a reset or an empty reply (rc $CURL_RC)" test "$CURL_RC" = 56 -o "$CURL_RC" = 52
chat "$(msg 'hi there')" -H 'X-Test-Fault: truncate'
expect_eq "$CURL_RC" 18 "truncate: curl reports a partial body"
clen=$(header content-length)
expect_true "truncate: fewer bytes than Content-Length ($clen)" test "${#BODY_OUT}" -gt 0 -a "${#BODY_OUT}" -lt "${clen:-0}"
chat "$(msg 'hi there')" -H 'X-Test-Fault: badjson'
expect_eq "$HTTP" 200 "badjson: status 200"
expect_true "badjson: body is not JSON" bash -c '! jq . >/dev/null 2>&1 <<<"$1"' _ "$BODY_OUT"
chat "$(msg 'hi there')" -H 'X-Test-Fault: nochoices'
expect_eq "$HTTP $(jqb '.choices | length')" "200 0" "nochoices: 200 with an empty choices array"
chat "$(msg 'hi there')" -H 'X-Test-Fault: stall' --max-time 0.5
expect_eq "$CURL_RC" 28 "stall: the client's timeout fires"
chat "$(msg 'hi there')" -H 'X-Test-Fault: bogus'
expect_eq "$HTTP" 400 "unknown X-Test-Fault is a 400"
chat "$(msg 'hi there')" -H 'X-Test-Fault: none'
expect_eq "$HTTP" 200 "X-Test-Fault: none"
wait_idle # the stalled request is dropped when its client gives up
stats=$(server_stats)
expect_eq "$(jq -c .faults <<<"$stats")" \
  '{"400":1,"429":1,"500":1,"502":1,"503":1,"504":1,"reset":1,"truncate":1,"badjson":1,"nochoices":1,"stall":1}' "stats count each fault"
expect_eq "$(jq -c .by_status <<<"$stats")" '{"200":4,"400":2,"429":1,"500":1,"502":1,"503":1,"504":1}' \
  "stats by_status (truncate, badjson, nochoices and one good reply are 200s)"
expect_eq "$(jq -c .completed <<<"$stats")" "{\"$digest\":1}" "only the good reply counts as completed"
expect_eq "$(jq -r '[.requests, .in_flight] | map(tostring) | join(" ")' <<<"$stats")" "13 0" "requests and in_flight"

# A stall ends, after --stall-ms, with the connection dropped and no reply.
start_server --stall-ms 700 --retry-after date
t0=$EPOCHREALTIME
chat "$(msg 'hi there')" -H 'X-Test-Fault: stall' --max-time 5
t1=$EPOCHREALTIME
expect_eq "$HTTP" 000 "stall: never answered"
expect_true "stall: dropped after --stall-ms (rc $CURL_RC)" test "$CURL_RC" = 52 -o "$CURL_RC" = 56
expect_true "stall: lasted ~0.7 s" awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 0.65 && b - a < 3) }'
expect_eq "$(stat_get '[.faults.stall, .in_flight, (.completed | length)] | map(tostring) | join(" ")')" "1 0 0" "stall counted, not completed"

# Retry-After as an HTTP-date: now + 1 s (rounded up to a whole second).
now=$(date +%s)
chat "$(msg 'hi there')" -H 'X-Test-Fault: 429'
ra=$(header retry-after)
expect_true "Retry-After '$ra' is an IMF-fixdate" grep -Eq '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$' <<<"$ra"
when=$(date -d "$ra" +%s 2>/dev/null || echo 0)
expect_true "Retry-After date $ra is 1-5 s ahead of $now" test "$when" -ge $((now + 1)) -a "$when" -le $((now + 5))
stop_server
SERVER_URL=$first_server BASE_URL=$first_server/v1
server_config '{"retry_after":0}'
chat "$(msg 'hi there')" -H 'X-Test-Fault: 429'
expect_eq "$(header retry-after)" 0 "Retry-After: 0"
server_config '{"retry_after":1}'

# ---- seeded fault draws ----
# 300 distinct requests through one curl (one connection), statuses in order.
# (curl config strings escape " and \ with a backslash.)
jq -rn --arg url "$BASE_URL/chat/completions" 'range(1; 301)
  | {model: "test-model", messages: [{role: "user", content: "question \(.)"}]} | tojson
  | gsub("\\\\"; "\\\\") | gsub("\""; "\\\"")
  | "url = \"\($url)\"\nheader = \"Content-Type: application/json\"\ndata = \"\(.)\"\noutput = \"/dev/null\"\nwrite-out = \"%{http_code}\\n\"\nnext"' >"$TMP/draws.cfg"
draw_run() { curl -s -K "$TMP/draws.cfg" 2>/dev/null | tr '\n' ' '; }
server_config '{"fault_rate":0.2,"faults":"500,503,429","seed":7}'
reset_stats
seq1=$(draw_run)
stats=$(server_stats)
nf=$(jq '[.faults[]] | add // 0' <<<"$stats")
expect_true "about 20% faults drawn ($nf of 300)" test "$nf" -ge 35 -a "$nf" -le 85
expect_eq "$(jq -r '.faults | keys | join(",")' <<<"$stats")" "429,500,503" "only the listed kinds are drawn"
expect_eq "$(jq -r '(.by_status["200"] // 0) + ([.faults[]] | add)' <<<"$stats")" 300 "every request is a 200 or a fault"
expect_eq "$(jq -r '.completed | length' <<<"$stats")" "$(jq -r '.by_status["200"]' <<<"$stats")" "each 200 completed once"
reset_stats
expect_eq "$(draw_run)" "$seq1" "same seed, same request order: same faults"
server_config '{"seed":8}'
reset_stats
expect_ne "$(draw_run)" "$seq1" "another seed: other faults"
server_config '{"fault_rate":0,"seed":1}'
# A client that retries until success ends with each request completed once.
reset_stats
server_config '{"fault_rate":0.5,"faults":"500,reset,truncate,badjson,nochoices,429","seed":3}'
for i in 1 2 3 4 5; do
  for try in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    chat "$(msg "retry me $i")"
    [ "$HTTP" = 200 ] && [ "$(jqb '.choices | length' 2>/dev/null)" = 1 ] && break
  done
done
stats=$(server_stats)
expect_eq "$(jq -r '[.distinct_completed, .repeated_completed] | map(tostring) | join(" ")' <<<"$stats")" "5 0" "retried requests completed once each"
expect_true "some faults were drawn" test "$(jq '[.faults[]] | add // 0' <<<"$stats")" -gt 0
server_config '{"fault_rate":0}'

# ---- stats: completed counts, in flight, reset ----
reset_stats
chat "$(msg 'count me')"
chat "$(msg 'count me')"
d=$(jqb '.id | ltrimstr("chatcmpl-")')
expect_eq "$(stat_get ".completed[\"$d\"]")" 2 "a repeated request counts twice"
expect_eq "$(stat_get .repeated_completed)" 1 "repeated_completed"
server_config '{"latency_ms":1500}'
reset_stats
pids=()
for i in 1 2 3 4 5 6; do
  curl -s -o /dev/null -d "$(msg "par $i")" "$BASE_URL/chat/completions" &
  pids+=($!)
done
# Poll: on a loaded machine the six clients take a moment to connect.
for ((i = 0; i < 20; i++)); do
  inf=$(stat_get .in_flight)
  [ "$inf" = 6 ] && break
  sleep 0.05
done
expect_eq "$inf" 6 "in_flight while the replies wait"
wait "${pids[@]}" # not a bare wait: the servers are children too
expect_eq "$(stat_get '[.in_flight, .max_in_flight, .by_status["200"]] | map(tostring) | join(" ")')" "0 6 6" "max_in_flight"
server_config '{"latency_ms":400}'
# Latency is applied before answering.
t=$(curl -s -o /dev/null -w '%{time_total}' -d "$(msg lat)" "$BASE_URL/chat/completions")
expect_true "--latency-ms 400 delays the reply (${t}s)" awk -v t="$t" 'BEGIN { exit !(t >= 0.39) }'
server_config '{"latency_ms":0}'
reset_stats
expect_eq "$(stat_get '[.requests, (.completed | length), (.by_status | length), (.faults | length)] | map(tostring) | join(" ")')" "0 0 0 0" "reset-stats zeroes the counters"
# Keep-alive: one curl, three requests, one connection.
conns=$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects} ' -d "$(msg ka)" \
  "$BASE_URL/chat/completions" "$BASE_URL/chat/completions" "$BASE_URL/chat/completions")
expect_eq "$conns" "1 0 0 " "keep-alive reuses the connection"

# ---- the script hook ----
start_server --script "$SCRIPT"
chat '{"model":"scripted","messages":[{"role":"user","content":"what?"}]}'
expect_eq "$(jqb '[.choices[0].message.content, .choices[0].finish_reason, (.usage.total_tokens | tostring)] | join("|")')" \
  "scripted: what?|length|3" "script: content, finish_reason, usage"
chat '{"model":"attempt-model","messages":[{"role":"user","content":"Which is a mammal? (A) trout (B) whale (C) crow"}]}'
a1=$(jqb '.choices[0].message.content')
chat '{"model":"attempt-model","messages":[{"role":"user","content":"Which is a mammal? (A) trout (B) whale (C) crow"}]}'
expect_eq "$(jqb '.choices[0].message.content')" "$a1" "script: deterministic attempt model"
expect_true "script: attempt model answers A, B or C" grep -Eq 'Answer: [ABC]$' <<<"$a1"
chat "$(msg 'TEAPOT')"
expect_eq "$HTTP $(header x-teapot) $(jqb .error.message)" "418 yes I am a teapot" "script: status, headers and body"
chat "$(msg 'FAIL-ONCE')"
expect_eq "$HTTP" 503 "script: fault on the first attempt"
chat "$(msg 'FAIL-ONCE')"
expect_eq "$HTTP $(jqb '.choices[0].message.content')" "200 recovered on attempt 2" "script: ctx.attempt counts the digest's requests"
chat "$(msg 'THROW')"
expect_eq "$HTTP $(jqb .error.type)" "500 script_error" "script: an exception is a 500"
chat "$(msg 'anything else')"
expect_eq "$(jqb '.choices[0].message.content | startswith("reply to anything else [")')" true "script: undefined falls back to the default reply"
expect_eq "$(stat_get '.faults["503"]')" 1 "script faults are counted"
stop_server
SERVER_URL=$first_server BASE_URL=$first_server/v1

# ---- authorization ----
TEST_SERVER_API_KEY=sk-test-secret-123 start_server --log "$TMP/auth.log"
chat "$(msg 'hi there')"
expect_eq "$HTTP $(jqb '[.error.type, .error.code] | join(" ")')" "401 invalid_request_error invalid_api_key" "no key: 401 body"
chat "$(msg 'hi there')" -H 'Authorization: Bearer wrong'
expect_eq "$HTTP" 401 "wrong key: 401"
chat "$(msg 'hi there')" -H 'Authorization: Bearer sk-test-secret-123'
expect_eq "$HTTP" 200 "right key: 200"
expect_eq "$BODY_OUT" "$first" "authorization does not change the reply"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/stats")" 200 "/stats needs no key"
stop_server
expect_eq "$(wc -l <"$TMP/auth.log" | tr -d ' ')" 3 "one log line per chat request"
expect_true "the API key is not in the log" bash -c '! grep -q sk-test-secret "$1"' _ "$TMP/auth.log"

# ---- the log of the first server ----
SERVER_URL=$first_server BASE_URL=$first_server/v1
nreq=$(($(grep -c . "$TMP/server.log") + 0))
expect_true "log has lines ($nreq)" test "$nreq" -gt 300
expect_eq "$(head -n 1 "$TMP/server.log" | jq -c '{n, digest, fault, status}')" \
  "{\"n\":0,\"digest\":\"$digest\",\"fault\":null,\"status\":200}" "log line fields"

finish
