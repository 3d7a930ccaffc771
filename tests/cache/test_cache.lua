-- cache: the Lua API (open/get/put/has/stats/each/readonly), sharing one file
-- between connections and between processes, export -> import round trip,
-- import validation, import-batch, the stats command, and that nothing a run
-- writes holds the API key.
local t = require "testlib"
local lacuna = require "lacuna"
local cache = require "lacuna.cache"
local json, sha256 = lacuna.core.json, lacuna.sha256

local FIX = (os.getenv("LACUNA_FIXTURES") or "../fixtures") .. "/cache/"
local LUA = arg[-1] or "lua5.4"
local SECRET = "sk-lacuna-test-SECRET-7f3a9c1e"

-- Collects what a command writes to its log.
local function collector()
  local buf = {}
  return {
    write = function(self, ...)
      for _, s in ipairs { ... } do buf[#buf + 1] = s end
      return self
    end,
    text = function() return table.concat(buf) end,
  }
end

local function key(s) return sha256(s) end

-- Every temporary directory is removed at the end.
local dirs = {}
local tmpdir = t.tmpdir
t.tmpdir = function()
  local d = tmpdir()
  dirs[#dirs + 1] = d
  return d
end

local function body_of(content, model)
  return json.encode {
    id = "chatcmpl-x", object = "chat.completion", model = model or "m",
    choices = { { index = 0, message = { role = "assistant", content = content }, finish_reason = "stop" } },
    usage = { prompt_tokens = 3, completion_tokens = 2 },
  }
end

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true
end

local function lua_q(s) return string.format("%q", s) end

t.test("open creates the directory; put/get/has; duplicate keeps the first", function()
  local dir = t.tmpdir()
  local path = dir .. "/deep/er/cache.db"
  local c = assert(cache.open(path))
  t.eq(c:get(key "a"), nil)
  t.eq(c:has(key "a"), false)
  local ok, inserted = c:put(key "a", { model = "m", body = body_of "one", request = '{"q":1}',
    prompt_tokens = 3, completion_tokens = 2 })
  t.eq({ ok, inserted }, { true, true })
  ok, inserted = c:put(key "a", { model = "other", body = body_of "two" })
  t.eq({ ok, inserted }, { true, false })
  t.eq(c:get(key "a"), body_of "one")
  t.eq(c:has(key "a"), true)
  t.raises(function() c:get("not-a-key") end, "64 lowercase hex")
  t.raises(function() c:put(key "b", { model = "m" }) end, "'body'")
  t.raises(function() c:put(key "b", { model = "m", body = "{}", api_key = SECRET }) end,
    "unknown field 'api_key'")
  c:close()
  t.truthy(io.open(path, "rb"), "the file exists")
  t.raises(function() c:get(key "a") end, "closed cache")
end)

t.test("the default path is .lacuna/cache.db under the working directory", function()
  local dir = t.tmpdir()
  t.writefile(dir .. "/w.lua", string.format(
    "require 'lacuna'; local c = assert(require('lacuna.cache').open())\n" ..
    "assert(c:put(%s, {model = 'm', body = '{}'})); c:close()\n", lua_q(key "d")))
  t.truthy(sh(string.format("cd '%s' && %s w.lua", dir, LUA)), "subprocess ran")
  local c = assert(cache.open(dir .. "/.lacuna/cache.db", { readonly = true }))
  t.eq(c:get(key "d"), "{}")
  c:close()
end)

t.test("readonly: reads work, writes raise, a missing file is nil, message", function()
  local dir = t.tmpdir()
  local c = assert(cache.open(dir .. "/c.db"))
  assert(c:put(key "r", { model = "m", body = "[1]" }))
  local r = assert(cache.open(dir .. "/c.db", { readonly = true }))
  t.eq(r:get(key "r"), "[1]")
  t.raises(function() r:put(key "s", { model = "m", body = "{}" }) end, "read-only")
  -- a read-only connection sees rows committed after it was opened
  assert(c:put(key "s", { model = "m", body = "[2]" }))
  t.eq(r:get(key "s"), "[2]")
  r:close()
  c:close()
  t.fails("No such file", cache.open(dir .. "/none.db", { readonly = true }))
  t.eq(io.open(dir .. "/none.db"), nil)
end)

t.test("stats and each", function()
  local dir = t.tmpdir()
  local c = assert(cache.open(dir .. "/c.db"))
  for i = 1, 5 do
    assert(c:put(key("s" .. i), { model = i <= 3 and "small" or "big", body = body_of("r" .. i),
      prompt_tokens = i, completion_tokens = 10 * i }))
  end
  local s = assert(c:stats())
  t.eq(s.entries, 5)
  local bytes = 0
  for i = 1, 5 do bytes = bytes + #body_of("r" .. i) end
  t.eq(s.bytes, bytes)
  t.eq(s.models, {
    small = { entries = 3, prompt_tokens = 6, completion_tokens = 60 },
    big = { entries = 2, prompt_tokens = 9, completion_tokens = 90 },
  })
  t.eq(s.schema, 1)
  t.eq(s.path, dir .. "/c.db")
  local keys, prev = {}, ""
  t.eq(c:each(function(row)
    t.truthy(row.key > prev, "key order")
    prev = row.key
    keys[row.key] = row
  end), 5)
  t.eq(keys[key "s2"].body, body_of "r2")
  t.eq(keys[key "s2"].prompt_tokens, 2)
  t.eq(keys[key "s2"].completion_tokens, 20)
  t.eq(keys[key "s2"].model, "small")
  c:close()

  local out = collector()
  t.eq(cache.cmd_stats(dir .. "/c.db", out, { log = collector() }), 0)
  local text = out:text()
  t.truthy(text:find("entries:  5", 1, true), text)
  t.truthy(text:find("small%s+3%s+6%s+60"), text)
  t.truthy(text:find("big%s+2%s+9%s+90"), text)
  t.truthy(text:find("total%s+5%s+15%s+150"), text)
  local log = collector()
  t.eq(cache.cmd_stats(dir .. "/missing.db", out, { log = log }), 2)
  t.truthy(log:text():find("missing.db", 1, true), log:text())
end)

t.test("two connections in one process, writes interleaved", function()
  local dir = t.tmpdir()
  local a = assert(cache.open(dir .. "/c.db"))
  local b = assert(cache.open(dir .. "/c.db"))
  for i = 1, 300 do
    local w, o = a, b
    if i % 2 == 0 then w, o = b, a end
    assert(w:put(key("i" .. i), { model = "m", body = tostring(i) }))
    t.eq(o:get(key("i" .. i)), tostring(i))
  end
  t.eq(a:stats().entries, 300)
  a:close()
  b:close()
end)

-- Lookups share a read snapshot (core/cache.c): a hit may come from it, but
-- a row written after it began, by this connection, another one or another
-- process, is never missed.
t.test("the lookups' shared snapshot never hides a row written since", function()
  local dir = t.tmpdir()
  local db = dir .. "/c.db"
  local a = assert(cache.open(db))
  local b = assert(cache.open(db))
  local r = assert(cache.open(db, { readonly = true })) -- as --cache-only opens it
  assert(a:put(key "first", { model = "m", body = "first" }))
  local writer = dir .. "/put.lua"
  t.writefile(writer, [[
    require "lacuna"
    local c = assert(require("lacuna.cache").open(arg[1]))
    assert(c:put(require("lacuna").sha256(arg[2]), { model = "m", body = arg[2] }))
    c:close()
  ]])
  for i = 1, 20 do
    for _, c in ipairs { a, r } do t.eq(c:get(key "first"), "first") end -- hits: snapshots open
    assert(b:put(key("b" .. i), { model = "m", body = "b" .. i }))
    t.eq(a:get(key("b" .. i)), "b" .. i, "another connection's put, after a hit")
    t.eq(r:has(key("b" .. i)), true, "seen by a read-only connection too")
    t.eq(r:get(key("b" .. i)), "b" .. i)
    assert(a:put(key("a" .. i), { model = "m", body = "a" .. i }))
    t.eq(a:get(key("a" .. i)), "a" .. i, "the connection's own put")
    t.eq(r:get(key("a" .. i)), "a" .. i)
    if i % 5 == 0 then
      t.eq(r:get(key "first"), "first")
      t.truthy(sh(string.format("%s %s %s %s", LUA, lua_q(writer), lua_q(db), lua_q("p" .. i))), "writer ran")
      t.eq(r:get(key("p" .. i)), "p" .. i, "another process's put, after a hit")
      t.eq(a:get(key("p" .. i)), "p" .. i)
    end
    t.eq(a:get(key("never" .. i)), nil, "a miss is still a miss")
    t.eq(r:get(key("never" .. i)), nil)
  end
  t.eq(r:stats().entries, 1 + 20 * 2 + 4, "stats count every row")
  local n = 0
  t.eq(r:each(function() n = n + 1 end), 45)
  for _, c in ipairs { a, b, r } do c:close() end
end)

-- What the snapshot holds up: a checkpoint cannot copy the WAL frames written
-- after it began. end_read and the snapshot's age limit (50 ms) let them go.
t.test("end_read and the snapshot's age limit let a writer checkpoint the whole WAL", function()
  local dir = t.tmpdir()
  local db = dir .. "/c.db"
  local b = assert(cache.open(db))
  local a = assert(cache.open(db, { readonly = true }))
  local sql = assert(lacuna.core.sql.open(db))
  local function checkpoint()
    local row = assert(sql:rows("PRAGMA wal_checkpoint(PASSIVE)"))[1]
    return row.checkpointed == row.log
  end
  assert(b:put(key "0", { model = "m", body = "0" }))
  t.truthy(checkpoint(), "nothing holds the WAL")
  for round = 1, 2 do
    t.eq(a:get(key "0"), "0") -- a snapshot opens
    assert(b:put(key("x" .. round), { model = "m", body = "x" }))
    t.eq(checkpoint(), false, "round " .. round .. ": the snapshot holds the new frames")
    if round == 1 then
      a:end_read()
    else
      lacuna.core.sched.sleep(0.08)
      t.eq(a:get(key "0"), "0") -- past the age limit: a new snapshot, of now
    end
    t.truthy(checkpoint(), "round " .. round .. ": the frames are copied")
  end
  sql:close()
  a:close()
  b:close()
end)

-- A writer starts the WAL over only when no reader holds an old snapshot:
-- while another connection commits, lookups take none, so the WAL stays short.
t.test("while another connection writes, lookups hold no snapshot and the WAL starts over", function()
  local dir = t.tmpdir()
  local db = dir .. "/c.db"
  local b = assert(cache.open(db))
  local a = assert(cache.open(db, { readonly = true }))
  local sql = assert(lacuna.core.sql.open(db))
  local function wal()
    local row = assert(sql:rows("PRAGMA wal_checkpoint(PASSIVE)"))[1]
    return row.log, row.checkpointed
  end
  assert(b:put(key "0", { model = "m", body = "0" }))
  for i = 1, 6 do
    t.eq(a:get(key "0"), "0") -- hits, back to back
    assert(b:put(key("w" .. i), { model = "m", body = "w" }))
    lacuna.core.sched.sleep(0.06)
  end
  t.eq(a:get(key "0"), "0")
  local log, done = wal()
  t.eq(done, log, "nothing holds the WAL's frames")
  assert(b:put(key "last", { model = "m", body = "w" }))
  log = wal()
  t.truthy(log <= 4, "the last put started the WAL over: " .. log .. " frames")
  -- Once nobody writes, lookups share a snapshot again (a checkpoint stops at it).
  lacuna.core.sched.sleep(0.06)
  t.eq(a:get(key "0"), "0")
  lacuna.core.sched.sleep(0.06)
  t.eq(a:get(key "0"), "0")
  assert(b:put(key "after", { model = "m", body = "w" }))
  log, done = wal()
  t.truthy(done < log, "a snapshot again: " .. done .. " of " .. log .. " frames copied")
  sql:close()
  a:close()
  b:close()
end)

t.test("request_key is sha256(json.encode(body) .. newline .. sample)", function()
  local request_key = lacuna.core.cache.request_key
  local bodies = {
    { model = "m", messages = json.array { { role = "user", content = "hi" } } },
    { model = "m", temperature = 0.7, messages = json.array { { role = "user", content = 'q"\\ é\0' } } },
    { model = "m", messages = json.array { { role = "user", content = string.rep("long ", 400000) } } },
  }
  for _, body in ipairs(bodies) do
    for _, sample in ipairs { 0, 1, -3, math.maxinteger } do
      t.eq(request_key(body, sample), sha256(json.encode(body) .. "\n" .. sample))
    end
  end
  t.eq(request_key(bodies[1], 0), request_key(bodies[1], 0), "the reused buffer starts empty each time")
  t.raises(function() request_key({ f = print }, 0) end, "cannot encode a function")
  t.eq(request_key(bodies[1], 2), sha256(json.encode(bodies[1]) .. "\n2"), "usable after an error")
  t.raises(function() request_key(bodies[1], 1.5) end, "integer")
end)

t.test("concurrent writer processes share one file", function()
  local dir = t.tmpdir()
  local db = dir .. "/shared.db"
  local nproc, per = 3, 150
  local script = dir .. "/writer.lua"
  t.writefile(script, [[
    require "lacuna"
    local cache = require "lacuna.cache"
    local sha = require("lacuna").sha256
    local db, id, per = arg[1], tonumber(arg[2]), tonumber(arg[3])
    local c = assert(cache.open(db))
    for i = 1, per do
      -- every process also writes the shared keys: one value wins, no error
      assert(c:put(sha("p" .. id .. "-" .. i), {model = "p" .. id, body = '{"i":' .. i .. '}',
        prompt_tokens = 1, completion_tokens = 1}))
      assert(c:put(sha("shared-" .. i), {model = "shared", body = '"' .. id .. '"'}))
    end
    c:close()
    io.open(db .. ".done" .. id, "w"):close()
  ]])
  local cmd = {}
  for id = 1, nproc do
    cmd[#cmd + 1] = string.format("%s '%s' '%s' %d %d &", LUA, script, db, id, per)
  end
  t.truthy(sh("(" .. table.concat(cmd, " ") .. " wait)"), "writers ran")
  for id = 1, nproc do
    t.truthy(io.open(db .. ".done" .. id), "writer " .. id .. " finished")
  end
  local c = assert(cache.open(db, { readonly = true }))
  local s = c:stats()
  t.eq(s.entries, nproc * per + per)
  for id = 1, nproc do
    t.eq(s.models["p" .. id], { entries = per, prompt_tokens = per, completion_tokens = per })
    for i = 1, per, 37 do
      t.eq(c:get(sha256("p" .. id .. "-" .. i)), '{"i":' .. i .. '}')
    end
  end
  t.truthy(c:get(sha256 "shared-1"):match('^"[123]"$'))
  c:close()
end)

t.test("a put that returned survives kill -9 of the writer", function()
  local dir = t.tmpdir()
  local db = dir .. "/k.db"
  t.writefile(dir .. "/w.lua", [[
    require "lacuna"
    local sha = require("lacuna").sha256
    local c = assert(require("lacuna.cache").open(arg[1]))
    for i = 1, 50 do assert(c:put(sha("kill" .. i), {model = "m", body = tostring(i)})) end
    io.open(arg[1] .. ".ready", "w"):close()
    while true do end -- never closes the connection: the WAL is not checkpointed
  ]])
  t.truthy(sh(string.format("%s '%s/w.lua' '%s' & pid=$!; i=0; " ..
    "while [ ! -e '%s.ready' ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; " ..
    "kill -9 $pid; { wait $pid; } 2>/dev/null; [ -e '%s.ready' ]", LUA, dir, db, db, db)), "writer killed after its puts")
  local c = assert(cache.open(db, { readonly = true }))
  t.eq(c:stats().entries, 50)
  t.eq(c:get(sha256 "kill50"), "50")
  c:close()
end)

t.test("export -> import round trip, and a second import adds nothing", function()
  local dir = t.tmpdir()
  local src = assert(cache.open(dir .. "/src.db"))
  local req = json.encode { model = "m", messages = { { role = "user", content = "q é ✓" } },
    temperature = 0.7, seed = 3 }
  local bodies = {
    body_of("plain"),
    '{"choices":[{"message":{"content":"x","tool_calls":[]}}],"extra":{},"n":1.5e300,"big":9007199254740993}',
    body_of('quotes " and \\ and\nnewline'),
  }
  for i, b in ipairs(bodies) do
    assert(src:put(key("e" .. i), { model = "m" .. i, body = b, request = i ~= 2 and req or nil,
      prompt_tokens = i, completion_tokens = i + 100 }))
  end
  src:close()
  local file = dir .. "/export.jsonl"
  local log = collector()
  t.eq(cache.cmd_export(dir .. "/src.db", file, { log = log }), 0)
  t.truthy(log:text():find("exported 3 responses", 1, true), log:text())

  -- The lines carry request/response as JSON objects, fields in a fixed order.
  local lines = {}
  for l in io.lines(file) do lines[#lines + 1] = l end
  t.eq(#lines, 3)
  for _, l in ipairs(lines) do
    t.truthy(l:find('^{"key":"%x+","model":"m%d","request":[{n]'), l)
    local v = assert(json.decode(l))
    t.eq(type(v.response), "table")
    t.truthy(l:find('"prompt_tokens":%d+,"completion_tokens":%d+}$'), l)
  end

  log = collector()
  t.eq(cache.cmd_import(dir .. "/dst.db", file, { log = log }), 0)
  t.truthy(log:text():find("3 imported, 0 already present, 0 failed", 1, true), log:text())
  local a = assert(cache.open(dir .. "/src.db", { readonly = true }))
  local b = assert(cache.open(dir .. "/dst.db", { readonly = true }))
  local rows = {}
  a:each(function(r) rows[#rows + 1] = r end)
  local n = 0
  b:each(function(r)
    n = n + 1
    local o = rows[n]
    t.eq({ r.key, r.model, r.prompt_tokens, r.completion_tokens },
      { o.key, o.model, o.prompt_tokens, o.completion_tokens })
    t.eq(json.decode(r.body), json.decode(o.body))
    t.eq(r.request and json.decode(r.request), o.request and json.decode(o.request))
  end)
  t.eq(n, 3)
  a:close()
  b:close()
  -- Export of the imported cache is byte-identical to the first export.
  t.eq(cache.cmd_export(dir .. "/dst.db", dir .. "/export2.jsonl", { log = collector() }), 0)
  t.eq(t.readfile(dir .. "/export2.jsonl"), t.readfile(file))

  log = collector()
  t.eq(cache.cmd_import(dir .. "/dst.db", file, { log = log }), 0)
  t.truthy(log:text():find("0 imported, 3 already present, 0 failed", 1, true), log:text())
end)

t.test("import validates each line: file:line and field, keeps going", function()
  local dir = t.tmpdir()
  local file = FIX .. "export_bad.jsonl"
  local log = collector()
  t.eq(cache.cmd_import(dir .. "/c.db", file, { log = log }), 1)
  local text = log:text()
  local want = {
    { 2, "field 'key'" }, { 3, "field 'model'" }, { 4, "field 'response'" },
    { 5, "field 'prompt_tokens'" }, { 6, "" }, { 7, "not a JSON object" }, { 10, "field 'request'" },
  }
  for _, w in ipairs(want) do
    t.truthy(text:find(file .. ":" .. w[1] .. ": " .. w[2], 1, true), "line " .. w[1] .. " in: " .. text)
  end
  t.truthy(text:find("2 imported, 1 already present, 7 failed (10 lines)", 1, true), text)
  local c = assert(cache.open(dir .. "/c.db", { readonly = true }))
  t.eq(c:stats().entries, 2)
  -- tokens missing from the line come from response.usage
  local row
  c:each(function(r) if r.request == nil then row = r end end)
  t.eq({ row.prompt_tokens, row.completion_tokens }, { 3, 1 })
  c:close()
end)

t.test("import-batch: good, error, non-200, malformed, no choices, bad id: all accounted for", function()
  local dir = t.tmpdir()
  local file = FIX .. "batch_output.jsonl"
  local log = collector()
  t.eq(cache.cmd_import_batch(dir .. "/c.db", file, { log = log }), 1)
  local text = log:text()
  local want = {
    { 2, "batch error: batch_expired: This request could not be executed" },
    { 3, "HTTP 400: Invalid 'messages[0].role'" },
    { 4, "byte" }, -- the JSON decoder's position
    { 6, "field 'response.body.choices'" },
    { 7, "field 'custom_id'" },
    { 10, "HTTP 429: rate_limit_exceeded: Rate limit reached" },
  }
  for _, w in ipairs(want) do
    t.truthy(text:find(file .. ":" .. w[1] .. ": ", 1, true) and text:find(w[2], 1, true),
      "line " .. w[1] .. " in: " .. text)
  end
  t.truthy(text:find("3 imported, 1 already present, 6 failed (1 batch errors, 2 non-200, " ..
    "1 malformed JSON, 2 invalid) (10 lines)", 1, true), text)

  local c = assert(cache.open(dir .. "/c.db", { readonly = true }))
  local body = json.decode(assert(c:get(sha256 "good-1")))
  t.eq(body.choices[1].message.content, "Paris is the capital of France.") -- line 9 did not replace it
  body = json.decode(assert(c:get(sha256 "good-5")))
  t.eq(body.choices[1].message.content, "Déjà vu — 日本語 ✓")
  t.eq(json.encode(body.tool_calls), "[]")
  t.eq(json.encode(body.extra), "{}")
  t.eq(c:get(sha256 "expired-2"), nil)
  t.eq(c:get(sha256 "http-3"), nil)
  local s = c:stats()
  t.eq(s.models["gpt-4o-mini-2024-07-18"], { entries = 2, prompt_tokens = 32, completion_tokens = 8 })
  t.eq(s.models["gpt-4o-2024-08-06"], { entries = 1, prompt_tokens = 31, completion_tokens = 12 })
  c:close()
end)

t.test("usage errors exit 2", function()
  local dir = t.tmpdir()
  local log = collector()
  t.eq(cache.cmd_export(dir .. "/c.db", nil, { log = log }), 2)
  t.eq(cache.cmd_export(dir .. "/missing.db", dir .. "/x.jsonl", { log = log }), 2)
  t.eq(io.open(dir .. "/x.jsonl"), nil)
  t.eq(cache.cmd_import(dir .. "/c.db", dir .. "/missing.jsonl", { log = log }), 2)
  t.eq(cache.cmd_import_batch(dir .. "/c.db", nil, { log = log }), 2)
  t.truthy(log:text():find("missing.jsonl", 1, true), log:text())
  t.raises(function() cache.open(42) end, "path must be a string")
end)

t.test("no file the cache writes holds the API key; the request stored is the one given", function()
  local dir = t.tmpdir()
  local c = assert(cache.open(dir .. "/c.db"))
  local req = json.encode { model = "m", messages = { { role = "user", content = "hi" } } }
  -- The API offers no place for a key or headers: such fields are refused.
  t.raises(function() c:put(key "k", { model = "m", body = "{}", request = req, headers = { Authorization = "Bearer " .. SECRET } }) end,
    "unknown field 'headers'")
  t.raises(function() c:put(key "k", { model = "m", body = "{}", api_key = SECRET }) end, "unknown field")
  for i = 1, 20 do
    assert(c:put(key("k" .. i), { model = "m", body = body_of("a" .. i), request = req }))
  end
  local got
  c:each(function(r) got = r.request end)
  t.eq(got, req)
  -- scan while the WAL and shared-memory files still exist, then after close
  local function scan()
    local p = io.popen("ls -A '" .. dir .. "'")
    local n = 0
    for name in p:lines() do
      n = n + 1
      local s = t.readfile(dir .. "/" .. name)
      t.truthy(not s:find(SECRET, 1, true), name .. " holds the API key")
      t.truthy(not s:find("Authorization", 1, true), name .. " holds a header")
    end
    p:close()
    return n
  end
  t.truthy(scan() >= 2, "db and WAL files scanned")
  c:close()
  t.eq(cache.cmd_export(dir .. "/c.db", dir .. "/e.jsonl", { log = collector() }), 0)
  t.truthy(scan() >= 2)
end)

t.test("command(): `lacuna cache` argument handling", function()
  local dir = t.tmpdir()
  local c = assert(cache.open(dir .. "/c.db"))
  assert(c:put(key "x", { model = "m", body = body_of "x" }))
  c:close()
  -- run in a subprocess so that stdout/stderr are real files
  local function run(args)
    local q = {}
    for _, a in ipairs(args) do q[#q + 1] = lua_q(a) end
    t.writefile(dir .. "/cmd.lua", "require 'lacuna'; os.exit(require('lacuna.cache').command({" ..
      table.concat(q, ",") .. "}))\n")
    local ok, _, rc = os.execute(string.format("%s '%s/cmd.lua' >'%s/out' 2>'%s/err'", LUA, dir, dir, dir))
    return ok and 0 or rc
  end
  t.eq(run { "stats", "--cache", dir .. "/c.db" }, 0)
  t.truthy(t.readfile(dir .. "/out"):find("entries:  1", 1, true))
  t.eq(run { "export", "--cache=" .. dir .. "/c.db", "-" }, 0)
  local v = assert(json.decode(t.readfile(dir .. "/out")))
  t.eq(v.key, key "x")
  t.eq(run { "export", "--cache", dir .. "/c.db" }, 2)
  t.truthy(t.readfile(dir .. "/err"):find("usage: lacuna cache", 1, true))
  t.eq(run { "frobnicate" }, 2)
end)

for _, d in ipairs(dirs) do os.execute("rm -rf '" .. d .. "'") end
return t.done()
