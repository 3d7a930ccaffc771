# Shared helpers of the teacher tests: start and stop test servers
# (tests/teacher/server.mjs), read their counters, check results, print the
# closing "N passed, N failed" line. Source it from bash:
#   source "$(dirname "$0")/lib.sh"
#   start_server --latency-ms 5 --fault-rate 0.2     # sets PORT, BASE_URL, SERVER_PID
#   ... "$LACUNA" run ... --base-url "$BASE_URL" ...
#   expect_eq "$(stat_get .repeated_completed)" 0 "no completed request repeated"
#   finish
# Fails when node >= 18, curl or jq are missing: the teacher tests are part of the suite.
set -uo pipefail
TEACHER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVER_JS=$TEACHER_DIR/server.mjs
NODE=${NODE:-node}

for tool in "$NODE" curl jq; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "FAIL: $tool not found (.ci/deps installs it)" >&2
    exit 1
  fi
done
if ! "$NODE" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
  echo "FAIL: node >= 18 needed, found $("$NODE" --version)" >&2
  exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/lacuna-teacher.XXXXXX")
SERVER_PIDS=()
_teacher_cleanup() {
  local p
  for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap _teacher_cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect_eq() { # got want description
  if [ "$1" = "$2" ]; then ok; else bad "$3: got '$1', want '$2'"; fi
}
expect_ne() { # got unwanted description
  if [ "$1" != "$2" ]; then ok; else bad "$3: got '$1', which it must not be"; fi
}
expect_in() { # haystack needle description
  case "$1" in *"$2"*) ok ;; *) bad "$3: missing '$2' in: $1" ;; esac
}
expect_not_in() { # haystack needle description
  case "$1" in *"$2"*) bad "$3: unexpected '$2' in: $1" ;; *) ok ;; esac
}
expect_true() { # description command...
  local d=$1; shift
  if "$@"; then ok; else bad "$d"; fi
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# start_server [server.mjs options...]: starts a server on a free loopback port
# and waits until it listens. Sets SERVER_PID, PORT, BASE_URL (ending in /v1)
# and SERVER_URL (without it). Extra environment (e.g. TEST_SERVER_API_KEY) is
# passed through. The server exits by itself after SERVER_LIFETIME_S (default
# 600) seconds in case this shell dies without cleaning up.
SERVER_SEQ=0
start_server() {
  SERVER_SEQ=$((SERVER_SEQ + 1))
  local pf=$TMP/server$SERVER_SEQ.port i
  "$NODE" "$SERVER_JS" --port 0 --port-file "$pf" --max-lifetime-s "${SERVER_LIFETIME_S:-600}" "$@" \
    >"$TMP/server$SERVER_SEQ.out" 2>"$TMP/server$SERVER_SEQ.err" &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  for ((i = 0; i < 200; i++)); do
    [ -s "$pf" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "test server failed to start: $(cat "$TMP/server$SERVER_SEQ.err")" >&2
      return 1
    fi
    sleep 0.05
  done
  if [ ! -s "$pf" ]; then echo "test server did not start within 10 s" >&2; return 1; fi
  PORT=$(cat "$pf")
  SERVER_URL=http://127.0.0.1:$PORT
  BASE_URL=$SERVER_URL/v1
}

# stop_server [PID]: stops the server (default: the last one started).
stop_server() {
  local p=${1:-$SERVER_PID}
  kill "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  return 0
}

# server_stats [URL]: the /stats JSON of the last server (or of URL).
server_stats() { curl -sS --max-time 10 "${1:-$SERVER_URL}/stats"; }
# stat_get JQ_FILTER: one value of the last server's /stats, e.g. '.by_status["200"] // 0'.
stat_get() { server_stats | jq -r "$1"; }
# wait_idle [SECONDS]: waits (default up to 5 s) until the last server has no
# request in flight; returns 1 if it still has some.
wait_idle() {
  local i n=$(( ${1:-5} * 20 ))
  for ((i = 0; i < n; i++)); do
    [ "$(stat_get .in_flight)" = 0 ] && return 0
    sleep 0.05
  done
  return 1
}
reset_stats() { curl -sS --max-time 10 -X POST "$SERVER_URL/reset-stats" >/dev/null; }
# server_config JSON: changes latency_ms, fault_rate, faults, seed, retry_after,
# stall_ms of the running server (see README.md).
server_config() { curl -sS --max-time 10 -X POST "$SERVER_URL/config" -d "$1" >/dev/null; }

# chat BODY [curl options...]: POSTs BODY to the last server's chat endpoint.
# Sets HTTP (status code, 000 when no response), BODY_OUT (body), HEADERS_OUT
# (response headers) and CURL_RC (curl's exit status).
chat() {
  local body=$1; shift
  HTTP=$(curl -s --max-time 20 -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' \
    -H 'Content-Type: application/json' "$@" --data-binary "$body" "$BASE_URL/chat/completions")
  CURL_RC=$?
  BODY_OUT=$(cat "$TMP/body" 2>/dev/null)
  HEADERS_OUT=$(tr -d '\r' <"$TMP/headers" 2>/dev/null)
  rm -f "$TMP/body" "$TMP/headers"
}
