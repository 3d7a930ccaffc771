#!/usr/bin/env bash
# Shards (--shard i/n) and lacuna merge against the test server: 4 shards run
# at once against one cache and merge into the single run's bytes (examples,
# skipped and failed files); a shard killed with kill -9 and rerun completes
# the merge; merge refuses a missing, incomplete, duplicated or foreign shard;
# the shard comes from Slurm's or Kubernetes' variables; a planned recipe
# (in2, setup in every shard) merges to the single run's bytes too.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
SRC=${LACUNA_SRC:?set LACUNA_SRC}
ASK=$TEACHER_DIR/recipes/ask.lua
Q=$TMP/q.jsonl
# 300 questions, two malformed lines and a record without the question
# field (items 71, 162, 253 of 303): failures land in the failed file of the
# shard that holds them.
for i in $(seq 1 300); do
  echo "{\"question\":\"Question number $i: what is $i squared?\"}"
  [ "$i" = 70 ] && echo '{"question": broken'
  [ "$i" = 160 ] && echo '{"query":"no question field"}'
  [ "$i" = 250 ] && echo 'not json at all'
done >"$Q"
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo missing; fi; }
same_set() { # merged single description: examples, skipped and failed files byte-identical
  local f
  for f in "" .skipped .failed; do
    expect_true "$3: ${f:-examples} file byte-identical" cmp -s "${1%.jsonl}$f.jsonl" "${2%.jsonl}$f.jsonl"
  done
}

start_server --latency-ms 20
COMMON=(--model m1 --base-url "$BASE_URL" --no-progress -q --concurrency 8)

"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/single.jsonl" "${COMMON[@]}" --no-cache
expect_eq "$?" 1 "the single run (3 failed items) exits 1"
expect_eq "$(lines "$TMP/single.jsonl"),$(lines "$TMP/single.failed.jsonl")" "300,3" "the single run's counts"

# ---- 4 shards at once, one cache
db=$TMP/shared.db
pids=()
for i in 0 1 2 3; do
  "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/s$i.jsonl" "${COMMON[@]}" --cache "$db" --shard "$i/4" &
  pids+=($!)
done
codes=""
for p in "${pids[@]}"; do wait "$p"; codes="$codes$?"; done
expect_eq "$codes" "1011" "the shards holding a failure exit 1, shard 1 (items 76-151) exits 0"
expect_eq "$(jq -c .shard "$TMP/s1.manifest.json")" \
  '{"index":1,"count":4,"first_item":76,"last_item":151,"total_items":303}' "shard 1's range in its manifest"
out=$("$LACUNA" merge "$TMP/m.jsonl" "$TMP/s3.jsonl" "$TMP/s1.jsonl" "$TMP/s0.jsonl" "$TMP/s2.jsonl" 2>&1)
expect_eq "$?" 1 "merge exits 1 when items failed"
expect_in "$out" "4 shards: 300 ok (300 examples) + 0 skipped + 3 failed" "merge's summary"
same_set "$TMP/m.jsonl" "$TMP/single.jsonl" "4 shards, given in any order"
expect_eq "$(jq -c .counts "$TMP/m.manifest.json")" "$(jq -c .counts "$TMP/single.manifest.json")" \
  "merged counts equal the single run's"
expect_eq "$(jq '.merged_shards | map(.shard.index) | join(",")' -r "$TMP/m.manifest.json")" "0,1,2,3" \
  "per-shard entries in shard order"
expect_eq "$(jq .teacher.cache_hits "$TMP/m.manifest.json")" 0 "no shard paid for another's request twice"
cached=$("$LACUNA" cache stats --cache "$db" | grep -o '[0-9]* entries\|entries: *[0-9]*' | grep -o '[0-9]*' | head -1)
expect_eq "$cached" 300 "the shared cache holds every response once"

# ---- merge refuses what is not one whole run
"$LACUNA" merge "$TMP/x.jsonl" "$TMP/s0.jsonl" "$TMP/s1.jsonl" "$TMP/s3.jsonl" 2>"$TMP/err"
expect_eq "$?" 2 "a missing shard: exit 2"
expect_in "$(cat "$TMP/err")" "shard 2 of 4 missing" "a missing shard is named"
[ -e "$TMP/x.jsonl" ] && bad "a refused merge writes nothing" || ok
"$LACUNA" merge "$TMP/x.jsonl" "$TMP/s0.jsonl" "$TMP/s0.jsonl" "$TMP/s1.jsonl" "$TMP/s2.jsonl" "$TMP/s3.jsonl" 2>"$TMP/err"
expect_in "$(cat "$TMP/err")" "are both shard 0/4" "a shard given twice"
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/seed1.jsonl" "${COMMON[@]}" --cache "$db" --shard 2/4 --seed 1
"$LACUNA" merge "$TMP/x.jsonl" "$TMP/s0.jsonl" "$TMP/s1.jsonl" "$TMP/seed1.jsonl" "$TMP/s3.jsonl" 2>"$TMP/err"
expect_eq "$?" 2 "a shard of another run: exit 2"
expect_in "$(cat "$TMP/err")" "not shards of the same run: their seed differ" "another seed is refused"
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/of3.jsonl" "${COMMON[@]}" --cache "$db" --shard 2/3
"$LACUNA" merge "$TMP/x.jsonl" "$TMP/s0.jsonl" "$TMP/s1.jsonl" "$TMP/of3.jsonl" "$TMP/s3.jsonl" 2>"$TMP/err"
expect_in "$(cat "$TMP/err")" "shard 2/3 of 303 items" "another shard count is refused"
"$LACUNA" merge "$TMP/x.jsonl" "$TMP/single.jsonl" 2>"$TMP/err"
expect_in "$(cat "$TMP/err")" "is not a shard" "a run without --shard is refused"
cp "$TMP/s1.jsonl" "$TMP/s1.bak"
head -n 10 "$TMP/s1.bak" >"$TMP/s1.jsonl"
"$LACUNA" merge "$TMP/x.jsonl" "$TMP/s0.jsonl" "$TMP/s1.jsonl" "$TMP/s2.jsonl" "$TMP/s3.jsonl" 2>"$TMP/err"
expect_in "$(cat "$TMP/err")" "s1.jsonl is incomplete" "a truncated shard output is refused"
mv "$TMP/s1.bak" "$TMP/s1.jsonl"
[ -e "$TMP/x.jsonl" ] && bad "refused merges write nothing" || ok

