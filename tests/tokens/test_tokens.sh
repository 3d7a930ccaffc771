#!/usr/bin/env bash
# --format tokens against an independent reference (render_ref.py: Python's
# Jinja2 configured as transformers configures it, messages placed by
# rendering differences, never by searching the text; hf_tokens.mjs: HF
# tokenizers' ids and offsets, labels from character masks), on every chat
# template of the conformance set:
#   the real Llama 3, Qwen3, Gemma 3 and DeepSeek-V3 tokenizers with their own
#   templates, and the fixture templates of tests/fixtures/jinja (Llama 2 and
#   Mistral over the Llama 2 tokenizer, Llama 3.2 with tools over Llama 3's;
#   Qwen2.5's ChatML, Phi-3, Mistral v0.3 (system folded into the last user
#   turn, assistant content trimmed), Gemma 2, Llama 3.1 (date header, trimmed
#   contents), a ChatML that trims every content and one with transformers'
#   {% generation %} markers).
# Cases: cases.jsonl (everyday conversations, PAM's partly trained turn) and
# make_cases.py's edge cases (one-letter answers, role names and special
# tokens as content, white space of every Unicode kind, empty content, one
# trained middle turn, mask boundaries inside words). input_ids and labels
# must be identical; a conversation the template refuses must fail in
# lacuna too; the straddling-token count of the run's notes must equal the
# reference's. Then a PAM-style partly trained turn masks exactly its first
# part.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LACUNA=${LACUNA_BIN:?}
MODELS=${LACUNA_CACHE:-$HOME/.cache/lacuna}/models
FIX=$ROOT/tests/fixtures/jinja
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
passed=0; failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

python3 "$HERE/make_cases.py" "$TMP/edge.jsonl" || { echo "make_cases.py failed" >&2; exit 1; }
python3 - "$HERE/cases.jsonl" "$TMP/edge.jsonl" "$TMP/all.jsonl" <<'PY'
import json, sys
out = open(sys.argv[3], "w", encoding="utf-8")
n = 0
for path in sys.argv[1:3]:
    for line in open(path, encoding="utf-8"):
        if line.strip():
            c = json.loads(line)
            n += 1
            c["id"] = n
            out.write(json.dumps(c, ensure_ascii=False) + "\n")
PY

# name  tokenizer dir  template config (empty: the tokenizer's own)
RUNS=(
  "llama3 $MODELS/llama3 -"
  "qwen3 $MODELS/qwen3 -"
  "gemma3 $MODELS/gemma3 -"
  "deepseek_v3 $MODELS/deepseek_v3 -"
  "llama2 $MODELS/llama2 $FIX/llama2/tokenizer_config.json"
  "mistral $MODELS/llama2 $FIX/mistral/tokenizer_config.json"
  "llama32_tools $MODELS/llama3 $FIX/llama32_tools/tokenizer_config.json"
  "qwen25 $MODELS/qwen3 $FIX/qwen25/tokenizer_config.json"
  "phi3 $MODELS/llama2 $FIX/phi3/tokenizer_config.json"
  "mistral_v03 $MODELS/llama2 $FIX/mistral_v03/tokenizer_config.json"
  "gemma2 $MODELS/gemma3 $FIX/gemma2/tokenizer_config.json"
  "llama31 $MODELS/llama3 $FIX/llama31/tokenizer_config.json"
  "chatml_trim $MODELS/qwen3 $FIX/chatml_trim/tokenizer_config.json"
  "chatml_generation $MODELS/qwen3 $FIX/chatml_generation/tokenizer_config.json"
)
for run in "${RUNS[@]}"; do
  read -r name dir tpl <<<"$run"
  if [ ! -f "$dir/tokenizer.json" ]; then bad "$name: $dir/tokenizer.json missing (tests/tokenizer/setup.sh makes it)"; continue; fi
  tplarg=(); cfg=$dir/tokenizer_config.json
  if [ "$tpl" != - ]; then tplarg=(--chat-template "$tpl"); cfg=$tpl; fi
  python3 "$HERE/render_ref.py" "$cfg" "$TMP/all.jsonl" "$TMP/rendered_$name.jsonl" &&
    node "$HERE/hf_tokens.mjs" "$dir" "$TMP/rendered_$name.jsonl" "$TMP/ref_$name.jsonl" || { bad "$name: reference failed"; continue; }
  "$LACUNA" run "$HERE/conv.lua" -i "$TMP/all.jsonl" -o "$TMP/our_$name.jsonl" --format tokens --tokenizer "$dir" \
    "${tplarg[@]}" -q >/dev/null 2>&1
  if python3 - "$TMP/ref_$name.jsonl" "$TMP/our_$name.jsonl" "$name" "$TMP/all.jsonl" <<'PY'
