#!/usr/bin/env bash
# --format tokens on the real Llama 3, Qwen3 and Gemma 3 tokenizers and chat
# templates: input_ids equal HF tokenizers on @huggingface/jinja's rendering,
# labels equal an independent computation (hf_tokens.mjs: character masks and
# HF's own offsets), and a PAM-style partly trained turn masks exactly its
# first part.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LACUNA=${LACUNA_BIN:?}
MODELS=${LACUNA_CACHE:-$HOME/.cache/lacuna}/models
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
passed=0; failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

for m in llama3 qwen3 gemma3; do
  dir=$MODELS/$m
  if [ ! -f "$dir/tokenizer.json" ]; then bad "$m: $dir/tokenizer.json missing (tests/tokenizer/setup.sh makes it)"; continue; fi
  node "$HERE/hf_tokens.mjs" "$dir" "$HERE/cases.jsonl" "$TMP/ref_$m.jsonl" || { bad "$m: reference failed"; continue; }
  "$LACUNA" run "$HERE/conv.lua" -i "$HERE/cases.jsonl" -o "$TMP/our_$m.jsonl" --format tokens --tokenizer "$dir" -q --no-meta \
    || bad "$m: lacuna run failed: $(cat "$TMP/our_$m.failed.jsonl" 2>/dev/null | head -c 400)"
  if python3 - "$TMP/ref_$m.jsonl" "$TMP/our_$m.jsonl" "$m" <<'PY'
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
our = [json.loads(l) for l in open(sys.argv[2])]
assert len(ref) == len(our) == 5, (len(ref), len(our))
for i, (a, b) in enumerate(zip(ref, our)):
    assert a["input_ids"] == b["input_ids"], f"case {i + 1}: input_ids differ"
    assert b["attention_mask"] == [1] * len(b["input_ids"]), f"case {i + 1}: attention_mask"
    assert a["labels"] == b["labels"], f"case {i + 1}: labels differ: {a['labels']} vs {b['labels']}"
    assert any(l != -100 for l in b["labels"]), f"case {i + 1}: nothing trained"
PY
  then ok; else bad "$m: tokens differ from the reference"; fi
  # PAM: the trained tokens of case 2 are exactly its second part and the
  # end-of-turn token; no token of the first part is trained.
  # The stock (uninstrumented) lua5.4 is not leak-checked, as in the other Lua
  # tests (tests/CMakeLists.txt): LeakSanitizer's scan of its dlopen'ed TLS can
  # crash at exit depending on addresses (google/sanitizers#1322).
  if LD_PRELOAD=${LACUNA_PRELOAD:-} ASAN_OPTIONS=detect_leaks=0 lua5.4 - "$dir" "$TMP/our_$m.jsonl" <<'LUA'
local lc = require "lacuna"
local tok = assert(lc.tokenizer.load(arg[1]))
local f = assert(io.open(arg[2]))
f:read("l")
local d = lc.json.decode(f:read("l"))
local trained, first = {}, nil
for i, l in ipairs(d.labels) do
  if l ~= -100 then
    trained[#trained + 1] = l
    first = first or i
  end
end
local text = tok:decode(trained)
local want = " Wait, let me check that again. Sorry, there is an error in the previous answer. The answer is C."
assert(text:sub(1, #want) == want, "trained text: " .. text)
local eot = text:sub(#want + 1)
assert(eot == "<|eot_id|>" or eot == "<|im_end|>" or eot == "<end_of_turn>", "end of turn: " .. eot)
local before = {}
for i = 1, first - 1 do before[#before + 1] = d.input_ids[i] end
assert(tok:decode(before):find("The answer is B.", 1, true), "the first attempt precedes the trained part")
LUA
  then ok; else bad "$m: PAM mask"; fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
