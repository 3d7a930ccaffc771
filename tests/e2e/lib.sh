# Shared helpers of the end-to-end tests: run lacuna, check its exit code,
# output and files; print the closing "N passed, N failed" line.
set -uo pipefail
LACUNA=${LACUNA_BIN:?set LACUNA_BIN to the lacuna executable}
FIX=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd)
GOLDEN=$(cd "$(dirname "${BASH_SOURCE[0]}")/golden" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# LACUNA_WRAP: a command every run of the executable goes through, e.g.
# valgrind and its options (tests/valgrind/run.sh); $LACUNA becomes a script
# that runs it, so tests that call "$LACUNA" directly are wrapped too.
if [ -n "${LACUNA_WRAP:-}" ]; then
  printf '#!/bin/sh\nexec %s %q "$@"\n' "$LACUNA_WRAP" "$LACUNA" >"$TMP/lacuna-wrapped"
  chmod +x "$TMP/lacuna-wrapped"
  LACUNA=$TMP/lacuna-wrapped
fi
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# lc ARGS...: runs lacuna, capturing $OUT (stdout), $ERR (stderr) and $CODE.
lc() {
  "$LACUNA" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  CODE=$?
  OUT=$(cat "$TMP/stdout")
  ERR=$(cat "$TMP/stderr")
}

expect_code() { # want description
  if [ "$CODE" -eq "$1" ]; then ok; else bad "$2: exit code $CODE, want $1; stderr: $ERR"; fi
}
expect_in() { # haystack needle description
  case "$1" in *"$2"*) ok ;; *) bad "$3: missing '$2' in: $1" ;; esac
}
expect_not_in() {
  case "$1" in *"$2"*) bad "$3: unexpected '$2' in: $1" ;; *) ok ;; esac
}
expect_same_file() { # got want description
  if cmp -s "$1" "$2"; then ok; else bad "$3: $1 differs from $2"; diff "$1" "$2" | head -20 >&2; fi
}
expect_eq() { # got want description
  if [ "$1" = "$2" ]; then ok; else bad "$3: got '$1', want '$2'"; fi
}
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo missing; fi; }

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
