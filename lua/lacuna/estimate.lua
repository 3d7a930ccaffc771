-- Cost before spending (lacuna run --estimate; the REPL's :cost uses
-- M.compute and M.lines). The run is planned and every item runs until its
-- first teacher call that is not cached: that request is rendered and
-- counted, not sent. With --sample N the first N items run for real, so
-- their replies give the completion tokens actually produced, and their
-- later (dependent) calls show how many more requests an item makes; those
-- are extrapolated to the other items, and the output says so.
--
-- Prompt tokens are the message contents counted with --tokenizer (exact
-- for the contents) or the approximate counter, plus OpenAI's chat-format
-- overhead (3 per message, 3 per request). Completion tokens are a range:
-- the mean observed in the sample (0 without one) up to the max_tokens
-- ceiling (unbounded when a request sets none).
local core = require "lacuna.core"
local json = core.json

local M = {}

M.MESSAGE_OVERHEAD, M.REQUEST_OVERHEAD = 3, 3
M.DEFAULT_BATCH_SHARE = 0.5

-- Prompt tokens of a chat request body with counter (an object with :count).
function M.prompt_tokens(body, counter)
  local n = M.REQUEST_OVERHEAD
  for _, m in ipairs(body.messages or {}) do
    n = n + M.MESSAGE_OVERHEAD
    local c = m.content
    if type(c) == "string" then
      n = n + counter:count(c)
    elseif type(c) == "table" then
      for _, part in ipairs(c) do
        if type(part) == "table" and type(part.text) == "string" then n = n + counter:count(part.text) end
      end
    end
  end
  return n
end

-- The completion ceiling of a body: max_tokens x n, or nil (none set).
function M.ceiling(body)
  local mt = body.max_tokens or body.max_completion_tokens
  return mt and math.floor(mt) * math.floor(body.n or 1) or nil
end

-- ------------------------------------------------------------- collector

