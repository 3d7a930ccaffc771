#!/usr/bin/env bash
# Contexts under the real Llama 3, Qwen3 and Llama 2 (SentencePiece BPE)
# tokenizers, joined with "\n", " ", "" or "\n\n" and with needles that begin or
# end with whitespace (so tokens merge across joins): every context's token
# count, as lacuna.text reports it, equals Hugging Face tokenizers' count of the
# rendered text (hf_dump.mjs, add_special_tokens off) and lies within 16
# tokens below its target (1K..32K); every needle's token offset is the index
# of HF's token holding its first character. Needs the reference tools and
# model files of tests/tokenizer/setup.sh (ctest fixture tokenizer_refs).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${LACUNA_CACHE:-$HOME/.cache/lacuna}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
for c in english code cjk; do
  [ -f "$CACHE/corpus/$c.txt" ] || { echo "FAIL: $CACHE/corpus/$c.txt missing (tests/tokenizer/setup.sh makes it)" >&2; exit 1; }
done
status=0
for M in llama3 qwen3 llama2; do
MODEL=$CACHE/models/$M
[ -f "$MODEL/tokenizer.json" ] || { echo "FAIL: $MODEL/tokenizer.json missing (tests/tokenizer/setup.sh makes it)" >&2; exit 1; }
LD_PRELOAD=${LACUNA_PRELOAD:-} ASAN_OPTIONS=detect_leaks=0 \
  lua5.4 "$HERE/llama3_contexts.lua" "$MODEL" "$CACHE/corpus" "$TMP/$M.txt" "$TMP/$M.ours.jsonl" || { echo "FAIL: $M: building contexts" >&2; exit 1; }
node "$HERE/../tokenizer/hf_dump.mjs" --no-special "$MODEL" "$TMP/$M.txt" "$TMP/$M.hf.jsonl" || { echo "FAIL: $M: HF reference" >&2; exit 1; }
python3 - "$TMP/$M.txt" "$TMP/$M.ours.jsonl" "$TMP/$M.hf.jsonl" "$M" <<'PY'
import json, sys
texts = open(sys.argv[1], "rb").read().split(b"\0")
ours = [json.loads(l) for l in open(sys.argv[2])]
hf = [json.loads(l) for l in open(sys.argv[3])]
assert len(texts) == len(ours) == len(hf) == 48, (len(texts), len(ours), len(hf))
bad = 0
for i, (t, o, h) in enumerate(zip(texts, ours, hf)):
    n = len(h["ids"])
    if o["tokens"] != n or not (o["target"] - 16 <= n <= o["target"]):
        bad += 1
        print(f"{sys.argv[4]}: context {i + 1}: target {o['target']}, lacuna {o['tokens']}, HF {n}", file=sys.stderr)
    for k, nd in enumerate(o["needles"]):
        char = len(t[: nd["byte_start"]].decode("utf-8"))
        want = next(j for j, (s, e) in enumerate(h["offsets"]) if e > char)
        if nd["token"] != want:
            bad += 1
            print(f"{sys.argv[4]}: context {i + 1} needle {k + 1}: token {nd['token']}, HF {want}", file=sys.stderr)
print(f"{sys.argv[4]}: {len(ours)} contexts, targets {ours[0]['target']}..{ours[-1]['target']}: "
      f"{len(ours) - bad} exact and in the window" + (f", {bad} problems" if bad else ""))
sys.exit(1 if bad else 0)
PY
[ $? -eq 0 ] || status=1
done
exit $status
