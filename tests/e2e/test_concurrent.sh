#!/usr/bin/env bash
# Two runs writing the same OUT (issue 8, point 4): the second fails at once
# with a clear message while the first holds OUT.lock, and however two runs
# overlap, the set on disk is always one run's whole set, its manifest
# matching its files.
source "$(dirname "$0")/lib.sh"
PROBE=$FIX/recipes/outputs_probe.lua
cd "$TMP"
for i in $(seq 1 400); do echo "{\"n\":$i}"; done >a.jsonl
for i in $(seq 1 300); do echo "{\"n\":$((i * 1000))}"; echo "{\"n\":$i,\"do\":\"skip\"}"; done >b.jsonl
"$LACUNA" run "$PROBE" -i a.jsonl -o ref_a.jsonl -q
"$LACUNA" run "$PROBE" -i b.jsonl -o ref_b.jsonl -q

# consistent: OUT's set is the whole set of run a or of run b, and its
# manifest matches its files.
consistent() {
  python3 - <<'PY'
import json, zlib
m = json.load(open('out.manifest.json'))
for k in ('examples', 'skipped', 'failed'):
    e = m['outputs'][k]
    data = open(e['path'], 'rb').read()
    assert e['bytes'] == len(data) and e['crc32'] == '%08x' % zlib.crc32(data), (k, e)
run = 'a' if m['inputs'] == ['a.jsonl'] else 'b'
for suffix in ('.jsonl', '.skipped.jsonl', '.failed.jsonl'):
    assert open('out' + suffix, 'rb').read() == open('ref_' + run + suffix, 'rb').read(), (run, suffix)
PY
}

# A second run while the first holds the lock.
"$LACUNA" run "$PROBE" -i a.jsonl -o out.jsonl -p spin=150000 -q &
pid=$!
for _ in $(seq 1 200); do [ -e out.lock ] && break; sleep 0.01; done
t0=$(date +%s%N)
lc run "$PROBE" -i b.jsonl -o out.jsonl
ms=$((($(date +%s%N) - t0) / 1000000))
expect_code 2 "the second run fails"
expect_in "$ERR" "another lacuna run (pid $pid) is writing this output; wait for it or use another -o" "the second run says why"
[ "$ms" -lt 1000 ] && ok || bad "the second run fails at once (took $ms ms)"
wait $pid
expect_eq "$?" 0 "the first run finishes"
consistent && ok || bad "after a refused second run, the set is the first run's"
[ ! -e out.lock ] && ok || bad "the lock file goes with the run"

# Twenty races of two runs started together.
mixed=0
for trial in $(seq 1 20); do
  "$LACUNA" run "$PROBE" -i a.jsonl -o out.jsonl -q 2>/dev/null &
  p1=$!
  "$LACUNA" run "$PROBE" -i b.jsonl -o out.jsonl -q 2>/dev/null &
  p2=$!
  wait $p1; c1=$?
  wait $p2; c2=$?
  case "$c1$c2" in 00 | 02 | 20) ;; *) bad "trial $trial: exit codes $c1 and $c2" ;; esac
  consistent || mixed=$((mixed + 1))
  ls | grep -q '\.tmp' && bad "trial $trial: temporary files left"
done
expect_eq "$mixed" 0 "no race mixes the files of two runs"

finish
