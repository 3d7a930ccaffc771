#!/usr/bin/env bash
# lacuna inspect (issue 14, point 2): every output format lacuna writes is
# shown as conversations with trained and masked text told apart; --where and
# -n select; --html writes one self-contained page, checked in headless
# Chromium: it loads without console errors, shows the examples (DOM), filters
# from its #where= fragment, and draws trained spans and charts (screenshot).
source "$(dirname "$0")/../e2e/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
NUMS=$FIX/e2e/numbers.jsonl
SAMPLE=$LACUNA_SRC/recipes/samples/chat.jsonl
cd "$TMP"
export NO_COLOR=

lc run "$HERE/partial.lua" -i "$NUMS" -o ax.jsonl -q
expect_code 0 "axolotl run"
lc run "$HERE/partial.lua" -i "$NUMS" -o oa.jsonl -q -f openai --split-partial
lc run chat_mask -i "$SAMPLE" -o sg.jsonl -q -f sharegpt
lc run chat_mask -i "$SAMPLE" -o trl.jsonl -q -f trl
mkdir tok && cp "$FIX/tokenizer/bytelevel.json" tok/tokenizer.json && cp "$FIX/jinja/chatml_trim/tokenizer_config.json" tok/
lc run "$HERE/partial.lua" -i "$NUMS" -o tk.jsonl -q -f tokens --tokenizer tok
expect_code 0 "tokens run"

# The terminal view, plain (not a tty): trained text in [[ ]].
lc inspect ax.jsonl -n 1
expect_code 0 "inspect axolotl"
expect_in "$OUT" "assistant  It is 3.[[ Wait, 1 + 1 = 2.]]" "axolotl: the partial turn's trained span is marked"
expect_in "$OUT" 'meta       {"case":"bad","n":1}' "the metadata is shown"
expect_in "$OUT" "1 of 5 matching lines shown" "-n 1 shows one"
expect_not_in "$OUT" $'\e[' "no colour off a terminal"
lc inspect oa.jsonl -n 1
expect_in "$OUT" $'assistant  It is 3.\nassistant  [[ Wait, 1 + 1 = 2.]]' "openai: weights 0 and 1 of a split turn"
lc inspect sg.jsonl -n 1
expect_in "$OUT" $'system     You are a concise assistant.\nuser       What is the boiling point' "sharegpt: the system prompt and turns"
expect_in "$OUT" "assistant  [[100 °C (212 °F) at standard atmospheric pressure.]]" "sharegpt: gpt turns trained"
lc inspect trl.jsonl -n 1
expect_in "$OUT" "assistant  [[100 °C" "trl: the completion is trained"
expect_in "$OUT" "user       What is the boiling point" "trl: the prompt is masked"
lc inspect tk.jsonl -n 1
expect_in "$OUT" "(tokens; 31 tokens, 6 trained)" "tokens: counts without a tokenizer"
expect_in "$OUT" "give --tokenizer DIR" "tokens: says how to see the text"
lc inspect tk.jsonl -n 1 --tokenizer tok
expect_in "$OUT" "[[" "tokens with --tokenizer: trained runs marked"
lc inspect ax.jsonl -n 1 --color
expect_in "$OUT" $'\e[32m Wait, 1 + 1 = 2.\e[0m' "--color: trained text green"
expect_in "$OUT" $'\e[90mIt is 3.\e[0m' "--color: masked text grey"
NO_COLOR=1 lc inspect ax.jsonl -n 1
expect_not_in "$OUT" $'\e[' "NO_COLOR: no colour"

# --where
lc inspect ax.jsonl --where meta.case=bad
expect_in "$OUT" "3 of 3 matching lines shown" "meta.case=bad"
expect_not_in "$OUT" "ax.jsonl:2 " "meta.case=bad leaves out a good one"
lc inspect ax.jsonl --where 'meta.n>=4'
expect_in "$OUT" "2 of 2 matching" "meta.n>=4"
lc inspect ax.jsonl --where 'meta.case=bad' --where 'meta.n!=1|5'
expect_in "$OUT" "1 of 1 matching" "two conditions, a|b"
expect_in "$OUT" "ax.jsonl:3 " "the one left is line 3"
lc inspect ax.jsonl --where 'messages.2.content~3 + 3'
expect_in "$OUT" "1 of 1 matching" "~ on a list element (1-based)"
lc inspect ax.jsonl --where '!meta.case'
expect_in "$OUT" "0 of 0 matching" "!PATH"
lc inspect ax.jsonl --where 'meta.n>x'
expect_code 2 "a bad condition"
expect_in "$ERR" "--where meta.n>x: > needs a number, got 'x'" "a bad condition is explained"
cp ax.jsonl broken.jsonl && echo '{"messages": [' >>broken.jsonl
lc inspect broken.jsonl
expect_code 1 "a malformed line"
expect_in "$ERR" "broken.jsonl:6" "the malformed line is named"
expect_in "$OUT" "5 of 5 matching lines shown (6 lines in broken.jsonl, 1 malformed)" "the others are shown"
lc inspect missing.jsonl
expect_code 2 "a missing file"

