#!/usr/bin/env bash
# Teacher benchmark (issue 3): lacuna's teacher transport against the loopback
# test server (tests/teacher/server.mjs) with a fixed 50 ms latency, side by
# side in the same run with curl sending the same requests:
#   curl -s -Z --parallel-max N --parallel-immediate -K CONFIG   (N url/data/header entries)
#   lacuna run tests/bench/teacher_bench.lua -i PROMPTS -o OUT --concurrency N --no-cache ...
# Both send {"model":"bench","messages":[{"role":"user","content":PROMPT}]}; the
# server's per-request digests prove that both sent the same requests.
# For each concurrency 1, 16, 64, 256: achieved requests/s against the ideal
# (N / 0.05 s), client CPU per request (user+sys of the client process over the
# requests, GNU time), peak RSS, the most requests the server saw in flight and
# the connections opened. Then the cache: a run fills a fresh --cache DB from a
# 0 ms server, a --cache-only rerun reads it back (responses/s; goal >= 50,000/s).
#
# Usage: tests/bench/run_teacher.sh [--quick]
#   BUILD=path/to/build (default: build)   where the lacuna executable lives
#   --quick   fewer requests, 1 repetition (< 60 s); default: 5,000 requests per
#             concurrency (200 at concurrency 1), 50,000 for the cache, median of 3
# Needs node >= 18, curl, jq, python3 and GNU time. Not part of ctest.
# Exit status: 0 all ran and checks passed, 1 a run or check failed, 2 setup.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SERVER_JS=$ROOT/tests/teacher/server.mjs
RECIPE=$HERE/teacher_bench.lua
LATENCY_MS=50

QUICK=0
case "${1:-}" in
  "") ;;
  --quick) QUICK=1 ;;
  -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
CONCS=(1 16 64 256)
declare -A NREQ
if ((QUICK)); then
  NREQ=([1]=40 [16]=1000 [64]=2000 [256]=5000); REPS=1; CACHE_N=10000
else
  NREQ=([1]=200 [16]=5000 [64]=5000 [256]=5000); REPS=3; CACHE_N=50000
fi

BUILD=${BUILD:-build}
# CACHE_PART=1: only the cache rows (the transport at concurrency 1..256 skipped).
CACHE_PART=${CACHE_PART:-0}
((CACHE_PART)) && CONCS=()
if [[ ! -d $BUILD && -d $ROOT/$BUILD ]]; then BUILD=$ROOT/$BUILD; fi
LACUNA=$BUILD/lacuna

