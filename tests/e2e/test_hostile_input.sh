#!/usr/bin/env bash
# Hostile inputs: huge numbers, deep nesting, NUL bytes, invalid UTF-8 at every
# position, CR, a BOM in the middle, a 50 MB line, broken gzip. Every item is
# accounted for (read = ok + skipped + failed), each failure names file:line,
# and no message points into lacuna's own source.
source "$(dirname "$0")/lib.sh"
RECIPE=$FIX/recipes/echo_extra.lua

python3 - "$TMP/in.jsonl" <<'PY'
import sys
L = [b'{"question":"a","extra":1e999}',
     b'{"question":"b","extra":123456789012345678901234567890123456789}',
     b'{"question":"c","extra":' + b'[' * 100000 + b']' * 100000 + b'}',
     b'{"question":"e\x00f"}',
     b'{"question":"e\\u0000f"}',
     b'\x00',
     b'{"question":"g"}\r',
     b'\xef\xbb\xbf{"question":"bom in the middle"}',
     b'{"question":"' + b'x' * (50 * 1024 * 1024) + b'"}',
     b'{"question":"last, no newline"}']
open(sys.argv[1], "wb").write(b"\n".join(L))
PY
lc run "$RECIPE" -i "$TMP/in.jsonl" -o "$TMP/out.jsonl"
expect_code 1 "hostile lines: exit 1"
expect_eq "$(jq -c .counts "$TMP/out.manifest.json")" '{"read":10,"ok":6,"examples":6,"skipped":0,"failed":4}' "hostile lines: counts"
F=$(cat "$TMP/out.failed.jsonl")
expect_in "$F" "in.jsonl:1: meta: json.encode: cannot encode infinity at extra" "1e999 in meta fails its item"
expect_not_in "$(jq -r .error "$TMP/out.failed.jsonl")" "lacuna/" "the messages name no line of lacuna"
expect_in "$F" "in.jsonl:3: nesting deeper than 128" "deep nesting"
expect_in "$F" "in.jsonl:4: byte 15: unescaped control character 0x00" "raw NUL in a string"
expect_in "$F" "in.jsonl:6: byte 1: unexpected control character 0x00" "NUL line"

# invalid UTF-8 at every position of a line, 7 kinds of bad sequence
python3 - "$TMP/utf.jsonl" <<'PY'
import sys
base = b'{"question":"caf\xc3\xa9 \xe4\xb8\xad","extra":[1,{"k":"v"}]}'
out = [base[:i] + bad + base[i:] for i in range(len(base) + 1)
       for bad in (b'\xff', b'\xc3', b'\xe4\xb8', b'\x80', b'\xed\xa0\x80', b'\xf4\x90\x80\x80', b'\xc0\xaf')]
open(sys.argv[1], "wb").write(b"\n".join(out) + b"\n")
PY
n=$(wc -l <"$TMP/utf.jsonl")
lc run "$RECIPE" -i "$TMP/utf.jsonl" -o "$TMP/utf.out.jsonl" -q
expect_code 1 "invalid UTF-8 everywhere: exit 1"
expect_eq "$(jq -c '[.counts.read, .counts.failed]' "$TMP/utf.out.manifest.json")" "[$n,$n]" "every bad line is a failure"
expect_eq "$(jq -r .error "$TMP/utf.out.failed.jsonl" | grep -c 'utf.jsonl:[0-9]*: invalid UTF-8 at byte')" "$n" \
  "each names its line and byte"

# broken gzip: the lines before the cut are items, the cut is one failure
for i in $(seq 1 5000); do echo "{\"question\":\"q$i\"}"; done | gzip >"$TMP/g.jsonl.gz"
sz=$(stat -c %s "$TMP/g.jsonl.gz")
head -c $((sz - 4)) "$TMP/g.jsonl.gz" >"$TMP/cut.jsonl.gz"
lc run "$RECIPE" -i "$TMP/cut.jsonl.gz" -o "$TMP/cut.out.jsonl" -q
expect_code 1 "truncated gzip: exit 1"
expect_eq "$(jq -c .counts "$TMP/cut.out.manifest.json")" '{"read":5001,"ok":5000,"examples":5000,"skipped":0,"failed":1}' \
  "truncated gzip: counts"
expect_in "$(cat "$TMP/cut.out.failed.jsonl")" "cut.jsonl.gz:5001: the compressed stream ends early" "truncated gzip: message"

# a flipped CRC byte: all 5000 lines are items, the bad trailer one failure
python3 - "$TMP/g.jsonl.gz" "$TMP/crc.jsonl.gz" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[-8] ^= 0xFF
open(sys.argv[2], "wb").write(data)
PY
lc run "$RECIPE" -i "$TMP/crc.jsonl.gz" -o "$TMP/crc.out.jsonl" -q
expect_code 1 "bad gzip CRC: exit 1"
expect_eq "$(jq -c .counts "$TMP/crc.out.manifest.json")" '{"read":5001,"ok":5000,"examples":5000,"skipped":0,"failed":1}' \
  "bad gzip CRC: counts"
expect_eq "$(jq -r .error "$TMP/crc.out.failed.jsonl")" "$TMP/crc.jsonl.gz:5001: the compressed stream is corrupt (CRC mismatch)" \
  "bad gzip CRC: message"

# bytes after the gzip stream: all lines, then one failure
{ cat "$TMP/g.jsonl.gz"; printf 'not gzip\n'; } >"$TMP/tail.jsonl.gz"
lc run "$RECIPE" -i "$TMP/tail.jsonl.gz" -o "$TMP/tail.out.jsonl" -q
expect_code 1 "gzip with trailing bytes: exit 1"
expect_eq "$(jq -c .counts "$TMP/tail.out.manifest.json")" '{"read":5001,"ok":5000,"examples":5000,"skipped":0,"failed":1}' \
  "gzip with trailing bytes: counts"
expect_eq "$(jq -r .error "$TMP/tail.out.failed.jsonl")" \
  "$TMP/tail.jsonl.gz:5001: the compressed stream is corrupt (trailing bytes after the compressed stream)" \
  "gzip with trailing bytes: message"

# several gzip members make one valid stream
{ cat "$TMP/g.jsonl.gz"; echo '{"question":"last"}' | gzip; } >"$TMP/multi.jsonl.gz"
lc run "$RECIPE" -i "$TMP/multi.jsonl.gz" -o "$TMP/multi.out.jsonl" -q
expect_code 0 "multi-member gzip: exit 0"
expect_eq "$(jq -c .counts "$TMP/multi.out.manifest.json")" '{"read":5001,"ok":5001,"examples":5001,"skipped":0,"failed":0}' \
  "multi-member gzip: counts"
finish
