# `lacuna run URL#sha256=HEX` against a loopback HTTP server (python3 -m
# http.server): the pin is required and checked, the verified file is kept by
# its hash and runs sandboxed; a bundle URL carries the recipe's modules.
source "$(dirname "$0")/../e2e/lib.sh"
MODS=$(cd "$(dirname "$0")/fixtures/mods" && pwd)
if ! command -v python3 >/dev/null; then echo "FAIL: python3 not found (.ci/deps installs it)" >&2; exit 1; fi

mkdir -p "$TMP/www" "$TMP/work"
cat >"$TMP/www/hello.lua" <<'LUA'
local lc = require "lacuna"
return lc.recipe {
  name = "hello", version = "1.0.0",
  input = { q = "string" },
  map = function(rec) return lc.example():user(rec.q):assistant("hello " .. rec.q) end,
}
LUA
cat >"$TMP/www/sneaky.lua" <<'LUA'
local lc = require "lacuna"
return lc.recipe {
  name = "sneaky", version = "1.0.0",
  map = function(rec) return lc.example():user(io.open("/etc/passwd"):read("a")):assistant("x") end,
}
LUA
"$LACUNA" bundle "$MODS/main.lua" -o "$TMP/www/mods.bundle.json" >/dev/null 2>&1
printf '{"q":"a"}\n{"q":"b"}\n' >"$TMP/in.jsonl"
printf '{"question":"a"}\n' >"$TMP/qin.jsonl"

python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$TMP/www" >"$TMP/http.out" 2>"$TMP/http.err" &
HTTP_PID=$!
trap 'kill $HTTP_PID 2>/dev/null; wait $HTTP_PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do
  PORT=$(grep -o 'port [0-9]*' "$TMP/http.out" 2>/dev/null | grep -o '[0-9]*$')
  [ -n "$PORT" ] && break
  sleep 0.1
done
if [ -z "$PORT" ]; then echo "FAIL: the HTTP server did not start: $(cat "$TMP/http.err")" >&2; exit 1; fi
URL=http://127.0.0.1:$PORT
sum() { sha256sum "$1" | cut -d' ' -f1; }
HELLO=$(sum "$TMP/www/hello.lua")

cd "$TMP/work" || exit 1
lc run "$URL/hello.lua" -i "$TMP/in.jsonl" -o out.jsonl -q
expect_code 2 "a URL without a pin is refused"
expect_in "$ERR" "a recipe from a URL must be pinned: append #sha256=HEX" "the refusal says how to pin"
expect_eq "$(ls -A)" "" "nothing was written or fetched"

lc run "$URL/hello.lua#sha256=abc" -i "$TMP/in.jsonl" -o out.jsonl -q
expect_code 2 "a short pin is refused"
expect_in "$ERR" "the pin must be #sha256= followed by 64 hex digits" "the pin's form is explained"

lc run "$URL/hello.lua#sha256=$(printf '%064d' 0)" -i "$TMP/in.jsonl" -o out.jsonl -q
expect_code 2 "a wrong pin is refused"
expect_in "$ERR" "sha256 mismatch: the pin says $(printf '%064d' 0) but the file has $HELLO" "both hashes are named"
expect_eq "$(ls -A .lacuna/recipes 2>/dev/null)" "" "a mismatching file is not kept"

lc run "$URL/nothere.lua#sha256=$HELLO" -i "$TMP/in.jsonl" -o out.jsonl -q
expect_code 2 "a 404 is an error"
expect_in "$ERR" "cannot fetch the recipe: $URL/nothere.lua: HTTP 404" "the status is named"

lc run "$URL/hello.lua#sha256=$HELLO" -i "$TMP/in.jsonl" -o out.jsonl -q
expect_code 0 "a pinned URL runs"
expect_eq "$(jq -r '.messages[1].content' out.jsonl | tr '\n' ' ')" "hello a hello b " "its examples"
expect_eq "$(sum ".lacuna/recipes/$HELLO")" "$HELLO" "the file is kept under its hash"
expect_eq "$(jq -r '.recipe.path' out.manifest.json)" "$URL/hello.lua#sha256=$HELLO" "the manifest records the pinned URL"
expect_eq "$(jq -r '.recipe.sha256' out.manifest.json)" "$HELLO" "and the recipe's hash"

