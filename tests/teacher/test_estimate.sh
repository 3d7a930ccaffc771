#!/usr/bin/env bash
# lacuna run --estimate: renders the first step's requests without sending
# them, counts prompt tokens (approximate or --tokenizer), gives completion
# and cost ranges from --sample N real calls and the max_tokens ceiling,
# extrapolates dependent calls, and the run's manifest keeps the estimate
# beside the actuals. --max-cost never lets requests in flight overshoot.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
FIX=${LACUNA_FIXTURES:-$TEACHER_DIR/../fixtures}
ASK=$TEACHER_DIR/recipes/ask.lua
TWO=$TEACHER_DIR/recipes/two_step.lua
Q=$TMP/q.jsonl
for i in $(seq 1 40); do echo "{\"question\":\"Estimate question $i: describe the number $i in a few words.\"}"; done >"$Q"
start_server
A=(--model m1 --base-url "$BASE_URL" -q)
num() { jq -r "$2" "$1"; }

# 1. no sample: nothing is sent; the ceiling is max_tokens
reset_stats
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/e1.jsonl" "${A[@]}" --cache "$TMP/c1.db" -p max_tokens=100 \
  --estimate --price in=2.5,out=10 >"$TMP/e1.txt"
expect_eq $? 0 "estimate exits 0"
expect_eq "$(stat_get .requests)" 0 "no request sent"
expect_true "no output written" [ ! -e "$TMP/e1.jsonl" ]
E=$TMP/e1.estimate.json
expect_eq "$(num "$E" .requests.rendered)" 40 "40 requests rendered"
expect_eq "$(num "$E" .completion_tokens.high)" 4000 "ceiling 40 x max_tokens"
expect_eq "$(num "$E" .completion_tokens.low)" 0 "no sample: low end 0"
expect_in "$(num "$E" .counter)" "approximate" "says the counter is approximate"
expect_in "$(cat "$TMP/e1.txt")" "approximate counter" "and prints it"
p=$(num "$E" .prompt_tokens)
expect_eq "$(num "$E" .cost_usd.online.high)" "$(python3 -c "print(round(($p*2.5+4000*10)/1e6, 6))")" "online ceiling = prompt x in + ceiling x out"
expect_eq "$(python3 -c "print(round($(num "$E" .cost_usd.batch.high) / $(num "$E" .cost_usd.online.high), 3))")" 0.5 "batch price: half"
expect_in "$(cat "$TMP/e1.txt")" "first step only" "says it counts the first step only"

# 2. --tokenizer: exact contents
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/e2.jsonl" "${A[@]}" --cache "$TMP/c2.db" --estimate \
  --tokenizer "$FIX/tokenizer/bytelevel.json" >"$TMP/e2.txt"
expect_eq $? 0 "estimate with --tokenizer"
expect_in "$(num "$TMP/e2.estimate.json" .counter)" "exact contents, tokenizer" "says the count is exact"
expect_ne "$(num "$TMP/e2.estimate.json" .prompt_tokens)" "$p" "a different count than the approximate one"

# 3. --sample 5: 5 real calls; the run afterwards carries the estimate, and
# its actual cost (plus the sample's) falls inside the estimated range
reset_stats
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/e3.jsonl" "${A[@]}" --cache "$TMP/c3.db" -p max_tokens=100 \
  --estimate --sample 5 --price m1=2.5/10/0.5 >"$TMP/e3.txt"
expect_eq "$(stat_get .requests)" 5 "5 requests sent for the sample"
E=$TMP/e3.estimate.json
expect_eq "$(num "$E" .completion_tokens.observed.requests)" 5 "5 observed"
expect_eq "$(num "$E" '.requests.rendered + .requests.sampled')" 40 "35 rendered + 5 sampled"
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/e3.jsonl" "${A[@]}" --cache "$TMP/c3.db" -p max_tokens=100 --price m1=2.5/10/0.5
M=$TMP/e3.manifest.json
expect_eq "$(num "$M" '.estimate.requests.total')" 40 "the manifest keeps the estimate"
expect_eq "$(num "$M" '.teacher.requests')" 35 "the sample's 5 come from the cache"
expect_true "actual cost within the estimated range" python3 - "$M" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
e = m["estimate"]
actual = m["teacher"]["cost_usd"] + e["sample_cost_usd"]
lo, hi = e["cost_usd"]["online"]["low"], e["cost_usd"]["online"]["high"]
print(f"estimate {lo}..{hi}, actual {actual}", file=sys.stderr)
sys.exit(0 if lo * 0.5 <= actual <= hi else 1)
PY

