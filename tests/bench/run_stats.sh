#!/usr/bin/env bash
# `lacuna stats` on a generated IN2 file (tests/bench/gen_in2.py) against two
# references measured in the same run on the same file:
#   cat FILE > /dev/null                the I/O limit
#   jq: the depth-decile histogram       a fast C JSON streamer doing part of the job
#   lacuna stats FILE                    everything (lengths, deciles + test, grid, share)
# Usage: tests/bench/run_stats.sh [--quick]   (BUILD=build; default 1M lines, 3 reps;
#   --quick 100K lines, 1 rep). Prints a markdown table of median wall times and
#   the ratios lacuna/jq and lacuna/cat. Exit 0 ok, 1 a run failed, 2 setup.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=1000000 REPS=3
case "${1:-}" in
  "") ;;
  --quick) N=100000 REPS=1 ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
BUILD=${BUILD:-build}
if [[ ! -d $BUILD && -d $ROOT/$BUILD ]]; then BUILD=$ROOT/$BUILD; fi
LACUNA=$BUILD/lacuna
for tool in jq python3; do command -v $tool >/dev/null || { echo "missing: $tool" >&2; exit 2; }; done
[[ -x $LACUNA ]] || { echo "$LACUNA not found (build first, or set BUILD=)" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lacuna-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FILE=$WORK/in2.jsonl
python3 "$HERE/gen_in2.py" "$N" "$FILE"
MB=$(( $(stat -c %s "$FILE") / 1000000 ))

# median_time CMD...: the median wall time of REPS runs, in seconds.
median_time() {
  local times=() t0 t1
  for ((r = 0; r < REPS; r++)); do
    t0=$EPOCHREALTIME
    "$@" >"$WORK/out" 2>>"$WORK/err" || { echo "failed: $*" >&2; cat "$WORK/err" >&2; exit 1; }
    t1=$EPOCHREALTIME
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
jq_deciles() { jq -n '[inputs | .meta.in2.needles[].depth * 10 | floor | if . > 9 then 9 else . end]
  | group_by(.) | map(length)' "$FILE"; }

T_CAT=$(median_time cat "$FILE")
T_JQ=$(median_time jq_deciles)
T_LC=$(median_time "$LACUNA" stats "$FILE")
grep -q "consistent with uniform\|NOT uniform" "$WORK/out" || { echo "lacuna stats printed no test" >&2; exit 1; }
echo "| $N lines, $MB MB, median of $REPS | seconds |"
echo "|---|---|"
echo "| cat > /dev/null | $T_CAT |"
echo "| jq (depth deciles only) | $T_JQ |"
echo "| lacuna stats (all) | $T_LC |"
awk -v l="$T_LC" -v j="$T_JQ" -v c="$T_CAT" 'BEGIN { printf "lacuna/jq %.2f, lacuna/cat %.1f\n", l / j, l / (c > 0 ? c : 0.001) }'
