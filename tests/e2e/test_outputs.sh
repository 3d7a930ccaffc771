#!/usr/bin/env bash
# The output set (issue 8): targets checked before the first record, the
# manifest as the commit point, dangerous targets refused, records that cannot
# be encoded recorded per item, leftovers of killed runs removed, a truncated
# .jsonl.gz named by its line.
source "$(dirname "$0")/lib.sh"
PROBE=$FIX/recipes/outputs_probe.lua
SAMPLE=$LACUNA_SRC/recipes/samples/chat.jsonl
cd "$TMP"

# verify OUT: the manifest names every file of the set with its line count,
# size and CRC-32, and they match the files (a reader's check of a commit).
verify() {
  python3 - "$1" <<'PY'
import json, sys, zlib, os
base = sys.argv[1][:-len('.jsonl')]
m = json.load(open(base + '.manifest.json'))
for k in ('examples', 'skipped', 'failed'):
    e = m['outputs'][k]
    data = open(e['path'], 'rb').read()
    assert e['bytes'] == len(data) == os.path.getsize(e['path']), (k, e, len(data))
    assert e['lines'] == data.count(b'\n'), (k, e)
    assert e['crc32'] == '%08x' % zlib.crc32(data), (k, e)
PY
}
no_temps() { ! ls "$TMP"/"$1"* 2>/dev/null | grep -q '\.tmp'; }

# ---- 3: a committed set, its manifest describing it
lc run chat_mask -i "$SAMPLE" -o "$TMP/s.jsonl"
expect_code 0 "sample run"
verify "$TMP/s.jsonl" && ok || bad "the manifest matches the committed files"
expect_eq "$(ls "$TMP" | grep -c 's\.lock')" 0 "the lock file is gone after the run"

# A .gz output: bytes on disk, CRC-32 and lines of the uncompressed content.
lc run chat_mask -i "$SAMPLE" -o "$TMP/g.jsonl.gz"
expect_code 0 "gzip output"
python3 - "$TMP/g.manifest.json" "$TMP/g.jsonl.gz" "$TMP/s.jsonl" <<'PY' && ok || bad "the manifest describes a .gz output"
import gzip, json, os, sys, zlib
e = json.load(open(sys.argv[1]))['outputs']['examples']
data = gzip.open(sys.argv[2]).read()
assert data == open(sys.argv[3], 'rb').read()
assert e['bytes'] == os.path.getsize(sys.argv[2]) and e['lines'] == data.count(b'\n'), e
assert e['crc32'] == '%08x' % zlib.crc32(data), e
PY

# ---- 3: everything a run could refuse is refused before the first record
printf '{"n":1}\n{"n":2}\n' >"$TMP/two.jsonl"
mkdir "$TMP/adir"
lc run "$PROBE" -i "$TMP/two.jsonl" -o "$TMP/adir"
expect_code 2 "-o DIR"
expect_in "$ERR" "-o $TMP/adir: is a directory" "-o DIR says why"
expect_eq "$(ls "$TMP" | grep -c '^adir\.')" 0 "-o DIR leaves no DIR.failed.jsonl or DIR.skipped.jsonl"
lc run "$PROBE" -i "$TMP/two.jsonl" -o ''
expect_code 2 "-o ''"
expect_in "$ERR" "lacuna: -o: the output path is empty" "-o '' says why"
lc run "$PROBE" -i "$TMP/two.jsonl" -o "$TMP/p.jsonl" -p x=1e999
expect_code 2 "-p x=1e999"
expect_in "$ERR" "param x: inf is not a finite number" "a non-finite param is refused"
lc run "$PROBE" -i "$TMP/two.jsonl" -o "$TMP/p.jsonl" -p "s=$(printf 'a\377b')"
expect_code 2 "-p s=<invalid UTF-8>"
expect_in "$ERR" "param s cannot be recorded in the manifest: invalid UTF-8" "an invalid UTF-8 param is refused"
expect_not_in "$ERR" "traceback" "no traceback for a bad param"
expect_eq "$(ls "$TMP" | grep -c '^p\.')" 0 "refused params write nothing, not even a temporary manifest"
mkdir "$TMP/ro" && chmod 555 "$TMP/ro"
if [ "$(id -u)" != 0 ]; then
  lc run "$PROBE" -i "$TMP/two.jsonl" -o "$TMP/ro/x.jsonl"
  expect_code 2 "an output directory that cannot be written"
  expect_in "$ERR" "Permission denied" "the unwritable directory is named"
