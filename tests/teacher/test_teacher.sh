#!/usr/bin/env bash
# The teacher against the loopback test server: faults at 20% lose nothing and
# change nothing, errors reach the recipe or the failure file, limits hold,
# the cache makes reruns free, batch export round-trips, the API key is never
# written.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
ASK=$TEACHER_DIR/recipes/ask.lua
Q=$TMP/q.jsonl
for i in $(seq 1 60); do echo "{\"question\":\"What is $i + $((i * 7))?\"}"; done >"$Q"

lc() { # runs lacuna; sets CODE, ERR
  "$LACUNA" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  CODE=$?
  ERR=$(cat "$TMP/stderr")
}
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo missing; fi; }
same() { cmp -s "$1" "$2"; }

start_server --latency-ms 2
COMMON=(--model m1 --base-url "$BASE_URL" --retry-base 0.01 --no-progress)

# Baseline, fault-free, no cache.
lc run "$ASK" -i "$Q" -o "$TMP/base.jsonl" "${COMMON[@]}" --no-cache
expect_eq "$CODE" 0 "fault-free run"
expect_eq "$(lines "$TMP/base.jsonl")" 60 "fault-free run writes every item"
expect_eq "$(stat_get '.requests')" 60 "one request per item"

# Each fault at 20%: nothing lost, output identical to the fault-free run.
for fault in 429 500 502 503 504 reset truncate badjson nochoices; do
  server_config "{\"fault_rate\":0.2,\"faults\":[\"$fault\"],\"retry_after\":0,\"seed\":7}"
  reset_stats
  lc run "$ASK" -i "$Q" -o "$TMP/f.jsonl" "${COMMON[@]}" --no-cache --max-retries 10
  expect_eq "$CODE" 0 "fault $fault: exit code ($ERR)"
  expect_true "fault $fault: output identical to the fault-free run" same "$TMP/f.jsonl" "$TMP/base.jsonl"
  expect_ne "$(stat_get ".faults[\"$fault\"] // 0")" 0 "fault $fault was injected"
done
# A stalled server: the client's timeout fires and the retry succeeds.
server_config '{"fault_rate":0.2,"faults":["stall"],"stall_ms":20000,"seed":3}'
lc run "$ASK" -i "$Q" -o "$TMP/s.jsonl" "${COMMON[@]}" --no-cache --timeout 1 --max-retries 10
expect_eq "$CODE" 0 "stalls: exit code ($ERR)"
expect_true "stalls: output identical" same "$TMP/s.jsonl" "$TMP/base.jsonl"
server_config '{"fault_rate":0}'

# A non-retryable 4xx fails the item with the server's message; the run goes on.
server_config '{"fault_rate":0.2,"faults":["400"],"seed":5}'
reset_stats
lc run "$ASK" -i "$Q" -o "$TMP/e.jsonl" "${COMMON[@]}" --no-cache
expect_eq "$CODE" 1 "400: some items fail"
n400=$(stat_get '.faults["400"] // 0')
expect_eq "$(lines "$TMP/e.failed.jsonl")" "$n400" "400: each rejected request fails its item, once"
expect_eq "$(($(lines "$TMP/e.jsonl") + n400))" 60 "400: the others complete"
expect_in "$(cat "$TMP/e.failed.jsonl")" "HTTP 400: " "400: the failure carries the server's message"
server_config '{"fault_rate":0}'

# Retries are bounded: a server that always fails ends in a recorded failure.
server_config '{"fault_rate":1,"faults":["503"]}'
head -3 "$Q" >"$TMP/q3.jsonl"
lc run "$ASK" -i "$TMP/q3.jsonl" -o "$TMP/b.jsonl" "${COMMON[@]}" --no-cache --max-retries 2
expect_eq "$CODE" 1 "always 503: the items fail"
expect_in "$(cat "$TMP/b.failed.jsonl")" "gave up after 3 attempts" "bounded attempts"
server_config '{"fault_rate":0}'

