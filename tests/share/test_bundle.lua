-- lacuna.bundle: module names, bundle decoding, the loader (once per name,
-- cycles, a module's own errors), and core.fetch's outside-world failures.
local t = require "testlib"
local lacuna = require "lacuna"
local bundle = require "lacuna.bundle"
local fetch = lacuna.core.fetch

t.test("module names stay inside the recipe's folder", function()
  for _, ok in ipairs { "a", "prompts", "lib.judge", "a_b.c2.d", "X9" } do
    t.truthy(bundle.valid_name(ok), ok)
  end
  for _, bad in ipairs { "", ".", "..", "a..b", ".a", "a.", "../x", "/etc/passwd", "a/b", "a-b", "a b", "ä", "a\0b" } do
    t.eq(bundle.valid_name(bad), false, bad)
  end
  t.eq(bundle.valid_name(42), false)
  t.eq(bundle.module_path("lib.judge"), "lib/judge.lua")
end)

t.test("bundles decode only what they may hold", function()
  local text = bundle.encode("main.lua", { ["main.lua"] = "return 1", ["lib/x.lua"] = "return 2" })
  local b = assert(bundle.decode(text))
  t.eq(b.main, "main.lua")
  t.eq(b.files["lib/x.lua"], "return 2")
  t.truthy(bundle.is_bundle_text(text))
  t.eq(bundle.is_bundle_text("local x = {}"), false)
  local function fails(json_text, pattern)
    local v, err = bundle.decode(json_text)
    t.eq(v, nil, json_text)
    t.truthy(err and err:find(pattern, 1, true), tostring(err) .. " ~ " .. pattern)
  end
  fails('{"lacuna_bundle":2,"main":"m.lua","files":{"m.lua":""}}', "bundle format 2 is not supported")
  fails('{"lacuna_bundle":1,"main":"m.lua","files":[]}', "field 'files': not an object")
  fails('{"lacuna_bundle":1,"main":"x.lua","files":{"m.lua":""}}', "field 'main'")
  for _, p in ipairs { "../m.lua", "/m.lua", "a//m.lua", "m.txt", "./m.lua", "a/../m.lua" } do
    fails('{"lacuna_bundle":1,"main":"m.lua","files":{"m.lua":"","' .. p .. '":""}}', "'" .. p .. "' is not a relative .lua path")
  end
  fails('{"lacuna_bundle":1,"main":"m.lua","files":{"m.lua":1}}', "is not a string")
  fails('{"main":"m.lua"}', "not a lacuna bundle")
end)

-- A source over an in-memory bundle, with a plain environment.
local function loader_over(files)
  local src = bundle.bundle_source({ main = "main.lua", files = files }, "test")
  local env = setmetatable({}, { __index = _G })
  local req = bundle.loader(src)
  env.require = function(name)
    local v, why = req(name, env)
    if v == nil then error(why, 2) end
    return v
  end
  return env.require, src
end

t.test("a module loads once and nil becomes true", function()
  local req, src = loader_over {
    ["main.lua"] = "", ["count.lua"] = "loads = (rawget(_ENV, 'loads') or 0) + 1 return { n = loads }",
    ["nothing.lua"] = "local x = 1",
  }
  local a, b = req("count"), req("count")
  t.truthy(a == b, "the same table")
  t.eq(a.n, 1)
  t.eq(req("nothing"), true)
  t.eq(bundle.module_hashes(src)["count.lua"], lacuna.sha256(src.used["count.lua"]))
end)

t.test("cycles are named, a module's error propagates, a failed module can be retried", function()
  local req = loader_over {
    ["main.lua"] = "", ["a.lua"] = "return require 'b'", ["b.lua"] = "return require 'c'", ["c.lua"] = "return require 'a'",
    ["bad.lua"] = "error('module blew up')",
  }
  t.raises(function() req("a") end, "module cycle: a -> b -> c -> a")
  t.raises(function() req("bad") end, "module blew up")
  t.raises(function() req("bad") end, "module blew up")
  t.raises(function() req("missing") end, "there is no test:missing.lua beside the recipe")
end)

t.test("a module still loading in another coroutine is not a cycle, and not handed out half-made", function()
  local req = loader_over { ["main.lua"] = "", ["slow.lua"] = "coroutine.yield() return { done = true }" }
  local co = coroutine.create(function() return req("slow") end)
  assert(coroutine.resume(co)) -- suspended inside slow.lua's top level
  t.raises(function() req("slow") end, "module 'slow' is still loading in another item")
  local ok, m = coroutine.resume(co)
  t.truthy(ok and m.done, "the first load completes")
  t.eq(req("slow"), m)
end)

t.test("modules of a bundle whose main is in a folder are relative to it", function()
  local req = loader_over {}
  local src = bundle.bundle_source({ main = "r/main.lua", files = { ["r/main.lua"] = "", ["r/p.lua"] = "return 7" } }, "B")
  local env = {}
  t.eq(bundle.loader(src)("p", env), 7)
  t.eq(bundle.of_source(src).files["r/p.lua"], "return 7")
  t.truthy(req)
end)

t.test("fetch: outside-world failures are nil, message; caller mistakes raise", function()
  local body, err = fetch.get("http://127.0.0.1:9/nothing", { timeout = 5 })
  t.eq(body, nil)
  t.truthy(err:find("http://127.0.0.1:9/nothing", 1, true), err)
  body, err = fetch.get("file:///etc/passwd")
  t.eq(body, nil, "file:// is refused")
  t.truthy(err, "with a message")
  t.raises(function() fetch.get() end, "string expected")
  t.raises(function() fetch.get("http://x", { timeout = 0 }) end, "timeout must be > 0")
  t.raises(function() fetch.get("http://x", { max_bytes = 0 }) end, "max_bytes must be > 0")
end)

return t.done()
