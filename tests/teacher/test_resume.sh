#!/usr/bin/env bash
# Crash and resume: kill -9 at random moments, then the same command again,
# ends with byte-identical output and never repeats a request that had
# completed; SIGINT stops cleanly and the rerun resumes; a batch export
# round-trips through the Batch API format.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
ASK=$TEACHER_DIR/recipes/ask.lua
Q=$TMP/q.jsonl
for i in $(seq 1 300); do echo "{\"question\":\"Question number $i: what is $i squared?\"}"; done >"$Q"
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo missing; fi; }

start_server --latency-ms 40
COMMON=(--model m1 --base-url "$BASE_URL" --no-progress -q --concurrency 8)

"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/base.jsonl" "${COMMON[@]}" --no-cache
expect_eq "$(lines "$TMP/base.jsonl")" 300 "baseline"

# Digests (the server's name for a request) of the responses in a cache.
cached_digests() {
  rm -f "$TMP/export.jsonl"
  "$LACUNA" cache export "$TMP/export.jsonl" --cache "$1" 2>>"$TMP/export.err" || { echo "cache export failed: $(cat "$TMP/export.err")" >&2; return 0; }
  python3 - "$TMP/export.jsonl" <<'PY'
import json, re, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    text = r["response"]["choices"][0]["message"]["content"]
    m = re.search(r"\[([0-9a-f]{16})\]", text)
    if m: print(m.group(1))
PY
}

for trial in $(seq 1 10); do
  db=$TMP/kill$trial.db
  out=$TMP/kill$trial.jsonl
  reset_stats
  "$LACUNA" run "$ASK" -i "$Q" -o "$out" "${COMMON[@]}" --cache "$db" &
  pid=$!
  # 0.05 .. 0.75 s: from before the first response to most of the run.
  sleep "0.$(( (RANDOM % 70) + 5 ))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [ -e "$out" ] && bad "trial $trial: the killed run left a finished output" || ok
  cached_digests "$db" | sort >"$TMP/before"
  server_stats | jq -c '.completed' >"$TMP/completed_before"
  "$LACUNA" run "$ASK" -i "$Q" -o "$out" "${COMMON[@]}" --cache "$db"
  expect_eq "$?" 0 "trial $trial: the rerun succeeds"
  expect_true "trial $trial: the rerun's output is byte-identical" cmp -s "$out" "$TMP/base.jsonl"
  # Every request whose response was cached before the rerun is never sent
  # again: its count of completed replies does not grow during the rerun.
  server_stats | jq -c '.completed' >"$TMP/completed_after"
  repeated=$(python3 - "$TMP/before" "$TMP/completed_before" "$TMP/completed_after" <<'PY'
import json, sys
cached = [l.strip() for l in open(sys.argv[1]) if l.strip()]
b, a = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
print(sum(1 for d in cached if a.get(d, 0) > b.get(d, 0)))
PY
)
  expect_eq "$repeated" 0 "trial $trial: no completed request repeated ($(grep -c . "$TMP/before") were cached)"
done

# SIGINT: a clean stop (exit 130, nothing half-written), then the rerun resumes.
db=$TMP/int.db
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/int.jsonl" "${COMMON[@]}" --cache "$db" &
pid=$!
sleep 0.4
kill -INT "$pid"
wait "$pid"
expect_eq "$?" 130 "SIGINT: exit code 130"
[ -e "$TMP/int.jsonl" ] && bad "SIGINT: no output written" || ok
ls "$TMP" | grep -q 'int.*\.tmp' && bad "SIGINT: temporary files left behind" || ok
n_cached=$(cached_digests "$db" | grep -c .)
reset_stats
"$LACUNA" run "$ASK" -i "$Q" -o "$TMP/int.jsonl" "${COMMON[@]}" --cache "$db"
expect_eq "$?" 0 "SIGINT: the rerun completes"
expect_true "SIGINT: the rerun's output is byte-identical" cmp -s "$TMP/int.jsonl" "$TMP/base.jsonl"
expect_eq "$(stat_get '.requests')" "$((300 - n_cached))" "SIGINT: the rerun sends only what was not cached ($n_cached were)"

# Batch export: misses go to a Batch API input file (exit 3); a Batch output
# file made from it is imported; the rerun completes from the cache alone.
db=$TMP/batch.db
head -40 "$Q" >"$TMP/q40.jsonl"
"$LACUNA" run "$ASK" -i "$TMP/q40.jsonl" -o "$TMP/batch.jsonl" "${COMMON[@]}" --cache "$db" \
  --batch-export "$TMP/batch_in.jsonl"
expect_eq "$?" 3 "batch export: exit code 3"
[ -e "$TMP/batch.jsonl" ] && bad "batch export: no output yet" || ok
expect_eq "$(lines "$TMP/batch_in.jsonl")" 40 "batch export: one request per miss"
expect_eq "$(jq -r 'select(.method == "POST" and .url == "/v1/chat/completions" and (.custom_id | length) == 64) | .custom_id' "$TMP/batch_in.jsonl" | sort -u | wc -l)" 40 \
  "batch export: OpenAI Batch input lines with the cache key as custom_id"
# Play the Batch API: answer every line with the test server.
python3 - "$TMP/batch_in.jsonl" "$TMP/batch_out.jsonl" "$BASE_URL" <<'PY'
import json, sys, urllib.request
src, dst, base = sys.argv[1:4]
with open(dst, "w") as out:
    for i, line in enumerate(open(src)):
        req = json.loads(line)
        data = json.dumps(req["body"]).encode()
        r = urllib.request.urlopen(urllib.request.Request(base + "/chat/completions", data=data,
                                   headers={"Content-Type": "application/json"}))
        body = json.loads(r.read())
        out.write(json.dumps({"id": "batch_req_%d" % i, "custom_id": req["custom_id"],
                              "response": {"status_code": 200, "request_id": "r%d" % i, "body": body},
                              "error": None}) + "\n")
PY
"$LACUNA" cache import-batch "$TMP/batch_out.jsonl" --cache "$db" 2>"$TMP/imp.err"
expect_eq "$?" 0 "import-batch"
reset_stats
"$LACUNA" run "$ASK" -i "$TMP/q40.jsonl" -o "$TMP/batch.jsonl" "${COMMON[@]}" --cache "$db" --cache-only
expect_eq "$?" 0 "batch: the rerun completes from the cache"
expect_eq "$(stat_get '.requests')" 0 "batch: the rerun sends nothing"
expect_true "batch: output identical to calling the teacher directly" cmp -s "$TMP/batch.jsonl" <(head -40 "$TMP/base.jsonl")

finish