# The kept file answers the next run: the server is not asked again.
requests_before=$(grep -c 'GET /hello.lua' "$TMP/http.err")
lc run "$URL/hello.lua#sha256=$HELLO" -i "$TMP/in.jsonl" -o out2.jsonl -q
expect_code 0 "a second run"
expect_eq "$(grep -c 'GET /hello.lua' "$TMP/http.err")" "$requests_before" "the second run is served from the kept file"
expect_same_file out2.jsonl out.jsonl "the same examples"
# A kept file that was tampered with is not trusted: it is fetched again.
echo "-- changed" >>".lacuna/recipes/$HELLO"
lc run "$URL/hello.lua#sha256=$HELLO" -i "$TMP/in.jsonl" -o out3.jsonl -q
expect_code 0 "a tampered kept file is replaced"
expect_eq "$(sum ".lacuna/recipes/$HELLO")" "$HELLO" "the kept file is the pinned one again"

# A recipe from a URL runs sandboxed.
SNEAKY=$(sum "$TMP/www/sneaky.lua")
printf '{"q":"a"}\n' >"$TMP/one.jsonl"
lc run "$URL/sneaky.lua#sha256=$SNEAKY" -i "$TMP/one.jsonl" -o sneaky.jsonl -q
expect_code 1 "a pinned recipe that reads files fails its items"
expect_in "$(cat sneaky.failed.jsonl)" "'io' is not available to sandboxed recipes" "the sandbox is on"

# A bundle URL: one pin covers the recipe and its modules.
BUNDLE=$(sum "$TMP/www/mods.bundle.json")
lc run "$URL/mods.bundle.json#sha256=$BUNDLE" -i "$TMP/qin.jsonl" -o mods.jsonl -q
expect_code 0 "a pinned bundle runs"
expect_in "$(cat mods.jsonl)" '"content":"verdict on Q: a (1 load)"' "its modules come from the bundle"
expect_eq "$(jq -r '.recipe.modules | keys | join(",")' mods.manifest.json)" "lib/judge.lua,prompts.lua" \
  "the manifest lists the modules the run loaded"

# Unreachable server
kill $HTTP_PID 2>/dev/null; wait $HTTP_PID 2>/dev/null
lc run "$URL/other.lua#sha256=$(printf %064d 1)" -i "$TMP/in.jsonl" -o out4.jsonl -q
expect_code 2 "an unreachable server is an error, not a crash"
expect_in "$ERR" "cannot fetch the recipe: $URL/other.lua" "the URL is named"
lc run "$URL/hello.lua#sha256=$HELLO" -i "$TMP/in.jsonl" -o out5.jsonl -q
expect_code 0 "the kept file runs with the server gone"

# Ctrl-C during a download that stalls stops it at once (not after the timeout).
python3 -u -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1]); c, _ = s.accept(); time.sleep(30)' >"$TMP/stall.port" &
STALL_PID=$!
for _ in $(seq 100); do [ -s "$TMP/stall.port" ] && break; sleep 0.1; done
start=$(date +%s)
"$LACUNA" run "http://127.0.0.1:$(cat "$TMP/stall.port")/r.lua#sha256=$(printf %064d 2)" -i "$TMP/in.jsonl" \
  -o stalled.jsonl -q 2>"$TMP/stall.err" &
LPID=$!
sleep 1
kill -INT $LPID
wait $LPID
code=$?
kill $STALL_PID 2>/dev/null; wait $STALL_PID 2>/dev/null
expect_eq "$code" 130 "Ctrl-C during a stalled download: exit 130 ($(cat "$TMP/stall.err"))"
expect_true "and at once" test $(($(date +%s) - start)) -lt 10
expect_in "$(cat "$TMP/stall.err")" "interrupted" "says so"

# A pinned bundle's run packs and reproduces with the server gone: the pack
# carries the bundle's files under the chunk names the run used.
lc pack mods.jsonl
expect_code 0 "pack of a pinned bundle's run: $ERR"
mkdir -p "$TMP/elsewhere"
(cd "$TMP/elsewhere" && "$LACUNA" reproduce "$TMP/work/mods.pack.jsonl.gz" -o mods.jsonl) 2>"$TMP/repro.err"
expect_eq "$?" 0 "reproduce of a pinned bundle's run: $(cat "$TMP/repro.err")"
expect_same_file "$TMP/elsewhere/mods.jsonl" mods.jsonl "byte-identical"
expect_eq "$(ls "$TMP/elsewhere/.lacuna" 2>&1 | head -1)" "ls: cannot access '$TMP/elsewhere/.lacuna': No such file or directory" \
  "reproduce fetches nothing"

finish
