#!/usr/bin/env bash
# VAL probing at FILM's size, against references measured in the same run:
#   build  lacuna run val_probe on FILM's pieces (3 kinds, 800/800/750 x 4 sets,
#          32,000 tokens; the approximate counter, and Llama 3 when its files are
#          in ~/.cache/lacuna) against cp of the output it wrote (the I/O limit);
#          wall time and peak RSS.
#   eval   lacuna eval of those probes against tests/teacher/server.mjs
#          (scripts/val_thirds.mjs) at --concurrency 64, with the cache, and
#          rerun from the cache, against a minimal Node client posting the same
#          request bodies to the same server, 64 in flight (its HTTP limit); probes/s.
# Usage: tests/bench/run_val.sh [--quick]   (BUILD=build; VALPROBING=../shared/data/valprobing;
#   REPS=3 runs of each eval line, the median kept; the builds run once;
#   --quick: 200/200/190 positions x 1 set of 8,000 tokens). Prints markdown tables.
# Exit 0 ok, 1 a run failed, 2 setup.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SIZE=(-p tokens=32000)
case "${1:-}" in
  "") ;;
  --quick) SIZE=(-p tokens=8000 -p sets=1 -p positions_document=200 -p positions_code=200 -p positions_database=190) ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
BUILD=${BUILD:-build}
REPS=${REPS:-3}
if [[ ! -d $BUILD && -d $ROOT/$BUILD ]]; then BUILD=$ROOT/$BUILD; fi
LACUNA=$BUILD/lacuna
VAL=${VALPROBING:-$ROOT/../shared/data/valprobing}
MODEL=${LACUNA_CACHE:-$HOME/.cache/lacuna}/models/llama3
for tool in node python3 /usr/bin/time; do command -v $tool >/dev/null || { echo "missing: $tool" >&2; exit 2; }; done
[[ -x $LACUNA ]] || { echo "$LACUNA not found (build first, or set BUILD=)" >&2; exit 2; }
for f in document_sentences code_functions database_entities; do
  [[ -f $VAL/$f.jsonl ]] || { echo "$VAL/$f.jsonl not found (set VALPROBING=)" >&2; exit 2; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lacuna-bench.XXXXXX")
SERVER=
trap '[[ -n $SERVER ]] && kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
IN=(-i "$VAL/document_sentences.jsonl" -i "$VAL/code_functions.jsonl" -i "$VAL/database_entities.jsonl")

# timed NAME CMD...: runs CMD, keeps "seconds peak_kb" in $WORK/NAME.time
timed() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" ||
    { echo "failed: $*" >&2; cat "$WORK/$name.err" >&2; exit 1; }
}
secs() { cut -d' ' -f1 "$WORK/$1.time"; }
mb() { awk '{ printf "%.0f", $2 / 1024 }' "$WORK/$1.time"; }
# median NAME CMD...: REPS runs of CMD (each may use $REP); keeps the median run's "seconds peak_kb".
median() {
  local name=$1; shift
  for ((REP = 1; REP <= REPS; REP++)); do
    timed "$name.$REP" "$@"
    cat "$WORK/$name.$REP.time"
  done | sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }' >"$WORK/$name.time"
}

echo "| build (FILM's pieces) | seconds | peak RSS MB | probes planned = ok + skipped | output MB |"
echo "|---|---|---|---|---|"
builds=(approx)
[[ -f $MODEL/tokenizer.json ]] && builds+=(llama3)
for b in "${builds[@]}"; do
  tok=()
  [[ $b == llama3 ]] && tok=(--tokenizer "$MODEL")
  timed "build_$b" "$LACUNA" run val_probe "${IN[@]}" -o "$WORK/$b.jsonl" "${SIZE[@]}" "${tok[@]}" --no-progress
  timed "cp_$b" cp "$WORK/$b.jsonl" "$WORK/copy.jsonl"
  rm -f "$WORK/copy.jsonl"
  counts=$(grep -o '[0-9]* planned = [0-9]* ok' "$WORK/build_$b.err" | head -1)
  skipped=$(grep -o '+ [0-9]* skipped' "$WORK/build_$b.err" | head -1)
  echo "| val_probe, $b counter | $(secs "build_$b") | $(mb "build_$b") | $counts $skipped | $(( $(stat -c %s "$WORK/$b.jsonl") / 1000000 )) |"
  echo "| cp of that output (I/O limit) | $(secs "cp_$b") | $(mb "cp_$b") | | |"