# --html
lc inspect ax.jsonl --html page.html
expect_code 0 "inspect --html"
expect_in "$ERR" "5 of 5 examples written to page.html" "--html says what it wrote"
page=$(cat page.html)
expect_not_in "$page" 'src="http' "self-contained: no remote scripts or images"
expect_not_in "$page" 'href="http' "self-contained: no remote styles"
expect_in "$page" '<span class="lc-trained"> Wait, 1 + 1 = 2.</span>' "trained spans styled"
expect_in "$page" '&lt;b&gt;&amp;&lt;/b&gt;' "text is escaped"
expect_in "$page" '<svg xmlns="http://www.w3.org/2000/svg"' "the stats charts are in"
expect_in "$page" 'ax.manifest.json' "the manifest is in"
expect_in "$page" '<option value="meta.case=bad"><option value="meta.case=good">' "the filter box suggests metadata values"

CHROMIUM=$(command -v chromium || command -v chromium-browser)
if [ -z "$CHROMIUM" ]; then
  bad "chromium not found (.ci/deps installs it)"
  finish
  exit
fi
chrome() { # URL OUTFILE MODE: dumps the DOM or screenshots, console messages in $TMP/console
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$TMP/chrome" \
    --enable-logging=stderr --v=0 --hide-scrollbars --window-size=1000,1200 "$3" "$1" >"$2" 2>"$TMP/console"
}
chrome "file://$TMP/page.html" dom.html --dump-dom
dom=$(cat dom.html)
expect_eq "$(grep -c 'CONSOLE' "$TMP/console")" 0 "the page logs nothing to the console: $(grep CONSOLE "$TMP/console")"
expect_eq "$(grep -o 'class="lc-ex"' dom.html | wc -l)" 5 "the DOM holds the 5 examples"
expect_in "$dom" 'id="lc-shown">5 of 5 shown' "the script ran: all shown"
expect_in "$dom" $'{\n  "lacuna_version": "' "the manifest is pretty-printed by the script, in its own key order"
chrome "file://$TMP/page.html#where=meta.case%3Dgood" dom2.html --dump-dom
expect_eq "$(grep -c 'CONSOLE' "$TMP/console")" 0 "no console message with a filter"
expect_in "$(cat dom2.html)" 'id="lc-shown">2 of 5 shown' "#where=meta.case=good shows 2"
expect_eq "$(grep -o 'class="lc-ex" data-index="[0-9]*" data-line="[0-9]*" hidden' dom2.html | wc -l)" 3 "and hides the 3 bad ones"
chrome "file://$TMP/page.html#where=meta.n%3E%3Dx" dom3.html --dump-dom
expect_in "$(cat dom3.html)" "needs a number, got 'x'" "a bad filter is explained on the page"
# The screenshot: trained spans (#d9f5dd) and the charts' bars (#4a78b5) are drawn;
# with every example filtered out, no trained span is.
chrome "file://$TMP/page.html" shot.png --screenshot="$TMP/shot.png"
read -r trained bars w h < <(python3 "$HERE/png_colors.py" shot.png d9f5dd 4a78b5)
echo "screenshot ${w}x$h: $trained trained-span pixels, $bars chart pixels"
[ "$trained" -gt 1000 ] && ok || bad "the screenshot shows trained spans ($trained pixels)"
[ "$bars" -gt 1000 ] && ok || bad "the screenshot shows the charts ($bars pixels)"
chrome "file://$TMP/page.html#where=meta.case%3Dnone" shot2.png --screenshot="$TMP/shot2.png"
read -r trained2 _ < <(python3 "$HERE/png_colors.py" shot2.png d9f5dd)
# (the legend's one trained span remains)
[ "$trained2" -lt 1000 ] && [ $((trained2 * 5)) -lt "$trained" ] && ok || bad "filtered out, the examples are not drawn ($trained2 pixels)"

# Every format renders on the page.
for f in oa sg trl tk; do
  lc inspect $f.jsonl --html $f.html
  expect_code 0 "--html of $f"
  expect_in "$(cat $f.html)" 'class="lc-trained"' "$f: trained spans on the page"
done
finish
