#!/usr/bin/env bash
# Tokenizer benchmark: load time and single-thread encode throughput of
# lacuna's C tokenizer for Llama 3 and Qwen3, side by side in the same run on
# the same >= 10 MB corpus with
#   HF tokenizers' native binding (@anush008/tokenizers), single thread
#     (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false): one record per
#     encode call, and all records in one encodeBatch call;
#   OpenAI's tiktoken, native: @anysphere/tiktoken-node (npm), the Rust
#     tiktoken core behind a napi .node binding, with Llama 3's vocabulary,
#     pattern and special tokens built in: a tokenizer built for speed on the
#     same vocabulary, its ids checked against HF's like lacuna's (one record
#     per awaited call, on a libuv pool of one thread). It has no Qwen3
#     encoding (nor a way to load one), so the Qwen3 rows have none;
#   tiktoken's o200k_base (npm, WASM) for reference (another vocabulary: its
#     token counts differ, so no id check).
# The corpus (make_corpus.py --bench) mixes English prose, code, CJK, Arabic,
# emoji, special-token strings and combining marks; add_special_tokens is on.
# Ids must be identical (a hash of every id, lacuna vs HF); the ratio column is
# lacuna's throughput over HF's one-record-per-call throughput, by the clock and
# by CPU time (each side's process, all threads). Goals (issue 4):
# >= 2x HF single-thread, load < 200 ms; (issue 16) >= 25 MB/s and no slower
# than native tiktoken: the "vs tiktoken" line gives lacuna / tiktoken.
#
# Usage: tests/bench/run_tokenizer.sh [--quick]
#   BUILD=path/to/build (default: build)   where tests/tokenizer/tok_bench is
#   LACUNA_CACHE (default: $HOME/.cache/lacuna)
#   --quick   1 repetition instead of 3 (medians of 3 otherwise)
# Exit status: 0 all ran and ids identical, 1 a run failed or ids differ,
# 2 setup (npm unreachable, tools missing).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TOKDIR=$ROOT/tests/tokenizer
CACHE=${LACUNA_CACHE:-$HOME/.cache/lacuna}
export LACUNA_CACHE=$CACHE

REPS=3
case "${1:-}" in
  "") ;;
  --quick) REPS=1 ;;
  -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

BUILD=${BUILD:-build}
[[ -d $BUILD || ! -d $ROOT/$BUILD ]] || BUILD=$ROOT/$BUILD
TOK_BENCH=${TOK_BENCH:-$BUILD/tests/tokenizer/tok_bench}

bash "$TOKDIR/setup.sh" --no-corpus --bench-corpus || exit 2
CORPUS=$CACHE/corpus/bench.txt
lacuna_ok=1
if [[ ! -x $TOK_BENCH ]]; then
  echo "warning: $TOK_BENCH not found (build first, or set BUILD=); lacuna rows will be n/a" >&2
  lacuna_ok=0
fi

# Single thread for the HF binding: rayon (its batch parallelism) and the libuv
# pool (where each async encode runs) get one thread each.
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false UV_THREADPOOL_SIZE=1

