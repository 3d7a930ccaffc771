#!/usr/bin/env bash
# A pack of a 10,000-item teacher run (compressed: gzip JSONL) stays well below
# the size of its output, and still reproduces it byte for byte.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
N=${PACK_SIZE_ITEMS:-10000}
start_server
W=$TMP/work
mkdir -p "$W/data"
cp "$TEACHER_DIR/recipes/ask.lua" "$W/"
python3 - "$W/data/q.jsonl" "$N" <<'PY'
import sys
topics = ["rivers", "prime numbers", "bridges", "volcanoes", "sorting", "tides", "glaciers", "compilers"]
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write('{"question":"Question %d: explain %s to a student, with an example about %d."}\n'
                % (i, topics[i % len(topics)], i * 7))
PY
cd "$W" || exit 1
"$LACUNA" run ask.lua -i data/q.jsonl -o out/ds.jsonl --model m1 --base-url "$BASE_URL" --cache c.db \
  --concurrency 32 --no-progress -q
expect_eq "$?" 0 "the $N-item run"
expect_eq "$(wc -l <out/ds.jsonl)" "$N" "$N examples"
"$LACUNA" pack out/ds.jsonl -o ds.pack.jsonl.gz 2>"$TMP/pack.err"
expect_eq "$?" 0 "pack: $(cat "$TMP/pack.err")"
out_bytes=$(stat -c %s out/ds.jsonl)
pack_bytes=$(stat -c %s ds.pack.jsonl.gz)
echo "output: $out_bytes bytes; pack (recipe, inputs, $N cache entries): $pack_bytes bytes;" \
  "ratio $(awk -v p="$pack_bytes" -v o="$out_bytes" 'BEGIN { printf "%.3f", p / o }')"
expect_true "the pack ($pack_bytes bytes) is under a third of the output ($out_bytes bytes)" \
  test $((pack_bytes * 3)) -lt "$out_bytes"
mkdir -p "$TMP/repro"
cd "$TMP/repro" || exit 1
env -u OPENAI_API_KEY -u OPENAI_BASE_URL "$LACUNA" reproduce "$W/ds.pack.jsonl.gz" 2>"$TMP/repro.err"
expect_eq "$?" 0 "reproduce: $(tail -3 "$TMP/repro.err")"
for f in ds.jsonl ds.skipped.jsonl ds.failed.jsonl; do
  expect_true "reproduced out/$f is byte-identical" cmp -s "out/$f" "$W/out/$f"
done
finish
