#!/usr/bin/env bash
# The sandbox: every escape is refused with a clear error, limits stop runaway
# items (the others complete), and --trust lifts it.
source "$(dirname "$0")/lib.sh"
IN="$FIX/e2e/numbers.jsonl"

# recipe_with BODY: a recipe whose map runs BODY on item 2 and returns an example.
recipe_with() {
  cat >"$TMP/r.lua" <<LUA
local lc = require "lacuna"
return lc.recipe {
  name = "escape", version = "1",
  map = function(item, ctx)
    if item.n == 2 then
      $1
    end
    return lc.example():user("q"):assistant("a")
  end,
}
LUA
}

refused() { # body expected-message [extra lacuna flags]
  recipe_with "$1"
  lc run "$TMP/r.lua" -i "$IN" -o "$TMP/o.jsonl" "${@:3}"
  expect_code 1 "[$1] fails its item"
  expect_in "$(cat "$TMP/o.failed.jsonl" 2>/dev/null)" "$2" "[$1] refused"
  expect_eq "$(lines "$TMP/o.jsonl")" 4 "[$1] the other items complete"
}

refused 'os.execute("touch '"$TMP"'/pwned")' "os.execute is not available to sandboxed recipes"
[ -e "$TMP/pwned" ] && bad "os.execute ran" || ok
refused 'io.popen("id")' "'io' is not available to sandboxed recipes"
refused 'io.open("'"$TMP"'/w.txt", "w")' "'io' is not available to sandboxed recipes"
refused 'package.loadlib("libc.so.6", "system")' "'package' is not available to sandboxed recipes"
refused 'debug.sethook()' "'debug' is not available to sandboxed recipes"
refused 'require("io")' "module 'io' is not available to sandboxed recipes"
refused 'dofile("/etc/hostname")' "dofile is not available to sandboxed recipes"
refused 'loadfile("/etc/hostname")' "loadfile is not available to sandboxed recipes"
refused 'load(string.dump(print))' "string.dump is not available to sandboxed recipes"
refused 'load("return 1", "x", "b")' "only text chunks"
refused 'getmetatable("").__index.rep = nil' "getmetatable is limited to tables"
refused 'collectgarbage("stop")' "collectgarbage('stop') is not available"
refused 'local x = math.random()' "math.random is not available to sandboxed recipes; use ctx.rng"
refused 'lc.jsonl.writer("'"$TMP"'/w.jsonl")' "lacuna.jsonl is not available to sandboxed recipes"
refused 'lc.core.sys.rename("a", "b")' "lacuna.core is not available to sandboxed recipes"
refused 'lc.json.encode = nil' "cannot modify lacuna.json.encode from a recipe"
refused 'leaked = 1' "assignment to undeclared global 'leaked'"
refused 'local x = undefined_thing + 1' "global 'undefined_thing' is not defined"
refused 'while true do end' "instruction limit exceeded"
refused 'pcall(function() while true do end end) while true do end' "instruction limit exceeded"
refused 'local s = string.rep("x", 1 << 30)' "not enough memory" --max-memory 256
[ -e "$TMP/w.txt" ] || [ -e "$TMP/w.jsonl" ] && bad "a sandboxed recipe wrote a file" || ok

# Escapes at load time are configuration errors.
cat >"$TMP/top.lua" <<'LUA'
os.execute("true")
LUA
lc check "$TMP/top.lua" -i "$IN"
expect_code 2 "escape at load time"
expect_in "$ERR" "top.lua:1: os.execute is not available to sandboxed recipes" "load-time refusal names file:line"

# --trust lifts the sandbox.
recipe_with 'assert(os.execute("true")); local f = assert(io.open("'"$TMP"'/trusted.txt", "w")); f:write("ok"); f:close()'
lc run "$TMP/r.lua" -i "$IN" -o "$TMP/t.jsonl" --trust
expect_code 0 "--trust runs the same recipe"
expect_eq "$(cat "$TMP/trusted.txt" 2>/dev/null)" "ok" "--trust allows file writes"

finish
