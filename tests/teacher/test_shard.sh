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
# two_children PID: waits (up to 60 s) until PID has started its 2 shards.
two_children() {
  local i
  for ((i = 0; i < 1200; i++)); do
    [ "$(pgrep -P "$1" | wc -l)" -ge 2 ] && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
# gone PATTERN: waits (up to 60 s, the processes may be slow to stop under
# load or ASan) until no process matches; 0 when none is left.
gone() {
  local i
  for ((i = 0; i < 600; i++)); do
    pgrep -f "$1" >/dev/null || return 0
    sleep 0.1
  done
  return 1
}
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
expect_eq "$(jq -c ".shard | del(.input_bytes, .model_files_sha256)" "$TMP/s1.manifest.json")" \
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
# The rerun resends only what the killed shard had in flight (--concurrency 2).
expect_true "at most 300 + 2 requests answered ($(stat_get '[.completed[]] | add'))" \
  test "$(stat_get '[.completed[]] | add')" -le 302

# ---- kill -9 of one of 4 shards running at once against one cache, at
# seeded random moments: the rerun completes, the merge is the single run's,
# and the shared cache stays readable by every shard.
RANDOM=4242
for round in 1 2; do
  rdb=$TMP/rk$round.db
  pids=()
  for i in 0 1 2 3; do
    "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/rk$round.$i.jsonl" "${COMMON[@]}" --cache "$rdb" --shard "$i/4" 2>/dev/null &
    pids+=($!)
  done
  victim=$((RANDOM % 4))
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", (r % 80 + 5) / 100 }')"
  kill -9 "${pids[$victim]}" 2>/dev/null
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/rk$round.$victim.jsonl" "${COMMON[@]}" --cache "$rdb" --shard "$victim/4"
  expect_eq "$?" "$([ "$victim" = 1 ] && echo 0 || echo 1)" "round $round: shard $victim's rerun after kill -9 completes"
  "$LACUNA" merge "$TMP/rk$round.jsonl" "$TMP/rk$round".[0-3].jsonl -q
  same_set "$TMP/rk$round.jsonl" "$TMP/single.jsonl" "round $round: 4 shards on one cache, one killed and rerun"
  "$LACUNA" cache stats --cache "$rdb" >/dev/null
  expect_eq "$?" 0 "round $round: the shared cache is intact"
done

# ---- one cache per machine, joined by lacuna cache merge
for i in 0 1 2; do
  "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/c$i.jsonl" "${COMMON[@]}" --cache "$TMP/machine$i.db" --shard "$i/3"
done
"$LACUNA" cache merge "$TMP/joined.db" "$TMP"/machine{0,1,2}.db 2>"$TMP/err"
expect_eq "$?" 0 "cache merge"
expect_in "$(cat "$TMP/err")" "machine1.db into $TMP/joined.db: 100 added, 0 already present, 0 conflicting" \
  "cache merge reports what it added"
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/fromjoined.jsonl" "${COMMON[@]}" --cache "$TMP/joined.db" --cache-only
same_set "$TMP/fromjoined.jsonl" "$TMP/single.jsonl" "a --cache-only run from the merged caches"
"$LACUNA" cache merge "$TMP/joined.db" "$TMP/machine0.db" 2>"$TMP/err"
expect_in "$(cat "$TMP/err")" "0 added, 100 already present" "merging again adds nothing"
# The same request answered differently on two machines: DEST's answer stays.
"$LACUNA" cache export "$TMP/m0.export.jsonl" --cache "$TMP/machine0.db" 2>/dev/null
head -n 1 "$TMP/m0.export.jsonl" | jq -c '.response.choices[0].message.content = "another answer"' >"$TMP/other.jsonl"
"$LACUNA" cache import "$TMP/other.jsonl" --cache "$TMP/other.db" 2>/dev/null
"$LACUNA" cache merge "$TMP/joined.db" "$TMP/other.db" 2>"$TMP/err"
expect_eq "$?" 1 "a conflicting entry: exit 1"
expect_in "$(cat "$TMP/err")" "1 conflicting" "the conflict is counted"
"$LACUNA" cache merge "$TMP/joined.db" "$TMP/nonexistent.db" 2>"$TMP/err"
expect_eq "$?" 2 "a missing source cache: exit 2"

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
"$LACUNA" run "$ASK" -i - -o "$TMP/bad.jsonl" "${COMMON[@]}" --shard 0/2 <"$Q" 2>"$TMP/err"
expect_in "$(cat "$TMP/err")" "not '-'" "--shard with stdin is refused"

# ---- --limit splits the first N items
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/l.jsonl" "${COMMON[@]}" --cache "$db" --limit 50
for i in 0 1 2; do "$LACUNA" run "$ASK" -i "$Q" -o "$TMP/l$i.jsonl" "${COMMON[@]}" --cache "$db" --limit 50 --shard "$i/3"; done
# (a glob that also matches the side files: merge passes over them)
"$LACUNA" merge "$TMP/lm.jsonl" "$TMP"/l[0-2]*.json* -q
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
"$LACUNA" run "${IN2[@]}" -o "$TMP/in2j.jsonl" --jobs 2
expect_eq "$?" 0 "in2 --jobs 2"
same_set "$TMP/in2j.jsonl" "$TMP/in2.jsonl" "in2 with --jobs 2"
[ -e "$TMP/in2j.jobs" ] && bad "--jobs removes its shard directory after the merge" || ok

# A setup that calls the teacher runs once, before the shards: they plan from
# the same (cached) answers, and no setup request is sent twice.
PS=$TEACHER_DIR/recipes/plan_setup.lua
printf '{"topic":"t%d"}\n' $(seq 1 20) >"$TMP/topics.jsonl"
reset_stats
"$LACUNA" run "$PS" -i "$TMP/topics.jsonl" -o "$TMP/ps.jsonl" "${COMMON[@]}" --no-cache
expect_eq "$?" 0 "plan_setup single run"
single_requests=$(stat_get '[.completed[]] | add')
reset_stats
"$LACUNA" run "$PS" -i "$TMP/topics.jsonl" -o "$TMP/psj.jsonl" "${COMMON[@]}" --cache "$TMP/ps.db" --jobs 2
expect_eq "$?" 0 "plan_setup --jobs 2"
same_set "$TMP/psj.jsonl" "$TMP/ps.jsonl" "a setup calling the teacher, --jobs 2"
expect_eq "$(stat_get '[.completed[]] | add')" "$single_requests" "--jobs 2 sends the single run's requests, setup's once"
expect_eq "$(jq -c '.teacher | [.requests, .prompt_tokens, .completion_tokens]' "$TMP/psj.manifest.json")" \
  "$(jq -c '.teacher | [.requests, .prompt_tokens, .completion_tokens]' "$TMP/ps.manifest.json")" \
  "--jobs 2's merged manifest counts setup's requests and tokens (made by no shard)"
expect_eq "$(jq '.merged_shards | map(.report.calibration.choice) | unique | length' "$TMP/psj.manifest.json")" 1 \
  "both shards' reports saw the same calibration"

# ---- --jobs N: local shard processes, one cache, merged
jdb=$TMP/jobs.db
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/j.jsonl" "${COMMON[@]}" --cache "$jdb" --jobs 2 2>"$TMP/err"
expect_eq "$?" 1 "--jobs 2 exits 1 like the single run (3 failed items)"
same_set "$TMP/j.jsonl" "$TMP/single.jsonl" "--jobs 2"
expect_eq "$(jq -c .counts "$TMP/j.manifest.json")" "$(jq -c .counts "$TMP/single.manifest.json")" "--jobs 2 counts"
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/j3.jsonl" "${COMMON[@]}" --cache "$jdb" --jobs 3 --window 4
same_set "$TMP/j3.jsonl" "$TMP/single.jsonl" "--jobs 3 from the cache, another window"
# --jobs inside a shard: shard 0/2 as sub-shards 0 and 1 of 4, written as shard 0/2
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/x.jsonl" "${COMMON[@]}" --cache "$jdb" --jobs 2 --shard 0/2 2>"$TMP/err"
expect_eq "$?" 1 "--jobs 2 --shard 0/2 (item 71 fails)"
expect_eq "$(jq -c '[.shard.index, .shard.count, .shard.first_item, .shard.last_item, (.merged_shards | map(.shard.count))]' \
  "$TMP/x.manifest.json")" "[0,2,1,151,[4,4]]" "--jobs 2 --shard 0/2 writes shard 0/2 from shards 0, 1 of 4"
rm -f "$TMP"/x.*
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/x.jsonl" "${COMMON[@]}" --jobs 2 -p samples=zero 2>"$TMP/err"
expect_eq "$?" 2 "--jobs with a bad param: exit 2"
expect_eq "$(grep -c "samples" "$TMP/err")" 1 "the error is said once, before any shard starts"
"$LACUNA" run "$ASK" -i "$Q" -o - "${COMMON[@]}" --jobs 2 >/dev/null 2>"$TMP/err"
expect_in "$(cat "$TMP/err")" "--jobs needs -o FILE" "--jobs to stdout is refused"

# SIGTERM to the parent reaches the shards: exit 130, nothing merged, no shard
# left running; the same command then resumes from the cache.
reset_stats
sdb=$TMP/sig.db
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/sig.jsonl" "${COMMON[@]}" --cache "$sdb" --jobs 2 --concurrency 2 2>"$TMP/sigerr" &
pid=$!
two_children "$pid" # (the parent catches signals before it starts them)
sleep 0.3
kill -TERM "$pid"
wait "$pid"
expect_eq "$?" 130 "--jobs: SIGTERM gives 130"
[ -e "$TMP/sig.jsonl" ] && bad "--jobs: an interrupted run merges nothing" || ok
expect_true "no shard process outlives the parent" gone "$TMP/sig.jobs/shard"
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/sig.jsonl" "${COMMON[@]}" --cache "$sdb" --jobs 2
expect_eq "$?" 1 "the rerun completes"
same_set "$TMP/sig.jsonl" "$TMP/single.jsonl" "--jobs 2 after SIGTERM and a rerun"
# The rerun resends only what the 2 shards had in flight (--concurrency 2 each).
expect_true "at most 300 + 4 requests answered ($(stat_get '[.completed[]] | add'))" \
  test "$(stat_get '[.completed[]] | add')" -le 304

# kill -9 of the parent takes the shards with it (PR_SET_PDEATHSIG)
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/k9.jsonl" "${COMMON[@]}" --cache "$TMP/k9.db" --jobs 2 --concurrency 1 2>/dev/null &
pid=$!
two_children "$pid"
sleep 0.3
kill -9 "$pid"
wait "$pid" 2>/dev/null
expect_true "kill -9 of the parent stops the shards" gone "$TMP/k9.jobs/shard"
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/k9.jsonl" "${COMMON[@]}" --cache "$TMP/k9.db" --jobs 2 2>/dev/null
same_set "$TMP/k9.jsonl" "$TMP/single.jsonl" "--jobs 2 after kill -9 of the parent and a rerun"

finish
