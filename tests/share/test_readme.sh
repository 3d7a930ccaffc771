# The README's tutorial and sharing blocks run as they are written, so the
# docs cannot rot: "Writing your first recipe" (no teacher), its teacher step
# against the loopback test server, then "Sharing and reproducing a dataset"
# (pack, reproduce elsewhere, cmp).
source "$(dirname "$0")/../teacher/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
README=${LACUNA_SRC:?set LACUNA_SRC}/README.md

# block NAME: the shell between <!-- NAME:begin ... --> and <!-- NAME:end -->,
# without the ``` fence lines.
block() {
  sed -n "/^<!-- $1:begin/,/^<!-- $1:end/p" "$README" | sed '1d;$d' | sed '/^```/d'
}
for b in tutorial tutorial-teacher sharing; do
  block "$b" >"$TMP/$b.sh"
  expect_true "README has the $b block" test -s "$TMP/$b.sh"
done

# `lacuna` on PATH, as a user has it.
mkdir -p "$TMP/bin" "$TMP/home"
ln -s "$LACUNA" "$TMP/bin/lacuna"
export PATH=$TMP/bin:$PATH
unset OPENAI_API_KEY OPENAI_BASE_URL

cd "$TMP/home" || exit 1
bash -e "$TMP/tutorial.sh" >"$TMP/tutorial.out" 2>"$TMP/tutorial.err"
expect_eq "$?" 0 "the tutorial block runs: $(tail -5 "$TMP/tutorial.err")"
F=$TMP/home/first-recipe
expect_in "$(cat "$TMP/tutorial.out")" '# qa 0.1.0: 3 checked = 2 ok (2 examples) + 1 skipped + 0 failed' \
  "lacuna check passes on the scaffold"
expect_eq "$(wc -l <"$F/data/qa.jsonl")" 2 "2 examples"
expect_eq "$(jq -r '.messages[2].content' "$F/data/qa.jsonl" | head -1)" "100 °C (212 °F)." "the answer is the trained turn"
expect_eq "$(jq -c '[.messages[].train]' "$F/data/qa.jsonl" | head -1)" "[false,false,true]" "trained on the answer only"
expect_eq "$(jq -r '.reason' "$F/data/qa.skipped.jsonl")" "no answer" "the third record is skipped with its reason"

# The teacher step, against the test server instead of api.openai.com.
start_server --latency-ms 1
cd "$F" || exit 1
OPENAI_BASE_URL=$BASE_URL bash -e "$TMP/tutorial-teacher.sh" >"$TMP/teacher.out" 2>"$TMP/teacher.err"
expect_eq "$?" 0 "the teacher block runs: $(tail -5 "$TMP/teacher.err")"
expect_eq "$(wc -l <data/qa_teacher.jsonl)" 3 "the teacher answers all 3 questions"
expect_in "$(jq -r '.messages[2].content' data/qa_teacher.jsonl | head -1)" "boiling point" \
  "the answers are the teacher's"
requests=$(stat_get .requests)

# Sharing: pack, reproduce in another folder, with no key and no server.
stop_server
bash -e "$TMP/sharing.sh" >"$TMP/sharing.out" 2>"$TMP/sharing.err"
expect_eq "$?" 0 "the sharing block runs: $(tail -5 "$TMP/sharing.err")"
expect_eq "$(cat "$TMP/sharing.out")" "identical" "the reproduced dataset is identical"
expect_true "the pack is where the README says" test -s "$F/data/qa_teacher.pack.jsonl.gz"
expect_eq "$requests" 3 "only the teacher block called the teacher"

finish
