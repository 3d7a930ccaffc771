#!/usr/bin/env bash
# lacuna stats: the command line, exit codes, --json, a well-formed --svg, a
# real tokenizer for chat shares, and stats of a real `lacuna run` output.
source "$(dirname "$0")/lib.sh"
cd "$LACUNA_SRC"

# Two IN2 lines (depths 0.05 and 0.95, lengths 1000 and 3000) and a plain one.
cat >"$TMP/a&b.jsonl" <<'JSONL'
{"messages":[{"role":"user","content":"context & question","train":false},{"role":"assistant","content":"answer","train":true}],"meta":{"in2":{"kind":"I","context_tokens":1000,"target_tokens":1000,"needles":[{"depth":0.05,"token_offset":50,"byte_span":[10,20]}]}}}
{"messages":[{"role":"user","content":"context <2>","train":false},{"role":"assistant","content":"answer","train":true}],"meta":{"in2":{"kind":"II","context_tokens":3000,"target_tokens":3000,"needles":[{"depth":0.95,"token_offset":2850,"byte_span":[10,20]}],"gap":0}}}
JSONL

lc stats "$TMP/a&b.jsonl" --svg "$TMP/out.svg"
expect_code 0 "stats"
expect_in "$OUT" "2 lines = 2 counted + 0 bad" "counts"
expect_in "$OUT" "IN2 examples: 2 (type I 1, type II 1, short 0), 2 needles" "kinds"
expect_in "$OUT" "chi-square 8.000, df 9" "chi-square of 1 + 1 needles in two deciles"
# "context & question" 18 + "answer" 6 + "context <2>" 11 + "answer" 6 = 41 characters, 12 trained.
expect_in "$OUT" "trained share: 29.27% of characters (12 of 41;" "trained characters"
expect_in "$OUT" "straddling tokens: not recorded" "straddling"
if command -v xmllint >/dev/null; then
  if xmllint --noout "$TMP/out.svg" 2>"$TMP/xml.err"; then ok; else bad "svg not well-formed: $(cat "$TMP/xml.err")"; fi
else
  if python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$TMP/out.svg"; then ok; else bad "svg not well-formed"; fi
fi
expect_in "$(cat "$TMP/out.svg")" "<rect" "svg draws bars"
expect_in "$(cat "$TMP/out.svg")" "a&amp;b.jsonl" "svg escapes text"

lc stats "$TMP/a&b.jsonl" --json
expect_code 0 "stats --json"
got=$(printf '%s' "$OUT" | python3 -c 'import json, sys; v = json.load(sys.stdin); print(v["depth_deciles"]["counts"], v["depth_deciles"]["df"], v["lengths"][0]["counts"])')
expect_eq "$got" "[1, 0, 0, 0, 0, 0, 0, 0, 0, 1] 9 [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]" "--json numbers (1000..3000 in bins of 200)"

# Chat text counted in tokens with a real tokenizer.json.
lc stats "$TMP/a&b.jsonl" --tokenizer tests/fixtures/tokenizer/bytelevel.json
expect_code 0 "stats --tokenizer"
expect_in "$OUT" "of tokens (" "token share"
expect_in "$OUT" "counted with --tokenizer" "says how tokens were counted"

# A bad line: named on stderr, counted, exit 1.
printf '%s\n' '{"messages":[{"role":"user","content":"a"}],"meta":{"in2":{"kind":"I","context_tokens":10,"needles":[{"depth":2}]}}}' >>"$TMP/a&b.jsonl"
lc stats "$TMP/a&b.jsonl"
expect_code 1 "a bad line"
expect_in "$ERR" "a&b.jsonl:3: meta.in2.needles[1].depth: must be a number in [0, 1]" "bad line named"
expect_in "$OUT" "3 lines = 2 counted + 1 bad" "bad line counted"

# Gzipped output reads the same.
gzip -c "$TMP/a&b.jsonl" >"$TMP/z.jsonl.gz"
lc stats "$TMP/z.jsonl.gz"
expect_code 1 "stats of a .jsonl.gz"
expect_in "$OUT" "3 lines = 2 counted + 1 bad" "gzip: same counts"
expect_in "$ERR" "z.jsonl.gz:3: meta.in2.needles[1].depth" "gzip: bad line named"

lc stats "$TMP/absent.jsonl"
expect_code 2 "a missing file"
expect_in "$ERR" "absent.jsonl: cannot open" "missing file named"
lc stats
expect_code 2 "no operand"

# The output of a real run (the shipped chat_mask recipe), and its manifest.
lc run chat_mask -i recipes/samples/chat.jsonl -o "$TMP/chat.jsonl" --format sharegpt
expect_code 0 "run chat_mask"
lc stats "$TMP/chat.jsonl"
expect_code 0 "stats of a run"
expect_in "$OUT" "formats: sharegpt" "sharegpt detected"
expect_in "$OUT" "IN2 examples: none" "no needles in plain chat data"
expect_in "$OUT" "chat.manifest.json has no format_notes.straddling_tokens" "manifest read"

finish
