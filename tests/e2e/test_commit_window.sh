#!/usr/bin/env bash
# Signals at each step of the commit (strace delivers them as a syscall starts):
# * Ctrl-C or SIGTERM while the files are being sealed or the manifest written:
#   exit 130, the previous set unchanged, no temporary file;
# * the same once the renames have begun: the commit finishes (exit 0);
# * kill -9 at any of these syscalls: the set on disk is the old one, the new
#   one or has no manifest, never a manifest that does not match its files;
#   the rerun writes the bytes of an uninterrupted run and leaves nothing behind.
source "$(dirname "$0")/lib.sh"
expect_ne() { if [ "$1" != "$2" ]; then ok; else bad "$3: got '$1'"; fi; }
expect_true() { local d=$1; shift; if "$@"; then ok; else bad "$d"; fi; }
if ! command -v strace >/dev/null 2>&1 || ! strace -o /dev/null true 2>/dev/null; then
  echo "strace missing or not permitted (ptrace): skipped" >&2
  exit 77
fi
# LeakSanitizer cannot run under ptrace (an ASan build exits 1 at the end)
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
SAMPLE=$LACUNA_SRC/recipes/samples/chat.jsonl
cd "$TMP"
python3 -c 'import sys; sys.stdout.write(open(sys.argv[1]).read() * 200)' "$SAMPLE" >in.jsonl
"$LACUNA" run chat_mask -i in.jsonl -o base.jsonl -q
"$LACUNA" run chat_mask -i in.jsonl -o prev.jsonl -p policy=last -q

# set_state DIR: old | new | nomanifest | MISMATCH (a manifest its files do not match)
set_state() {
  python3 - "$1" <<'PY'
import json, os, sys, zlib
m = os.path.join(sys.argv[1], "out.manifest.json")
if not os.path.exists(m):
    print("nomanifest"); sys.exit()
man = json.load(open(m))
for k, o in man["outputs"].items():
    b = open(o["path"], "rb").read()
    if len(b) != o["bytes"] or "%08x" % zlib.crc32(b) != o["crc32"] or b.count(b"\n") != o["lines"]:
        print("MISMATCH"); sys.exit()
print("old" if man["params"]["policy"] == "last" else "new")
PY
}
prepare() { # DIR: a committed previous set under DIR/out.jsonl
  rm -rf "$1"; mkdir "$1"
  for s in "" .skipped .failed; do cp "prev$s.jsonl" "$1/out$s.jsonl"; done
  sed "s#$TMP/prev#$1/out#g" prev.manifest.json >"$1/out.manifest.json"
}
leftovers() { ls "$1" | grep -E '\.tmp\.|\.lock$' | tr '\n' ' '; }

# the syscalls of the commit, in order: fsync x3 (data files), fsync (manifest),
# unlink (old manifest), then 4 renames each followed by a directory fsync
for sig in INT TERM; do
  for spec in fsync:1 fsync:3 fsync:4 unlink:1 rename:1 rename:4; do
    d=$TMP/$sig-${spec/:/}
    prepare "$d"
    strace -o /dev/null -e "inject=${spec%:*}:signal=SIG$sig:when=${spec#*:}" \
      "$LACUNA" run chat_mask -i in.jsonl -o "$d/out.jsonl" -q 2>"$d.err"
    code=$?
    case $spec in
      fsync:*)
        expect_eq "$code" 130 "SIG$sig at $spec (before the renames): exit 130"
        expect_eq "$(set_state "$d")" old "SIG$sig at $spec: the previous set is unchanged"
        expect_in "$(cat "$d.err")" "nothing was written" "SIG$sig at $spec: says so" ;;
      *)
        expect_eq "$code" 0 "SIG$sig at $spec (the renames have begun): the commit finishes"
        expect_eq "$(set_state "$d")" new "SIG$sig at $spec: the new set is committed" ;;
    esac
    expect_eq "$(leftovers "$d")" "" "SIG$sig at $spec: no temporary file or lock"
  done
done

for spec in fsync:1 fsync:4 fsync:5 unlink:1 rename:1 rename:2 rename:3 rename:4 fsync:8; do
  d=$TMP/KILL-${spec/:/}
  prepare "$d"
  strace -o /dev/null -e "inject=${spec%:*}:signal=SIGKILL:when=${spec#*:}" \
    "$LACUNA" run chat_mask -i in.jsonl -o "$d/out.jsonl" -q 2>/dev/null
  state=$(set_state "$d")
  expect_ne "$state" MISMATCH "kill -9 at $spec: no manifest that does not match its files"
  "$LACUNA" run chat_mask -i in.jsonl -o "$d/out.jsonl" -q 2>/dev/null
  expect_eq "$?" 0 "kill -9 at $spec: the rerun completes"
  expect_true "kill -9 at $spec: the rerun's bytes are an uninterrupted run's" cmp -s "$d/out.jsonl" base.jsonl
  expect_eq "$(set_state "$d")" new "kill -9 at $spec: the rerun commits"
  expect_eq "$(leftovers "$d")" "" "kill -9 at $spec: the rerun leaves nothing behind"
done
finish
