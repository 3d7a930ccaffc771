-- :cost N — what a whole run would cost, before paying for it. The recipe's
-- plan and its first N items run against a pool that sends nothing: each
-- request the teacher cache cannot answer is recorded with its prompt's
-- token count (exact with --tokenizer, else lacuna's approximate counter)
-- and its max_tokens as the completion's upper bound, and answered with an
-- empty reply (finish_reason "length") so the item goes on. M.estimate, the
-- arithmetic, is kept apart so that `lacuna run --estimate` can share it.
-- (An item that needs the reply's content to decide its next request is
-- counted up to that point.)
local core = require "lacuna.core"
local json = core.json

local M = {}

-- The prompt's tokens: the text of every message (parts of type text too).
function M.prompt_tokens(body, count)
  local n = 0
  for _, m in ipairs(body.messages or {}) do
    local c = m.content
    if type(c) == "string" then
      n = n + count(c)
    elseif type(c) == "table" then
      for _, part in ipairs(c) do
        if type(part) == "table" and type(part.text) == "string" then n = n + count(part.text) end
      end
    end
  end
  return n
end

-- The estimate from what the sampled items asked. requests: list of
-- {model =, prompt_tokens =, max_tokens = (nil when unset), cached = bool};
-- sampled: items run; total: items of the whole run; prices: {model =
-- {input =, output =}} in dollars per 1M tokens (may be nil or miss a model).
-- The whole run is the sample times total / sampled, as if nothing were
-- cached; the requests the sample found in the cache are then taken off (the
-- cache may hold more of the items not sampled: the estimate errs high).
-- Returns {models = sorted names, per_model = {model = {requests,
-- prompt_tokens, completion_tokens, cost}}, requests, prompt_tokens,
-- completion_tokens, cost, cached = {requests, prompt_tokens,
-- completion_tokens, cost}, no_max_tokens, scale, unpriced = {models}};
-- every cost is nil when some model has no price.
function M.estimate(requests, sampled, total, prices)
  local scale = sampled > 0 and total / sampled or 0
  local e = { per_model = {}, requests = 0, no_max_tokens = 0, scale = scale, prompt_tokens = 0,
              completion_tokens = 0, cost = 0, unpriced = {},
              cached = { requests = 0, prompt_tokens = 0, completion_tokens = 0, cost = 0 } }
  local function price_of(model, pt, ct)
    local p = prices and prices[model]
    return p and (pt * p.input + ct * p.output) / 1e6 or nil
  end
  for _, r in ipairs(requests) do
    local m = e.per_model[r.model]
    if not m then
      m = { requests = 0, prompt_tokens = 0, completion_tokens = 0 }
      e.per_model[r.model] = m
    end
    local ct = r.max_tokens or 0
    if not r.max_tokens then e.no_max_tokens = e.no_max_tokens + 1 end
    m.requests = m.requests + 1
    m.prompt_tokens = m.prompt_tokens + r.prompt_tokens
    m.completion_tokens = m.completion_tokens + ct
    if r.cached then
      local c = e.cached
      c.requests, c.prompt_tokens, c.completion_tokens = c.requests + 1, c.prompt_tokens + r.prompt_tokens,
        c.completion_tokens + ct
      local cost = price_of(r.model, r.prompt_tokens, ct)
      c.cost = c.cost and cost and c.cost + cost or nil
    end
  end
  local models = {}
  for model in pairs(e.per_model) do models[#models + 1] = model end
  table.sort(models)
  for _, model in ipairs(models) do
    local m = e.per_model[model]
    m.requests, m.prompt_tokens, m.completion_tokens =
      m.requests * scale, m.prompt_tokens * scale, m.completion_tokens * scale
    m.cost = price_of(model, m.prompt_tokens, m.completion_tokens)
    if not m.cost then e.unpriced[#e.unpriced + 1] = model end
    e.cost = e.cost and m.cost and e.cost + m.cost or nil
    e.requests = e.requests + m.requests
    e.prompt_tokens = e.prompt_tokens + m.prompt_tokens
    e.completion_tokens = e.completion_tokens + m.completion_tokens
  end
  if not e.cost then e.cached.cost = nil end
  e.models = models
  return e
end

-- A pool that records instead of sending: real's configuration and cache
-- (read only: nothing is written), send replaced. Returns pool, requests.
function M.recording_pool(teacher, cfg, count)
  local requests = {}
  local c = {}
  for k, v in pairs(cfg) do c[k] = v end
  c.batch_export, c.max_cost = nil, nil
  local open = cfg.open_cache
  c.open_cache = function(path)
    if not core.sys.stat(path) then return { get = function() return nil end, put = function() return true end,
                                             close = function() end } end
    local real, err = open(path, true)
    if not real then return nil, err end
    return { get = function(_, key) return real:get(key) end, put = function() return true end,
             close = function() real:close() end }
  end
  local pool = teacher.pool(c)
  local request = pool.request
  local function record(body, cached)
    local max = math.tointeger(body.max_tokens or body.max_completion_tokens)
    local prompt = M.prompt_tokens(body, count)
    requests[#requests + 1] = { model = body.model, prompt_tokens = prompt, max_tokens = max, cached = cached }
    return prompt, max
  end
  pool.request = function(self, ep, p, item)
    local res = request(self, ep, p, item)
    if res.cached then record(p.body, true) end
    return res
  end
  pool.send = function(_, _, body_text)
    local body = json.decode(body_text)
    local prompt, max = record(body, false)
    local reply = {
      id = "lacuna-estimate", object = "chat.completion", model = body.model,
      choices = json.array { { index = 0, message = { role = "assistant", content = "" }, finish_reason = "length" } },
      usage = { prompt_tokens = prompt, completion_tokens = max or 0 },
    }
    return reply, json.encode(reply)
  end
  return pool, requests
end

local function commas(n)
  local s = string.format("%.0f", n)
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

-- The estimate as text.
function M.text(e, info)
  local lines = {}
  local function add(...) lines[#lines + 1] = string.format(...) end
  add("cost estimate: %d of %d items sampled (x%.4g), prompt tokens %s", info.sampled, info.total, e.scale,
    info.approximate and "approximate (no --tokenizer)" or "counted with --tokenizer")
  for _, model in ipairs(e.models) do
    local m = e.per_model[model]
    add("  %-24s %s requests, %s prompt + %s completion tokens (max_tokens)%s", model, commas(m.requests),
      commas(m.prompt_tokens), commas(m.completion_tokens),
      m.cost and string.format(", $%.4f", m.cost) or ", no price")
  end
  if #e.models == 0 then add("  no teacher request in the sample") end
  add("  whole run: %s requests, %s prompt + at most %s completion tokens%s", commas(e.requests),
    commas(e.prompt_tokens), commas(e.completion_tokens), e.cost and string.format(", at most $%.4f", e.cost) or "")
  local c = e.cached
  if c.requests > 0 then
    add("  %d requests of the sample are cached already (free): to pay %s prompt + at most %s completion tokens%s",
      c.requests, commas(e.prompt_tokens - c.prompt_tokens), commas(e.completion_tokens - c.completion_tokens),
      e.cost and string.format(", at most $%.4f", e.cost - c.cost) or "")
  end
  if #e.unpriced > 0 then
    add("  no price for %s: :set price MODEL=IN/OUT (dollars per 1M tokens) or --price", table.concat(e.unpriced, ", "))
  end
  if e.no_max_tokens > 0 then
    add("  %d requests of the sample set no max_tokens: their completions are not counted", e.no_max_tokens)
  end
  return table.concat(lines, "\n") .. "\n"
end

return M