missing=()
[[ -x /usr/bin/time ]] && /usr/bin/time -f '%M' true 2>/dev/null || missing+=(time)
for t in node curl jq python3; do command -v $t >/dev/null || missing+=($t); done
if ((${#missing[@]})); then
  echo "missing tools: ${missing[*]}" >&2
  exit 2
fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
  { echo "node >= 18 needed" >&2; exit 2; }
lacuna_ok=1
if [[ ! -x $LACUNA ]]; then
  echo "warning: $LACUNA not found (build first, or set BUILD=); lacuna rows will be n/a" >&2
  lacuna_ok=0
elif [[ ! -f $RECIPE ]]; then
  echo "warning: $RECIPE not found; lacuna rows will be n/a" >&2
  lacuna_ok=0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lacuna-bench-teacher.XXXXXX")
SERVER_PIDS=()
cleanup() {
  local p
  for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_server NAME LATENCY_MS: a server on a free port; sets PORT_<NAME>.
start_server() {
  local name=$1 lat=$2 pf=$WORK/$1.port i
  node "$SERVER_JS" --port 0 --port-file "$pf" --latency-ms "$lat" --max-lifetime-s 3600 \
    >"$WORK/$name.out" 2>&1 &
  SERVER_PIDS+=($!)
  for ((i = 0; i < 200; i++)); do [[ -s $pf ]] && break; sleep 0.05; done
  [[ -s $pf ]] || { echo "test server $name did not start: $(cat "$WORK/$name.out")" >&2; exit 2; }
  printf -v "PORT_$name" '%s' "$(cat "$pf")"
}
start_server lat "$LATENCY_MS"
start_server fast 0
URL_LAT=http://127.0.0.1:$PORT_lat
URL_FAST=http://127.0.0.1:$PORT_fast

# Prompts (JSONL for lacuna) and, per request count, a curl config with the
# same request bodies. curl config strings escape " and \ with a backslash;
# `next` keeps each entry's data and header to its own URL.
max_n=0
for c in "${CONCS[@]}"; do ((NREQ[$c] > max_n)) && max_n=${NREQ[$c]}; done
echo "generating prompts and curl configs..." >&2
python3 - "$WORK" "$URL_LAT/v1/chat/completions" "$max_n" "$CACHE_N" "${NREQ[@]}" <<'PY'
import json, sys
work, url, max_n, cache_n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
counts = sorted(set(int(x) for x in sys.argv[5:]))
def prompt(i):
    return "Question %d: a train leaves at %d:00 and travels %d km at %d km/h. When does it arrive?" % (
        i, i % 24, 10 + i % 900, 40 + i % 80)
with open(work + "/prompts.jsonl", "w") as f:
    for i in range(max(max_n, cache_n)):
        f.write(json.dumps({"prompt": prompt(i)}) + "\n")
for n in counts:
    with open("%s/curl_%d.cfg" % (work, n), "w") as f:
        for i in range(n):
            body = json.dumps({"model": "bench", "messages": [{"role": "user", "content": prompt(i)}]},
                              separators=(",", ":"))
            esc = body.replace("\\", "\\\\").replace('"', '\\"')
            if i:
                f.write("next\n")
            f.write('url = "%s"\nheader = "Content-Type: application/json"\ndata = "%s"\noutput = "/dev/null"\n' % (url, esc))
PY
for n in "${NREQ[@]}" "$CACHE_N"; do head -n "$n" "$WORK/prompts.jsonl" >"$WORK/prompts_$n.jsonl"; done

# lacuna may want a key to be set; the server does not check it.
export OPENAI_API_KEY=sk-bench-not-a-secret

status=0
declare -A RATE CPU RSS INF CONN WIN DIG REPLY
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# run_timed CMD...: runs CMD; sets T_WALL (s, bash's microsecond clock),
# T_CPU (user+sys s) and T_RSS (KiB) from GNU time. Returns CMD's status.
run_timed() {
  local tfile=$WORK/time.txt t0 t1 rc=0
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%U %S %M' -o "$tfile" "$@" >/dev/null 2>>"$WORK/stderr.log" || rc=$?
  t1=$EPOCHREALTIME
  T_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  read -r u s T_RSS < <(tail -n 1 "$tfile")
  T_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
  return $rc
}

# measure TOOL CONC URL CMD...: REPS runs against the server at URL; records
# medians of rate and CPU per request, max RSS, and the server's view.
measure() {
  local tool=$1 c=$2 url=$3; shift 3
  local n=${NREQ[$c]} rates=() cpus=() rsss=() i stats got
  for ((i = 1; i <= REPS; i++)); do
    curl -sf -X POST "$url/reset-stats" >/dev/null
    : >"$WORK/stderr.log"
    if ! run_timed "$@"; then
      echo "error: $tool at concurrency $c failed:" >&2
      tail -n 5 "$WORK/stderr.log" >&2
      RATE[$tool,$c]=fail; status=1
      return 1
    fi
    stats=$(curl -sf "$url/stats")
    got=$(jq -r '.by_status["200"] // 0' <<<"$stats")
    if [[ $got != "$n" || $(jq -r .requests <<<"$stats") != "$n" ]]; then
      echo "CHECK FAILED: $tool at concurrency $c: server saw $(jq -r .requests <<<"$stats") requests, $got answered 200, want $n" >&2
      status=1
    fi
    rates+=("$(awk -v n="$n" -v w="$T_WALL" 'BEGIN { printf "%.1f", n / w }')")
    cpus+=("$(awk -v n="$n" -v c="$T_CPU" 'BEGIN { printf "%.1f", c / n * 1e6 }')")
    rsss+=("$T_RSS")
  done
  RATE[$tool,$c]=$(median "${rates[@]}")
  CPU[$tool,$c]=$(median "${cpus[@]}")
  RSS[$tool,$c]=$(maxof "${rsss[@]}")
  INF[$tool,$c]=$(jq -r .max_in_flight <<<"$stats")
  CONN[$tool,$c]=$(jq -r .connections <<<"$stats")
  WIN[$tool,$c]=$(jq -r .window_ms <<<"$stats")
  REPLY[$tool,$c]=$(jq -r .mean_reply_ms <<<"$stats")
  # Which requests were sent: a hash of the sorted canonical digests.
  DIG[$tool,$c]=$(jq -r '.completed | keys | join(",")' <<<"$stats" | sha256sum | cut -c1-16)
}

for c in "${CONCS[@]}"; do
  n=${NREQ[$c]}
  echo "concurrency $c: $n requests, curl then lacuna (${REPS}x each)..." >&2
  measure curl "$c" "$URL_LAT" curl -s -Z --parallel-max "$c" --parallel-immediate -K "$WORK/curl_$n.cfg" || true
  if ((lacuna_ok)); then
    out=$WORK/out_$c.jsonl
    if measure lacuna "$c" "$URL_LAT" "$LACUNA" run "$RECIPE" -i "$WORK/prompts_$n.jsonl" -o "$out" \
         --concurrency "$c" --no-cache --base-url "$URL_LAT/v1" -q; then
      if [[ $(wc -l <"$out") != "$n" ]]; then
        echo "CHECK FAILED: lacuna at concurrency $c wrote $(wc -l <"$out") examples, want $n" >&2
        status=1
      fi
    fi
    rm -f "$WORK"/out_"$c".*
  else
    RATE[lacuna,$c]=n/a
  fi
done

# ---- the cache ----
CFILL=n/a CFILL_REQ=n/a CREAD=n/a CREAD_REQ=n/a CHITS=n/a CHITS_PROXY=n/a
CREAD_CPU=- CHITS_CPU=- CHITS_PROXY_CPU=-
if ((lacuna_ok)); then
  echo "cache: filling $CACHE_N responses from a 0 ms server, then --cache-only (${REPS}x)..." >&2
  db=$WORK/cache.db
  curl -sf -X POST "$URL_FAST/reset-stats" >/dev/null
  : >"$WORK/stderr.log"
  if run_timed "$LACUNA" run "$RECIPE" -i "$WORK/prompts_$CACHE_N.jsonl" -o "$WORK/fill.jsonl" \
       --concurrency 64 --cache "$db" --base-url "$URL_FAST/v1" -q; then
    CFILL=$(awk -v n="$CACHE_N" -v w="$T_WALL" 'BEGIN { printf "%.0f", n / w }')
    CFILL_REQ=$(curl -sf "$URL_FAST/stats" | jq -r .requests)
    reads=() reads_cpu=()
    curl -sf -X POST "$URL_FAST/reset-stats" >/dev/null
    for ((i = 1; i <= REPS; i++)); do
      if run_timed "$LACUNA" run "$RECIPE" -i "$WORK/prompts_$CACHE_N.jsonl" -o "$WORK/read.jsonl" \
           --concurrency 64 --cache "$db" --cache-only --base-url "$URL_FAST/v1" -q; then
        reads+=("$(awk -v n="$CACHE_N" -v w="$T_WALL" 'BEGIN { printf "%.0f", n / w }')")
        reads_cpu+=("$(awk -v n="$CACHE_N" -v c="$T_CPU" 'BEGIN { printf "%.0f", (c > 0 ? n / c : 0) }')")
        CRSS=$T_RSS
        if ! cmp -s "$WORK/fill.jsonl" "$WORK/read.jsonl"; then
          echo "CHECK FAILED: the --cache-only run's output differs from the filling run's" >&2
          status=1
        fi
      else
        echo "error: --cache-only run failed:" >&2; tail -n 5 "$WORK/stderr.log" >&2; status=1
      fi
    done
    ((${#reads[@]})) && CREAD=$(median "${reads[@]}") CREAD_CPU=$(median "${reads_cpu[@]}")
    # The cache lookups alone, without the rest of a run: on lacuna's teacher
    # object, and through the proxy a recipe holds as ctx.teacher (alternating).
    hits=() hits_proxy=() hits_cpu=() hits_proxy_cpu=()
    for ((i = 1; i <= REPS; i++)); do
      for mode in direct proxy; do
        if out=$(LUA_CPATH="$(cd "$BUILD" && pwd)/?.so" lua5.4 "$HERE/cache_hits.lua" "$db" "$WORK/prompts_$CACHE_N.jsonl" "$CACHE_N" "$mode" 2>>"$WORK/stderr.log"); then
          read -r _ _ rate cpu_rate <<<"$out"
          if [[ $mode == proxy ]]; then
            hits_proxy+=("$rate") hits_proxy_cpu+=("$cpu_rate")
          else
            hits+=("$rate") hits_cpu+=("$cpu_rate")
          fi
        else
          echo "error: cache_hits.lua ($mode) failed:" >&2; tail -n 5 "$WORK/stderr.log" >&2; status=1
        fi
      done
    done
    ((${#hits[@]})) && CHITS=$(median "${hits[@]}") CHITS_CPU=$(median "${hits_cpu[@]}")
    ((${#hits_proxy[@]})) && CHITS_PROXY=$(median "${hits_proxy[@]}") CHITS_PROXY_CPU=$(median "${hits_proxy_cpu[@]}")
    CREAD_REQ=$(curl -sf "$URL_FAST/stats" | jq -r .requests)
    if [[ $CREAD_REQ != 0 ]]; then
      echo "CHECK FAILED: --cache-only runs sent $CREAD_REQ requests to the server" >&2
      status=1
    fi
  else
    echo "error: cache-filling run failed:" >&2; tail -n 5 "$WORK/stderr.log" >&2; status=1
  fi
fi

# ---- report ----
num() { [[ $1 =~ ^[0-9.]+$ ]]; }
echo
echo "## lacuna teacher benchmark"
echo
echo "$(uname -srm), $(nproc) CPUs, node $(node --version), $(curl --version | head -n 1 | cut -d' ' -f1-2)."
echo "Test server on loopback with ${LATENCY_MS} ms latency per request; ideal = concurrency / ${LATENCY_MS} ms."
echo "$REPS repetition(s): median rate and CPU, max RSS. Client and server share the machine's CPUs."
echo
echo "| concurrency | requests | client | req/s | ideal | % of ideal | server-side req/s | server reply ms | CPU µs/req | peak RSS MiB | max in flight | connections |"
echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in "${CONCS[@]}"; do
  n=${NREQ[$c]}
  ideal=$(awk -v c="$c" -v l="$LATENCY_MS" 'BEGIN { printf "%.0f", c * 1000 / l }')
  label=$n
  if ((n < ${NREQ[256]})); then label="$n *"; fi
  for tool in curl lacuna; do
    r=${RATE[$tool,$c]:-n/a}
    if num "$r"; then
      awk -v c="$c" -v n="$label" -v t="$tool" -v r="$r" -v i="$ideal" -v cpu="${CPU[$tool,$c]}" \
          -v rss="${RSS[$tool,$c]}" -v inf="${INF[$tool,$c]}" -v con="${CONN[$tool,$c]}" \
          -v win="${WIN[$tool,$c]}" -v nn="$n" -v rep="${REPLY[$tool,$c]}" 'BEGIN {
        printf "| %s | %s | %s | %.0f | %d | %.1f%% | %.0f | %.1f | %.0f | %.1f | %s | %s |\n", c, n, t, r, i, 100 * r / i, (win > 0 ? nn * 1000 / win : 0), rep, cpu, rss / 1024, inf, con }'
    else
      printf '| %s | %s | %s | %s | %s | - | - | - | - | - | - | - |\n' "$c" "$label" "$tool" "$r" "$ideal"
    fi
  done
done
echo
echo "req/s: requests over the client process's wall time (start-up included); server-side: over the"
echo "span from the first request's arrival to the last reply; server reply ms: mean time from a"
echo "request's arrival to its reply (${LATENCY_MS} ms + the server's own delay); both of the last repetition."
echo "\\* fewer requests at low concurrency, to keep the run short (at concurrency 1 each takes ${LATENCY_MS} ms)."
echo
for c in "${CONCS[@]}"; do
  l=${RATE[lacuna,$c]:-} k=${RATE[curl,$c]:-}
  if num "$l" && num "$k"; then
    awk -v c="$c" -v l="$l" -v k="$k" -v lc="${CPU[lacuna,$c]}" -v kc="${CPU[curl,$c]}" 'BEGIN {
      printf "- concurrency %s: lacuna %.2fx curl'"'"'s rate, %.2fx its CPU per request.\n", c, l / k, (kc > 0 ? lc / kc : 0) }'
    if [[ ${DIG[lacuna,$c]} != "${DIG[curl,$c]}" ]]; then
      echo "- NOTE: at concurrency $c lacuna and curl sent different request bodies (canonical digests differ)."
    fi
  fi
done
if ((lacuna_ok)); then
  echo "- goal: >= 90% of ideal up to 256 in flight, CPU per request no worse than curl's."
  echo
  echo "| cache | responses | responses/s | per CPU second | requests to the server | peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|"
  echo "| fill (0 ms server, concurrency 64) | $CACHE_N | $CFILL | - | $CFILL_REQ | - |"
  if num "$CREAD"; then
    awk -v n="$CACHE_N" -v r="$CREAD" -v c="$CREAD_CPU" -v q="$CREAD_REQ" -v m="${CRSS:-0}" 'BEGIN {
      printf "| --cache-only read | %d | %.0f | %s | %s | %.1f |\n", n, r, c, q, m / 1024 }'
  else
    echo "| --cache-only read | $CACHE_N | $CREAD | - | $CREAD_REQ | - |"
  fi
  echo "| teacher:chat served by the cache, alone (cache_hits.lua) | $CACHE_N | $CHITS | $CHITS_CPU | 0 | - |"
  echo "| ctx.teacher:chat through the recipe's proxy, alone (cache_hits.lua proxy) | $CACHE_N | $CHITS_PROXY | $CHITS_PROXY_CPU | 0 | - |"
  echo
  echo "- per CPU second: responses over the process's user+sys time (for a whole run) or"
  echo "  over the loop's CPU time (cache_hits.lua): what a free core would reach, when other"
  echo "  work shares the machine."
  echo "- cache goals: >= 50,000 responses/s for the --cache-only row, a whole run (read, map,"
  echo "  example, render, write); >= 100,000 lookups/s for the last two rows, the calls alone"
  echo "  (the last as a recipe makes them). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
fi
exit $status
