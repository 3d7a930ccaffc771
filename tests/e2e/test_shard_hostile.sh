#!/usr/bin/env bash
# Shards, merge and --jobs as a hostile user drives them, without a teacher
# (tests/shard/fixtures/busy.lua: CPU work per item, some items fail, some
# are skipped): bad --shard values and half-set Slurm variables are usage
# errors; real Slurm arrays (--array=1-3) and Indexed Jobs with --jobs inside
# each task merge to the single run's bytes; merge refuses altered, stopped,
# truncated and foreign shards, naming the file and why, and writes nothing;
# kill -9 at seeded random moments (one child of --jobs, the --jobs parent,
# one of 4 shards running at once) then the documented rerun gives the single
# run's bytes and no shard process is left running.
source "$(dirname "$0")/lib.sh"
BUSY=$(cd "$(dirname "$0")/../shard/fixtures" && pwd)/busy.lua
IN=$TMP/nums.jsonl
seq 1 240 | sed 's/.*/{"n":&}/' >"$IN"
RUN=(run "$BUSY" -i "$IN" -q --no-progress)

same_set() { # got want description: examples, skipped and failed files byte-identical
  local f
  for f in "" .skipped .failed; do expect_same_file "${1%.jsonl}$f.jsonl" "${2%.jsonl}$f.jsonl" "$3 (${f:-examples})"; done
}
expect_true() { # description command...
  local d=$1
  shift
  if "$@"; then ok; else bad "$d"; fi
}
# gone PATTERN: waits (up to 60 s) until no process matches; 0 when none is left.
gone() {
  local i
  for ((i = 0; i < 600; i++)); do
    pgrep -f "$1" >/dev/null || return 0
    sleep 0.1
  done
  return 1
}
# children PID N: waits (up to 60 s) until PID has N child processes; prints them.
children() {
  local i kids
  for ((i = 0; i < 1200; i++)); do
    kids=$(pgrep -P "$1" | tr '\n' ' ')
    [ "$(echo $kids | wc -w)" -ge "$2" ] && { echo "$kids"; return 0; }
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

lc "${RUN[@]}" -o "$TMP/single.jsonl"
expect_code 1 "the single run (34 failed items) exits 1"
expect_eq "$(lines "$TMP/single.jsonl"),$(lines "$TMP/single.skipped.jsonl"),$(lines "$TMP/single.failed.jsonl")" \
  "188,18,34" "the single run's counts"

# ---- --shard values and the scheduler's variables
for v in 3/3 -1/2 1/0 a/b 1/2/3 " 1/2" "" 1/99999999999999999999; do
  lc "${RUN[@]}" -o "$TMP/bad.jsonl" --shard "$v"
  expect_code 2 "--shard '$v'"
  expect_in "$ERR" "--shard expects i/n with 0 <= i < n" "--shard '$v' says what it expects"
done
lc "${RUN[@]}" -o "$TMP/bad.jsonl" --shard 1/2 --shard-count 3
expect_code 2 "--shard and --shard-count disagree"
SLURM_ARRAY_TASK_ID=3 lc "${RUN[@]}" -o "$TMP/bad.jsonl"
expect_code 2 "a Slurm task ID without the array's count"
expect_in "$ERR" "SLURM_ARRAY_TASK_COUNT" "the missing variable is named"
SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=5 SLURM_ARRAY_TASK_STEP=1 SLURM_ARRAY_TASK_COUNT=3 \
  lc "${RUN[@]}" -o "$TMP/bad.jsonl"
expect_code 2 "--array=1,2,5 (uneven) is refused in every task"
expect_in "$ERR" "--array=0-2" "it says how to submit the array"
[ -e "$TMP/bad.jsonl" ] && bad "refused runs write nothing" || ok

# --array=1-3 with --jobs 2 in every task (Slurm's variables as it sets them):
# each task runs shards 2i, 2i+1 of 6 and writes shard i/3; merge joins them.
for id in 1 2 3; do
  SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_STEP=1 \
    SLURM_ARRAY_TASK_COUNT=3 lc "${RUN[@]}" -o "$TMP/slurm.$id.jsonl" --jobs 2
  expect_eq "$(jq -c '[.shard.index, .shard.count, (.merged_shards | map(.shard.index))]' \
    "$TMP/slurm.$id.manifest.json")" "[$((id - 1)),3,[$((2 * id - 2)),$((2 * id - 1))]]" "array task $id: shard and its jobs"
done
lc merge "$TMP/slurm.jsonl" "$TMP"/slurm.*.jsonl
expect_code 1 "merge of the array's outputs"
same_set "$TMP/slurm.jsonl" "$TMP/single.jsonl" "Slurm --array=1-3, --jobs 2 in each task"
expect_eq "$(jq -c .counts "$TMP/slurm.manifest.json")" "$(jq -c .counts "$TMP/single.manifest.json")" \
  "Slurm + --jobs: merged counts"
# An Indexed Job of 2 with --jobs 3 in each pod
for k in 0 1; do
  JOB_COMPLETION_INDEX=$k LACUNA_SHARD_COUNT=2 lc "${RUN[@]}" -o "$TMP/k8s.$k.jsonl" --jobs 3
done
lc merge "$TMP/k8s.jsonl" "$TMP/k8s.1.jsonl" "$TMP/k8s.0.jsonl" -q
same_set "$TMP/k8s.jsonl" "$TMP/single.jsonl" "Indexed Job of 2, --jobs 3 in each pod"

# ---- merge refuses what is not one whole run, names the file and writes nothing
for i in 0 1 2; do lc "${RUN[@]}" -o "$TMP/s$i.jsonl" --shard "$i/3"; done
lc "${RUN[@]}" -o "$TMP/nometa1.jsonl" --shard 1/3 --no-meta
lc merge "$TMP/x.jsonl" "$TMP/s0.jsonl" "$TMP/nometa1.jsonl" "$TMP/s2.jsonl"
expect_code 2 "a --no-meta shard among shards with metadata"
expect_in "$ERR" "nometa1.jsonl are not shards of the same run: their reproduce.meta differ" "the option is named"
# (--no-meta was left out of the manifest's reproduce options: merge could
# not see it, and lacuna pack of a --no-meta set failed to reproduce it)
expect_eq "$(jq -c .reproduce.meta "$TMP/nometa1.manifest.json")" "false" "--no-meta is in the manifest"
lc run chat_mask -i "$LACUNA_SRC/recipes/samples/chat.jsonl" -o "$TMP/nometa.jsonl" --no-meta -q
lc pack "$TMP/nometa.jsonl"
expect_code 0 "lacuna pack of a --no-meta set"
lc "${RUN[@]}" -o "$TMP/work1.jsonl" --shard 1/3 -p work=7
lc merge "$TMP/x.jsonl" "$TMP/s0.jsonl" "$TMP/work1.jsonl" "$TMP/s2.jsonl"
expect_in "$ERR" "their params.work differ" "another param value is named"
cp "$IN" "$TMP/nums.bak"
sed -i "s/{\"n\":200}/{\"n\":2000}/" "$IN" # (rewritten between two shards' runs: same path and line count)
lc "${RUN[@]}" -o "$TMP/edited1.jsonl" --shard 1/3
mv "$TMP/nums.bak" "$IN"
lc merge "$TMP/x.jsonl" "$TMP/s0.jsonl" "$TMP/edited1.jsonl" "$TMP/s2.jsonl"
expect_code 2 "a shard of a rewritten input"
expect_in "$ERR" "edited1.jsonl are not shards of the same run: their input_bytes.1 differ (an input changed" \
  "the changed input is said"
cp "$TMP/s1.manifest.json" "$TMP/s1.manifest.bak"
jq '.shard.first_item = null' "$TMP/s1.manifest.bak" >"$TMP/s1.manifest.json"
lc merge "$TMP/x.jsonl" "$TMP"/s[0-2].jsonl
expect_code 2 "a manifest whose shard is malformed"
expect_in "$ERR" "s1.jsonl: its manifest's shard" "the malformed shard is named"
jq '.shard.index = 7' "$TMP/s1.manifest.bak" >"$TMP/s1.manifest.json"
lc merge "$TMP/x.jsonl" "$TMP"/s[0-2].jsonl
expect_in "$ERR" "s1.jsonl: its manifest's shard" "index 7 of 3 is refused"
jq '.shard.first_item = 2' "$TMP/s1.manifest.bak" >"$TMP/s1.manifest.json"
lc merge "$TMP/x.jsonl" "$TMP"/s[0-2].jsonl
expect_in "$ERR" "s1.jsonl: shard 1/3 of 240 items holds items 2..160, not 81..160" "an altered range is refused"
jq '.lacuna_version = "0.0.1"' "$TMP/s1.manifest.bak" >"$TMP/s1.manifest.json"
lc merge "$TMP/x.jsonl" "$TMP"/s[0-2].jsonl
expect_in "$ERR" "s1.jsonl are not shards of the same run: their lacuna_version differ" "another lacuna's shard"
jq '.stopped_early = "more than 3 failures (--max-failures)"' "$TMP/s1.manifest.bak" >"$TMP/s1.manifest.json"
lc merge "$TMP/x.jsonl" "$TMP"/s[0-2].jsonl
expect_in "$ERR" "stopped early (more than 3 failures (--max-failures)): its items are not all done" \
  "a stopped shard is refused"
cp "$TMP/s1.manifest.bak" "$TMP/s1.manifest.json"
cp "$TMP/s1.jsonl" "$TMP/s1.bak"
head -c 3000 "$TMP/s1.bak" >"$TMP/s1.jsonl" # (cut mid-line, as a kill -9 during a copy would)
lc merge "$TMP/x.jsonl" "$TMP"/s[0-2].jsonl
expect_in "$ERR" "s1.jsonl is incomplete" "a shard cut mid-line is refused"
mv "$TMP/s1.bak" "$TMP/s1.jsonl"
lc merge "$TMP/x.jsonl" "$TMP"/s[0-2].jsonl "$TMP/./s1.jsonl"
expect_in "$ERR" "s1.jsonl are both shard 1/3" "one shard by two paths"
echo '{"n":1}' >"$TMP/stray.jsonl"
lc merge "$TMP/x.jsonl" "$TMP"/s[0-2].jsonl "$TMP/stray.jsonl"
expect_in "$ERR" "stray.jsonl has no manifest" "a stray file is named"
[ -e "$TMP/x.jsonl" ] && bad "refused merges write nothing" || ok
lc merge "$TMP/x.jsonl" "$TMP/s2.jsonl" "$TMP/s0.jsonl" "$TMP/s1.jsonl"
expect_code 1 "the intact shards, in any order, merge"
same_set "$TMP/x.jsonl" "$TMP/single.jsonl" "3 shards"

# A shard being written (here: rerun) is not merged until it is done
"$LACUNA" "${RUN[@]}" -o "$TMP/s1.jsonl" --shard 1/3 -p work=2000000 2>/dev/null &
pid=$!
for ((i = 0; i < 600; i++)); do [ -e "$TMP/s1.lock" ] && break; sleep 0.05; done
lc merge "$TMP/x2.jsonl" "$TMP"/s[0-2].jsonl
expect_code 2 "merge while a shard is written"
expect_in "$ERR" "s1.jsonl is being written by a lacuna run (pid $pid)" "names the shard and the writer"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
[ -e "$TMP/x2.jsonl" ] && bad "nothing merged while a shard was written" || ok

# ---- --jobs edge cases
head -n 5 "$IN" >"$TMP/five.jsonl"
lc run "$BUSY" -i "$TMP/five.jsonl" -q --no-progress -o "$TMP/five_single.jsonl"
lc run "$BUSY" -i "$TMP/five.jsonl" -q --no-progress -o "$TMP/five7.jsonl" --jobs 7
expect_code 0 "--jobs 7 on 5 items"
same_set "$TMP/five7.jsonl" "$TMP/five_single.jsonl" "--jobs 7 on 5 items (two empty shards)"
lc "${RUN[@]}" -o "$TMP/j0.jsonl" --jobs 0
expect_code 2 "--jobs 0"
lc "${RUN[@]}" -o "$TMP/j0.jsonl" --jobs 100000
expect_code 2 "--jobs 100000 forks nothing"
expect_in "$ERR" "at most 1024 processes" "says the limit"
[ -e "$TMP/j0.jobs" ] && bad "--jobs 100000 makes no shard directory" || ok
lc "${RUN[@]}" -o "$TMP/mc.jsonl" --jobs 2 --max-cost 1
expect_code 2 "--jobs with --max-cost"
expect_in "$ERR" "each spend the whole budget" "says why"
lc "${RUN[@]}" -o "$TMP/mf.jsonl" --jobs 2 --max-failures 3
expect_code 2 "--jobs with --max-failures"
# A recipe whose finish fails: exit 1 as in the single run, not 0
FIN=$(dirname "$BUSY")/finish_fails.lua
lc run "$FIN" -i "$TMP/five.jsonl" -q --no-progress -o "$TMP/fin.jsonl"
expect_code 1 "finish fails: the single run exits 1"
lc run "$FIN" -i "$TMP/five.jsonl" -q --no-progress -o "$TMP/finj.jsonl" --jobs 2
expect_code 1 "finish fails in the shards: --jobs exits 1 too"
expect_in "$ERR" "finish failed" "and says why"

# ---- lacuna cache merge: the first cache given keeps a conflicting entry;
# corrupt, foreign and newer caches are refused (exit 2) before DEST exists.
entry() { # key-number question answer: one line of `lacuna cache export`
  printf '{"key":"%064d","model":"m1","request":{"messages":[{"role":"user","content":"%s"}],"model":"m1"},' "$1" "$2"
  printf '"response":{"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"%s"}}],' "$3"
  printf '"usage":{"prompt_tokens":1,"completion_tokens":2}},"prompt_tokens":1,"completion_tokens":2}\n'
}
{ entry 1 q1 a1; entry 2 q2 a2; } >"$TMP/ea.jsonl"
{ entry 2 q2 another; entry 3 q3 a3; } >"$TMP/eb.jsonl"
lc cache import "$TMP/ea.jsonl" --cache "$TMP/ca.db"
lc cache import "$TMP/eb.jsonl" --cache "$TMP/cb.db"
lc cache merge "$TMP/cm.db" "$TMP/ca.db" "$TMP/cb.db"
expect_code 1 "cache merge with a conflicting entry"
expect_in "$ERR" "cb.db into $TMP/cm.db: 1 added, 0 already present, 1 conflicting" "the conflict is counted"
lc cache export - --cache "$TMP/cm.db"
expect_eq "$(echo "$OUT" | jq -r '.response.choices[0].message.content' | tr '\n' ' ')" "a1 a2 a3 " \
  "DEST keeps the first answer it got (ca.db's for key 2)"
lc cache merge "$TMP/cm.db" "$TMP/cm.db"
expect_code 0 "a cache merged with itself"
expect_in "$ERR" "0 added, 3 already present, 0 conflicting" "adds nothing"
echo "not a database" >"$TMP/junk.db"
: >"$TMP/empty.db"
cp "$TMP/ca.db" "$TMP/newer.db"
python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE meta SET value = '99' WHERE key = 'schema'\"); c.commit()" "$TMP/newer.db"
lc cache merge "$TMP/fresh.db" "$TMP/newer.db"
expect_code 2 "cache merge from a cache of a newer schema"
expect_in "$ERR" "newer.db: cache schema 99 is newer than this lacuna understands" "says so"
lc cache merge "$TMP/newer.db" "$TMP/ca.db"
expect_code 2 "cache merge into a cache of a newer schema"
for src in junk empty nonexistent; do
  lc cache merge "$TMP/fresh.db" "$TMP/$src.db"
  expect_code 2 "cache merge from a $src file"
  expect_in "$ERR" "$src.db" "the $src source is named"
done
[ -e "$TMP/fresh.db" ] && bad "a refused cache merge creates no DEST" || ok

# ---- kill -9 at seeded random moments, then the documented rerun
WORK=(-p work=150000)
ms() { echo "$(( $(date +%s%N) / 1000000 ))"; }
t0=$(ms)
lc "${RUN[@]}" "${WORK[@]}" -o "$TMP/slow.jsonl"
took=$(( $(ms) - t0 ))
expect_code 1 "the slow single run"
# The moments: 2.5%..47% of the single run (the parallel runs take about half
# of it), from a fixed seed so that every run of this test kills at the same ones.
RANDOM=1604
LAST_DELAY=0
delay() { LAST_DELAY=$(awk -v ms="$took" -v r="$RANDOM" 'BEGIN { printf "%.3f", ms * (r % 90 + 5) / 200 / 1000 }'); }
delay_was() { echo "$LAST_DELAY"; }
for round in 1 2 3; do
  # one child of --jobs 3
  out=$TMP/kc$round.jsonl
  "$LACUNA" "${RUN[@]}" "${WORK[@]}" -o "$out" --jobs 3 2>"$TMP/kc.err" &
  pid=$!
  kids=$(children "$pid" 3)
  delay; sleep "$LAST_DELAY"
  victim=$(echo "$kids" | tr ' ' '\n' | sed -n "$((RANDOM % 3 + 1))p")
  kill -9 "$victim" 2>/dev/null
  wait "$pid"
  code=$?
  echo "round $round: a child of --jobs 3 killed after $(delay_was)s: exit $code"
  if [ "$code" = 2 ]; then
    expect_in "$(cat "$TMP/kc.err")" "was killed by signal 9; nothing was merged" "round $round: the killed child is named"
    [ -e "$out" ] && bad "round $round: nothing merged after a child was killed" || ok
  else
    expect_eq "$code" 1 "round $round: the child had finished before kill -9 (exit 1 like the single run)"
  fi
  lc "${RUN[@]}" "${WORK[@]}" -o "$out" --jobs 3
  expect_code 1 "round $round: the rerun after a child's kill -9 completes"
  same_set "$out" "$TMP/slow.jsonl" "round $round: kill -9 of a child, rerun"

  # the --jobs 3 parent itself: its children stop too
  out=$TMP/kp$round.jsonl
  "$LACUNA" "${RUN[@]}" "${WORK[@]}" -o "$out" --jobs 3 2>/dev/null &
  pid=$!
  children "$pid" 3 >/dev/null
  delay; sleep "$LAST_DELAY"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  expect_true "round $round: no shard outlives a killed parent" gone "${out%.jsonl}.jobs/shard"
  lc "${RUN[@]}" "${WORK[@]}" -o "$out" --jobs 3
  expect_code 1 "round $round: the rerun after the parent's kill -9 completes"
  same_set "$out" "$TMP/slow.jsonl" "round $round: kill -9 of the parent, rerun"
  [ -e "${out%.jsonl}.jobs" ] && bad "round $round: the shard directory is removed after the merge" || ok

  # one of 4 shards running at once
  pids=()
  for i in 0 1 2 3; do
    "$LACUNA" "${RUN[@]}" "${WORK[@]}" -o "$TMP/r$round.$i.jsonl" --shard "$i/4" 2>/dev/null &
    pids+=($!)
  done
  victim=$((RANDOM % 4))
  delay; sleep "$LAST_DELAY"
  kill -9 "${pids[$victim]}" 2>/dev/null
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  lc "${RUN[@]}" "${WORK[@]}" -o "$TMP/r$round.$victim.jsonl" --shard "$victim/4"
  lc merge "$TMP/r$round.jsonl" "$TMP/r$round".[0-3].jsonl
  expect_code 1 "round $round: merge after shard $victim's kill -9 and rerun"
  same_set "$TMP/r$round.jsonl" "$TMP/slow.jsonl" "round $round: 4 shards, one killed and rerun"
done

# SIGTERM to the --jobs parent: exit 130, the shards stop, nothing merged
"$LACUNA" "${RUN[@]}" "${WORK[@]}" -o "$TMP/term.jsonl" --jobs 2 2>"$TMP/term.err" &
pid=$!
children "$pid" 2 >/dev/null
kill -TERM "$pid"
wait "$pid"
expect_eq "$?" 130 "SIGTERM to --jobs: exit 130"
[ -e "$TMP/term.jsonl" ] && bad "SIGTERM: nothing merged" || ok
expect_true "SIGTERM: no shard left running" gone "$TMP/term.jobs/shard"
lc "${RUN[@]}" "${WORK[@]}" -o "$TMP/term.jsonl" --jobs 2
same_set "$TMP/term.jsonl" "$TMP/slow.jsonl" "SIGTERM, then the rerun"

finish
