#!/usr/bin/env bash
# Foundation benchmark: the per-record cost of lacuna's streaming pipeline
# (read JSONL -> recipe map in Lua -> format -> ordered write) against two
# references measured in the same run on the same files:
#   cat  FILE > /dev/null          the I/O limit
#   jq -c '<transform>' FILE       a fast C JSON streamer doing the same job
#   lacuna run chat_mask ...       policy=last, --format axolotl
# The job: turn each chat record into axolotl chat_template
# {"messages":[{"role","content","train"}]} training only the last assistant turn.
#
# Usage: tests/bench/run_foundation.sh [--quick]
#   BUILD=path/to/build (default: build)   where the lacuna executable lives
#   --quick   20 MiB only, 1 repetition (~20 s); default: 20 MiB and 200 MiB, 3 reps
# Prints a markdown table (median wall time per tool and size), the lacuna/jq
# speed ratio and lacuna's peak RSS at 20 MiB vs 200 MiB (it must stay flat).
# Exit status: 0 all ran and checks passed, 1 a run or check failed, 2 setup.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

QUICK=0
case "${1:-}" in
  "") ;;
  --quick) QUICK=1 ;;
  -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
if ((QUICK)); then SIZES=(20); REPS=1; else SIZES=(20 200); REPS=3; fi

BUILD=${BUILD:-build}
if [[ ! -d $BUILD && -d $ROOT/$BUILD ]]; then BUILD=$ROOT/$BUILD; fi
LACUNA=$BUILD/lacuna

# GNU time (not the shell keyword) gives the peak RSS of the measured process.
missing=()
[[ -x /usr/bin/time ]] && /usr/bin/time -f '%M' true 2>/dev/null || missing+=(time)
command -v jq >/dev/null || missing+=(jq)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
  echo "missing tools: ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
  exit 2
fi
lacuna_ok=1
if [[ ! -x $LACUNA ]]; then
  echo "warning: $LACUNA not found (build first, or set BUILD=); lacuna rows will be n/a" >&2
  lacuna_ok=0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lacuna-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

JQ_PROG='(.messages | map(.role) | rindex("assistant")) as $last
  | {messages: [.messages | to_entries[]
      | {role: .value.role, content: .value.content, train: (.key == $last)}]}'

status=0
declare -A WALL RSS RECS BYTES