# Retry-After is honoured, in seconds and as an HTTP-date.
for form in 1 date; do
  server_config "{\"fault_rate\":1,\"faults\":[\"429\"],\"retry_after\":\"$form\"}"
  head -1 "$Q" >"$TMP/q1.jsonl"
  (sleep 0.3; server_config '{"fault_rate":0}') &
  healer=$!
  t0=$(date +%s.%N)
  lc run "$ASK" -i "$TMP/q1.jsonl" -o "$TMP/r.jsonl" "${COMMON[@]}" --no-cache
  t1=$(date +%s.%N)
  wait "$healer"
  expect_eq "$CODE" 0 "Retry-After $form: completes"
  expect_true "Retry-After $form: waited (took $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')s)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 0.9) }'
done
server_config '{"fault_rate":0,"retry_after":0}'

# finish_reason "length" reaches the recipe.
lc run "$ASK" -i "$TMP/q1.jsonl" -o "$TMP/len.jsonl" "${COMMON[@]}" --no-cache -p max_tokens=2
expect_in "$(cat "$TMP/len.jsonl")" '"finish_reason":"length"' "finish_reason length reaches the recipe"

# Fan-out: k samples of one prompt at once, k cache entries.
lc run "$ASK" -i "$TMP/q3.jsonl" -o "$TMP/fan.jsonl" "${COMMON[@]}" --cache "$TMP/fan.db" -p samples=4
expect_eq "$CODE" 0 "fan-out run"
expect_eq "$(lines "$TMP/fan.jsonl")" 12 "fan-out: 4 examples per item"
reset_stats
lc run "$ASK" -i "$TMP/q3.jsonl" -o "$TMP/fan2.jsonl" "${COMMON[@]}" --cache "$TMP/fan.db" -p samples=4
expect_eq "$(stat_get '.requests')" 0 "fan-out: the rerun is served by 12 cache entries"
expect_true "fan-out: rerun identical" same "$TMP/fan.jsonl" "$TMP/fan2.jsonl"

# The cache: a rerun costs no request and gives the same bytes; --cache-only
# fails cleanly on a miss.
lc run "$ASK" -i "$Q" -o "$TMP/c1.jsonl" "${COMMON[@]}" --cache "$TMP/c.db"
expect_true "cached run equals the uncached one" same "$TMP/c1.jsonl" "$TMP/base.jsonl"
reset_stats
lc run "$ASK" -i "$Q" -o "$TMP/c2.jsonl" "${COMMON[@]}" --cache "$TMP/c.db" --cache-only
expect_eq "$CODE" 0 "--cache-only on a full cache"
expect_eq "$(stat_get '.requests')" 0 "a cached rerun sends nothing"
expect_true "cached rerun identical" same "$TMP/c2.jsonl" "$TMP/base.jsonl"
lc run "$ASK" -i "$Q" -o "$TMP/c3.jsonl" "${COMMON[@]}" --cache "$TMP/empty.db" --cache-only
expect_eq "$CODE" 1 "--cache-only on a miss fails the items"
expect_in "$(head -1 "$TMP/c3.failed.jsonl")" "--cache-only forbids calling the teacher" "--cache-only message"
# Two processes share one cache file.
head -30 "$Q" >"$TMP/qa.jsonl"; tail -30 "$Q" >"$TMP/qb.jsonl"
"$LACUNA" run "$ASK" -i "$TMP/qa.jsonl" -o "$TMP/pa.jsonl" "${COMMON[@]}" --cache "$TMP/shared.db" -q &
pa=$!
"$LACUNA" run "$ASK" -i "$TMP/qb.jsonl" -o "$TMP/pb.jsonl" "${COMMON[@]}" --cache "$TMP/shared.db" -q
cb=$?
wait $pa
ca=$?
expect_eq "$ca$cb" 00 "two processes sharing one cache"
reset_stats
lc run "$ASK" -i "$Q" -o "$TMP/p.jsonl" "${COMMON[@]}" --cache "$TMP/shared.db" --cache-only
expect_eq "$CODE" 0 "the shared cache holds both processes' responses"

