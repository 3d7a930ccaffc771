#!/usr/bin/env bash
# val_probe's length x depth grid under the real Llama 3 tokenizer: every grid
# prompt, plain and rendered through Llama 3's chat template (chat=true), has
# the token count lacuna reports equal to Hugging Face tokenizers' count of
# the text (hf_dump.mjs, add_special_tokens off: the template writes its own
# <|begin_of_text|>) and lies within 16 tokens below its length, for single,
# multi-key and multi-value needles. Needs the model files and reference tools
# of tests/tokenizer/setup.sh (ctest fixture tokenizer_refs).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
CACHE=${LACUNA_CACHE:-$HOME/.cache/lacuna}
MODEL=$CACHE/models/llama3
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
[ -f "$MODEL/tokenizer.json" ] || { echo "FAIL: $MODEL/tokenizer.json missing (tests/tokenizer/setup.sh makes it)" >&2; exit 1; }
F=$HERE/fixtures
fail=0
for mode in plain chat; do
  extra=()
  [ "$mode" = chat ] && extra=(-p chat=true -p rendered=true)
  if ! "$LACUNA" run "$HERE/../../recipes/val_probe.lua" -i "$F/pieces_document.jsonl" -i "$F/pieces_code.jsonl" \
      -i "$F/pieces_database.jsonl" -o "$TMP/$mode.jsonl" --tokenizer "$MODEL" -p sets=0 \
      -p grid_lengths=1024,2048,3000 -p grid_depths=4 -p grid_needles=single,multikey,multivalue "${extra[@]}" -q; then
    echo "FAIL: $mode grid run" >&2; exit 1
  fi
  if [ "$mode" = chat ]; then
    jq -j '.meta.prompt_text + "\u0000"' "$TMP/$mode.jsonl" >"$TMP/$mode.txt"
  else
    jq -j '.prompt[0].content + "\u0000"' "$TMP/$mode.jsonl" >"$TMP/$mode.txt"
  fi
  truncate -s -1 "$TMP/$mode.txt"   # no record after the last separator
  node "$HERE/../tokenizer/hf_dump.mjs" --no-special "$MODEL" "$TMP/$mode.txt" "$TMP/$mode.hf.jsonl" ||
    { echo "FAIL: HF reference" >&2; exit 1; }
  python3 - "$TMP/$mode.jsonl" "$TMP/$mode.hf.jsonl" "$mode" <<'PY' || fail=1
import json, sys
ours = [json.loads(l)["meta"]["probe"] for l in open(sys.argv[1])]
hf = [len(json.loads(l)["ids"]) for l in open(sys.argv[2])]
assert len(ours) == len(hf) == 3 * 3 * 4 * 3, (len(ours), len(hf))
bad = 0
for p, n in zip(ours, hf):
    L = p["grid"]["length"]
    if p["prompt_tokens"] != n or not (L - 16 <= n <= L):
        bad += 1
        print("FAIL: %s %s %s: lacuna %d, HF %d, length %d" % (sys.argv[3], p["kind"], p["grid"]["needle"],
              p["prompt_tokens"], n, L), file=sys.stderr)
kinds = {(p["kind"], p["grid"]["needle"]) for p in ours}
assert len(kinds) == 9, kinds
print("%s: %d prompts, %d bad" % (sys.argv[3], len(ours), bad))
sys.exit(1 if bad else 0)
PY
done
exit $fail
