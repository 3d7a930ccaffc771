#!/usr/bin/env bash
# Self-test of the conformance harness itself (no C tokenizer needed):
#  1. every corpus is >= 1 MB, holds what its category promises, has records
#     of varied length up to 20 KB, and make_corpus.py rebuilds it byte for byte;
#  2. ill-formed UTF-8 is repaired identically by Python (errors="replace"),
#     Node (what hf_dump.mjs feeds HF) and tok_corpus.c (what tok_dump checks
#     byte offsets with);
#  3. hf_dump.mjs gives the known ids of known strings, with offsets in code
#     points (not UTF-16 units, not bytes);
#  4. compare.py passes identical dumps and catches a single changed id.
# Usage: TOK_REPAIR=path/to/tok_repair tests/tokenizer/selftest.sh
# Expects setup.sh to have run (ctest runs it as a fixture).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${LACUNA_CACHE:-$HOME/.cache/lacuna}
CORPUS=$CACHE/corpus
TOK_REPAIR=${TOK_REPAIR:?set TOK_REPAIR to the built tok_repair program}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tok-selftest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "selftest: FAIL: $*" >&2; exit 1; }

echo "1. corpora" >&2
python3 - "$CORPUS" <<'EOF' || fail "corpus content"
import re, sys
d = sys.argv[1]
need = {
    "english": [r"\b(?:don't|it's|we'll)\b", r"\. [A-Z]", r"\n\n", r"\d"],
    "cjk": [r"[\u4e00-\u9fff]", r"[\u3041-\u3096]", r"[\u30a1-\u30fa]", r"[\uac00-\ud7a3]",
            r"[\U00020000-\U0002a6df]", r"[\uff10-\uff5a]"],
    "arabic": [r"[\u0621-\u064a]", r"[\u064b-\u0652]", "\u200f", "\u202b", r"[\u0660-\u0669]",
               r"[\u05d0-\u05ea]"],
    "emoji": ["\u200d", r"[\U0001F3FB-\U0001F3FF]", r"[\U0001F1E6-\U0001F1FF]{2}", "\ufe0f\u20e3",
              r"\U0001F3F4[\U000E0061-\U000E007A]+\U000E007F"],
    "code": [r"\n\t+\S", r"\n    \S", r"#include <", r"\ndef ", r"=> \{", r"\r\n"],
    "runs": [r" {1000}", r"\d{1000}", r"\t{100}", r"\n{100}", "\u3000", "\u00a0",
             r"[\x01-\x08]", "\u2581{50}"],
    "special": [r"\w <\|begin_of_text\|> \w", r"<\|im_start\|>", r"<start_of_turn>", r"\w <s> \w",
                r"</s>", r"<\|IM_START\|>", "\u2581"],
    "combining": [r"e\u0301", r"[\u1100-\u1112][\u1161-\u1175]", r"[\u0915-\u0939]\u094d",
                  r"[\u0e01-\u0e2e]", "\ufb01"],
    "rare": [r"[\ue000-\uf8ff]", r"[\ufdd0-\ufdef]", r"[\U00030000-\U0003134a]", "'\u017f",
             "'\u212a", r"[\U0001d400-\U0001d7ff]"],
    "unicode_new": [r"[\U00031350-\U000323af]", r"[\U00010d40-\U00010d8f]", r"[\u0898-\u089f]"],
    "invalid": [],
}
bad = []
for cat, pats in need.items():
    raw = open("%s/%s.txt" % (d, cat), "rb").read()
    if len(raw) < 1_000_000:
        bad.append("%s: %d bytes < 1 MB" % (cat, len(raw)))
    recs = raw.split(b"\0")
    lens = [len(r) for r in recs]
    if max(lens) > 20_000 or max(lens) < 10_000 or sum(1 for n in lens if n < 200) < len(lens) // 4:
        bad.append("%s: record lengths not varied (max %d)" % (cat, max(lens)))
    if cat == "invalid":
        n = 0
        for r in recs:
            try:
                r.decode("utf-8")
            except UnicodeDecodeError:
                n += 1
        if n < len(recs) // 2:
            bad.append("invalid: only %d of %d records are ill-formed" % (n, len(recs)))
        continue
    text = raw.decode("utf-8")  # every other category is well-formed
    for p in pats:
        if not re.search(p, text):
            bad.append("%s: nothing matches %r" % (cat, p))
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
python3 "$HERE/make_corpus.py" --force "$WORK/corpus" 2>/dev/null
for f in "$WORK"/corpus/*.txt; do
  cmp -s "$f" "$CORPUS/$(basename "$f")" || fail "make_corpus.py is not deterministic: $(basename "$f")"
done

echo "2. UTF-8 repair: Python = Node = tok_corpus.c" >&2
inv=$CORPUS/invalid.txt
python3 -c '
import sys
recs = open(sys.argv[1], "rb").read().split(b"\0")
sys.stdout.buffer.write(b"\0".join(r.decode("utf-8", "replace").encode() for r in recs))' "$inv" >"$WORK/py.txt"
node -e '
const fs = require("fs");
const buf = fs.readFileSync(process.argv[1]);
const out = [];
let s = 0;
for (;;) {
  const i = buf.indexOf(0, s);
  out.push(Buffer.from((i < 0 ? buf.subarray(s) : buf.subarray(s, i)).toString("utf8")));
  if (i < 0) break;
  s = i + 1;
}
fs.writeSync(1, Buffer.concat(out.flatMap((b, k) => (k ? [Buffer.from([0]), b] : [b]))));' "$inv" >"$WORK/node.txt"
"$TOK_REPAIR" "$inv" >"$WORK/c.txt" 2>/dev/null
cmp -s "$WORK/py.txt" "$WORK/node.txt" || fail "Node repairs ill-formed UTF-8 differently from Python"
cmp -s "$WORK/py.txt" "$WORK/c.txt" || fail "tok_corpus.c repairs ill-formed UTF-8 differently from Python"
cmp -s "$WORK/py.txt" "$inv" && fail "invalid.txt has nothing to repair"

echo "3. hf_dump.mjs" >&2
printf 'Hello world\0\xf0\x9f\x98\x80a <s>\0' >"$WORK/mini.txt"
expect() { # model, expected output
  node "$HERE/hf_dump.mjs" "$CACHE/models/$1" "$WORK/mini.txt" "$WORK/mini_$1.jsonl"
  diff <(printf '%s\n' "${@:2}") "$WORK/mini_$1.jsonl" >&2 || fail "hf_dump.mjs output for $1"
}
# Llama 3 (this tokenizer.json adds no BOS: its post-processor is ByteLevel only);
# the emoji is one code point split over two byte-level tokens: both [0,1].
expect llama3 '{"ids":[9906,1917],"offsets":[[0,5],[5,11]]}' \
  '{"ids":[76460,222,64,366,82,29],"offsets":[[0,1],[0,1],[1,2],[2,4],[4,5],[5,6]]}' \
  '{"ids":[],"offsets":[]}'
expect llama2 '{"ids":[1,22557,1526],"offsets":[[0,0],[0,5],[5,11]]}' \
  '{"ids":[1,28705,30575,28708,28705,1],"offsets":[[0,0],[0,1],[0,1],[1,2],[2,3],[3,6]]}' \
  '{"ids":[1],"offsets":[[0,0]]}'
node "$HERE/hf_dump.mjs" --no-special "$CACHE/models/gemma3" "$WORK/mini.txt" "$WORK/g.jsonl"
[[ $(head -1 "$WORK/g.jsonl") == '{"ids":[9259,1902],"offsets":[[0,5],[5,11]]}' ]] || fail "--no-special"

echo "4. compare.py" >&2
mkdir -p "$WORK/hf" "$WORK/lc" "$WORK/mm"
cp "$CACHE/models/llama2/tokenizer.json" "$WORK/tokenizer.json"
node "$HERE/hf_dump.mjs" "$CACHE/models/llama2" "$CORPUS/english.txt" "$WORK/hf/m_english.jsonl"
cp "$WORK/hf/m_english.jsonl" "$WORK/lc/m_english.jsonl"
out=$(python3 "$HERE/compare.py" m "$WORK" "$CORPUS" "$WORK/hf" "$WORK/lc" "$WORK/mm" english) ||
  fail "compare.py rejects identical dumps: $out"
[[ $(cut -f6 <<<"$out") == 100.00 ]] || fail "identical dumps not reported 100%: $out"
# Change one id in the middle of record 500.
python3 - "$WORK/lc/m_english.jsonl" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
e = json.loads(lines[499])
e["ids"][len(e["ids"]) // 2] += 1
lines[499] = json.dumps(e, separators=(",", ":"))
open(sys.argv[1], "w").write("\n".join(lines))
EOF
if out=$(python3 "$HERE/compare.py" m "$WORK" "$CORPUS" "$WORK/hf" "$WORK/lc" "$WORK/mm" english); then
  fail "compare.py accepts a changed id: $out"
fi
[[ $(cut -f5 <<<"$out") == $(($(cut -f3 <<<"$out") - 1)) ]] || fail "wrong count: $out"
[[ $(cut -f6 <<<"$out") != 100.00 ]] || fail "a difference is reported as 100%: $out"
grep -q '^== record 500 ' "$WORK/mm/m_english.txt" || fail "mismatch report lacks record 500"
echo "selftest: ok" >&2
