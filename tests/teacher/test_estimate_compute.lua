-- estimate.compute in isolation (the function the REPL's :cost shares with
-- run --estimate) and the --max-cost reservation of the teacher pool.
local t = require "testlib"
require "lacuna"
local estimate = require "lacuna.estimate"
local teacher = require "lacuna.teacher"
local null = require("lacuna.core").json.null

t.test("first step only: ceiling from max_tokens, costs online and at batch price", function()
  local e = estimate.compute {
    rendered = { { model = "m", prompt = 100, ceiling = 50 }, { model = "m", prompt = 300, ceiling = 50 } },
    items = 2, other_items = 2, counter = "approximate", prices = { m = { input = 2, output = 10 } },
  }
  t.eq(e.requests.total, 2)
  t.eq(e.prompt_tokens, 400)
  t.eq(e.completion_tokens.low, 0)
  t.eq(e.completion_tokens.high, 100)
  t.eq(e.cost_usd.online.low, 0.0008)
  t.eq(e.cost_usd.online.high, 0.0018)
  t.eq(e.cost_usd.batch.high, 0.0009)
  t.truthy(e.notes[1]:find("first step only"), e.notes[1])
end)

t.test("no max_tokens: the ceiling is unbounded, and so is the cost's high end", function()
  local e = estimate.compute { rendered = { { model = "m", prompt = 10 } }, items = 1,
    prices = { ["*"] = { input = 1, output = 1, batch = 0.4 } } }
  t.eq(e.completion_tokens.high, null)
  t.eq(e.cost_usd.online.high, null)
  t.eq(e.cost_usd.batch.low, 0.000004)
end)

t.test("a sample gives the low end and extrapolates dependent calls", function()
  local sampled = {
    { model = "m", prompt = 10, ceiling = 100, completion = 20, step = "first" },
    { model = "m", prompt = 30, ceiling = 100, completion = 40, step = "later" },
  }
  local e = estimate.compute { rendered = { { model = "m", prompt = 10, ceiling = 100 },
    { model = "m", prompt = 10, ceiling = 100 } }, sampled = sampled, items = 3, sampled_items = 1,
    other_items = 2, prices = { m = { input = 1, output = 1 } } }
  t.eq(e.requests.extrapolated, 2, "one later call per item, for the 2 other items")
  t.eq(e.requests.total, 6)
  t.eq(e.prompt_tokens, 10 + 10 + 10 + 30 + 2 * 30)
  -- low: the mean observed (30) for the 2 rendered and the 2 extrapolated, actuals for the sample
  t.eq(e.completion_tokens.low, 30 * 4 + 60)
  t.eq(e.completion_tokens.high, 100 * 4 + 60)
  t.truthy(e.extrapolated)
  t.truthy(e.notes[1]:find("extrapolated from 1 sampled items"), e.notes[1])
end)

t.test("prompt tokens: contents plus the chat format's overhead", function()
  local counter = { count = function(_, s) return #s end }
  t.eq(estimate.prompt_tokens({ messages = { { role = "system", content = "abc" },
    { role = "user", content = { { type = "text", text = "de" } } } } }, counter), 3 + 2 * 3 + 3 + 2)
  t.eq(estimate.ceiling { max_tokens = 10, n = 3 }, 30)
  t.eq(estimate.ceiling {}, nil)
end)

t.test("for_requests: the REPL's entry, from request bodies", function()
  local e = estimate.for_requests({ { model = "m", messages = { { role = "user", content = "hello there" } },
    max_tokens = 7 } }, { prices = { m = { input = 1, output = 2 } } })
  t.eq(e.requests.total, 1)
  t.eq(e.completion_tokens.high, 7)
  t.truthy(e.prompt_tokens > 6, "contents + overhead: " .. e.prompt_tokens)
  t.truthy(e.counter:find("approximate"), e.counter)
end)

t.test("--max-cost: a reservation holds the worst case of a request in flight", function()
  local p = teacher.pool { prices = { m = { input = 1e6, output = 1e6 } }, max_cost = 100 }
  -- 9 characters -> 3 prompt tokens; max_tokens 5 -> $8 at $1 per token
  local body = { model = "m", messages = { { role = "user", content = "123456789" } }, max_tokens = 5 }
  t.eq(p:reservation(body), 8.0)
  t.eq(p:reservation { model = "m", messages = { { role = "user", content = "" } } }, 4096.0, "no max_tokens: 4096")
  t.eq(p:reservation { model = "other", messages = {} }, 0, "no price, no reservation")
  t.truthy(p:reserve(8))
  t.eq(p.reserved, 8)
  p.cost = 100
  t.eq(p:reserve(8), false, "outside a run, a request that does not fit is refused")
end)

return t.done()
