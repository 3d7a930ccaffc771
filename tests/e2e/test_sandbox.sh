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

refused 'lc.core.http.client{}:post("file:///etc/hostname", {}, "")' "lacuna.core is not available to sandboxed recipes"
refused 'lc.core.cache.open("'"$TMP"'/a/b/c.db")' "lacuna.core is not available to sandboxed recipes"
[ -e "$TMP/a" ] && bad "a sandboxed recipe created a cache directory" || ok
refused 'lc.cache.open("'"$TMP"'/c.db")' "lacuna.cache is not available to sandboxed recipes"
refused 'lc.tokenizer.load("/etc/hostname")' "lacuna.tokenizer.load(path) is not available to sandboxed recipes"
refused 'lc.tokenizer.model()' "no tokenizer was given (run with --tokenizer DIR)"
refused 'lc.hash.sha256_file("/etc/hostname")' "field 'sha256_file'"
# Objects handed to the recipe are proxies: methods and read-only fields.
refused 'ctx.params.x = 1' "cannot modify params.x from a recipe"
refused 'rawset(ctx.params, "x", 1)' "table expected, got userdata"
refused 'next(ctx)' "table expected, got userdata"
refused 'ctx.rng = lc.rng(1)' "cannot modify ctx.rng from a recipe"
refused 'getmetatable(ctx).__index = nil' "getmetatable is limited to tables"
refused 'ctx.teacher.pool.cfg.max_cost = nil' "field 'pool'"
refused 'ctx.teacher.pool.stats.requests = 1e6' "field 'pool'"
refused 'local h = ctx.teacher.ep.headers' "field 'ep'"
refused 'ctx.teacher.chat(ctx, {})' "bad self"
refused 'setmetatable(lc.json.array({}), {})' "cannot change the metatable of a lacuna object"
refused 'getmetatable(lc.formats.render("axolotl", lc.example():user("q"):assistant("a"))).__jsonorder[1] = "x"' "attempt to index a boolean value"
# Callbacks Lua would run outside the budget are budgeted, or refused.
refused 'xpcall(error, function() while true do end end)' "instruction limit exceeded" --max-instructions 1000000
refused 'setmetatable({}, { __gc = function() while true do end end })' "__gc metamethods are not available to sandboxed recipes"
refused 'error(setmetatable({}, { __tostring = function() while true do end end }))' "(an error table whose __tostring failed: instruction limit exceeded"
# A failure record that does not encode is cleaned with raw reads: a record
# the recipe changed cannot run its metamethods outside the budget.
refused 'item.sub = setmetatable({ f = print }, { __pairs = function() while true do end end, __index = function() while true do end end }); error("after changing the record")' "after changing the record"
refused 'do local x <close> = setmetatable({}, { __close = function() while true do end end }) end' "instruction limit exceeded" --max-instructions 1000000
refused 'pcall(function() local x <close> = setmetatable({}, { __close = function() while true do end end }) error("boom") end) while true do end' "instruction limit exceeded" --max-instructions 1000000
# lacuna's own coroutines are invisible.
refused 'coroutine.resume(coroutine.running())' "bad argument #1 to 'resume' (coroutine expected, got nil)"
refused 'coroutine.yield(1)' "coroutine.yield outside a coroutine created by the recipe"

# probe EXPR WANT [flags]: item 2 returns tostring(EXPR) as its assistant turn.
probe() {
  cat >"$TMP/p.lua" <<LUA
local lc = require "lacuna"
return lc.recipe {
  name = "probe", version = "1",
  map = function(item, ctx)
    if item.n ~= 2 then return lc.skip("not the probe") end
    return lc.example():user("q"):assistant(tostring($1))
  end,
}
LUA
  lc run "$TMP/p.lua" -i "$IN" -o "$TMP/p.jsonl" "${@:3}"
  expect_eq "$(jq -r '.messages[1].content' "$TMP/p.jsonl" 2>/dev/null)" "$2" "[$1] ($ERR)"
}
probe 'coroutine.running()' "nil"
probe 'coroutine.isyieldable()' "false"
probe '("").dump' "nil"
probe 'getmetatable(lc.json.array({}))' "false"
probe 'getmetatable(setmetatable({}, { __index = {} })) ~= nil' "true"
probe 'ctx.params.x' "nil"
probe 'ctx.teacher.pool or ctx.teacher.ep or ctx.teacher.cfg' "nil"
probe 'coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end)(1)' "2"
probe 'lc.tokenizer.model():count("hello world")' "1" --tokenizer "$FIX/tokenizer/bytelevel.json"
probe 'lc.text.count("hello world", lc.tokenizer.model())' "1" --tokenizer "$FIX/tokenizer/bytelevel.json"
probe 'lc.text.pool { capacity = 4, tokenizer = lc.tokenizer.model() } ~= nil' "true" --tokenizer "$FIX/tokenizer/bytelevel.json"
probe 'os.time() > 0 and ctx.index == 2 and ctx.seed == 7 and ctx.line == 2' "true" --seed 7
probe 'lc.sha256("abc"):sub(1, 8)' "ba7816bf"
probe 'lc.extractive.question("The bridge over the river opened in 1932 after long work.", ctx.rng).answer' "1932"

