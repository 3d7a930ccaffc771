#!/usr/bin/env bash
# recipes/in2.lua (qa=extractive) under the real Llama 3 tokenizer: every
# example's recorded context_tokens equals Hugging Face tokenizers' count of
# the context text as rendered in the prompt (hf_dump.mjs, add_special_tokens
# off), every long context lies within 16 tokens below its target_tokens
# (4K..32K, the recipe's defaults), and every needle's token_offset is the
# index of HF's token holding its first character. The corpus is the cached
# English and code conformance texts (one document per record). Needs the
# reference tools and model files of tests/tokenizer/setup.sh (ctest fixture
# tokenizer_refs).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${LACUNA_CACHE:-$HOME/.cache/lacuna}
MODEL=$CACHE/models/llama3
BIN=${LACUNA_BIN:?LACUNA_BIN must name the lacuna executable}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
[ -f "$MODEL/tokenizer.json" ] || { echo "FAIL: $MODEL/tokenizer.json missing (tests/tokenizer/setup.sh makes it)" >&2; exit 1; }
for c in english code; do
  [ -f "$CACHE/corpus/$c.txt" ] || { echo "FAIL: $CACHE/corpus/$c.txt missing (tests/tokenizer/setup.sh makes it)" >&2; exit 1; }
done
python3 - "$CACHE/corpus" "$TMP/corpus.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], "w") as out:
    for name in ("english", "code"):
        for i, rec in enumerate(open(f"{sys.argv[1]}/{name}.txt", "rb").read().split(b"\0")):
            text = rec.decode("utf-8", "replace")
            if text.strip():
                out.write(json.dumps({"id": f"{name}-{i}", "text": text}) + "\n")
PY
LD_PRELOAD=${LACUNA_PRELOAD:-} ASAN_OPTIONS=detect_leaks=0 \
  "$BIN" run in2 -i "$TMP/corpus.jsonl" -o "$TMP/out.jsonl" -p qa=extractive -p items=60 --seed 5 \
  --tokenizer "$MODEL" 2> "$TMP/err.txt" || { cat "$TMP/err.txt" >&2; echo "FAIL: lacuna run in2" >&2; exit 1; }
# The contexts as the prompts render them, NUL-separated for hf_dump.mjs.
python3 - "$TMP/out.jsonl" "$TMP/ctx.txt" <<'PY' || exit 1
import json, sys
OPEN, CLOSE = "\n\n### Context:\n", "\n\n### Instruction:\n"
texts = []
for line in open(sys.argv[1], encoding="utf-8"):
    prompt = json.loads(line)["messages"][0]["content"]
    a = prompt.index(OPEN) + len(OPEN)
    texts.append(prompt[a:prompt.index(CLOSE, a)].encode("utf-8"))
open(sys.argv[2], "wb").write(b"\0".join(texts))
PY
node "$HERE/../tokenizer/hf_dump.mjs" --no-special "$MODEL" "$TMP/ctx.txt" "$TMP/hf.jsonl" || { echo "FAIL: HF reference" >&2; exit 1; }
python3 - "$TMP/out.jsonl" "$TMP/ctx.txt" "$TMP/hf.jsonl" <<'PY'
import json, sys
examples = [json.loads(l)["meta"]["in2"] for l in open(sys.argv[1], encoding="utf-8")]
texts = open(sys.argv[2], "rb").read().split(b"\0")
hf = [json.loads(l) for l in open(sys.argv[3])]
assert len(examples) == len(texts) == len(hf) and len(examples) >= 40, (len(examples), len(texts), len(hf))
bad, long_ = 0, 0
for i, (m, t, h) in enumerate(zip(examples, texts, hf)):
    n = len(h["ids"])
    problems = []
    if m["context_tokens"] != n:
        problems.append(f"context_tokens {m['context_tokens']}, HF {n}")
    if m["kind"] != "short":
        long_ += 1
        if not (m["target_tokens"] - 16 <= n <= m["target_tokens"]):
            problems.append(f"HF {n} tokens for a target of {m['target_tokens']}")
        if not (4096 <= n <= 32768):
            problems.append(f"{n} tokens: outside 4K..32K")
    for k, nd in enumerate(m["needles"]):
        char = len(t[: nd["byte_span"][0]].decode("utf-8"))
        want = next(j for j, (s, e) in enumerate(h["offsets"]) if e > char)
        if nd["token_offset"] != want:
            problems.append(f"needle {k + 1}: token_offset {nd['token_offset']}, HF {want}")
    if problems:
        bad += 1
        print(f"example {i + 1} ({m['kind']}): " + "; ".join(problems), file=sys.stderr)
print(f"{len(examples)} in2 examples ({long_} long, targets "
      f"{min(m['target_tokens'] for m in examples if m['kind'] != 'short')}.."
      f"{max(m['target_tokens'] for m in examples if m['kind'] != 'short')}): "
      f"{len(examples) - bad} match HF's count and their window" + (f", {bad} do not" if bad else ""))
sys.exit(1 if bad else 0)
PY