import json, sys
ref = {}
for l in open(sys.argv[1]):
    d = json.loads(l)
    ref[d["id"]] = d
n_cases = sum(1 for l in open(sys.argv[4]) if l.strip())
if len(ref) != n_cases:
    sys.exit(f"{sys.argv[3]}: the reference holds {len(ref)} of the {n_cases} cases")
base = sys.argv[2][:-len(".jsonl")]
our = {}
for l in open(sys.argv[2]):
    d = json.loads(l)
    our[d["meta"]["id"]] = d
failed = {}
try:
    for l in open(base + ".failed.jsonl"):
        d = json.loads(l)
        failed[d.get("line")] = d
except FileNotFoundError:
    pass
manifest = json.load(open(base + ".manifest.json"))
bad = 0
straddling = 0
for cid, a in sorted(ref.items()):
    b = our.get(cid)
    if "error" in a:
        if b is not None:
            print(f"  case {cid}: the template refuses it ({a['error'][:80]}), lacuna wrote it", file=sys.stderr)
            bad += 1
        continue
    if b is None:
        why = failed.get(cid, {}).get("reason") or failed.get(cid, {}).get("error") or "?"
        print(f"  case {cid}: lacuna failed it: {str(why)[:200]}", file=sys.stderr)
        bad += 1
        continue
    straddling += a["straddling"]
    if a["input_ids"] != b["input_ids"]:
        print(f"  case {cid}: input_ids differ", file=sys.stderr)
        bad += 1
    elif a["labels"] != b["labels"]:
        diff = [i for i, (x, y) in enumerate(zip(a["labels"], b["labels"])) if x != y]
        print(f"  case {cid}: labels differ at tokens {diff[:8]}: reference {[a['labels'][i] for i in diff[:8]]}, "
              f"lacuna {[b['labels'][i] for i in diff[:8]]}", file=sys.stderr)
        bad += 1
    elif b["attention_mask"] != [1] * len(b["input_ids"]):
        print(f"  case {cid}: attention_mask", file=sys.stderr)
        bad += 1
notes = (manifest.get("format_notes") or {}).get("straddling_tokens") or {}
if notes.get("tokens", 0) != straddling:
    print(f"  straddling tokens: reference {straddling}, lacuna's notes {notes.get('tokens', 0)}", file=sys.stderr)
    bad += 1
ok = sum(1 for a in ref.values() if "error" not in a)
print(f"{sys.argv[3]}: {ok - min(bad, ok)}/{ok} conversations identical, {len(ref) - ok} refused by the template, "
      f"{straddling} straddling tokens", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
  then ok; else bad "$name: tokens differ from the reference"; fi
done

# PAM on the three main models: the trained tokens of case 2 are exactly its
# second part and the end-of-turn token; no token of the first part is trained.
for m in llama3 qwen3 gemma3; do
  # The stock (uninstrumented) lua5.4 is not leak-checked, as in the other Lua
  # tests (tests/CMakeLists.txt): LeakSanitizer's scan of its dlopen'ed TLS can
  # crash at exit depending on addresses (google/sanitizers#1322).
  if LD_PRELOAD=${LACUNA_PRELOAD:-} ASAN_OPTIONS=detect_leaks=0 lua5.4 - "$MODELS/$m" "$TMP/our_$m.jsonl" <<'LUA'
local lc = require "lacuna"
local tok = assert(lc.tokenizer.load(arg[1]))
local d
for line in io.lines(arg[2]) do
  local x = lc.json.decode(line)
  if x.meta.id == 2 then d = x end
end
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
  # lacuna stats: the exact trained share from the labels, and the straddling
  # count the run noted in its manifest.
  "$LACUNA" stats "$TMP/our_$m.jsonl" --json >"$TMP/stats_$m.json"
  if python3 - "$TMP/our_$m.jsonl" "$TMP/our_$m.manifest.json" "$TMP/stats_$m.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
notes = (json.load(open(sys.argv[2])).get("format_notes") or {}).get("straddling_tokens") or {"tokens": 0}
st = json.load(open(sys.argv[3]))
share = st["trained_share"][0]
want = (sum(sum(x != -100 for x in r["labels"]) for r in rows), sum(len(r["labels"]) for r in rows), notes["tokens"])
got = (share["trained"], share["total"], st["straddling_tokens"])
assert share["unit"] == "tokens" and got == want, f"lacuna stats {got}, want {want}"
PY
  then ok; else bad "$m: lacuna stats share and straddling count"; fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
