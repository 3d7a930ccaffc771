#!/usr/bin/env bash
# --jobs benchmark: the tokens format (chat_mask, policy=last, rendered with a
# real chat template and tokenized) on a generated chat corpus, as one process
# (--jobs 1) and as N shard processes merged (--jobs 2 by default), in the same
# run on the same file. The outputs must be byte-identical.
#
# Usage: tests/bench/run_jobs.sh [--size-mb MB] [--reps N] [--jobs N]
#   BUILD=path/to/build (default: build)   where the lacuna executable lives
#   TOKENIZER=DIR (default: $LACUNA_CACHE/models/qwen3, made by tests/tokenizer/setup.sh)
#   --size-mb  input size (default 200)   --reps  repetitions, median taken (default 3)
# Prints a markdown table (median wall seconds, CPU seconds of the process and
# its children, MB/s) and the speed-up wall(--jobs 1) / wall(--jobs N); the
# goal on 2 free cores is >= 1.8. CPU seconds show whether the cores were free:
# on a loaded machine wall time grows while CPU time stays.
# Exit status: 0 ran and outputs identical, 1 a run or the check failed, 2 setup.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SIZE=200 REPS=3 JOBS=2
while (($#)); do
  case "$1" in
    --size-mb) SIZE=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--size-mb MB] [--reps N] [--jobs N]" >&2; exit 2 ;;
  esac
done
BUILD=${BUILD:-build}
if [[ ! -d $BUILD && -d $ROOT/$BUILD ]]; then BUILD=$ROOT/$BUILD; fi
LACUNA=$BUILD/lacuna
TOKENIZER=${TOKENIZER:-${LACUNA_CACHE:-$HOME/.cache/lacuna}/models/qwen3}
[[ -x $LACUNA ]] || { echo "$LACUNA not found (build first, or set BUILD=)" >&2; exit 2; }
[[ -f $TOKENIZER/tokenizer.json ]] || { echo "$TOKENIZER/tokenizer.json missing (tests/tokenizer/setup.sh)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "GNU time missing (apt-get install time)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lacuna-bench-jobs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
IN=$WORK/chat_$SIZE.jsonl
python3 "$HERE/gen_chat.py" --size-mb "$SIZE" -o "$IN" 2>/dev/null
BYTES=$(stat -c %s "$IN")

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A WALL CPU
status=0
overheads=()
# GNU time's user+sys count the children the measured process waited for:
# with --jobs N, the N shard processes. The two runs alternate (1, N, 1, N,
# ...), so that a load that comes and goes weighs on both alike.
declare -A WALLS CPUS
for ((r = 0; r < REPS; r++)); do
  for jobs in 1 "$JOBS"; do
    rm -f "$WORK/out_$jobs".*
    t0=$EPOCHREALTIME
    /usr/bin/time -f '%U %S' -o "$WORK/time" "$LACUNA" run chat_mask -i "$IN" -o "$WORK/out_$jobs.jsonl" \
      --format tokens --tokenizer "$TOKENIZER" --jobs "$jobs" -q --no-progress --no-cache || status=1
    t1=$EPOCHREALTIME
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    WALLS[$jobs]+="$wall "
    CPUS[$jobs]+="$(awk '{ printf "%.3f", $1 + $2 }' "$WORK/time") "
    # What --jobs adds to the slowest shard's own time: the checks before the
    # shards start, starting them, and the merge (a serial step).
    if [[ $jobs != 1 ]] && command -v jq >/dev/null; then
      slowest=$(jq '[.merged_shards[].wall_seconds] | max' "$WORK/out_$jobs.manifest.json")
      overheads+=("$(awk -v w="$wall" -v s="$slowest" 'BEGIN { printf "%.3f", w - s }')")
    fi
  done
done
for jobs in 1 "$JOBS"; do
  # shellcheck disable=SC2086 # (word splitting of the lists is the point)
  WALL[$jobs]=$(median ${WALLS[$jobs]})
  # shellcheck disable=SC2086
  CPU[$jobs]=$(median ${CPUS[$jobs]})
done
if cmp -s "$WORK/out_1.jsonl" "$WORK/out_$JOBS.jsonl"; then same=yes; else same=NO; status=1; fi

echo "tokens format (chat_mask, $(basename "$TOKENIZER") tokenizer) on $SIZE MB ($(wc -l <"$IN") records), median of $REPS; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | wall s | CPU s (user+sys) | MB/s |"
echo "|---|---|---|---|"
for jobs in 1 "$JOBS"; do
  printf '| --jobs %s | %s | %s | %.1f |\n' "$jobs" "${WALL[$jobs]}" "${CPU[$jobs]}" \
    "$(awk -v b="$BYTES" -v w="${WALL[$jobs]}" 'BEGIN { print b / 1e6 / w }')"
done
echo
awk -v a="${WALL[1]}" -v b="${WALL[$JOBS]}" -v n="$JOBS" 'BEGIN { printf "speed-up --jobs %d / --jobs 1: %.2fx (goal >= 1.8x on 2 free cores)\n", n, a / b }'
awk -v a="${CPU[1]}" -v b="${CPU[$JOBS]}" 'BEGIN { printf "CPU time --jobs N / --jobs 1: %.2f (the cost of sharding: every shard counts the items and runs setup)\n", b / a }'
if ((${#overheads[@]})); then
  echo "--jobs $JOBS wall beyond its slowest shard (checks, start, merge), median: $(median "${overheads[@]}") s"
fi
echo "outputs byte-identical: $same"
exit $status