# --max-cost stops cleanly and keeps what is done.
lc run "$ASK" -i "$Q" -o "$TMP/m.jsonl" "${COMMON[@]}" --no-cache --price m1=1000/1000 --max-cost 0.05 --concurrency 1
expect_eq "$CODE" 1 "--max-cost: exit code"
expect_in "$ERR" "stopped early: the cost reached" "--max-cost message"
done_n=$(lines "$TMP/m.jsonl")
expect_true "--max-cost: stopped before the end ($done_n written)" test "$done_n" -lt 60 -a "$done_n" -gt 0
python3 - "$TMP/m.manifest.json" <<'PY' && ok || bad "--max-cost manifest"
import json, sys
m = json.load(open(sys.argv[1]))
c = m["counts"]
assert c["read"] == c["ok"] + c["skipped"] + c["failed"], c
assert m["stopped_early"].startswith("the cost reached"), m["stopped_early"]
t = m["teacher"]
assert t["cost_usd"] >= 0.05 and t["models"]["m1"]["requests"] == c["ok"], t
assert c["failed"] == c["read"] - c["ok"], c  # read but not sent: recorded, for the rerun
assert t["prices"]["m1"] == {"input": 1000, "output": 1000}, t["prices"]
PY

# --rpm: the bucket holds a minute's worth; past it, requests wait for the
# refill. 63 requests at 60/min: 60 at once, then about one a second.
cp "$Q" "$TMP/q63.jsonl"
for i in 61 62 63; do echo "{\"question\":\"extra $i\"}"; done >>"$TMP/q63.jsonl"
lc run "$ASK" -i "$TMP/q63.jsonl" -o "$TMP/rpm.jsonl" "${COMMON[@]}" --no-cache --rpm 60
t_rpm=$(python3 -c "import json; print(json.load(open('$TMP/rpm.manifest.json'))['wall_seconds'])")
expect_eq "$CODE" 0 "--rpm run"
expect_true "--rpm 60: 63 requests take about 3 s (${t_rpm}s)" awk -v t="$t_rpm" 'BEGIN { exit !(t >= 2.5 && t < 10) }'
lc run "$ASK" -i "$TMP/q63.jsonl" -o "$TMP/rpm2.jsonl" "${COMMON[@]}" --no-cache
t_free=$(python3 -c "import json; print(json.load(open('$TMP/rpm2.manifest.json'))['wall_seconds'])")
expect_true "without --rpm the same run is fast (${t_free}s)" awk -v t="$t_free" 'BEGIN { exit !(t < 2) }'

# The API key is sent but never written anywhere.
stop_server
SECRET="sk-test-$$-do-not-leak"
TEST_SERVER_API_KEY=$SECRET start_server --latency-ms 1
OPENAI_API_KEY=$SECRET lc run "$ASK" -i "$Q" -o "$TMP/key/out.jsonl" --model m1 --base-url "$BASE_URL" \
  --cache "$TMP/key/cache.db" --no-progress
expect_eq "$CODE" 0 "authorized run with the key from OPENAI_API_KEY"
lc run "$ASK" -i "$TMP/q1.jsonl" -o "$TMP/key/nokey.jsonl" --model m1 --base-url "$BASE_URL" --no-cache --no-progress
expect_in "$(cat "$TMP/key/nokey.failed.jsonl")" "HTTP 401" "without the key the server refuses"
OPENAI_API_KEY=$SECRET lc run "$ASK" -i "$Q" -o "$TMP/key/b.jsonl" --model m2 --base-url "$BASE_URL" \
  --cache "$TMP/key/cache.db" --batch-export "$TMP/key/batch.jsonl" --no-progress
"$LACUNA" cache export "$TMP/key/export.jsonl" --cache "$TMP/key/cache.db" 2>/dev/null
leaks=$(grep -rl -- "$SECRET" "$TMP/key" 2>/dev/null | wc -l)
expect_eq "$leaks" 0 "the API key appears in no file the runs wrote ($(ls "$TMP/key" | tr '\n' ' '))"

finish