# ---- a shard killed with kill -9, then rerun, completes the merge
reset_stats
kdb=$TMP/kill.db
for i in 0 1 3; do "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/k$i.jsonl" "${COMMON[@]}" --cache "$kdb" --shard "$i/4"; done
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/k2.jsonl" "${COMMON[@]}" --cache "$kdb" --shard 2/4 --concurrency 2 &
pid=$!
sleep 0.4
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
"$LACUNA" merge "$TMP/km.jsonl" "$TMP"/k{0,1,2,3}.jsonl 2>"$TMP/err"
expect_in "$(cat "$TMP/err")" "k2.jsonl has no manifest" "the killed shard is not mergeable"
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/k2.jsonl" "${COMMON[@]}" --cache "$kdb" --shard 2/4
expect_eq "$?" 1 "the killed shard's rerun completes"
"$LACUNA" merge "$TMP/km.jsonl" "$TMP"/k{0,1,2,3}.jsonl -q
expect_eq "$?" 1 "then the merge runs"
same_set "$TMP/km.jsonl" "$TMP/single.jsonl" "after kill -9 and a rerun"
expect_eq "$(stat_get '[.completed[]] | map(select(. > 1)) | length')" 0 "no request was answered twice"

# ---- the shard from the environment: Slurm job arrays, Kubernetes Indexed Jobs
SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=4 \
  "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/slurm.jsonl" "${COMMON[@]}" --cache "$db"
expect_eq "$(jq -c '[.shard.index, .shard.count]' "$TMP/slurm.manifest.json")" "[3,4]" "Slurm's array task 4 of 1-4"
expect_true "Slurm shard = shard 3/4" cmp -s "$TMP/slurm.jsonl" "$TMP/s3.jsonl"
JOB_COMPLETION_INDEX=1 "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/k8s.jsonl" "${COMMON[@]}" --cache "$db" --shard-count 4
expect_eq "$(jq -c '[.shard.index, .shard.count]' "$TMP/k8s.manifest.json")" "[1,4]" "JOB_COMPLETION_INDEX with --shard-count"
JOB_COMPLETION_INDEX=1 "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/k8s2.jsonl" "${COMMON[@]}" --cache "$db" 2>"$TMP/err"
expect_eq "$?" 2 "JOB_COMPLETION_INDEX without a count: exit 2"
expect_in "$(cat "$TMP/err")" "--shard-count" "the error says how to give the count"
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/bad.jsonl" "${COMMON[@]}" --shard 4/4 2>"$TMP/err"
expect_in "$(cat "$TMP/err")" "0 <= i < n" "--shard 4/4 is refused"

# ---- --limit splits the first N items
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/l.jsonl" "${COMMON[@]}" --cache "$db" --limit 50
for i in 0 1 2; do "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/l$i.jsonl" "${COMMON[@]}" --cache "$db" --limit 50 --shard "$i/3"; done
"$LACUNA" merge "$TMP/lm.jsonl" "$TMP"/l[0-2].jsonl -q
same_set "$TMP/lm.jsonl" "$TMP/l.jsonl" "--limit 50 in 3 shards"

# ---- a planned recipe: setup runs in every shard, each takes its slice
IN2=(in2 -i "$SRC/recipes/samples/corpus.jsonl" -p qa=extractive -p min_tokens=1024 -p max_tokens=3000 -q)
"$LACUNA" run "${IN2[@]}" -o "$TMP/in2.jsonl"
expect_eq "$?" 0 "in2 single run"
for i in 0 1 2; do "$LACUNA" run "${IN2[@]}" -o "$TMP/in2_$i.jsonl" --shard "$i/3"; done
"$LACUNA" merge "$TMP/in2m.jsonl" "$TMP"/in2_[0-2].jsonl -q
expect_eq "$?" 0 "in2 merge"
same_set "$TMP/in2m.jsonl" "$TMP/in2.jsonl" "in2 in 3 shards"
expect_eq "$(jq -c .counts "$TMP/in2m.manifest.json")" "$(jq -c .counts "$TMP/in2.manifest.json")" "in2 merged counts"
expect_eq "$(jq '[.merged_shards[] | select(.report.plan != null)] | length' "$TMP/in2m.manifest.json")" 3 \
  "each shard's recipe report is kept"

finish
