#!/usr/bin/env bash
# Runs end-to-end tests (tests/e2e/test_*.sh) with every lacuna process under
# valgrind's memcheck: a memory error, or a leak that is definitely or
# indirectly lost, fails the run. (Still-reachable blocks, e.g. what libcurl
# and OpenSSL keep until exit, are not leaks.)
#
# Usage: tests/valgrind/run.sh [TEST...]     TEST: a name like test_bad_input
#   no TEST: every e2e test but the timing-bound ones (see SLOW below)
#   LACUNA_BIN  the executable (default: build/lacuna); build it without the
#               sanitizers (valgrind and ASan do not mix)
# Prints one line per test and the closing "N passed, N failed" line; the
# valgrind reports of a failing test are printed in full.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
E2E=$ROOT/tests/e2e
export LACUNA_BIN=${LACUNA_BIN:-$ROOT/build/lacuna}
export LACUNA_SRC=${LACUNA_SRC:-$ROOT}
# the write-fault shim of test_outputs_faults, built beside the executable
export LACUNA_FAULT_SHIM=${LACUNA_FAULT_SHIM:-$(dirname "$LACUNA_BIN")/tests/libfault_io.so}

if ! command -v valgrind >/dev/null 2>&1; then
  echo "FAIL: valgrind not found (.ci/deps installs it)" >&2
  exit 1
fi
[ -x "$LACUNA_BIN" ] || { echo "FAIL: $LACUNA_BIN is not built" >&2; exit 1; }

# Timing-bound tests: they deliver signals at chosen moments, measure RSS or
# wait on deadlines that a 20-50x slower process misses, or drive other
# programs (C hosts, lua5.4) that this wrapper does not reach.
SLOW="test_signals test_commit_window test_concurrent test_sandbox test_embed_threads test_embed_threads_json test_c_api test_shard_hostile"

if [ $# -gt 0 ]; then
  tests=("$@")
else
  tests=()
  for f in "$E2E"/test_*.sh; do
    name=$(basename "$f" .sh)
    case " $SLOW " in *" $name "*) continue ;; esac
    tests+=("$name")
  done
fi

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/lacuna-valgrind.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT
passed=0
failed=0
for name in "${tests[@]}"; do
  mkdir -p "$LOGS/$name"
  export LACUNA_WRAP="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --error-exitcode=99 --track-origins=yes --log-file=$LOGS/$name/vg.%p.log"
  start=$(date +%s)
  (cd "$E2E" && bash "$E2E/$name.sh") >"$LOGS/$name/out" 2>&1
  code=$?
  secs=$(($(date +%s) - start))
  # every lacuna process's report: quiet mode writes only errors and leaks
  reports=$(find "$LOGS/$name" -name 'vg.*.log' -size +0 | sort)
  if [ "$code" -eq 0 ] && [ -z "$reports" ]; then
    passed=$((passed + 1))
    echo "ok   $name (${secs}s)"
  else
    failed=$((failed + 1))
    echo "FAIL $name (${secs}s, exit $code)"
    tail -20 "$LOGS/$name/out" | sed 's/^/  | /'
    for r in $reports; do
      echo "  valgrind: $r"
      sed 's/^/  | /' "$r" | head -80
    done
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
