#!/usr/bin/env bash
# Tokenizer conformance: lacuna's C tokenizer against Hugging Face tokenizers
# (native binding @anush008/tokenizers) on the real tokenizer files of Llama 3,
# Qwen3, Gemma 3, DeepSeek-V3, gpt-oss and a SentencePiece-BPE model (llama2), over every
# corpus of make_corpus.py (unicode_new included), add_special_tokens on. Ids
# and offsets (code points) must be identical on every record, except that
# lacuna may refuse a record (an error naming the code point) that holds a
# code point its Unicode tables leave unassigned: a newer Unicode may classify
# it, so lacuna fails loudly there instead of giving ids that may differ; the
# table counts those records.
#
# Usage: tests/tokenizer/conformance.sh [--no-setup] [--models m1,m2] [--corpora c1,c2]
#   TOK_DUMP      the tok_dump program (default: BUILD/tests/tokenizer/tok_dump)
#   BUILD         build dir (default: build)
#   LACUNA_CACHE  cache root (default: $HOME/.cache/lacuna)
#   --no-setup    do not run setup.sh first (ctest runs it as a fixture)
# Prints a table (model, corpus, lines, tokens, identical %). For every
# model/corpus that is not identical, the first 20 differing records go to
# /tmp/tok_mismatch/<model>_<corpus>.txt. HF reference dumps are cached in
# CACHE/ref, keyed by the hashes of the corpus, tokenizer.json, hf_dump.mjs
# and the pinned packages; lacuna's dumps go to a temporary directory.
# Exit status: 0 all identical or refused, 1 any difference or failure, 2 usage.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${LACUNA_CACHE:-$HOME/.cache/lacuna}
MODELS=(llama3 qwen3 gemma3 llama2 deepseek_v3 gptoss)
CORPORA=(english cjk arabic emoji code runs special combining rare invalid unicode_new)
MISMATCH=/tmp/tok_mismatch
# one work dir per run: two runs at once (two checkouts on one machine) must
# not write the same dump files
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tok_conformance.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT

setup=1
while (($#)); do
  case $1 in
    --no-setup) setup=0 ;;
    --models) IFS=, read -r -a MODELS <<<"${2:?}"; shift ;;
    --corpora) IFS=, read -r -a CORPORA <<<"${2:?}"; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--no-setup] [--models m1,m2] [--corpora c1,c2]" >&2; exit 2 ;;
  esac
  shift
done

BUILD=${BUILD:-build}
[[ -d $BUILD || ! -d $ROOT/$BUILD ]] || BUILD=$ROOT/$BUILD
TOK_DUMP=${TOK_DUMP:-$BUILD/tests/tokenizer/tok_dump}

if ((setup)); then
  bash "$HERE/setup.sh" || exit 1
fi
if [[ ! -x $TOK_DUMP ]]; then
  echo "conformance: $TOK_DUMP not found (build the tree, or set TOK_DUMP=)" >&2
  exit 1
fi
for c in "${CORPORA[@]}"; do
  [[ -s $CACHE/corpus/$c.txt ]] || { echo "conformance: no corpus '$c' in $CACHE/corpus (run setup.sh)" >&2; exit 1; }
done

hash_of() { cat "$@" | sha256sum | cut -c1-64; }

mkdir -p "$WORK" "$MISMATCH" "$CACHE/ref"
tools_hash=$(hash_of "$HERE/hf_dump.mjs" "$HERE/package-lock.json")
status=0
rows=()
failed=()
t_hf=0 t_lc=0

for m in "${MODELS[@]}"; do
  mdir=$CACHE/models/$m
  [[ -s $mdir/tokenizer.json ]] || { echo "conformance: $mdir/tokenizer.json missing (run setup.sh)" >&2; exit 1; }
  model_hash=$(hash_of "$mdir/tokenizer.json")
  # Reference dumps: regenerate only the stale ones, in one Node process.
  stale=()
  for c in "${CORPORA[@]}"; do
    key=$(echo "$tools_hash $model_hash $(hash_of "$CACHE/corpus/$c.txt")" | sha256sum | cut -c1-64)
    ref=$CACHE/ref/${m}_$c.jsonl
    if [[ ! -s $ref || $(cat "$ref.key" 2>/dev/null) != "$key" ]]; then
      rm -f "$ref.key"
      stale+=("$CACHE/corpus/$c.txt" "$ref")
      echo "$key" >"$WORK/${m}_$c.key"
    fi
  done
  if ((${#stale[@]})); then
    t0=$SECONDS
    if ! node "$HERE/hf_dump.mjs" "$mdir" "${stale[@]}"; then
      echo "conformance: hf_dump.mjs failed for $m" >&2
      exit 1
    fi
    for ((i = 1; i < ${#stale[@]}; i += 2)); do
      ref=${stale[i]}
      mv -f "$WORK/$(basename "${ref%.jsonl}").key" "$ref.key"
    done
    t_hf=$((t_hf + SECONDS - t0))
  fi
  # lacuna's dumps, one process per model (one tokenizer load).
  pairs=()
  for c in "${CORPORA[@]}"; do
    rm -f "$WORK/${m}_$c.jsonl" "$MISMATCH/${m}_$c.txt"
    pairs+=("$CACHE/corpus/$c.txt" "$WORK/${m}_$c.jsonl")
  done
  t0=$SECONDS
  if ! "$TOK_DUMP" "$mdir" "${pairs[@]}"; then
    echo "conformance: tok_dump failed for $m (see above)" >&2
    status=1
  fi
  t_lc=$((t_lc + SECONDS - t0))
  if ! out=$(python3 "$HERE/compare.py" "$m" "$mdir" "$CACHE/corpus" "$CACHE/ref" "$WORK" "$MISMATCH" "${CORPORA[@]}"); then
    status=1
  fi
  [[ -n $out ]] && mapfile -t -O "${#rows[@]}" rows <<<"$out"
done

echo
echo "| model | corpus | lines | tokens | identical % | refused (unassigned code points) |"
echo "|---|---|---:|---:|---:|---:|"
for r in "${rows[@]}"; do
  IFS=$'\t' read -r m c lines tokens _ pct refused verdict note <<<"$r"
  [[ ${verdict:-} == ok ]] || failed+=("${m}_$c")
  if [[ -z ${pct:-} ]]; then
    echo "| $m | $c | ${lines:-} | | FAIL | |"
  else
    echo "| $m | $c | $lines | $tokens | $pct | $refused ${note:-}|"
  fi
done
echo
echo "time: HF reference ${t_hf}s (cached when unchanged), lacuna ${t_lc}s"
if ((status)); then
  echo "conformance: NOT identical; first mismatches in $MISMATCH/" >&2
  for f in "${failed[@]}"; do
    [[ -e $MISMATCH/$f.txt ]] && echo "  $MISMATCH/$f.txt" >&2
  done
else
  echo "conformance: all identical"
fi
exit "$status"
