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

# the last line with no newline after it: over the limit it fails as any
# other, at the limit it is read (file and stdin)
{ record 10; record 20; record 5000; } | head -c -1 >"$TMP/last.jsonl"
lc run chat_mask -i "$TMP/last.jsonl" -o "$TMP/last_over.jsonl" --max-line-bytes 1000
expect_code 1 "last line, no newline: over the limit fails"
expect_eq "$(lines "$TMP/last_over.jsonl")" 2 "last line, no newline: the lines before it are read"
expect_in "$(cat "$TMP/last_over.failed.jsonl")" "last.jsonl:3: line longer than 1000 bytes" \
  "last line, no newline: named by its line"
lc run chat_mask -i "$TMP/last.jsonl" -o "$TMP/last_exact.jsonl" --max-line-bytes "$long_len"
expect_code 0 "last line, no newline: exactly at the limit is read"
expect_eq "$(lines "$TMP/last_exact.jsonl")" 3 "last line, no newline: every record is an example"
lc run chat_mask -i - -o "$TMP/last_stdin.jsonl" --max-line-bytes 1000 <"$TMP/last.jsonl"
expect_code 1 "stdin, last line, no newline: over the limit fails"
expect_in "$(cat "$TMP/last_stdin.failed.jsonl")" "<stdin>:3: line longer than 1000 bytes" \
  "stdin, last line, no newline: named by its line"
lc run chat_mask -i - -o "$TMP/exact_stdin.jsonl" --max-line-bytes "$long_len" <"$TMP/last.jsonl"
expect_code 0 "stdin: exactly at the limit is read"
expect_eq "$(lines "$TMP/exact_stdin.jsonl")" 3 "stdin: every record is an example"

# CRLF: the '\r' is part of the line ending, not of the line: the same lines
# pass and fail as with '\n'
sed 's/$/\r/' "$TMP/in.jsonl" >"$TMP/crlf.jsonl"
lc run chat_mask -i "$TMP/crlf.jsonl" -o "$TMP/crlf_exact.jsonl" --max-line-bytes "$long_len"
expect_code 0 "CRLF: a line exactly at the limit is read"
expect_eq "$(lines "$TMP/crlf_exact.jsonl")" 3 "CRLF: every record is an example"
lc run chat_mask -i - -o "$TMP/crlf_under.jsonl" --max-line-bytes $((long_len - 1)) <"$TMP/crlf.jsonl"
expect_code 1 "CRLF (stdin): one byte over the limit fails"
expect_eq "$(lines "$TMP/crlf_under.jsonl")" 2 "CRLF (stdin): the lines before and after it are read"
expect_in "$(cat "$TMP/crlf_under.failed.jsonl")" "<stdin>:2: line longer than $((long_len - 1)) bytes" \
  "CRLF (stdin): named by its line"

# a line far longer than the read buffer, skipped while it streams in: in
# the middle (CRLF) and as the last line with no newline, through a pipe
python3 -c '
import sys
big = "{\"s\":\"" + "z" * (6 << 20) + "\"}"
ok = "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]}"
sys.stdout.write(ok + "\r\n" + big + "\r\n" + ok + "\r\n" + big)' >"$TMP/stream.jsonl"
lc run chat_mask -i - -o "$TMP/stream.out.jsonl" --max-line-bytes $((1 << 20)) < <(cat "$TMP/stream.jsonl")
expect_code 1 "stdin: the long lines fail"
expect_eq "$(lines "$TMP/stream.out.jsonl")" 2 "stdin: the lines between them are read"
expect_in "$ERR" "4 read = 2 ok (2 examples) + 0 skipped + 2 failed" "stdin: both long lines are counted"
expect_in "$(cat "$TMP/stream.out.failed.jsonl")" "<stdin>:4: line longer than 1048576 bytes" \
  "stdin: the last one, with no newline, named by its line"

# a .gz input: the limit is on the decompressed line
gzip -c "$TMP/in.jsonl" >"$TMP/in.jsonl.gz"
lc run chat_mask -i "$TMP/in.jsonl.gz" -o "$TMP/gz.jsonl" --max-line-bytes 1000
expect_code 1 ".gz: over the limit"
expect_in "$(cat "$TMP/gz.failed.jsonl")" "in.jsonl.gz:2: line longer than 1000 bytes" ".gz: names file and line"

# the option is checked
lc run chat_mask -i "$TMP/in.jsonl" -o "$TMP/bad.jsonl" --max-line-bytes 0
expect_code 2 "--max-line-bytes 0 is a usage error"
lc run chat_mask -i "$TMP/in.jsonl" -o "$TMP/huge_limit.jsonl" --max-line-bytes 5000000000
expect_code 0 "a limit over 4 GiB is taken (it was an internal error)"
expect_eq "$(lines "$TMP/huge_limit.jsonl")" 3 "a limit over 4 GiB reads every line"
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

# a line is written as soon as its item is done, never through the order
# buffer's spill file (--order-memory 0: every waiting result would go there);
# one whose long text needs escapes (written in pieces) has the right bytes
gen_escaped() { # N: one record whose user turn is N lines of 99 bytes
  python3 -c '
import sys
t = ("x" * 98 + "\\n") * int(sys.argv[1])
sys.stdout.write("{\"messages\":[{\"role\":\"user\",\"content\":\"" + t + "\"},{\"role\":\"assistant\",\"content\":\"ok\"}]}\n")
' "$1"
}
gen_escaped 2000 >"$TMP/esc.jsonl"
lc run chat_mask -i "$TMP/esc.jsonl" -o "$TMP/esc_out.jsonl" --order-memory 0
expect_code 0 "a 200 KB line with escapes is read"
expect_eq "$(jq -c .order_buffer.spilled_items "$TMP/esc_out.manifest.json")" 0 "the line was not spilled"
expect_true "its example has the right bytes" cmp -s "$TMP/esc_out.jsonl" \
  <(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read()); print(json.dumps({"messages":[dict(m, train=m["role"]=="assistant") for m in r["messages"]]}, ensure_ascii=False, separators=(",",":")))' "$TMP/esc.jsonl")

# memory: a 40 MB line, its text full of JSON escapes, costs about twice its
# size at peak, not 5-6 times (the read buffer, a decoded copy, the example's
# copy, the escaped text and the line, and a spill). Not under valgrind or
# ASan, whose allocators keep freed memory.
if [ -x /usr/bin/time ] && [ -z "${LACUNA_WRAP:-}" ] && ! grep -aq __asan_init "$LACUNA"; then
  gen_escaped 400000 >"$TMP/m40.jsonl"
  /usr/bin/time -f '%M' -o "$TMP/rss" "$LACUNA" run chat_mask -i "$TMP/m40.jsonl" -o "$TMP/m40_rss.jsonl" -q 2>/dev/null
  big_kb=$(tail -1 "$TMP/rss")
  /usr/bin/time -f '%M' -o "$TMP/rss" "$LACUNA" run chat_mask -i "$TMP/in.jsonl" -o "$TMP/small_rss.jsonl" -q 2>/dev/null
  small_kb=$(tail -1 "$TMP/rss")
  [ $((big_kb - small_kb)) -lt $((40000 * 1000 * 5 / 2 / 1024)) ] && ok ||
    bad "a 40 MB line costs $((big_kb - small_kb)) kB at peak beyond a small run's (want < 2.5 x the line)"
fi

finish
