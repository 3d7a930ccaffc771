#!/usr/bin/env bash
# Write errors (issue 8, point 2) injected with the fault_io LD_PRELOAD shim
# (tests/e2e/fault_io.c): a full disk mid-run and at the final flush, a failing
# fsync, close or rename. Each fails the run clearly (exit 2), leaves no
# partial file under a final name and no temporary file, and keeps the previous
# set; a failed rename of the manifest (the commit point) leaves a set without
# a manifest, which the rerun reports and repairs.
source "$(dirname "$0")/lib.sh"
SHIM=${LACUNA_FAULT_SHIM:?set LACUNA_FAULT_SHIM to fault_io.so}
PRE=${LACUNA_PRELOAD:+$LACUNA_PRELOAD:}$SHIM
SAMPLE=$LACUNA_SRC/recipes/samples/chat.jsonl
cd "$TMP"
python3 -c 'import sys; sys.stdout.write(open(sys.argv[1]).read() * 500)' "$SAMPLE" >big.jsonl # 6000 records, ~1.2 MB of examples

# faulty ENV...: runs lacuna under the shim with the given fault settings.
faulty() {
  env LD_PRELOAD="$PRE" "$@" "$LACUNA" run chat_mask -i big.jsonl -o o.jsonl -q >"$TMP/stdout" 2>"$TMP/stderr"
  CODE=$?
  ERR=$(cat "$TMP/stderr")
}
no_temps() { ! ls "$TMP" | grep -q '\.tmp'; }
data_md5() { md5sum o.jsonl o.skipped.jsonl o.failed.jsonl 2>&1; }

lc run chat_mask -i big.jsonl -o o.jsonl -q
expect_code 0 "the first run"
before=$(data_md5)
manifest_before=$(cat o.manifest.json)

check_unchanged() { # description
  expect_eq "$(data_md5)" "$before" "$1: the previous data files are unchanged"
  expect_eq "$(cat o.manifest.json)" "$manifest_before" "$1: the previous manifest is unchanged"
  no_temps && ok || bad "$1: no temporary file is left"
}

# A full disk in the middle of the run (the first 1 MB flush of the examples).
faulty LACUNA_FAULT_PATH=o.jsonl.tmp LACUNA_FAULT_WRITE_AFTER=300000
expect_code 2 "disk full mid-run"
expect_in "$ERR" "cannot write the outputs: o.jsonl.tmp." "disk full mid-run: the message names the file"
expect_in "$ERR" "No space left on device; nothing was committed" "disk full mid-run: the message says why"
check_unchanged "disk full mid-run"

# A full disk at the final flush of a small file (skipped: 130 KB).
faulty LACUNA_FAULT_PATH=o.skipped.jsonl.tmp LACUNA_FAULT_WRITE_AFTER=50000
expect_code 2 "disk full at the final flush"
expect_in "$ERR" "o.skipped.jsonl.tmp." "disk full at the final flush names the file"
check_unchanged "disk full at the final flush"

# The disk fills for a moment only: a write fails, later ones would succeed.
# The error is sticky, so the torn file is never committed.
faulty LACUNA_FAULT_PATH=o.jsonl.tmp LACUNA_FAULT_WRITE_AFTER=1048000 LACUNA_FAULT_WRITE_FAILS=1
expect_code 2 "a moment of full disk"
check_unchanged "a moment of full disk"

faulty LACUNA_FAULT_PATH=o.failed.jsonl.tmp LACUNA_FAULT_FSYNC=1
expect_code 2 "fsync fails"
expect_in "$ERR" "o.failed.jsonl.tmp." "fsync failure names the file"
expect_in "$ERR" "Input/output error" "fsync failure says why"
check_unchanged "fsync fails"

faulty LACUNA_FAULT_PATH=o.jsonl.tmp LACUNA_FAULT_CLOSE=1
expect_code 2 "close fails"
check_unchanged "close fails"

faulty LACUNA_FAULT_PATH=o.manifest.json.tmp LACUNA_FAULT_WRITE_AFTER=10
expect_code 2 "the manifest cannot be written"
check_unchanged "the manifest cannot be written"

# A rename of a data file fails: the old manifest is already gone, so the
# set reads as uncommitted; nothing is left under a temporary name.
faulty LACUNA_FAULT_PATH=o.jsonl LACUNA_FAULT_RENAME=1
expect_code 2 "rename of OUT fails"
expect_in "$ERR" "o.jsonl has no manifest, so the set is incomplete: rerun the same command" "a failed rename says how to repair"
[ ! -e o.manifest.json ] && ok || bad "after a failed rename there is no manifest (the set is uncommitted)"
no_temps && ok || bad "a failed rename leaves no temporary file"

# The commit point itself fails: the data files are new, the manifest missing.
faulty LACUNA_FAULT_PATH=o.manifest.json LACUNA_FAULT_RENAME=1
expect_code 2 "rename of the manifest fails"
[ ! -e o.manifest.json ] && ok || bad "no manifest after a failed commit"
lc run chat_mask -i big.jsonl -o o.jsonl -q
expect_code 0 "the rerun repairs the set"
expect_in "$ERR" "the previous run did not commit its outputs (no manifest); this run writes them again" "the rerun reports the uncommitted set"
expect_eq "$(data_md5)" "$before" "the repaired set has the same data as the first run"
[ -s o.manifest.json ] && ok || bad "the repaired set has its manifest"

# The same checks through a real size limit instead of the shim: RLIMIT_FSIZE
# makes write(2) fail with EFBIG once a file would pass 512 KB.
(
  ulimit -f 512
  trap '' XFSZ
  exec "$LACUNA" run chat_mask -i big.jsonl -o o.jsonl -q
) >"$TMP/stdout" 2>"$TMP/stderr"
CODE=$?
ERR=$(cat "$TMP/stderr")
expect_code 2 "RLIMIT_FSIZE"
expect_in "$ERR" "File too large; nothing was committed" "RLIMIT_FSIZE says why"
expect_eq "$(data_md5)" "$before" "RLIMIT_FSIZE: the data files are unchanged"
no_temps && ok || bad "RLIMIT_FSIZE: no temporary file is left"

finish