# finish(run, summary) sees a read-only copy: counts and the exit code stay true.
cat >"$TMP/fin.lua" <<'LUA'
local lc = require "lacuna"
return lc.recipe {
  name = "fin", version = "1",
  params = { k = lc.int(1, "a param") },
  map = function(item, ctx)
    if item.n == 2 then error("item 2 fails") end
    return lc.example():user("q"):assistant("a")
  end,
  finish = function(run, summary)
    assert(summary.counts.failed == 1 and run.params.k == 1)
    summary.counts.failed = 0
  end,
}
LUA
lc run "$TMP/fin.lua" -i "$IN" -o "$TMP/fin.jsonl"
expect_code 1 "a failed item still fails the run"
expect_in "$ERR" "cannot modify summary.counts.failed from a recipe" "finish cannot change the counts"
expect_eq "$(jq -c '[.counts.failed, .params.k]' "$TMP/fin.manifest.json" 2>/dev/null)" "[1,1]" "the manifest keeps the true counts and params"

# SIGINT and SIGTERM stop a recipe looping in an xpcall message handler.
recipe_with 'xpcall(error, function() while true do end end)'
for sig in INT TERM; do
"$LACUNA" run "$TMP/r.lua" -i "$IN" -o "$TMP/int.jsonl" --max-instructions 100000000000 >/dev/null 2>"$TMP/int.err" &
pid=$!
sleep 1
kill -"$sig" "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  bad "SIG$sig did not stop a looping message handler"
  kill -KILL "$pid"
else
  ok
fi
wait "$pid"
code=$?
[ "$code" -ne 0 ] && ok || bad "an interrupted run exits non-zero (got $code)"
expect_not_in "$(ls "$TMP")" ".tmp" "an interrupted run leaves no .tmp files"
done

# ---- with a teacher: the loopback test server (tests/teacher/server.mjs) ----
NODE=${NODE:-node}
"$NODE" "$(dirname "$0")/../teacher/server.mjs" --port 0 --port-file "$TMP/port" --latency-ms 300 \
  --max-lifetime-s 300 >"$TMP/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 200); do [ -s "$TMP/port" ] && break; sleep 0.05; done
SERVER_URL=http://127.0.0.1:$(cat "$TMP/port")
export OPENAI_API_KEY=sk-sandbox-test-secret
TEACH=(--base-url "$SERVER_URL/v1" --model m --no-cache --no-progress --concurrency 8)
teacher_recipe() { # MAP_BODY: a recipe whose map(item, ctx) is MAP_BODY
  cat >"$TMP/t.lua" <<LUA
local lc = require "lacuna"
local parked
return lc.recipe {
  name = "teach", version = "1",
  map = function(item, ctx)
    $1
  end,
}
LUA
}

