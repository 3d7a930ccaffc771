-- The teacher's policy in isolation: request validation, AIMD, the schema
-- checker and the pool's cost stop (the transport is tested end to end in
-- tests/teacher against the loopback server).
local t = require "testlib"
require "lacuna"
local teacher = require "lacuna.teacher"

t.test("AIMD: halve on 429 at most once a second, grow by 1/limit per success", function()
  local p = teacher.pool { concurrency = 16 }
  t.eq(p.limit, 16)
  p:on_rate_limited()
  t.eq(p.limit, 8.0)
  p:on_rate_limited() -- a burst of 429s from the same moment counts once
  t.eq(p.limit, 8.0)
  p.last_decrease = p.last_decrease - 2
  p:on_rate_limited()
  t.eq(p.limit, 4.0)
  for _ = 1, 4 do p:on_success() end
  t.truthy(p.limit > 4.9 and p.limit < 5.1, "about one more after a window of successes: " .. p.limit)
  for _ = 1, 1000 do p:on_success() end
  t.eq(p.limit, 16, "never above --concurrency")
  p.last_decrease = p.last_decrease - 2
  for _ = 1, 10 do
    p.last_decrease = p.last_decrease - 2
    p:on_rate_limited()
  end
  t.eq(p.limit, 1, "never below one")
end)

t.test("cost accounting and the --max-cost stop", function()
  local p = teacher.pool { prices = { m = { input = 2, output = 10 } }, max_cost = 0.001 }
  p:account("m", { prompt_tokens = 100, completion_tokens = 50 }, false)
  t.truthy(math.abs(p.cost - (100 * 2 + 50 * 10) / 1e6) < 1e-12)
  t.eq(p.stop_reason, nil)
  p:account("m", { prompt_tokens = 1000, completion_tokens = 100 }, true) -- cached: free
  t.eq(p.usage.m.cached, 1)
  t.eq(p.stop_reason, nil)
  p:account("m", { prompt_tokens = 200, completion_tokens = 100 }, false)
  t.truthy(p.stop_reason and p.stop_reason:find("--max-cost", 1, true))
  t.eq(p.usage.m.requests, 2)
  t.eq(p.stats.prompt_tokens, 300)
end)

t.test("pool:report() is the pool's state for the runner", function()
  local p = teacher.pool { prices = { m = { input = 2, output = 10 } }, max_cost = 1, concurrency = 4,
    cache = "c.db", cache_mode = "rw" }
  t.eq(p:report().used, false)
  p:account("m", { prompt_tokens = 100, completion_tokens = 50 }, false)
  p:account("m", { prompt_tokens = 7, completion_tokens = 7 }, true)
  local r = p:report()
  t.eq({ r.prompt_tokens, r.completion_tokens, r.concurrency, r.cache, r.cache_mode, r.max_cost, r.inflight },
    { 100, 50, 4, "c.db", "rw", 1, 0 })
  t.eq({ r.models.m.requests, r.models.m.cached }, { 1, 1 })
  t.truthy(math.abs(r.cost - 700 / 1e6) < 1e-12 and r.models.m.cost == r.cost)
  t.eq(r.stop_reason, nil)
  t.eq(p:stopped(), nil)
  r.models.m.requests = 99 -- a snapshot: changing it changes nothing
  t.eq(p:report().models.m.requests, 1)
  -- without prices there is no cost at all
  t.eq(teacher.pool {}:report().cost, nil)
end)

t.test("a deferred request is a typed error, not a string", function()
  local dir = os.tmpname()
  os.remove(dir)
  local p = teacher.pool { batch_export = dir, cache_mode = "off" }
  local ok, err = pcall(p.defer, p, string.rep("a", 64), { model = "m", messages = {} })
  t.eq(ok, false)
  t.truthy(teacher.is_deferred(err), "a Deferred value")
  t.eq(err.key, string.rep("a", 64))
  t.truthy(tostring(err):find("deferred to the batch file", 1, true))
  t.eq(teacher.is_deferred("lacuna: deferred to the batch file: " .. err.key), false)
  p:close()
  os.remove(dir)
end)

t.test("requests are validated before anything is sent", function()
  local p = teacher.pool { model = "m", base_url = "http://127.0.0.1:9/v1", cache_mode = "off" }
  local tch = p:teacher(nil, 1)
  t.raises(function() tch:chat { messages = { { role = "user", content = "x" } }, temprature = 1 } end,
    "unknown request field 'temprature'")
  t.raises(function() tch:chat { messages = {} } end, "messages must be a non-empty list")
  t.raises(function() tch:chat { messages = { { content = "x" } } } end, "needs a string role")
  t.raises(function() tch:chat { messages = { { role = "user", content = "x" } }, temperature = "hot" } end,
    "field 'temperature' must be a number")
  t.raises(function() p:teacher("judge", 1) end, "no teacher named 'judge'")
  local nomodel = teacher.pool { cache_mode = "off" }:teacher(nil, 1)
  t.raises(function() nomodel:chat { messages = { { role = "user", content = "x" } } } end, "no model")
end)

t.test("the JSON-Schema subset of chat_json", function()
  local json = require("lacuna").json
  local schema = { type = "object", required = { "answer", "steps" },
    properties = { answer = { type = "string", enum = { "A", "B" } }, steps = { type = "array", items = { type = "string" } },
                   n = { type = "integer" } } }
  local function check(text) return teacher.check_schema(json.decode(text), schema, "reply") end
  t.eq(check('{"answer":"A","steps":["x"]}'), true)
  t.eq(select(2, check('{"answer":"C","steps":[]}')), "reply.answer: not one of the allowed values")
  t.eq(select(2, check('{"steps":[]}')), "reply: missing field 'answer'")
  t.eq(select(2, check('{"answer":"A","steps":[1]}')), "reply.steps[1]: expected string")
  t.eq(select(2, check('{"answer":"A","steps":[],"n":1.5}')), "reply.n: expected integer")
  t.eq(select(2, check('["A"]')), "reply: expected object")
  -- Several bad fields: the first by name is reported, whatever the hash order
  -- of this process (the re-ask quoting it must be the same in every run).
  local wide = { type = "object", properties = {} }
  local bad = {}
  for i = 1, 40 do
    wide.properties["f" .. string.format("%02d", i)] = { type = "string" }
    bad[#bad + 1] = string.format('"f%02d":%d', i, i)
  end
  local reply = json.decode("{" .. table.concat(bad, ",", 1, 40) .. "}")
  t.eq(select(2, teacher.check_schema(reply, wide, "reply")), "reply.f01: expected string")
end)

t.test("a transport failure is retried, then reported with the URL and attempts", function()
  -- Port 9 (discard) on loopback refuses connections: every attempt fails fast.
  local p = teacher.pool { model = "m", base_url = "http://127.0.0.1:9/v1", cache_mode = "off",
                           max_retries = 2, backoff_base = 0.001 }
  local msg = t.raises(function() p:teacher(nil, 1):chat { messages = { { role = "user", content = "x" } } } end,
    "gave up after 3 attempts")
  t.truthy(msg:find("http://127.0.0.1:9/v1/chat/completions", 1, true))
  t.eq(p.stats.retries, 2)
end)

return t.done()