done
PROBES=$WORK/${builds[-1]}.jsonl
N=$(wc -l <"$PROBES")

node "$ROOT/tests/teacher/server.mjs" --port 0 --port-file "$WORK/port" --script "$ROOT/tests/teacher/scripts/val_thirds.mjs" \
  --max-lifetime-s 1800 >"$WORK/server.out" 2>&1 &
SERVER=$!
for _ in $(seq 100); do [[ -s $WORK/port ]] && break; sleep 0.05; done
URL=http://127.0.0.1:$(cat "$WORK/port")/v1
# The same request bodies, posted by a minimal Node client (keep-alive, 64 in
# flight, nothing parsed): the server's own limit on these cores.
python3 - "$PROBES" "$WORK/bodies.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for line in open(sys.argv[1], encoding="utf-8"):
        body = {"model": "m", "messages": json.loads(line)["prompt"], "temperature": 0, "max_tokens": 128}
        out.write(json.dumps(body, ensure_ascii=False) + "\n")
PY
cat >"$WORK/post.mjs" <<'JS'
import fs from 'node:fs';
import http from 'node:http';
const [file, url] = process.argv.slice(2);
const buf = fs.readFileSync(file); // bytes: 1 GB is past the longest string Node allows
const bodies = [];
for (let at = 0; at < buf.length;) {
  let end = buf.indexOf(10, at);
  if (end < 0) end = buf.length;
  if (end > at) bodies.push(buf.subarray(at, end));
  at = end + 1;
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let next = 0, failed = 0;
function one() {
  if (next >= bodies.length) return Promise.resolve();
  const body = bodies[next++];
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/json',
      'Content-Length': body.length } }, (res) => {
      if (res.statusCode !== 200) failed++;
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => { failed++; resolve(); });
    req.end(body);
  }).then(one);
}
await Promise.all(Array.from({ length: 64 }, one));
agent.destroy();
if (failed) { console.error(`${failed} requests failed`); process.exit(1); }
JS
median post node "$WORK/post.mjs" "$WORK/bodies.jsonl" "$URL/chat/completions"
# (a new cache for each run)
median eval bash -c 'rm -f "$1"*; exec "$2" eval "$3" -o "$4" --model m --base-url "$5" --concurrency 64 --cache "$1" \
  --no-progress' _ "$WORK/cache.db" "$LACUNA" "$PROBES" "$WORK/pred.jsonl" "$URL"
median rerun "$LACUNA" eval "$PROBES" -o "$WORK/pred2.jsonl" --model m --base-url "$URL" --concurrency 64 \
  --cache "$WORK/cache.db" --no-progress
rate() { awk -v n="$N" -v s="$(secs "$1")" 'BEGIN { printf "%.0f", n / (s > 0 ? s : 0.001) }'; }
echo
echo "| eval of $N probes, concurrency 64, median of $REPS | seconds | probes/s | peak RSS MB |"
echo "|---|---|---|---|"
echo "| Node client, 64 in flight, same bodies (HTTP limit) | $(secs post) | $(rate post) | $(mb post) |"
echo "| lacuna eval, cache on | $(secs eval) | $(rate eval) | $(mb eval) |"
echo "| lacuna eval, rerun from the cache | $(secs rerun) | $(rate rerun) | $(mb rerun) |"
awk -v e="$(secs eval)" -v c="$(secs post)" 'BEGIN { printf "lacuna eval time / Node client time: %.2f\n", e / (c > 0 ? c : 0.001) }'