# The API key and the pool stay out of reach of everything a recipe holds.
teacher_recipe 'local r = ctx.teacher:chat { messages = { { role = "user", content = "hi " .. item.n } } }
    local seen = { r.text, lc.json.encode(r.response), tostring(ctx.teacher), tostring(ctx.teachers) }
    for _, k in ipairs({ "ep", "pool", "cfg", "headers", "item", "stats", "usage", "client" }) do
      seen[#seen + 1] = tostring(ctx.teacher[k])
    end
    return lc.example():user("q"):assistant(table.concat(seen, " "))'
lc run "$TMP/t.lua" -i "$IN" -o "$TMP/key.jsonl" "${TEACH[@]}"
expect_code 0 "teacher calls through the proxy"
expect_in "$(cat "$TMP/key.jsonl")" "reply to hi 2" "the proxy reaches the teacher"
expect_not_in "$(cat "$TMP/key.jsonl" "$TMP/key.manifest.json")" "sk-sandbox" "the API key is not reachable"

# A teacher call inside the recipe's own coroutines (nested too) suspends the
# item, not the process: all five are in flight at once.
curl -s -X POST "$SERVER_URL/reset-stats" >/dev/null
teacher_recipe 'local ask = function() return ctx.teacher:chat { messages = { { role = "user", content = "co " .. item.n } } }.text end
    local text = coroutine.wrap(function()
      if item.n == 3 then return coroutine.wrap(ask)() end
      local co = coroutine.create(ask)
      local ok, t = coroutine.resume(co)
      assert(ok and coroutine.status(co) == "dead", t)
      return t
    end)()
    return lc.example():user("q"):assistant(text)'
lc run "$TMP/t.lua" -i "$IN" -o "$TMP/co.jsonl" "${TEACH[@]}"
expect_code 0 "teacher calls inside recipe coroutines work"
expect_eq "$(jq -r '.messages[1].content' "$TMP/co.jsonl" 2>/dev/null | cut -d' ' -f1-4 | tr '\n' ,)" \
  "reply to co 1,reply to co 2,reply to co 3,reply to co 4,reply to co 5," "each item gets its own reply"
# (A blocking call would keep one in flight; the server counts at most 4 of
# 5 plain calls at once, too.)
inflight=$(curl -s "$SERVER_URL/stats" | jq .max_in_flight)
[ "${inflight:-0}" -ge 3 ] && ok || bad "they wait concurrently: at most $inflight in flight"

# A coroutine parked on a teacher call cannot be resumed by another item
# (no forged reply), and item 1 gets the real one.
teacher_recipe 'if item.n == 1 then
      parked = coroutine.create(function()
        return ctx.teacher:chat { messages = { { role = "user", content = "one" } } }.text
      end)
      local ok, text = coroutine.resume(parked)
      return lc.example():user("q"):assistant(text)
    elseif item.n == 2 then
      local ok, err = pcall(coroutine.resume, parked, 200, "{\"choices\":[]}")
      return lc.example():user("q"):assistant(tostring(ok) .. ": " .. tostring(err))
    end
    return lc.skip("-")'
lc run "$TMP/t.lua" -i "$IN" -o "$TMP/park.jsonl" "${TEACH[@]}"
expect_code 0 "the forging attempt is refused, not fatal"
expect_in "$(sed -n 1p "$TMP/park.jsonl")" "reply to one" "item 1 gets the real reply"
expect_in "$(sed -n 2p "$TMP/park.jsonl")" "false: resume: the coroutine is waiting for lacuna" "item 2 cannot resume it"

# Where a wait cannot pass up (a coroutine resumed from a table.sort
# comparator), the call fails where it is made; the other items complete.
teacher_recipe 'if item.n == 2 then
      local co = coroutine.create(function() return ctx.teacher:chat { messages = { { role = "user", content = "x" } } } end)
      local res
      table.sort({ 2, 1 }, function(a, b) res = res or { coroutine.resume(co) } return a < b end)
      error(tostring(res[2]), 0)
    end
    return lc.example():user("q"):assistant("a")'
lc run "$TMP/t.lua" -i "$IN" -o "$TMP/sort.jsonl" "${TEACH[@]}"
expect_code 1 "the item fails"
expect_in "$(cat "$TMP/sort.failed.jsonl" 2>/dev/null)" "cannot be made from this coroutine" "with a clear error"
expect_eq "$(lines "$TMP/sort.jsonl")" 4 "the other items complete"

# Escapes at load time are configuration errors, in `info` and `check` too.
cat >"$TMP/top2.lua" <<'LUA'
local lc = require "lacuna"
lc.core.http.client{}:post("http://127.0.0.1:9/", {}, "")
LUA
lc info "$TMP/top2.lua"
expect_code 2 "info runs top-level code sandboxed"
expect_in "$ERR" "lacuna.core is not available to sandboxed recipes" "info refuses lc.core"

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

expect_in "$ERR" "lacuna: --trust: the sandbox is off" "--trust says so on stderr"
expect_eq "$(grep -c "sandbox is off" "$TMP/stderr")" 1 "in one line"
# Even a trusted recipe's HTTP client speaks only http and https.
recipe_with 'local s, b, ra, err = lc.core.http.client{}:post("file:///etc/hostname", {}, ""); error("post: " .. tostring(err))'
lc run "$TMP/r.lua" -i "$IN" -o "$TMP/t2.jsonl" --trust
expect_in "$(cat "$TMP/t2.failed.jsonl" 2>/dev/null)" "post: Unsupported protocol" "curl refuses file://"

finish