# run_timed OUTFILE CMD... : runs CMD with stdout to OUTFILE; sets T_WALL
# (seconds, from bash's microsecond clock: %e has only 10 ms resolution) and
# T_RSS (KiB, GNU time's %M). Returns CMD's exit status.
run_timed() {
  local out=$1; shift
  local tfile=$WORK/time.txt t0 t1 rc=0
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%e %M' -o "$tfile" "$@" >"$out" 2>>"$WORK/stderr.log" || rc=$?
  t1=$EPOCHREALTIME
  T_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  T_RSS=$(tail -n 1 "$tfile" | awk '{ print $NF }')
  return $rc
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# measure TOOL SIZE OUTFILE CMD... : REPS runs, records median wall, max RSS.
measure() {
  local tool=$1 size=$2 out=$3; shift 3
  local walls=() rsss=() i
  for ((i = 1; i <= REPS; i++)); do
    : >"$WORK/stderr.log"
    if ! run_timed "$out" "$@"; then
      echo "error: $tool on ${size} MiB failed:" >&2
      tail -n 20 "$WORK/stderr.log" >&2
      WALL[$tool,$size]=fail; RSS[$tool,$size]=fail
      status=1
      return 1
    fi
    walls+=("$T_WALL"); rsss+=("$T_RSS")
  done
  WALL[$tool,$size]=$(median "${walls[@]}")
  RSS[$tool,$size]=$(maxof "${rsss[@]}")
}

for size in "${SIZES[@]}"; do
  in=$WORK/chat_$size.jsonl
  echo "generating ${size} MiB of chat JSONL..." >&2
  python3 "$HERE/gen_chat.py" --size-mb "$size" -o "$in" 2>/dev/null
  RECS[$size]=$(wc -l <"$in")
  BYTES[$size]=$(wc -c <"$in")
  cat "$in" >/dev/null # warm the page cache so every tool reads from memory

  echo "measuring cat, jq, lacuna on ${size} MiB (${REPS}x each)..." >&2
  measure cat "$size" /dev/null cat "$in" || true
  measure jq "$size" "$WORK/jq_$size.jsonl" jq -c "$JQ_PROG" "$in" || true
  if ((lacuna_ok)); then
    if measure lacuna "$size" "$WORK/lacuna_$size.stdout" \
         "$LACUNA" run chat_mask -i "$in" -o "$WORK/lacuna_$size.jsonl" \
         -p policy=last --format axolotl; then
      # Same record count as jq's output, and (on the smallest size) the same
      # role/content/train per turn, ignoring any extra fields lacuna adds.
      got=$(wc -l <"$WORK/lacuna_$size.jsonl")
      want=$(wc -l <"$WORK/jq_$size.jsonl")
      if [[ $got != "$want" ]]; then
        echo "CHECK FAILED: lacuna wrote $got lines, jq $want (${size} MiB)" >&2
        status=1
      fi
      if [[ $size == "${SIZES[0]}" ]] && ! python3 - "$WORK/jq_$size.jsonl" "$WORK/lacuna_$size.jsonl" <<'PY'
import json, sys
bad = n = 0
with open(sys.argv[1], encoding="utf-8") as a, open(sys.argv[2], encoding="utf-8") as b:
    for n, (x, y) in enumerate(zip(a, b), 1):
        want = [(m["role"], m["content"], m["train"]) for m in json.loads(x)["messages"]]
        got = [(m.get("role"), m.get("content"), m.get("train")) for m in json.loads(y)["messages"]]
        if got != want:
            bad += 1
            if bad <= 3:
                i = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
                show = lambda t: t[i][::2] if i < len(t) else "(missing)"
                print("record %d, turn %d: lacuna %r, jq %r (role, train)" % (n, i + 1, show(got), show(want)), file=sys.stderr)
print("content check: %d of %d records differ from jq's" % (bad, n), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
      then
        echo "CHECK FAILED: lacuna's messages differ from jq's (${size} MiB)" >&2
        status=1
      fi
    fi
    rm -f "$WORK/lacuna_$size".*
  else
    WALL[lacuna,$size]=n/a; RSS[lacuna,$size]=n/a
    status=1
  fi
  rm -f "$WORK/jq_$size.jsonl"
done

# ---- report ----
fmt_row() { # tool size
  local tool=$1 size=$2 w=${WALL[$1,$2]} r=${RSS[$1,$2]}
  if [[ $w == fail || $w == n/a ]]; then
    printf '| %s MiB | %s | %s | %s | %s | %s | %s | %s |\n' "$size" "$tool" "${RECS[$size]}" "$w" - - - "$r"
    return
  fi
  awk -v s="$size" -v t="$tool" -v n="${RECS[$size]}" -v b="${BYTES[$size]}" -v w="$w" -v r="$r" 'BEGIN {
    if (w < 0.0001) w = 0.0001
    printf "| %s MiB | %s | %d | %.3f | %.0f | %.1f | %.1f | %.1f |\n", s, t, n, w, n / w, b / 1e6 / w, b / 1048576 / w, r / 1024 }'
}

echo
echo "## lacuna foundation benchmark"
echo
echo "$(uname -srm), $(nproc) CPUs; $REPS repetition(s), median wall time; peak RSS is the max over repetitions."
echo "Inputs are gen_chat.py --size-mb N, which counts MiB (2^20 bytes); MB/s counts 10^6 bytes a second (the issue's unit)."
echo "Job: chat JSONL -> axolotl chat_template, loss on the last assistant turn only."
echo
echo "| input | tool | records | wall s | records/s | MB/s | MiB/s | peak RSS MiB |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for size in "${SIZES[@]}"; do
  for tool in cat jq lacuna; do fmt_row "$tool" "$size"; done
done
echo
num() { [[ $1 =~ ^[0-9.]+$ ]]; }
for size in "${SIZES[@]}"; do
  l=${WALL[lacuna,$size]} j=${WALL[jq,$size]} c=${WALL[cat,$size]}
  if num "$l" && num "$j"; then
    awk -v l="$l" -v j="$j" -v c="$c" -v s="$size" -v b="${BYTES[$size]}" 'BEGIN {
      printf "- %s MiB: lacuna runs at %.2fx jq'"'"'s speed (%.2f s vs %.2f s) at %.1f MB/s; the I/O limit (cat) is %.3f s.\n", s, j / l, l, j, b / 1e6 / l, c }'
  fi
done
if ((${#SIZES[@]} > 1)); then
  a=${RSS[lacuna,${SIZES[0]}]} b=${RSS[lacuna,${SIZES[-1]}]}
  if num "$a" && num "$b"; then
    # Flat: under 1.5x plus 4 MiB of allocator noise; a run that kept the
    # input (or anything per record) would grow by about the input's 10x.
    verdict=$(awk -v a="$a" -v b="$b" 'BEGIN { print (b < 1.5 * a + 4096) ? "flat" : "GROWS" }')
    awk -v a="$a" -v b="$b" -v s0="${SIZES[0]}" -v s1="${SIZES[-1]}" -v v="$verdict" 'BEGIN {
      printf "- lacuna peak RSS: %.1f MiB at %s MiB, %.1f MiB at %s MiB (x%.2f for 10x the input): %s.\n", a / 1024, s0, b / 1024, s1, b / a, v }'
    if [[ $verdict != flat ]]; then
      echo "CHECK FAILED: lacuna's memory grows with the input" >&2
      status=1
    fi
  fi
fi
if ((status == 0)); then echo "- checks: lacuna and jq wrote the same number of records with the same turns and train flags."; fi
exit $status
