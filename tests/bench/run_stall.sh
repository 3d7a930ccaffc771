#!/usr/bin/env bash
# Head-of-line stall benchmark (issue 15, point 4): lacuna runs
# tests/bench/teacher_bench.lua (one teacher request per item) against the
# loopback test server (tests/teacher/server.mjs) with 50 ms latency and 45%
# injected faults (the default quick, retryable kinds: 429, 5xx, resets,
# truncated and bad bodies), with the default --concurrency 16 and retry
# policy. Output is written in input order, so an item stuck in retries holds
# back the ones after it; rows:
#   default                        no --window: what users get
#   --window W                     W unfinished items, the order buffer at its default
#   --window W --order-items W     the order buffer no larger than the window (as before issue 15)
# For each: wall time and peak RSS (GNU time), median of 3 runs; time against
# the best row's, peak RSS against the as-before default (--window 64
# --order-items 64); the server's mean requests in flight (time-weighted).
# Goal: the default within 1.3x of the best time, its peak RSS within ±20%.
#
# Usage: tests/bench/run_stall.sh [--quick]
#   BUILD=path/to/build (default: build)   where the lacuna executable lives
#   --quick   400 items, 1 run each (about 3 minutes); default 1,000 items, median of 3
# Needs node >= 18, curl, jq, python3 and GNU time. Not part of ctest.
# Exit status: 0 all ran and checks passed, 1 a run or check failed, 2 setup.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SERVER_JS=$ROOT/tests/teacher/server.mjs
RECIPE=$HERE/teacher_bench.lua
LATENCY_MS=50
FAULT_RATE=0.45

QUICK=0
case "${1:-}" in
  "") ;;
  --quick) QUICK=1 ;;
  -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
if ((QUICK)); then N=400; REPS=1; else N=1000; REPS=3; fi
ROWS=("default" "--window 16" "--window 64" "--window 256" "--window 1024"
      "--window 64 --order-items 64" "--window 512 --order-items 512")
REF_RSS_ROW="--window 64 --order-items 64"

BUILD=${BUILD:-build}
if [[ ! -d $BUILD && -d $ROOT/$BUILD ]]; then BUILD=$ROOT/$BUILD; fi
LACUNA=$BUILD/lacuna
missing=()
[[ -x /usr/bin/time ]] && /usr/bin/time -f '%M' true 2>/dev/null || missing+=(time)
for t in node curl jq python3; do command -v $t >/dev/null || missing+=($t); done
if ((${#missing[@]})); then echo "missing tools: ${missing[*]}" >&2; exit 2; fi
[[ -x $LACUNA ]] || { echo "$LACUNA not found (build first, or set BUILD=)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lacuna-bench-stall.XXXXXX")
SERVER_PID=
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

node "$SERVER_JS" --port 0 --port-file "$WORK/port" --latency-ms "$LATENCY_MS" --fault-rate "$FAULT_RATE" \
  --max-lifetime-s 7200 >"$WORK/server.out" 2>&1 &
SERVER_PID=$!
for ((i = 0; i < 200; i++)); do [[ -s $WORK/port ]] && break; sleep 0.05; done
[[ -s $WORK/port ]] || { echo "test server did not start: $(cat "$WORK/server.out")" >&2; exit 2; }
URL=http://127.0.0.1:$(cat "$WORK/port")

python3 - "$WORK/prompts.jsonl" "$N" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"prompt": "Question %d: a train leaves at %d:00 and travels %d km. When?" % (i, i % 24, 10 + i % 900)}) + "\n")
PY
export OPENAI_API_KEY=sk-bench-not-a-secret

status=0
declare -A TIME RSS INF DONE
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for row in "${ROWS[@]}"; do
  opts=()
  [[ $row != default ]] && read -r -a opts <<<"$row"
  times=() rsss=() infs=()
  for ((r = 1; r <= REPS; r++)); do
    echo "$row: run $r of $REPS..." >&2
    curl -sf -X POST "$URL/reset-stats" >/dev/null
    out=$WORK/out.jsonl
    t0=$EPOCHREALTIME
    if ! /usr/bin/time -f '%M' -o "$WORK/time.txt" "$LACUNA" run "$RECIPE" -i "$WORK/prompts.jsonl" -o "$out" \
         --no-cache --base-url "$URL/v1" -q "${opts[@]}" 2>"$WORK/stderr.log"; then
      # Items that failed every retry make the exit status 1; the counts are checked below.
      :
    fi
    t1=$EPOCHREALTIME
    m=${out%.jsonl}.manifest.json
    if [[ ! -f $m ]]; then
      echo "error: $row: no manifest; stderr:" >&2; tail -n 5 "$WORK/stderr.log" >&2; status=1; continue
    fi
    got=$(jq '.counts.ok + .counts.failed' "$m")
    if [[ $got != "$N" ]]; then echo "CHECK FAILED: $row: ok + failed = $got, want $N" >&2; status=1; fi
    stats=$(curl -sf "$URL/stats")
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
    rsss+=("$(tail -n 1 "$WORK/time.txt")")
    infs+=("$(jq 'if .window_ms > 0 then .in_flight_ms_sum / .window_ms else 0 end' <<<"$stats")")
    DONE[$row]=$(jq .counts.ok "$m")
    rm -f "$WORK"/out.*
  done
  ((${#times[@]})) || continue
  TIME[$row]=$(median "${times[@]}")
  RSS[$row]=$(median "${rsss[@]}")
  INF[$row]=$(median "${infs[@]}")
done

best=
for row in "${ROWS[@]}"; do
  t=${TIME[$row]:-}
  [[ -n $t ]] || continue
  if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
done
ref_rss=${RSS[$REF_RSS_ROW]:-}

echo
echo "## Head-of-line stalls: window sizes under ${FAULT_RATE} faults"
echo
echo "$(uname -srm), $(nproc) CPUs, node $(node --version). $N items, one request each; server latency ${LATENCY_MS} ms,"
echo "fault rate $FAULT_RATE (default kinds), lacuna's defaults otherwise (--concurrency 16, 6 retries, backoff 0.5 s)."
echo "Median of $REPS run(s). Time ratio against the best row; RSS ratio against \`$REF_RSS_ROW\` (as before)."
echo
echo "| options | wall s | x best | peak RSS MiB | x as-before RSS | mean in flight (server) | ok items (last run) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for row in "${ROWS[@]}"; do
  t=${TIME[$row]:-}
  if [[ -z $t ]]; then echo "| \`$row\` | failed | - | - | - | - | - |"; continue; fi
  awk -v row="$row" -v t="$t" -v b="$best" -v r="${RSS[$row]}" -v rr="${ref_rss:-0}" -v f="${INF[$row]}" \
      -v d="${DONE[$row]}" 'BEGIN {
    printf "| `%s` | %.1f | %.2f | %.1f | %s | %.1f | %s |\n", row, t, t / b, r / 1024,
      (rr > 0 ? sprintf("%.2f", r / rr) : "-"), f, d }'
done
echo
if [[ -n ${TIME[default]:-} && -n $ref_rss ]]; then
  awk -v t="${TIME[default]}" -v b="$best" -v r="${RSS[default]}" -v rr="$ref_rss" 'BEGIN {
    printf "- default: %.2fx the best time (goal <= 1.3), peak RSS %.2fx as before (goal 0.8..1.2).\n", t / b, r / rr }'
fi
echo "- mean in flight: the server's time-weighted count of requests in flight over the run (at most 16)."
exit $status
