#!/usr/bin/env bash
# recipes/pam.lua in --format tokens with the real Llama 3 and Qwen3
# tokenizers (tests/tokenizer/setup.sh fetches them): in every example the
# trained tokens are one contiguous run whose Hugging Face decoding is exactly
# the turn's trained text (axolotl's train_detail of the same run) and the end
# of turn: in a bad case the verification, the explanation and the answer, in
# a good case the whole turn or (good_masking=verification) its verification.
# The scripted answers include one-letter ones ("A" alone as a whole attempt,
# "\nA" ending an explanation); no token straddles a mask boundary.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
FIX=${LACUNA_FIXTURES:-$TEACHER_DIR/../fixtures}
MODELS=${LACUNA_CACHE:-$HOME/.cache/lacuna}/models
IN=$FIX/pam/questions.jsonl

PAM_ANSWERS=$IN start_server --script "$TEACHER_DIR/scripts/pam.mjs"
COMMON=(-i "$IN" --model teach --teacher attempt=small --base-url "$BASE_URL" -q -p attempts=3 --cache "$TMP/c.db")
for masking in all verification; do
  "$LACUNA" run pam "${COMMON[@]}" -p good_masking=$masking -o "$TMP/axolotl_$masking.jsonl"
  expect_eq "$?" 0 "axolotl run, good_masking=$masking"
  for model in "llama3 <|eot_id|>" "qwen3 <|im_end|>"; do
    read -r name eot <<<"$model"
    if [ ! -f "$MODELS/$name/tokenizer.json" ]; then bad "$MODELS/$name/tokenizer.json missing (tests/tokenizer/setup.sh makes it)"; continue; fi
    "$LACUNA" run pam "${COMMON[@]}" -p good_masking=$masking -o "$TMP/$name.jsonl" --format tokens --tokenizer "$MODELS/$name"
    expect_eq "$?" 0 "$name tokens run, good_masking=$masking"
    expect_eq "$(jq -c '.format_notes.straddling_tokens // "none"' "$TMP/$name.manifest.json")" '"none"' \
      "$name: no token straddles a mask boundary"
    out=$("$NODE" "$TEACHER_DIR/scripts/pam_labels.mjs" "$MODELS/$name" "$TMP/$name.jsonl" "$TMP/axolotl_$masking.jsonl" "$eot" 2>&1)
    expect_eq "$?" 0 "$name, good_masking=$masking: $out"
    expect_in "$out" "15 examples (5 good, 10 bad): 15 train exactly" "$name: every example checked"
  done
done
# The one-letter good case really is a one-letter attempt, masked apart from its verification.
expect_eq "$(jq -r 'select(.meta.pam.case == "good" and (.messages[0].content | test("melts"))) | .messages[1].content[:3]' \
  "$TMP/axolotl_verification.jsonl")" "A" "the fixture holds an attempt that is the letter alone"
finish
