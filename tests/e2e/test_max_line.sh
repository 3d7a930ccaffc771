#!/usr/bin/env bash
# --max-line-bytes: a line over the limit is a failed item naming FILE:LINE
# (nothing dropped silently, the lines after it still read); a line at the
# limit is read; the reader's memory stays near the limit, not the line.
source "$(dirname "$0")/lib.sh"

# one chat record whose user turn is N bytes of text
record() {
  python3 -c 'import sys; n = int(sys.argv[1]); sys.stdout.write("{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x" * n + "\"},{\"role\":\"assistant\",\"content\":\"ok\"}]}\n")' "$1"
}
{ record 10; record 5000; record 20; } >"$TMP/in.jsonl"
long_len=$(sed -n 2p "$TMP/in.jsonl" | wc -c)
long_len=$((long_len - 1)) # without its newline

lc run chat_mask -i "$TMP/in.jsonl" -o "$TMP/over.jsonl" --max-line-bytes 1000
expect_code 1 "a line over the limit fails its item"
expect_eq "$(lines "$TMP/over.jsonl")" 2 "the lines before and after it are read"
expect_in "$ERR" "3 read = 2 ok (2 examples) + 0 skipped + 1 failed" "the long line is counted"
expect_in "$(cat "$TMP/over.failed.jsonl")" "in.jsonl:2: line longer than 1000 bytes (the max_line limit, --max-line-bytes)" \
  "the failure names file, line and the limit"
expect_in "$ERR" "lacuna: $TMP/in.jsonl:2: line longer than 1000 bytes" "and is shown on stderr"

lc run chat_mask -i "$TMP/in.jsonl" -o "$TMP/exact.jsonl" --max-line-bytes "$long_len"
expect_code 0 "a line exactly at the limit is read"
expect_eq "$(lines "$TMP/exact.jsonl")" 3 "every record is an example"
lc run chat_mask -i "$TMP/in.jsonl" -o "$TMP/under.jsonl" --max-line-bytes $((long_len - 1))
expect_code 1 "one byte over the limit fails"

# stdin: the same, and a record before the long line is not lost
lc run chat_mask -i - -o "$TMP/stdin.jsonl" --max-line-bytes 1000 <"$TMP/in.jsonl"
expect_code 1 "stdin: over the limit"
expect_eq "$(lines "$TMP/stdin.jsonl")" 2 "stdin: the other lines are read"
expect_in "$(cat "$TMP/stdin.failed.jsonl")" "<stdin>:2: line longer than 1000 bytes" "stdin: named <stdin>"

# a .gz input: the limit is on the decompressed line
gzip -c "$TMP/in.jsonl" >"$TMP/in.jsonl.gz"
lc run chat_mask -i "$TMP/in.jsonl.gz" -o "$TMP/gz.jsonl" --max-line-bytes 1000
expect_code 1 ".gz: over the limit"
expect_in "$(cat "$TMP/gz.failed.jsonl")" "in.jsonl.gz:2: line longer than 1000 bytes" ".gz: names file and line"

# the option is checked
lc run chat_mask -i "$TMP/in.jsonl" -o "$TMP/bad.jsonl" --max-line-bytes 0
expect_code 2 "--max-line-bytes 0 is a usage error"
lc help run
expect_in "$OUT" "--max-line-bytes N" "the option is documented"
expect_in "$OUT" "536870912 = 512 MiB)" "with its default"

# memory: a 20 MB line over a 1 MB limit is skipped without being held: the
# run's peak RSS is at least 20 MB below that of the run that reads it
python3 -c 'import sys; sys.stdout.write("{\"s\":\"" + "y" * (20 << 20) + "\"}\n{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}\n")' >"$TMP/huge.jsonl"
peak_kb() { # ARGS...: peak RSS of lacuna run chat_mask on huge.jsonl
  /usr/bin/time -f '%M' -o "$TMP/rss" "$LACUNA" run chat_mask -i "$TMP/huge.jsonl" -o "$TMP/huge_out.jsonl" -q "$@" \
    2>/dev/null
  tail -1 "$TMP/rss"
}
if [ -x /usr/bin/time ] && [ -z "${LACUNA_WRAP:-}" ]; then
  limited=$(peak_kb --max-line-bytes $((1 << 20)))
  expect_in "$(cat "$TMP/huge_out.failed.jsonl")" "huge.jsonl:1: line longer than 1048576 bytes" "the huge line fails"
  unlimited=$(peak_kb)
  [ "$limited" -lt $((unlimited - 20 * 1024)) ] && ok ||
    bad "a skipped 20 MB line is not held: peak RSS ${limited} kB, reading it ${unlimited} kB"
fi

finish
