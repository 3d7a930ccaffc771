#!/usr/bin/env bash
# Memory benchmark: lacuna's peak RSS must not grow with the corpus. A trivial
# recipe (chat_mask, axolotl format) runs over 1M and 10M generated chat lines,
# streamed through stdin (no file is kept: awk writes them on the fly) with the
# examples counted by wc on stdout. Also the largest-line case: one line of
# --big MB (default 300) read with --max-line-bytes set to its length, twice:
# plain text, and text with a JSON escape (\n) every 100 bytes.
#
# Usage: tests/bench/run_rss.sh [--quick] [--big MB] [--big-only]
#   BUILD=path/to/build (default: build)   where the lacuna executable lives
#   --quick     100K and 1M lines instead of 1M and 10M, big line 30 MB
#   --big-only  only the big lines
# Prints a markdown table (lines, wall seconds, peak RSS) and the ratio of the
# peak RSS of the larger run to the smaller (flat memory: close to 1.0), then
# each big line's peak RSS and its ratio to the line's size.
# Exit status: 0 all ran and the counts matched, 1 a run failed, 2 setup.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SMALL=1000000
LARGE=10000000
BIG_MB=300
BIG_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) SMALL=100000 LARGE=1000000 BIG_MB=30 ;;
    --big) BIG_MB=$2; shift ;;
    --big-only) BIG_ONLY=1 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--quick] [--big MB] [--big-only]" >&2; exit 2 ;;
  esac
  shift
done

BUILD=${BUILD:-build}
if [[ ! -d $BUILD && -d $ROOT/$BUILD ]]; then BUILD=$ROOT/$BUILD; fi
LACUNA=$BUILD/lacuna
[[ -x $LACUNA ]] || { echo "$LACUNA not found (build first, or set BUILD=)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "GNU time missing (Debian: apt-get install time)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lacuna-rss.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# gen N: N chat records, each different (numbered), ~120 bytes a line
gen() {
  awk -v n="$1" 'BEGIN {
    for (i = 1; i <= n; i++)
      printf "{\"id\":%d,\"messages\":[{\"role\":\"user\",\"content\":\"What is %d plus %d?\"},{\"role\":\"assistant\",\"content\":\"It is %d.\"}]}\n", i, i, i, 2 * i
  }'
}

# run N: sets WALL (s), RSS (MB) and COUNT (examples written)
run() {
  local n=$1 start end
  start=$(date +%s.%N)
  gen "$n" | /usr/bin/time -f '%M' -o "$WORK/time" "$LACUNA" run chat_mask -i - -o - -q | wc -l >"$WORK/count"
  end=$(date +%s.%N)
  WALL=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  RSS=$(awk '{ v = $1 } END { printf "%.1f", v / 1024 }' "$WORK/time")
  COUNT=$(tr -d ' ' <"$WORK/count")
}

status=0
if [ "$BIG_ONLY" = 0 ]; then
  echo "| lines | wall s | peak RSS MB |"
  echo "|---:|---:|---:|"
  declare -A R
  for n in "$SMALL" "$LARGE"; do
    run "$n"
    R[$n]=$RSS
    echo "| $n | $WALL | $RSS |"
    if [ "$COUNT" != "$n" ]; then
      echo "error: $n lines gave $COUNT examples" >&2
      status=1
    fi
  done
  ratio=$(awk -v a="${R[$SMALL]}" -v b="${R[$LARGE]}" 'BEGIN { printf "%.2f", b / a }')
  echo
  echo "peak RSS ratio $LARGE / $SMALL lines: $ratio (flat memory: ~1.0)"
fi

# The largest-line case: one record whose user turn is BIG_MB MB, its text
# plain (PIECE "abcdefghij") or with an escape every 100 bytes.
big() { # NAME PIECE: writes $WORK/NAME.jsonl, runs it, prints the figures
  local name=$1 piece=$2 file=$WORK/$1.jsonl
  awk -v n="$bytes" -v p="$piece" 'BEGIN {
    printf "{\"messages\":[{\"role\":\"user\",\"content\":\""
    s = p; while (length(s) < 1000000) s = s s; s = substr(s, 1, 1000000)
    for (k = n; k >= 1000000; k -= 1000000) printf "%s", s
    printf "%s\"},{\"role\":\"assistant\",\"content\":\"ok\"}]}\n", substr(s, 1, k)
  }' >"$file"
  local line=$(($(wc -c <"$file") - 1)) out big_rss
  /usr/bin/time -f '%M' -o "$WORK/time" "$LACUNA" run chat_mask -i "$file" -o - -q \
    --max-line-bytes "$line" | wc -c >"$WORK/count"
  out=$(tr -d ' ' <"$WORK/count")
  big_rss=$(awk '{ v = $1 } END { printf "%.1f", v / 1024 }' "$WORK/time")
  if [ "$out" -lt "$bytes" ]; then
    echo "error: the $BIG_MB MB $name line gave $out bytes of output" >&2
    status=1
  fi
  echo "one $name line of $line bytes (--max-line-bytes $line): peak RSS $big_rss MB," \
    "$(awk -v r="$big_rss" -v l="$line" 'BEGIN { printf "%.2f", r * 1024 * 1024 / l }') x the line"
  rm -f "$file"
}
bytes=$((BIG_MB * 1000 * 1000))
big plain abcdefghij
esc=$(printf '%098d' 0 | tr 0 x)
big escaped "$esc"'\\n'
exit $status