fi

# ---- 5: dangerous targets
cp "$TMP/two.jsonl" "$TMP/corpus.jsonl"
ln "$TMP/corpus.jsonl" "$TMP/hardlink.jsonl"
ln -s "$TMP/corpus.jsonl" "$TMP/symlink.jsonl"
for target in corpus hardlink symlink; do
  lc run "$PROBE" -i "$TMP/corpus.jsonl" -o "$TMP/$target.jsonl"
  expect_code 2 "-o $target of the input"
  expect_in "$ERR" "refusing to overwrite an input" "-o $target of the input says why"
done
expect_same_file "$TMP/corpus.jsonl" "$TMP/two.jsonl" "the input is untouched"
cp "$TMP/two.jsonl" "$TMP/q.skipped.jsonl"
lc run "$PROBE" -i "$TMP/q.skipped.jsonl" -o "$TMP/q.jsonl"
expect_code 2 "a side file that is an input"
expect_in "$ERR" "its $TMP/q.skipped.jsonl is the input" "a side file that is an input is refused"
lc run "$PROBE" -i "$TMP/two.jsonl" -o /dev/null
expect_code 0 "-o /dev/null writes to the device"
expect_true() { if "$@"; then ok; else bad "$*"; fi; }
expect_true test -c /dev/null
expect_eq "$(ls /dev | grep -c '^null\.')" 0 "no side files in /dev"
"$LACUNA" run chat_mask -i "$SAMPLE" -o - >"$TMP/stdout.jsonl" 2>"$TMP/stdout.err"
expect_eq "$?" 0 "-o - exit code"
expect_same_file "$TMP/stdout.jsonl" "$TMP/s.jsonl" "-o - writes the examples to stdout"
expect_in "$(cat "$TMP/stdout.err")" "lacuna: skipped $SAMPLE:" "-o - reports skips on stderr"
expect_eq "$(ls "$TMP" | grep -c '^-')" 0 "-o - creates no file named -"
mkfifo "$TMP/fifo"
cat "$TMP/fifo" >"$TMP/fifo.out" &
lc run chat_mask -i "$SAMPLE" -o "$TMP/fifo"
wait
expect_code 0 "-o FIFO"
expect_same_file "$TMP/fifo.out" "$TMP/s.jsonl" "a FIFO gets the examples"

# ---- 6: a record that cannot be written as it is fails its own item only
cat >"$TMP/hostile.jsonl" <<'EOF'
{"n":1}
{"n":2,"do":"skip","x":1e999}
{"n":"three","x":1e999}
{"n":4,"do":"skip_bad_utf8"}
{"n":5,"do":"skip_function"}
{"n":6,"do":"fail_bad_utf8"}
{"n":7,"do":"fail_tostring"}
{"n":8,"do":"skip"}
{"n":9}
EOF
lc run "$PROBE" -i "$TMP/hostile.jsonl" -o "$TMP/h.jsonl"
expect_code 1 "hostile records: the run goes on and exits 1"
expect_in "$ERR" "9 read = 2 ok (2 examples) + 1 skipped + 6 failed" "every item is accounted for"
expect_not_in "$ERR" "stack traceback" "no internal traceback"
verify "$TMP/h.jsonl" && ok || bad "hostile run committed"
python3 - "$TMP/h.failed.jsonl" <<'PY' && ok || bad "hostile failure records"
import json, sys
recs = {r['line']: r for r in map(json.loads, open(sys.argv[1]))}
assert sorted(recs) == [2, 3, 4, 5, 6, 7], sorted(recs)
assert recs[2]['item']['x'] == 'Infinity' and 'cannot encode infinity' in recs[2]['error'], recs[2]
assert 'non-finite number' in recs[2]['sanitized'][0], recs[2]
assert recs[3]['item']['x'] == 'Infinity' and "field 'n'" in recs[3]['error'], recs[3]
assert '\\xFF' in recs[4]['error'] and recs[4]['sanitized'], recs[4]
assert recs[5]['item']['callback'] == '<function>', recs[5]
assert '\\xFF' in recs[6]['error'] and 'invalid UTF-8' in recs[6]['sanitized'][0], recs[6]
assert '__tostring failed' in recs[7]['error'] and 'no text for this error' in recs[7]['error'], recs[7]
PY