# 4. dependent calls are extrapolated from the sample, and the output says so
"$LACUNA" run "$TWO" -i "$Q" -o "$TMP/e4.jsonl" --teacher attempt=a1 --teacher judge=j1 --base-url "$BASE_URL" -q \
  --cache "$TMP/c4.db" --estimate --sample 4 >"$TMP/e4.txt"
E=$TMP/e4.estimate.json
expect_eq "$(num "$E" '[.requests.rendered, .requests.sampled, .requests.extrapolated, .requests.total] | map(tostring) | join(",")')" \
  "36,8,36,80" "36 first steps + 8 sampled + 36 extrapolated"
expect_eq "$(num "$E" .extrapolated)" true "marked as extrapolated"
expect_in "$(cat "$TMP/e4.txt")" "extrapolated from 4 sampled items" "says so"

# 4b. a recipe whose setup calls the teacher: without a sample only setup's
# first requests can be counted (and it says so); with one, setup runs for real
for i in 1 2 3; do echo "{\"topic\":\"topic $i\"}"; done >"$TMP/topics.jsonl"
PS=$TEACHER_DIR/recipes/plan_setup.lua
"$LACUNA" run "$PS" -i "$TMP/topics.jsonl" -o "$TMP/e4b.jsonl" "${A[@]}" --cache "$TMP/c4b.db" --estimate >"$TMP/e4b.txt"
expect_eq "$(num "$TMP/e4b.estimate.json" .requests.total)" 8 "setup's fan-out of 8"
expect_in "$(cat "$TMP/e4b.txt")" "setup's requests only" "says it stopped at setup"
"$LACUNA" run "$PS" -i "$TMP/topics.jsonl" -o "$TMP/e4b.jsonl" "${A[@]}" --cache "$TMP/c4b.db" --estimate --sample 2 >/dev/null
"$LACUNA" run "$PS" -i "$TMP/topics.jsonl" -o "$TMP/e4b.jsonl" "${A[@]}" --cache "$TMP/c4b.db"
expect_eq "$(num "$TMP/e4b.manifest.json" '.estimate.requests.total')" \
  "$(num "$TMP/e4b.manifest.json" '.teacher.requests + .teacher.cache_hits')" "setup + items: the estimate's count is the run's"

# 5. --price syntax
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/e5.jsonl" "${A[@]}" --estimate --price in=x,out=1 2>"$TMP/e5.err"
expect_eq $? 2 "a bad price is a usage error"
expect_in "$(cat "$TMP/e5.err")" "--price expects" "names the syntax"

# 6. --max-cost at concurrency 256: the cost never passes the cap
for i in $(seq 41 600); do echo "{\"question\":\"Budget question $i: describe the number $i in a few words.\"}"; done >>"$Q"
server_config '{"latency_ms":50}'
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/e6.jsonl" "${A[@]}" --no-cache -p max_tokens=40 --concurrency 256 \
  --price in=100,out=100 --max-cost 0.5
M=$TMP/e6.manifest.json
# (past the cap by one request at most: the last one goes alone while the cost is
# under the cap; one costs at most (~25 + 40 tokens) x $100 per 1M = $0.0065)
expect_true "cost $(num "$M" .teacher.cost_usd) <= cap 0.5 + one request" python3 -c "import sys; sys.exit(0 if $(num "$M" .teacher.cost_usd) <= 0.5065 else 1)"
expect_in "$(num "$M" .stopped_early)" "max-cost" "stopped by the cap"
expect_true "most of the budget used" python3 -c "import sys; sys.exit(0 if $(num "$M" .teacher.cost_usd) >= 0.3 else 1)"
finish
