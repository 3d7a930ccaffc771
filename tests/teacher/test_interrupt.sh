#!/usr/bin/env bash
# SIGINT and SIGTERM on a teacher-bound run (issue 8, point 1): with requests
# in flight to a slow server, the run stops at once (it does not wait for the
# replies), exits 130, keeps the previous outputs, and the rerun finishes from
# the cache with the bytes of an uninterrupted run.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
ASK=$TEACHER_DIR/recipes/ask.lua
Q=$TMP/q.jsonl
for i in $(seq 1 120); do echo "{\"question\":\"Interrupt me $i\"}"; done >"$Q"

# Replies do not depend on the latency: the baseline runs fast, the
# interrupted runs against replies that take 1.5 s.
start_server
COMMON=(--model m1 --base-url "$BASE_URL" --no-progress -q --concurrency 8)
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/base.jsonl" "${COMMON[@]}" --no-cache
expect_eq "$?" 0 "baseline"

for sig in INT TERM; do
  db=$TMP/$sig.db
  out=$TMP/$sig.jsonl
  # A previous set under OUT, which the interrupted run must not touch.
  cp "$TMP/base.jsonl" "$out"
  cp "$TMP/base.manifest.json" "$TMP/$sig.manifest.json"
  server_config '{"latency_ms": 1500}'
  "$LACUNA" run "$ASK" -i "$Q" -o "$out" "${COMMON[@]}" --cache "$db" 2>"$TMP/$sig.err" &
  pid=$!
  sleep 3.8 # two rounds of 8 replies done, 8 requests in flight
  t0=$(date +%s%N)
  kill -$sig $pid
  wait $pid
  code=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  expect_eq "$code" 130 "SIG$sig on a teacher-bound run exits 130"
  echo "SIG$sig, teacher-bound (replies take 1.5 s): exit $code after $ms ms"
  [ "$ms" -lt 1000 ] && ok || bad "SIG$sig stops without waiting for the replies in flight (took $ms ms)"
  expect_in "$(cat "$TMP/$sig.err")" "interrupted after" "SIG$sig says so"
  expect_true "SIG$sig keeps the previous output" cmp -s "$out" "$TMP/base.jsonl"
  expect_true "SIG$sig keeps the previous manifest" cmp -s "$TMP/$sig.manifest.json" "$TMP/base.manifest.json"
  ls "$TMP" | grep -q "^$sig\..*\.tmp" && bad "SIG$sig leaves temporary files" || ok
  # The rerun finishes from the cache: only what was not cached is sent.
  n_cached=$("$LACUNA" cache stats --cache "$db" | awk '/^entries:/ {print $2}')
  [ "$n_cached" -gt 0 ] && [ "$n_cached" -lt 120 ] && ok || bad "SIG$sig: part of the run is cached ($n_cached)"
  server_config '{"latency_ms": 0}'
  wait_idle 3 # the abandoned requests finish on the server
  reset_stats
  "$LACUNA" run "$ASK" -i "$Q" -o "$out" "${COMMON[@]}" --cache "$db"
  expect_eq "$?" 0 "SIG$sig: the rerun completes"
  expect_true "SIG$sig: the rerun's output is byte-identical" cmp -s "$out" "$TMP/base.jsonl"
  expect_eq "$(stat_get '.requests')" "$((120 - n_cached))" "SIG$sig: the rerun sends only what was not cached"
done

finish