field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); v=d.get(sys.argv[2]); print("n/a" if v is None else (("%.1f" % v) if isinstance(v, float) else v))' "$1" "$2"; }
# MB/s of one JSON field: "mb" (bytes / 10^6 / seconds) from a seconds field,
# or a MB/s field as is; n/a when absent.
mbs() { python3 -c 'import json,sys
d=json.loads(sys.argv[1]); k=sys.argv[2]; v=d.get(k)
if v is not None and k.endswith("_s"): v=d["bytes"]/1e6/v if v else None
print("n/a" if v is None else "%.2f" % v)' "$1" "$2"; }
ratio() { python3 -c 'import sys
try: print("%.2fx" % (float(sys.argv[1]) / float(sys.argv[2])))
except ValueError: print("n/a")' "$1" "$2"; }

load_avg=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)
status=0
rows=()
vs_native="lacuna / native tiktoken: n/a"
declare -A NAME=([llama3]="Llama 3" [qwen3]="Qwen3")
bytes=n/a
for m in llama3 qwen3; do
  mdir=$CACHE/models/$m
  echo "bench: $m: HF tokenizers ..." >&2
  if ! hf=$(node "$TOKDIR/hf_bench.mjs" "$mdir" "$CORPUS" "$REPS"); then
    echo "bench: hf_bench failed for $m" >&2
    status=1
    continue
  fi
  bytes=$(field "$hf" bytes)
  lc='{}'
  if ((lacuna_ok)); then
    echo "bench: $m: lacuna ..." >&2
    if ! lc=$("$TOK_BENCH" "$mdir" "$CORPUS" "$REPS"); then
      echo "bench: tok_bench failed for $m" >&2
      lc='{}'
      status=1
    fi
  fi
  hf_hash=$(field "$hf" ids_hash)
  ids="n/a"
  if [[ $(field "$lc" ids_hash) != n/a ]]; then
    if [[ $(field "$lc" ids_hash) == "$hf_hash" && $(field "$lc" tokens) == $(field "$hf" tokens) ]]; then
      ids="identical"
    else
      ids="DIFFER"
      status=1
    fi
  fi
  [[ $(field "$hf" batch_ids_hash) == "$hf_hash" ]] || { echo "bench: HF batch and single ids differ for $m" >&2; status=1; }
  lc_mbs=$(python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get("mb_per_s"); print("n/a" if v is None else "%.2f" % v)' "$lc")
  hf_mbs=$(python3 -c 'import json,sys; print("%.2f" % json.loads(sys.argv[1])["mb_per_s"])' "$hf")
  hfb_mbs=$(python3 -c 'import json,sys; print("%.2f" % json.loads(sys.argv[1])["batch_mb_per_s"])' "$hf")
  lc_cpu=$(mbs "$lc" encode_cpu_s)
  hf_cpu=$(mbs "$hf" cpu_mb_per_s)
  rows+=("| ${NAME[$m]} | lacuna (C) | $(field "$lc" load_ms) | $lc_mbs | $lc_cpu | $(field "$lc" tokens) | $ids | $(ratio "$lc_mbs" "$hf_mbs") | $(ratio "$lc_cpu" "$hf_cpu") |")
  rows+=("| ${NAME[$m]} | HF tokenizers, one record per call | $(field "$hf" load_ms) | $hf_mbs | $hf_cpu | $(field "$hf" tokens) | reference | 1.00x | 1.00x |")
  rows+=("| ${NAME[$m]} | HF tokenizers, one batch | $(field "$hf" load_ms) | $hfb_mbs | $(mbs "$hf" batch_cpu_mb_per_s) | $(field "$hf" tokens) | same | $(ratio "$hfb_mbs" "$hf_mbs") | $(ratio "$(mbs "$hf" batch_cpu_mb_per_s)" "$hf_cpu") |")
  if [[ $m == llama3 ]]; then
    echo "bench: $m: tiktoken (native) ..." >&2
    if tn=$(node "$TOKDIR/hf_bench.mjs" --tiktoken-native llama3 "$CORPUS" "$REPS"); then
      tn_mbs=$(python3 -c 'import json,sys; print("%.2f" % json.loads(sys.argv[1])["mb_per_s"])' "$tn")
      tn_ids=DIFFER
      [[ $(field "$tn" ids_hash) == "$hf_hash" && $(field "$tn" tokens) == $(field "$hf" tokens) ]] && tn_ids=identical
      tn_cpu=$(mbs "$tn" cpu_mb_per_s)
      rows+=("| ${NAME[$m]} | tiktoken (Rust, native napi: @anysphere/tiktoken-node), one record per call | $(field "$tn" load_ms) | $tn_mbs | $tn_cpu | $(field "$tn" tokens) | $tn_ids | $(ratio "$tn_mbs" "$hf_mbs") | $(ratio "$tn_cpu" "$hf_cpu") |")
      vs_native="lacuna / native tiktoken (Llama 3, same ids): $(ratio "$lc_mbs" "$tn_mbs") by the clock, $(ratio "$lc_cpu" "$tn_cpu") by CPU time"
    else
      echo "bench: tiktoken (native) failed" >&2
      status=1
    fi
  fi
done

echo "bench: tiktoken o200k_base ..." >&2
if tk=$(node "$TOKDIR/hf_bench.mjs" --tiktoken o200k_base "$CORPUS" "$REPS"); then
  tk_mbs=$(python3 -c 'import json,sys; print("%.2f" % json.loads(sys.argv[1])["mb_per_s"])' "$tk")
  rows+=("| o200k_base | tiktoken (npm, WASM) | $(field "$tk" load_ms) | $tk_mbs | $(mbs "$tk" cpu_mb_per_s) | $(field "$tk" tokens) | other vocabulary | | |")
else
  echo "bench: tiktoken failed" >&2
  status=1
fi

echo
echo "Corpus: $CORPUS ($bytes bytes), single thread, add_special_tokens on, median of $REPS."
echo "ratio = throughput / HF tokenizers' one-record-per-call throughput (same tokenizer);"
echo "CPU MB/s divides by the process's CPU time (all its threads) instead of the clock: steadier when other work shares the machine."
echo "Load average at start: $load_avg."
echo
echo "| tokenizer | implementation | load (ms) | encode (MB/s) | encode (CPU MB/s) | tokens | ids | ratio | ratio (CPU) |"
echo "|---|---|---:|---:|---:|---:|---|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "$vs_native"
exit "$status"