# ---- 7: a killed run's temporary files are removed by the rerun
for i in $(seq 1 2000); do echo "{\"n\":$i}"; done >"$TMP/many.jsonl"
"$LACUNA" run "$PROBE" -i "$TMP/many.jsonl" -o "$TMP/ref.jsonl" -q
for k in 1 2 3; do
  "$LACUNA" run "$PROBE" -i "$TMP/many.jsonl" -o "$TMP/k.jsonl" -p spin=200000 -q 2>"$TMP/killed$k.err" &
  pid=$!
  for _ in $(seq 1 100); do ls "$TMP" | grep -q "^k\.jsonl\.tmp\.$pid$" && break; sleep 0.02; done
  kill -9 $pid
  wait $pid 2>/dev/null
done
# Each run removes what the killed one before it left: leftovers never pile up.
expect_in "$(cat "$TMP/killed2.err" "$TMP/killed3.err")" "removed 3 temporary files" "each run cleans up after the killed one"
expect_eq "$(ls "$TMP" | grep -c '^k\..*\.tmp\.')" 3 "the last killed run left its temporary files"
lc run "$PROBE" -i "$TMP/many.jsonl" -o "$TMP/k.jsonl"
expect_code 0 "the rerun after kill -9"
expect_in "$ERR" "removed 3 temporary files of an interrupted run" "the rerun says what it removed"
no_temps k. && ok || bad "no temporary file is left"
expect_same_file "$TMP/k.jsonl" "$TMP/ref.jsonl" "the rerun's output equals an uninterrupted run's"
verify "$TMP/k.jsonl" && ok || bad "the rerun committed"

# ---- the progress line counts against --limit (issue 9, point 7)
"$LACUNA" run "$PROBE" -i "$TMP/many.jsonl" -o "$TMP/lim.jsonl" --limit 60 -p spin=200000 \
  --progress-interval 0.02 2>"$TMP/progress.err"
python3 - "$TMP/progress.err" <<'PY' && ok || bad "the progress line's share is of --limit: $(head -3 "$TMP/progress.err")"
import re, sys
seen = 0
for line in open(sys.argv[1]):
    m = re.match(r'lacuna: (\d+) done \((\d+)%\)', line)
    if m:
        done, pct = int(m.group(1)), int(m.group(2))
        assert pct == round(100 * done / 60), line
        seen += 1
assert seen > 0, 'no progress line'
PY

# ---- 7: a truncated .jsonl.gz names the line where the stream broke
for i in $(seq 1 3000); do echo "{\"n\":$i,\"pad\":\"$RANDOM$RANDOM$RANDOM\"}"; done | gzip -c >"$TMP/full.jsonl.gz"
head -c $(($(stat -c %s "$TMP/full.jsonl.gz") / 2)) "$TMP/full.jsonl.gz" >"$TMP/cut.jsonl.gz"
lc run "$PROBE" -i "$TMP/cut.jsonl.gz" -o "$TMP/cut.jsonl"
expect_code 1 "a truncated input is a recorded failure"
msg=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['error'])" "$TMP/cut.failed.jsonl")
n_ok=$(lines "$TMP/cut.jsonl")
expect_eq "$msg" "$TMP/cut.jsonl.gz:$((n_ok + 1)): the compressed stream ends early (truncated file)" \
  "the error names the file once and the line where the stream broke"

finish