-- The teacher's --estimate hook (teacher.lua: cfg.estimate): decides which
-- requests go out (the sample's) and records every other miss.
local Collector = {}
Collector.__index = Collector

function M.collector(counter, sample)
  return setmetatable({ counter = counter, sample = sample or 0, rendered = {}, seen = {}, items = {},
    sampled_calls = {}, rendered_items = {}, hits = 0 }, Collector)
end

local function item_state(self, item)
  local st = self.items[item]
  if not st then
    st = { calls = 0, first = 0, replies = 0 }
    self.items[item] = st
  end
  return st
end

local function in_sample(self, item)
  -- setup's calls (no item) go out whenever there is a sample: items are
  -- planned from their answers.
  if item == nil then return self.sample > 0 end
  return math.type(item) == "integer" and item <= self.sample
end

-- -> true: send it (a sampled item); false: rendered and counted.
function Collector:send(key, body, item)
  if in_sample(self, item) then
    local step = "setup"
    if item then
      local st = item_state(self, item)
      st.calls = st.calls + 1
      if st.replies == 0 then st.first = st.first + 1 end
      step = st.replies == 0 and "first" or "later"
    end
    self.sampled_calls[key] = { step = step, prompt = M.prompt_tokens(body, self.counter), ceiling = M.ceiling(body),
      model = body.model }
    return true
  end
  if item then self.rendered_items[item] = true end
  if not self.seen[key] then
    -- identical requests are sent once (single flight, one batch line)
    self.seen[key] = true
    self.rendered[#self.rendered + 1] = { model = body.model, prompt = M.prompt_tokens(body, self.counter),
      ceiling = M.ceiling(body) }
  end
  return false
end

-- A reply reached an item (sent for real, or from the cache).
function Collector:observe(key, body, item, usage, cached)
  if cached then
    self.hits = self.hits + 1
    if item and in_sample(self, item) then
      local st = item_state(self, item)
      st.calls = st.calls + 1
      if st.replies == 0 then st.first = st.first + 1 end
    end
  end
  if in_sample(self, item) then
    if item then
      local st = item_state(self, item)
      st.replies = st.replies + 1
    end
    local call = self.sampled_calls[key]
    if call and not cached and type(usage) == "table" then
      call.completion = math.tointeger(usage.completion_tokens) or 0
    end
  end
end

-- ------------------------------------------------------------- the figures

local function add_cost(cost, price, prompt, lo, hi)
  if not price then return end
  local share = price.batch or M.DEFAULT_BATCH_SHARE
  local pin = prompt * price.input / 1e6
  local lo_c, hi_c = pin + lo * price.output / 1e6, hi and (pin + hi * price.output / 1e6)
  cost.online.low = cost.online.low + lo_c
  cost.batch.low = cost.batch.low + lo_c * share
  if hi_c and cost.online.high then
    cost.online.high = cost.online.high + hi_c
    cost.batch.high = cost.batch.high + hi_c * share
  else
    cost.online.high, cost.batch.high = nil, nil
  end
end

local function round6(x) return math.floor(x * 1e6 + 0.5) / 1e6 end

-- compute{rendered = {{model=, prompt=, ceiling=}...}, sampled = {{model=,
-- prompt=, ceiling=, completion=, step="setup"|"first"|"later"}...}, items =,
-- sampled_items =, other_items = (items that rendered a request), prices =,
-- counter = "approximate"|"tokenizer PATH", cache_hits =} -> estimate table.
-- Pure: the REPL's :cost passes what it rendered itself.
function M.compute(d)
  local prices = d.prices or {}
  local function price_of(model) return prices[model] or prices["*"] end
  local e = { counter = d.counter, items = d.items, sampled_items = d.sampled_items or 0,
    requests = { rendered = #d.rendered, sampled = #(d.sampled or {}), extrapolated = 0, cache_hits = d.cache_hits or 0 },
    prompt_tokens = 0, completion_tokens = { low = 0, high = 0 }, extrapolated = false, notes = {} }
  -- what the sample saw
  local obs_n, obs_sum, obs_min, obs_max = 0, 0, nil, nil
  local later_n, later_prompt, later_ceiling, later_ceiling_known = 0, 0, 0, true
  local sampled_items_with_calls = 0
  for _, c in ipairs(d.sampled or {}) do
    if c.completion then
      obs_n, obs_sum = obs_n + 1, obs_sum + c.completion
      obs_min = math.min(obs_min or c.completion, c.completion)
      obs_max = math.max(obs_max or c.completion, c.completion)
    end
    if c.step == "later" then
      later_n, later_prompt = later_n + 1, later_prompt + c.prompt
      if c.ceiling then later_ceiling = later_ceiling + c.ceiling else later_ceiling_known = false end
    end
  end
  sampled_items_with_calls = d.sampled_items_with_calls or d.sampled_items or 0
  local mean = obs_n > 0 and obs_sum / obs_n or 0
  e.completion_tokens.observed = obs_n > 0 and { requests = obs_n, mean = mean, min = obs_min, max = obs_max } or nil
  local cost = { online = { low = 0, high = 0 }, batch = { low = 0, high = 0 } }
  -- n requests of prompt tokens in all, ceiling their completion ceiling in
  -- all (nil: unbounded), actual their observed completion tokens.
  local function count(model, prompt, ceiling, actual, n)
    local lo = actual or mean * (n or 1)
    local hi = actual or ceiling
    e.prompt_tokens = e.prompt_tokens + prompt
    e.completion_tokens.low = e.completion_tokens.low + lo
    if hi and e.completion_tokens.high then
      e.completion_tokens.high = e.completion_tokens.high + hi
    else
      e.completion_tokens.high = nil
    end
    add_cost(cost, price_of(model), prompt, lo, hi)
  end
  for _, r in ipairs(d.rendered) do count(r.model, r.prompt, r.ceiling) end
  for _, c in ipairs(d.sampled or {}) do count(c.model, c.prompt, c.ceiling, c.completion) end
  -- dependent calls of the items that did not run for real
  if later_n > 0 and sampled_items_with_calls > 0 and (d.other_items or 0) > 0 then
    local per_item = later_n / sampled_items_with_calls
    local extra = per_item * d.other_items
    e.requests.extrapolated = math.floor(extra + 0.5)
    e.extrapolated = true
    local model = (d.sampled[1] or {}).model
    count(model, extra * later_prompt / later_n, later_ceiling_known and extra * later_ceiling / later_n or nil,
      nil, extra)
    e.notes[#e.notes + 1] = string.format("later steps extrapolated from %d sampled items: %.2f more requests per item",
      sampled_items_with_calls, per_item)
  elseif d.other_items and d.other_items > 0 and (d.sampled_items or 0) == 0 then
    e.notes[#e.notes + 1] = "first step only: requests that depend on its replies are not counted (use --sample N)"
  end
  if d.setup_only then
    e.notes[#e.notes + 1] = "setup's requests only: the items are planned from their replies (use --sample N)"
  end
  e.requests.total = e.requests.rendered + e.requests.sampled + e.requests.extrapolated
  e.prompt_tokens = math.floor(e.prompt_tokens + 0.5)
  e.completion_tokens.low = math.floor(e.completion_tokens.low + 0.5)
  e.completion_tokens.high = e.completion_tokens.high and math.floor(e.completion_tokens.high + 0.5) or json.null
  if next(prices) then
    local function range(c)
      return setmetatable({ low = round6(c.low), high = c.high and round6(c.high) or json.null },
        { __jsonorder = { "low", "high" } })
    end
    e.cost_usd = { online = range(cost.online), batch = range(cost.batch) }
  end
  return e
end

-- The estimate of a list of request bodies (what a REPL renders for
-- `:cost`): opts.counter (default: the approximate counter), opts.prices
-- (as --price's), opts.counter_name.
function M.for_requests(bodies, opts)
  opts = opts or {}
  local counter = opts.counter or require("lacuna.tokenizer").approximate()
  local rendered = {}
  for i, b in ipairs(bodies) do
    rendered[i] = { model = b.model, prompt = M.prompt_tokens(b, counter), ceiling = M.ceiling(b) }
  end
  return M.compute { rendered = rendered, items = #bodies, prices = opts.prices,
    counter = opts.counter_name or (counter.approximate and "approximate counter" or "tokenizer") }
end

local function usd(v) return type(v) == "number" and string.format("$%.4f", v) or "unbounded" end

-- The estimate as text lines (for stdout, and the REPL).
function M.lines(e)
  local r = e.requests
  local out = {}
  out[#out + 1] = string.format("requests:          %d = %d rendered, not sent + %d sent in the sample + %d extrapolated"
    .. " (%d answered from the cache)", r.total, r.rendered, r.sampled, r.extrapolated, r.cache_hits)
  out[#out + 1] = string.format("prompt tokens:     %d (%s)", e.prompt_tokens, e.counter)
  local ct = e.completion_tokens
  local obs = ct.observed
  out[#out + 1] = string.format("completion tokens: %d - %s (%s; ceiling: %s)", ct.low,
    ct.high ~= json.null and tostring(ct.high) or "unbounded",
    obs and string.format("observed mean %.1f per request over %d sampled requests, min %d, max %d", obs.mean,
      obs.requests, obs.min, obs.max) or "no sample: low end 0",
    ct.high ~= json.null and "max_tokens" or "a request sets no max_tokens")
  if e.cost_usd then
    out[#out + 1] = string.format("cost online:       %s - %s", usd(e.cost_usd.online.low), usd(e.cost_usd.online.high))
    out[#out + 1] = string.format("cost at batch:     %s - %s", usd(e.cost_usd.batch.low), usd(e.cost_usd.batch.high))
  else
    out[#out + 1] = "cost:              give --price to price it"
  end
  for _, n in ipairs(e.notes) do out[#out + 1] = "note: " .. n end
  return out
end

-- ------------------------------------------------------------- the run

-- OUT.estimate.json beside the run's outputs.
function M.path_for(output)
  if not output or output == "-" then return nil end
  return (output:gsub("%.jsonl$", "")) .. ".estimate.json"
end

-- The estimate saved by --estimate, for the manifest (nil when unreadable).
function M.load(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return json.decode(text or "")
end

local ORDER = { "recipe", "counter", "items", "sampled_items", "requests", "prompt_tokens", "completion_tokens",
  "cost_usd", "extrapolated", "notes", "sample_cost_usd", "estimated_at" }

-- lacuna run --estimate: returns the exit code.
function M.run(o)
  local runner = require "lacuna.runner"
  local teacher = require "lacuna.teacher"
  local output = require "lacuna.output"
  local tokenizer = require "lacuna.tokenizer"
  local r, values = runner.prepare(o)
  if (not o.inputs or #o.inputs == 0) and not r.setup then require("lacuna.usage").error("run: no input (-i FILE)") end
  o.inputs = o.inputs or {}
  local run = runner.new_run(r, values, o, o.inputs)
  local counter = run.state.tokenizer
  if not counter or counter.approximate or not o.tokenizer then counter = tokenizer.approximate() end
  local counter_name = counter.approximate and "approximate counter: no --tokenizer"
    or ("exact contents, tokenizer " .. o.tokenizer)
  local col = M.collector(counter, o.sample or 0)
  local eo = {}
  for k, v in pairs(o) do eo[k] = v end
  eo.estimate_of = col
  local pool = teacher.pool(runner.teacher_config(eo))
  local counts = { items = 0, ok = 0, skipped = 0, failed = 0, waiting = 0 }
  local first_failure
  local res = runner.execute(r, values, eo, {
    deferred = function() counts.items, counts.waiting = counts.items + 1, counts.waiting + 1 end,
    examples = function() counts.items, counts.ok = counts.items + 1, counts.ok + 1 end,
    skip = function() counts.items, counts.skipped = counts.items + 1, counts.skipped + 1 end,
    example_fail = function() end,
    fail = function(_, message)
      counts.items, counts.failed = counts.items + 1, counts.failed + 1
      first_failure = first_failure or message
    end,
  }, pool, run)
  pool:close()
  if res.interrupted then return 130 end
  local sampled, sampled_items, other_items = {}, 0, 0
  for _, c in pairs(col.sampled_calls) do sampled[#sampled + 1] = c end
  table.sort(sampled, function(a, b) return a.prompt < b.prompt end)
  for _, st in pairs(col.items) do
    if st.calls > 0 then sampled_items = sampled_items + 1 end
  end
  for _ in pairs(col.rendered_items) do other_items = other_items + 1 end
  local e = M.compute { rendered = col.rendered, sampled = sampled, items = counts.items,
    sampled_items = sampled_items, sampled_items_with_calls = sampled_items, other_items = other_items,
    prices = o.prices, counter = counter_name, cache_hits = col.hits, setup_only = res.deferred_setup }
  e.recipe = r.name
  local rep = pool:report()
  e.sample_cost_usd = rep.cost and round6(rep.cost)
  e.estimated_at = core.sys.utc_iso8601()
  do -- the estimate is the command's result: on stdout even with -q
    io.stdout:write(string.format("estimate for %s: %d items (%d ran for real as the sample, %d wait for a request;"
      .. " %d failed)\n", r.name, counts.items, counts.ok + counts.skipped, counts.waiting, counts.failed))
    for _, l in ipairs(M.lines(e)) do io.stdout:write(l, "\n") end
    if first_failure then io.stdout:write("first failure: ", output.text(first_failure), "\n") end
  end
  local path = M.path_for(o.output)
  if path then
    e.notes = json.array(e.notes)
    local f, err = io.open(path, "wb")
    if not f then
      io.stderr:write("lacuna: ", tostring(err), "\n")
      return 1
    end
    f:write(json.encode(output.ordered(e, ORDER)), "\n")
    f:close()
    io.stdout:write("written to ", path, " (the run's manifest will carry it)\n")
  end
  return 0
end

return M
