#!/usr/bin/env bash
# Limits from the server (issue 15, point 3):
# * core.http reads x-ratelimit-* in OpenAI's formats ("1s", "6m0s", "20ms",
#   "1h2m3.5s", plain seconds) and hands them to Lua after the reply;
# * against a server that enforces 40 requests/s, a client that reads the
#   headers gets far fewer 429s per 1,000 requests than the same client
#   against the same limit without headers (AIMD and backoff only); the same
#   for a tokens-per-second limit; outputs are byte-identical to an
#   unlimited run; retries are counted by cause in the manifest.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
ASK=$TEACHER_DIR/recipes/ask.lua

# ---- parsing ----
start_server --script "$TEACHER_DIR/scripts/limit_headers.mjs"
cat >"$TMP/parse.lua" <<'LUA'
local lc = require "lacuna"
local client = lc.core.http.client {}
local url = arg[1] .. "/chat/completions"
for _, spec in ipairs {
  "reset-requests=6m0s;reset-tokens=20ms;remaining-requests=7;remaining-tokens=1234;limit-requests=10;limit-tokens=5000",
  "reset-requests=1s;reset-tokens=1h2m3.5s",
  "reset-requests=0.25;remaining-requests=bogus;reset-tokens=7parsecs;limit-requests=inf;limit-tokens=-3",
  "nothing=here",
} do
  local body = lc.json.encode { model = "m", messages = lc.json.array { { role = "user", content = spec } } }
  local status, _, _, err, _, limits = client:post(url, { "Content-Type: application/json" }, body)
  local keys = {}
  for k, v in pairs(limits or {}) do keys[#keys + 1] = string.format("%s=%g", k, v) end
  table.sort(keys)
  print(status, err or "-", limits and table.concat(keys, ",") or "nil")
end
LUA
got=$(LD_PRELOAD=${LACUNA_PRELOAD:-} ASAN_OPTIONS=detect_leaks=0 lua5.4 "$TMP/parse.lua" "$BASE_URL" 2>&1)
want=$(printf '%s\n' \
  "200	-	limit_requests=10,limit_tokens=5000,remaining_requests=7,remaining_tokens=1234,reset_requests=360,reset_tokens=0.02" \
  "200	-	reset_requests=1,reset_tokens=3723.5" \
  "200	-	reset_requests=0.25" \
  "200	-	nil")
expect_eq "$got" "$want" "x-ratelimit-* values as Lua reads them"
stop_server

# ---- 429s per 1,000 requests, with and without headers ----
N=200
Q=$TMP/q.jsonl
for i in $(seq 1 $N); do echo "{\"question\":\"Question number $i: what is $i squared?\"}"; done >"$Q"
COMMON=(--model m1 --no-progress -q --concurrency 8 --no-cache --max-retries 40)

start_server --latency-ms 10
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/base.jsonl" "${COMMON[@]}" --base-url "$BASE_URL"
expect_eq "$(wc -l <"$TMP/base.jsonl" | tr -d ' ')" "$N" "baseline without limits"
stop_server

# per_1000 LIMIT_OPTIONS... : runs against a server with those limits; prints
# "429s requests" and checks the output.
declare -A RATE
run_limited() {
  local name=$1; shift
  start_server --latency-ms 10 "$@"
  "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/$name.jsonl" "${COMMON[@]}" --base-url "$BASE_URL"
  expect_eq "$?" 0 "$name: the run succeeds"
  expect_true "$name: output byte-identical to the unlimited run" cmp -s "$TMP/$name.jsonl" "$TMP/base.jsonl"
  local n429 reqs
  n429=$(stat_get '.by_status["429"] // 0')
  reqs=$(stat_get .requests)
  RATE[$name]=$(( n429 * 1000 / reqs ))
  echo "$name: $n429 429s in $reqs requests = ${RATE[$name]} per 1,000" >&2
  expect_eq "$(jq '.teacher.retries_by_cause["429"]' "$TMP/$name.manifest.json")" "$n429" \
    "$name: the manifest counts each 429 as a retry caused by 429"
  expect_eq "$(jq '.teacher.rate_limited' "$TMP/$name.manifest.json")" "$n429" "$name: rate_limited counts them"
  stop_server
}
LIMIT=(--rate-limit-requests 40 --rate-limit-window-ms 1000)
run_limited requests_headers "${LIMIT[@]}" --rate-limit-headers on
run_limited requests_plain "${LIMIT[@]}" --rate-limit-headers off
expect_true "requests limit: without headers the limit is hit (${RATE[requests_plain]} per 1,000)" \
  test "${RATE[requests_plain]}" -ge 100
expect_true "requests limit: with headers at most a fifth of the 429s without (${RATE[requests_headers]} vs ${RATE[requests_plain]} per 1,000)" \
  test $(( RATE[requests_headers] * 5 )) -le "${RATE[requests_plain]}"
jq -e '.teacher.paced.waits > 0' "$TMP/requests_headers.manifest.json" >/dev/null
expect_eq "$?" 0 "requests limit: the manifest shows the paced waits"
expect_eq "$(jq '.teacher.paced' "$TMP/requests_plain.manifest.json")" null "no headers: nothing paced from headers"

# Tokens: each request is ~10 prompt tokens + max_tokens 40 = ~50; 2,000 per second.
COMMON+=(-p max_tokens=40)
start_server --latency-ms 10
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/base.jsonl" "${COMMON[@]}" --base-url "$BASE_URL"
stop_server
TLIMIT=(--rate-limit-tokens 2000 --rate-limit-window-ms 1000)
run_limited tokens_headers "${TLIMIT[@]}" --rate-limit-headers on
run_limited tokens_plain "${TLIMIT[@]}" --rate-limit-headers off
expect_true "tokens limit: without headers the limit is hit (${RATE[tokens_plain]} per 1,000)" \
  test "${RATE[tokens_plain]}" -ge 100
expect_true "tokens limit: with headers at most a fifth of the 429s without (${RATE[tokens_headers]} vs ${RATE[tokens_plain]} per 1,000)" \
  test $(( RATE[tokens_headers] * 5 )) -le "${RATE[tokens_plain]}"
# Retries by cause: in the manifest (they add up to the retries) and on the
# progress and summary lines.
start_server --latency-ms 5 --fault-rate 0.4 --faults 429,500,reset,badjson,truncate --retry-after 0
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/causes.jsonl" --model m1 --no-cache --concurrency 8 --max-retries 40 \
  --retry-base 0.001 --progress-interval 0.01 --base-url "$BASE_URL" 2>"$TMP/causes.err"
expect_eq "$?" 0 "causes: the run succeeds"
M=$TMP/causes.manifest.json
expect_eq "$(jq '[.teacher.retries_by_cause[]] | add' "$M")" "$(jq .teacher.retries "$M")" \
  "causes: the causes add up to the retries"
expect_eq "$(jq -c '.teacher.retries_by_cause | keys_unsorted' "$M")" '["429","5xx","timeout","reset","bad_body"]' \
  "causes: every cause, in a fixed order"
for c in 429 5xx reset bad_body; do
  expect_true "causes: $c retries counted ($(jq ".teacher.retries_by_cause[\"$c\"]" "$M"))" \
    test "$(jq ".teacher.retries_by_cause[\"$c\"]" "$M")" -gt 0
done
expect_eq "$(jq '.teacher.retries_by_cause["429"]' "$M")" "$(stat_get '.faults["429"]')" "causes: each injected 429 once"
expect_in "$(grep -m1 'retries (' "$TMP/causes.err")" "in flight" "causes: the progress line shows retries by cause"
expect_in "$(tail -n 1 "$TMP/causes.err")" "429: $(jq '.teacher.retries_by_cause["429"]' "$M")" "causes: so does the summary"
stop_server
finish
