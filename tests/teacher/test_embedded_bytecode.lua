-- The embedded modules (lua/lacuna/*.lua) are compiled to bytecode at build
-- time (core/tools/lua_precompile.c) so a start does not parse them. Their
-- debug information is kept: errors and tracebacks still name
-- lua/lacuna/x.lua:LINE. Only those embedded chunks load as binary: a user's
-- recipe given as bytecode is still refused.
local t = require "testlib"
local lc = require "lacuna"
local teacher = require "lacuna.teacher"

t.test("embedded functions keep their source file and lines", function()
  local info = debug.getinfo(teacher.pool, "S")
  t.eq(info.short_src, "lua/lacuna/teacher.lua")
  t.eq(info.source, "@lua/lacuna/teacher.lua")
  t.truthy(info.linedefined > 1, "linedefined " .. info.linedefined)
  local later = debug.getinfo(teacher.read_reply, "S")
  t.eq(later.short_src, "lua/lacuna/teacher.lua")
  t.truthy(later.linedefined > info.linedefined, "read_reply is defined after pool")
end)

t.test("a traceback through an embedded module names file:line", function()
  local ok, trace = xpcall(function() return lc.example():user(42) end, debug.traceback)
  t.eq(ok, false)
  t.truthy(trace:find("lua/lacuna/example.lua:%d+:"), trace)
end)

t.test("an error raised at a line of an embedded module says where", function()
  -- a runtime error inside module code: file:line, and the local's name,
  -- which only the kept debug information can give
  local ok, err = pcall(teacher.pool, 42)
  t.eq(ok, false)
  t.truthy(tostring(err):find("lua/lacuna/teacher.lua:%d+: attempt to index a number value %(local 'cfg'%)"),
    tostring(err))
end)

local bin = os.getenv("LACUNA_BIN")
if bin then
  t.test("a recipe given as bytecode is refused", function()
    local dir = t.tmpdir()
    local chunk = string.dump(assert(load("return 1")))
    t.writefile(dir .. "/r.lua", chunk)
    t.writefile(dir .. "/in.jsonl", '{"prompt":"a"}\n')
    local p = io.popen(string.format("'%s' run '%s/r.lua' -i '%s/in.jsonl' -o '%s/out.jsonl' 2>&1", bin, dir, dir,
      dir))
    local out = p:read("a")
    local ok, _, code = p:close()
    t.eq(ok, nil, out)
    t.eq(code, 2, out)
    t.truthy(out:find("binary chunk", 1, true), out)
    os.execute("rm -rf '" .. dir .. "'")
  end)
end

t.done()
