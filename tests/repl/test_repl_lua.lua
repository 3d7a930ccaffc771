-- The REPL's pieces without a terminal: the incomplete-chunk rule, the
-- printer, and :cost's arithmetic (lacuna.repl.cost.estimate).
local t = require "testlib"
local lc = require "lacuna" -- (first: it makes lacuna.* loadable)
local eval = require "lacuna.repl.eval"
local pretty = require "lacuna.repl.pretty"
local cost = require "lacuna.repl.cost"

t.test("compile: expressions, statements, unfinished chunks, errors", function()
  local env = {}
  t.eq(eval.compile("1 + 1", env)(), 2)
  t.eq(select(2, eval.compile("function f()", env)), "incomplete")
  t.eq(select(2, eval.compile("x = {", env)), "incomplete")
  t.eq(select(2, eval.compile("1 +", env)), "incomplete")
  t.eq(select(2, eval.compile('s = "open', env)), "incomplete") -- (lua.c continues it too)
  t.eq(select(2, eval.compile("x = = 1", env)), "stdin:1: unexpected symbol near '='")
  eval.compile("y = 5", env)()
  t.eq(env.y, 5)
end)

t.test("run: results packed, errors as messages", function()
  local ok, res = eval.run(function() return 1, nil, 3 end)
  t.eq(ok, true)
  t.eq(res.n, 3)
  local ok2, msg = eval.run(function() error("boom", 0) end)
  t.eq(ok2, false)
  t.eq(msg, "boom")
end)

t.test("the printer: scalars, tables, depth, length, cycles", function()
  t.eq(pretty.value("a\nb\"c"), '"a\\nb\\"c"')
  t.eq(pretty.value(2.0), "2.0")
  t.eq(pretty.value(0.5), "0.5")
  t.eq(pretty.value(lc.null), "null")
  t.eq(pretty.value({}), "{}")
  t.eq(pretty.value({ 1, 2, x = 1, ["a b"] = 2 }), '{ 1, 2, ["a b"] = 2, x = 1 }')
  t.eq(pretty.value({ { { { { 1 } } } } }), "{ { { { {...1} } } } }")
  local long = {}
  for i = 1, 50 do long[i] = i end
  t.truthy(pretty.value(long):find("...10 more", 1, true), "long tables are cut")
  local c = { name = "c" }
  c.self = c
  t.eq(pretty.value(c), '{ name = "c", self = <cycle> }')
  local wide = {}
  for i = 1, 12 do wide["key" .. i] = "value" end
  t.truthy(pretty.value(wide):find("\n  key1 = ", 1, true), "a wide table goes one field per line")
  t.eq(pretty.values(table.pack(1, "a")), '1\t"a"')
end)

t.test("the printer: examples as conversations, plain and coloured", function()
  local ex = lc.example():user("u"):assistant({ lc.part("a", false), lc.part("b", true) })
  t.eq(pretty.value(ex), "── example  (example) ──\nuser       u\nassistant  a[[b]]")
  t.truthy(pretty.value(ex, { color = true }):find("\27[90ma\27[0m\27[32mb\27[0m", 1, true), "colours")
  t.truthy(pretty.value({ ex, ex }):find("example 2 of 2", 1, true), "a list of examples")
  t.eq(pretty.value({ e = ex }), "{ e = <example: 2 messages> }")
end)

t.test("estimate: the sample scaled to the run, cached requests taken off", function()
  local reqs = {
    { model = "m", prompt_tokens = 100, max_tokens = 50, cached = false },
    { model = "m", prompt_tokens = 100, max_tokens = 50, cached = true },
    { model = "n", prompt_tokens = 10, cached = false },
  }
  local e = cost.estimate(reqs, 2, 10, { m = { input = 1, output = 2 }, n = { input = 3, output = 4 } })
  t.eq(e.scale, 5.0)
  t.eq(e.models, { "m", "n" })
  t.eq(e.per_model.m.requests, 10.0)
  t.eq(e.per_model.m.prompt_tokens, 1000.0)
  t.eq(e.per_model.m.completion_tokens, 500.0)
  t.eq(e.per_model.m.cost, (1000 * 1 + 500 * 2) / 1e6)
  t.eq(e.per_model.n.cost, 50 * 3 / 1e6)
  t.eq(e.requests, 15.0)
  t.eq(e.no_max_tokens, 1)
  t.eq(e.cached.requests, 1)
  t.eq(e.cached.cost, (100 + 100) / 1e6)
  local unpriced = cost.estimate(reqs, 2, 10, { m = { input = 1, output = 2 } })
  t.eq(unpriced.cost, nil)
  t.eq(unpriced.unpriced, { "n" })
  t.eq(cost.estimate({}, 0, 0, nil).requests, 0)
end)

t.test("prompt tokens: string and part contents", function()
  local n = cost.prompt_tokens({ messages = { { role = "user", content = "abcd" },
    { role = "user", content = { { type = "text", text = "ab" } } } } }, function(s) return #s end)
  t.eq(n, 6)
end)

t.test("completion: globals, session names, fields, methods, commands", function()
  local complete = require("lacuna.repl.complete").candidates
  local env = setmetatable({ twice = 1, tab = { alpha = 1, beta = { gamma = 2 } } }, { __index = _G })
  t.eq(complete(env, "twi", "twi", {}), { "twice" })
  t.eq(complete(env, "tab.", "x = tab.", {}), { "tab.alpha", "tab.beta" })
  t.eq(complete(env, "tab.beta.g", "tab.beta.g", {}), { "tab.beta.gamma" })
  t.eq(complete(env, "string.up", "string.up", {}), { "string.upper" })
  t.eq(complete(env, "tab.nope.x", "tab.nope.x", {}), {})
  env.s = "text"
  t.eq(complete(env, "s:rev", "s:rev", {}), { "s:reverse" })
  t.eq(complete(env, ":re", ":re", { "reload", "run", "help" }), { ":reload" })
  t.eq(complete(env, ":r", ":r", { "reload", "run", "help" }), { ":reload", ":run" })
end)

return t.done()
