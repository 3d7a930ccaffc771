#!/usr/bin/env bash
# Ctrl-C and SIGTERM (issue 8, point 1): a CPU-bound run and a run of short
# synchronous items both stop soon with exit 130, write nothing and keep the
# previous outputs; the rerun finishes the job with the same bytes; a second
# Ctrl-C ends the process at once, and its leftovers go with the next run.
# (The teacher-bound case is tests/teacher/test_interrupt.sh.)
source "$(dirname "$0")/lib.sh"
PROBE=$FIX/recipes/outputs_probe.lua
SAMPLE=$LACUNA_SRC/recipes/samples/chat.jsonl
cd "$TMP"
for i in $(seq 1 3000); do echo "{\"n\":$i}"; done >nums.jsonl
python3 -c 'import sys; sys.stdout.write(open(sys.argv[1]).read() * 10000)' "$SAMPLE" >chats.jsonl # 120,000 records

now() { date +%s%N; }
# interrupt SIGNAL DELAY ARGS...: starts lacuna ARGS, sends SIGNAL after DELAY
# seconds; sets CODE, ERR and STOP_MS (from the signal to the exit).
interrupt() {
  local sig=$1 delay=$2 pid t0
  shift 2
  "$LACUNA" "$@" >"$TMP/stdout" 2>"$TMP/stderr" &
  pid=$!
  sleep "$delay"
  t0=$(now)
  kill -"$sig" "$pid"
  wait "$pid"
  CODE=$?
  STOP_MS=$((($(now) - t0) / 1000000))
  ERR=$(cat "$TMP/stderr")
}
no_temps() { ! ls "$TMP" | grep -q "^$1.*\\.tmp"; }

"$LACUNA" run "$PROBE" -i nums.jsonl -o ref.jsonl -q
"$LACUNA" run chat_mask -i chats.jsonl -o chats_ref.jsonl -q

for sig in INT TERM; do
  # CPU-bound: every item spins; a previous set must survive the interruption.
  for f in .jsonl .skipped.jsonl .failed.jsonl .manifest.json; do cp ref$f cpu$f; done
  interrupt $sig 1 run "$PROBE" -i nums.jsonl -o cpu.jsonl -p spin=3000000
  expect_code 130 "SIG$sig on a CPU-bound run exits 130"
  expect_in "$ERR" "interrupted after" "SIG$sig on a CPU-bound run says so"
  expect_not_in "$ERR" "jsonl:" "SIG$sig records no item as an interrupted failure"
  expect_not_in "$ERR" "did not commit" "SIG$sig: the previous set was whole"
  echo "SIG$sig, CPU-bound: exit $CODE after $STOP_MS ms"
  [ "$STOP_MS" -lt 2000 ] && ok || bad "SIG$sig on a CPU-bound run stops soon (took $STOP_MS ms)"
  expect_same_file cpu.jsonl ref.jsonl "SIG$sig keeps the previous output"
  expect_same_file cpu.manifest.json ref.manifest.json "SIG$sig keeps the previous manifest"
  expect_same_file cpu.skipped.jsonl ref.skipped.jsonl "SIG$sig keeps the previous skipped file"
  no_temps cpu && ok || bad "SIG$sig leaves no temporary file"

  # Short synchronous items, 120,000 of them: never reach the count hook.
  rm -f short.*
  interrupt $sig 0.5 run chat_mask -i chats.jsonl -o short.jsonl
  expect_code 130 "SIG$sig on short items exits 130"
  echo "SIG$sig, 120,000 short items: exit $CODE after $STOP_MS ms"
  [ "$STOP_MS" -lt 1000 ] && ok || bad "SIG$sig on short items stops soon (took $STOP_MS ms)"
  expect_eq "$(ls | grep -c '^short\.')" 0 "SIG$sig on short items writes nothing"
done

# The rerun finishes the job, with the bytes of an uninterrupted run.
lc run chat_mask -i chats.jsonl -o short.jsonl -q
expect_code 0 "the rerun after Ctrl-C"
expect_same_file short.jsonl chats_ref.jsonl "the rerun's output equals an uninterrupted run's"

# A second Ctrl-C ends the process at once, even where the first cannot act
# (a setup blocked in C for 3 s).
echo '{"a":1}' >one.jsonl
"$LACUNA" run "$FIX/recipes/slow_setup.lua" --trust -i one.jsonl -o slow.jsonl >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -INT $pid
sleep 0.3
t0=$(now)
kill -INT $pid
wait $pid
CODE=$?
STOP_MS=$((($(now) - t0) / 1000000))
expect_code 130 "a second Ctrl-C exits 130"
echo "second Ctrl-C during a 3 s blocked setup: exit $CODE after $STOP_MS ms"
[ "$STOP_MS" -lt 1000 ] && ok || bad "a second Ctrl-C stops at once (took $STOP_MS ms)"
[ ! -e slow.jsonl ] && ok || bad "a second Ctrl-C commits nothing"
sleep 3 # the orphaned `sleep 3` of the killed setup
lc run "$FIX/recipes/slow_setup.lua" --trust -i one.jsonl -o slow.jsonl -q
expect_code 0 "the rerun after a second Ctrl-C"
expect_in "$ERR" "removed 3 temporary files of an interrupted run" "the rerun removes what the hard stop left"
no_temps slow && ok || bad "nothing temporary is left after the rerun"
expect_eq "$(lines slow.jsonl)" 1 "the rerun wrote the output"

# One Ctrl-C during the blocked setup takes effect when it returns.
interrupt INT 0.5 run "$FIX/recipes/slow_setup.lua" --trust -i one.jsonl -o slow2.jsonl
expect_code 130 "one Ctrl-C during a blocked setup exits 130 after it"
[ ! -e slow2.jsonl ] && ok || bad "one Ctrl-C during setup commits nothing"

finish
