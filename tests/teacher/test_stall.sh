#!/usr/bin/env bash
# No head-of-line stalls (issue 15, point 4). Output is written in input
# order; an item stuck in retries must not hold the others back:
# * while the first item is stuck (8 failed attempts, ~4 s), the other 399
#   items all complete, with the requests in flight at --concurrency (the
#   server logs how many were in flight at each reply);
# * the control (--window 8 --order-items 8: the order buffer as small as the
#   window, as before) shows the stall: at most 7 others complete meanwhile;
# * the output is byte-identical to a run without the stuck item's faults,
#   also when every finished result waits in the spill file (--order-memory 0);
# * kill -9 while results wait in the spill file, then the same command:
#   byte-identical output, and no request completed before the kill is sent again.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
ASK=$TEACHER_DIR/recipes/ask.lua
N=400
CONC=8
Q=$TMP/q.jsonl
{
  echo '{"question":"Question STUCK: the one that fails first"}'
  for i in $(seq 2 $N); do echo "{\"question\":\"Question number $i: what is $i squared?\"}"; done
} >"$Q"
COMMON=(--model m1 --no-progress -q --concurrency $CONC --no-cache --max-retries 10 --retry-base 0.001)

start_server --latency-ms 20 --log "$TMP/base.log"
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/base.jsonl" "${COMMON[@]}" --base-url "$BASE_URL"
expect_eq "$(wc -l <"$TMP/base.jsonl" | tr -d ' ')" "$N" "baseline without faults"
stop_server
# In flight at the replies of a run without a stuck item: what the client
# keeps when nothing holds it back (the server counts a request from its
# arrival, so the client's turnaround shows as a little less than --concurrency).
read -r BASE_MEDIAN BASE_P10 < <(python3 - "$TMP/base.log" <<'PY'
import json, sys
f = sorted(json.loads(l)["in_flight"] for l in open(sys.argv[1]))
print(f[len(f) // 2], f[len(f) // 10])
PY
)
echo "baseline: in flight at the replies: median $BASE_MEDIAN, 10th percentile $BASE_P10" >&2

# while_stuck LOG: "others_done_while_stuck median_in_flight p10_in_flight" —
# the other items' good replies between the stuck item's first and last
# reply, and the requests in flight at those replies.
while_stuck() {
  python3 - "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
stuck = [r for r in rows if r["fault"] == "503"]
first = min(r["t_ms"] for r in stuck)
digest = stuck[0]["digest"]
last = max(r["t_ms"] for r in rows if r["digest"] == digest)
during = sorted(r["in_flight"] for r in rows
                if r["digest"] != digest and r["status"] == 200 and first <= r["t_ms"] <= last)
if not during:
    print(0, 0, 0)
else:
    print(len(during), during[len(during) // 2], during[len(during) // 10])
PY
}

stuck_run() { # NAME OPTIONS...: a run against the stuck-item server, logged
  local name=$1; shift
  start_server --latency-ms 20 --script "$TEACHER_DIR/scripts/stuck_item.mjs" --log "$TMP/$name.log"
  "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/$name.jsonl" "${COMMON[@]}" --base-url "$BASE_URL" "$@"
  expect_eq "$?" 0 "$name: the run succeeds"
  expect_true "$name: output byte-identical to the run without faults" cmp -s "$TMP/$name.jsonl" "$TMP/base.jsonl"
  expect_eq "$(stat_get .max_in_flight)" "$CONC" "$name: at most --concurrency in flight"
  stop_server
  read -r DONE MEDIAN P10 < <(while_stuck "$TMP/$name.log")
  echo "$name: $DONE others done while stuck, in flight at their replies: median $MEDIAN, 10th percentile $P10" >&2
}

stuck_run defaults
expect_true "defaults: the others complete while the first item is stuck ($DONE of $((N - 1)))" \
  test "$DONE" -ge $(( (N - 1) * 9 / 10 ))
# A stalled client would have about 1 in flight (the stuck request); the
# baseline's median is printed for comparison (it moves with the machine's load).
expect_true "defaults: in flight while one item is stuck (median $MEDIAN, baseline $BASE_MEDIAN) at least half the window" \
  test "$MEDIAN" -ge $((CONC / 2))
spilled=$(jq '.limits.order_items' "$TMP/defaults.manifest.json")
expect_true "defaults: the manifest records the order buffer ($spilled items)" test "$spilled" -ge 4096

stuck_run spill --order-memory 0
expect_true "all spilled: the manifest counts the spilled items" \
  test "$(jq .order_buffer.spilled_items "$TMP/spill.manifest.json")" -ge $(( (N - 1) * 9 / 10 ))
expect_eq "$(jq .order_buffer.spilled_items "$TMP/defaults.manifest.json")" 0 "defaults: nothing spilled (small lines)"
expect_true "all spilled: the others complete while the first item is stuck ($DONE)" \
  test "$DONE" -ge $(( (N - 1) * 9 / 10 ))

stuck_run control --window $CONC --order-items $CONC
expect_true "control (order buffer = window): the stall shows ($DONE others done while stuck)" \
  test "$DONE" -lt "$CONC"

# kill -9 while results wait in the spill file; the rerun from the cache.
start_server --latency-ms 20 --script "$TEACHER_DIR/scripts/stuck_item.mjs"
db=$TMP/kill.db
OPTS=(--model m1 --no-progress -q --concurrency $CONC --max-retries 10 --retry-base 0.001 --cache "$db"
      --base-url "$BASE_URL" --order-memory 0)
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/kill.jsonl" "${OPTS[@]}" &
pid=$!
# Kill once every other item's reply is in the cache: the stuck item is still
# failing (its 8 failures take 4 s), so the finished results wait in the spill
# file, and no reply is on its way (one would be asked again, rightly).
cached() { "$LACUNA" cache stats --cache "$db" 2>/dev/null | awk '/^entries:/ { print $2 }'; }
for _ in $(seq 400); do
  [ "$(cached)" -ge $((N - 1)) ] 2>/dev/null && break
  sleep 0.025
done
expect_eq "$(cached)" $((N - 1)) "kill -9: every other item is in the cache while the stuck one still fails"
kill -9 "$pid"
wait "$pid" 2>/dev/null
[ -e "$TMP/kill.jsonl" ] && bad "kill -9: the killed run left an output" || ok
before=$(server_stats | jq -c .completed)
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/kill.jsonl" "${OPTS[@]}"
expect_eq "$?" 0 "kill -9: the rerun succeeds"
expect_true "kill -9: the rerun's output is byte-identical" cmp -s "$TMP/kill.jsonl" "$TMP/base.jsonl"
after=$(server_stats | jq -c .completed)
repeated=$(jq -n --argjson b "$before" --argjson a "$after" '[$b | keys[] | select($a[.] > $b[.])] | length')
expect_eq "$repeated" 0 "kill -9: no request completed before the kill is sent again"
expect_true "kill -9: the killed run had completed requests (waiting in the spill file) ($(jq length <<<"$before"))" \
  test "$(jq length <<<"$before")" -ge 50
finish
