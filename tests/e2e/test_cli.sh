#!/usr/bin/env bash
# The command line: version, help, info, check, and runs of the shipped recipe
# on the bundled sample in every format against golden outputs.
source "$(dirname "$0")/lib.sh"
# From the source root, so that recorded input paths match the golden files.
cd "$LACUNA_SRC"
SAMPLE=recipes/samples/chat.jsonl

lc version
expect_code 0 "version"
expect_in "$OUT" "lacuna 0.1.0" "version text"

lc help
expect_code 0 "help"
expect_in "$OUT" "exit codes: 0 every item done, 1 some items failed (or stopped early), 2 usage" "help documents exit codes"

lc
expect_code 2 "no command"
lc frobnicate
expect_code 2 "unknown command"
expect_in "$ERR" "lacuna: unknown command 'frobnicate'" "unknown command message"
lc run chat_mask -i "$SAMPLE" -o "$TMP/x.jsonl" --bogus
expect_code 2 "unknown option"
expect_in "$ERR" "unknown option '--bogus'" "unknown option message"

# Help per command, from the same declarations as the parser.
for cmd in run check info stats cache version help; do
  lc "$cmd" --help
  expect_code 0 "$cmd --help"
  expect_in "$OUT" "usage: lacuna $cmd" "$cmd --help starts with its usage"
  help_out=$OUT
  lc help "$cmd"
  expect_code 0 "help $cmd"
  expect_eq "$OUT" "$help_out" "lacuna help $cmd equals lacuna $cmd --help"
done
lc run -h
expect_in "$OUT" "      --max-instructions N" "run's help lists its options"
expect_in "$OUT" "  --concurrency N" "run's help lists the teacher options"
lc cache --help
expect_in "$OUT" "--cache DB" "cache's help lists --cache"
expect_not_in "$OUT" "--concurrency" "cache's help lists only cache's options"
lc help frobnicate
expect_code 2 "help for an unknown command"
expect_in "$ERR" "unknown command 'frobnicate'" "help names the unknown command"

# Mistakes name the flag (and the command).
lc check chat_mask --window
expect_code 2 "a missing value"
expect_in "$ERR" "lacuna: --window needs a value" "a missing value names the flag"
lc check chat_mask --limit=-1
expect_code 2 "a value below the minimum"
expect_in "$ERR" "--limit must be >= 0" "a bad value names the flag"
lc check chat_mask --seed abc
expect_code 2 "a non-integer value"
expect_in "$ERR" "--seed expects an integer, got 'abc'" "a non-integer names the flag"
lc check chat_mask --trust=yes
expect_code 2 "a value given to a flag"
expect_in "$ERR" "--trust takes no value" "a valued flag names the flag"
lc cache stats --bogus
expect_code 2 "an unknown cache option"
expect_in "$ERR" "unknown option '--bogus' for lacuna cache" "cache names the unknown option"
lc version --bogus
expect_code 2 "an unknown version option"
expect_in "$ERR" "unknown option '--bogus' for lacuna version" "version names the unknown option"
lc run
expect_code 2 "run without a recipe"
expect_in "$ERR" "run: which recipe?" "run asks for the recipe"
lc check chat_mask extra
expect_code 2 "a second operand"
expect_in "$ERR" "unexpected argument 'extra' (inputs go after -i)" "a second operand is named"

# The README's option list is the generated one.
lc help --markdown
expect_code 0 "help --markdown"
readme_opts=$(sed -n '/^<!-- options:begin/,/^<!-- options:end/p' README.md | sed '1d;$d')
expect_eq "$readme_opts" "$OUT" "README.md's option list equals lacuna help --markdown (regenerate it with that command)"

lc info chat_mask
expect_code 0 "info"
expect_in "$OUT" "chat_mask 1.0.0" "info names the recipe"
expect_in "$OUT" "  policy         enum(last|all_assistant|all|input) = all_assistant  which turns carry loss" "info lists params with type, default and doc"
expect_in "$OUT" "messages" "info lists input fields"
expect_in "$OUT" "formats: axolotl" "info lists formats"

lc check chat_mask
expect_code 0 "check on the recipe's own examples"
expect_in "$OUT" "3 checked = 3 ok (3 examples) + 0 skipped + 0 failed" "check summary"

lc check chat_mask -i "$SAMPLE" -p policy=last
expect_code 0 "check on an input"
expect_eq "$(grep -c '^{' "$TMP/stdout")" 3 "check prints the first 3 examples"

for fmt in axolotl openai sharegpt trl; do
  policy=all_assistant
  [ "$fmt" = trl ] || [ "$fmt" = sharegpt ] && policy=last
  out="$TMP/sample.$fmt.jsonl"
  lc run chat_mask -i "$SAMPLE" -o "$out" --format "$fmt" -p policy=$policy
  expect_code 0 "run --format $fmt"
  expect_same_file "$out" "$GOLDEN/sample.$fmt.jsonl" "$fmt output"
  expect_same_file "$TMP/sample.$fmt.skipped.jsonl" "$GOLDEN/sample.$fmt.skipped.jsonl" "$fmt skipped"
  expect_same_file "$TMP/sample.$fmt.failed.jsonl" "$GOLDEN/sample.$fmt.failed.jsonl" "$fmt failed"
  # Every item is accounted for, and the manifest says so.
  read_n=$(python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['counts']; print(c['read'], c['ok']+c['skipped']+c['failed'])" "$TMP/sample.$fmt.manifest.json")
  expect_eq "$read_n" "12 12" "$fmt manifest counts add up"
  expect_in "$ERR" "12 read = " "$fmt summary line"
  ls "$TMP" | grep -q '\.tmp' && bad "$fmt: temporary files left behind" || ok
done

# The manifest records what reproduces the run.
python3 - "$TMP/sample.axolotl.manifest.json" <<'PY' && ok || bad "manifest fields"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["recipe"]["name"] == "chat_mask" and m["recipe"]["version"] == "1.0.0", m["recipe"]
assert len(m["recipe"]["sha256"]) == 64
assert m["params"]["policy"] == "all_assistant" and m["params"]["keep_id"] is True
assert m["seed"] == 0 and m["format"] == "axolotl"
assert m["lacuna_version"] == "0.1.0"
assert m["counts"] == {"read": 12, "ok": 11, "examples": 11, "skipped": 1, "failed": 0}, m["counts"]
assert isinstance(m["wall_seconds"], (int, float))
PY

finish
