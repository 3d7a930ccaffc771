-- core.caller (core/caller.c), which the Example API and the rest of the
-- recipe-facing API use to report caller mistakes at the recipe's line:
-- caller.error skips lacuna's own frames (chunks named @lua/lacuna/...), and
-- caller.entry keeps the caller's frame alive across a tail call.
local t = require "testlib"
local caller = require("lacuna").core.caller

-- A stand-in for a lacuna module: its chunk name marks it as lacuna's own.
local fake = load([[
  local raise = ...
  local M = {}
  function M.check(x)
    if type(x) ~= "number" then raise("check: x must be a number") end
    return x * 2
  end
  return M
]], "@lua/lacuna/fake.lua")(caller.error)

-- A stand-in for a recipe, calling the module on its lines 2 and 3.
local function recipe(api)
  return load([[
    local api = ...
    local function direct(x) local v = api.check(x); return v end
    local function tail(x) return api.check(x) end
    return direct, tail
  ]], "@recipe.lua")(api)
end

t.test("error names the first frame outside lacuna", function()
  local direct = recipe(fake)
  local ok, err = pcall(direct, "no")
  t.eq(ok, false)
  t.eq(err, "recipe.lua:2: check: x must be a number")
  t.eq(direct(4), 8)
end)

t.test("a tail call erases the recipe's frame; entry keeps it", function()
  local _, tail = recipe(fake)
  local _, err = pcall(tail, "no")
  t.truthy(not err:find("^recipe.lua:"), "without entry the recipe's line is lost: " .. err)
  local _, wrapped_tail = recipe({ check = caller.entry(fake.check) })
  _, err = pcall(wrapped_tail, "no")
  t.eq(err, "recipe.lua:3: check: x must be a number")
end)

t.test("entry passes every argument and result, and yields", function()
  local f = caller.entry(function(...) return select("#", ...), ... end)
  t.eq({ f(1, nil, nil) }, { 3, 1 })
  t.eq(select("#", f(1, nil, nil)), 4)
  local co = coroutine.wrap(caller.entry(function(x)
    local y = coroutine.yield(x + 1)
    return y * 2
  end))
  t.eq(co(1), 2)
  t.eq(co(10), 20)
end)

t.test("where", function()
  t.truthy(caller.where():find("test_caller%.lua:%d+: $"), caller.where())
end)

return t.done()
