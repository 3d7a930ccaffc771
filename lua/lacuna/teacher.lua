-- Teacher calls: the policy over the raw HTTP client (core.http). A recipe
-- writes `ctx.teacher:chat{...}` as sequential code; the call suspends only
-- its own work item while many requests are in flight. Here: the cache,
-- retries with full-jitter backoff honouring Retry-After, RPM/TPM token
-- buckets, AIMD concurrency, usage and cost, batch export, fan-out and the
-- JSON helper. The API key lives only in the request headers in memory.
--
-- Single flight: identical requests (same cache key) in flight at the same
-- time, from two items or inside one chat_many, are sent once; every caller
-- gets the same reply, which is also the one cached, so a rerun from the
-- cache gives the same bytes. Every chat call is counted as exactly one of:
-- a request sent (stats.requests, usage and cost, counted once per reply),
-- a cache hit (stats.cache_hits), or a coalesced call that shared a reply in
-- flight (stats.coalesced; no usage, no cost; its result has coalesced = true).
local core = require "lacuna.core"
local json, sched, request_key, sha256 = core.json, core.sched, core.cache.request_key, core.hash.sha256
local encode, decode, null = json.encode, json.decode, json.null
-- Caller mistakes are raised at the recipe's line (core/caller.c); the
-- recipe-facing methods sit behind a C frame so tail calls keep that line.
local raise, entry = core.caller.error, core.caller.entry
local kind = require("lacuna.params").kind
local keyorder = require "lacuna.keyorder"

local M = {}

-- Fields of an OpenAI chat-completions request that a recipe may set.
local REQUEST_FIELDS = {
  model = "string", messages = "table", temperature = "number", top_p = "number",
  max_tokens = "number", max_completion_tokens = "number", seed = "number",
  stop = "any", n = "number", response_format = "table", presence_penalty = "number",
  frequency_penalty = "number", tools = "table", tool_choice = "any", logprobs = "boolean",
  top_logprobs = "number", reasoning_effort = "string", logit_bias = "table",
}
-- lacuna's own fields, not sent: the sample index (k samples of one prompt
-- are k cache entries) and per-call limits.
local LOCAL_FIELDS = { sample = true, timeout = true, max_reasks = true, validate = true, schema = true }

local RETRY_STATUS = { [408] = true, [429] = true, [500] = true, [502] = true, [503] = true, [504] = true }

-- Raised by a teacher call whose request went to the --batch-export file:
-- a typed value (as usage.lua does for usage errors), so the runner tells a
-- deferred item from a failed one by its type, not by its text.
local Deferred = {}
Deferred.__index = Deferred
Deferred.__tostring = function(d) return "teacher request " .. d.key:sub(1, 16) .. " deferred to the batch file" end
function M.is_deferred(e) return getmetatable(e) == Deferred end

-- Validates a recipe's request and returns the body to send.
local function build_body(req, default_model)
  if type(req) ~= "table" then raise("teacher:chat expects a table of request fields") end
  local body = {}
  for k, v in pairs(req) do
    local want = REQUEST_FIELDS[k]
    if want then
      if want ~= "any" and type(v) ~= want then
        raise(string.format("teacher:chat: field '%s' must be a %s, got %s", k, want, kind(v)))
      end
      body[k] = v
    elseif not LOCAL_FIELDS[k] then
      raise("teacher:chat: unknown request field '" .. tostring(k) .. "'")
    end
  end
  body.model = body.model or default_model
  if not body.model then
    raise("teacher:chat: no model (pass model= or run with --model / --teacher NAME=MODEL)")
  end
  if type(body.messages) ~= "table" or #body.messages == 0 then
    raise("teacher:chat: messages must be a non-empty list")
  end
  for i, m in ipairs(body.messages) do
    if type(m) ~= "table" or type(m.role) ~= "string" then
      raise("teacher:chat: messages[" .. i .. "] needs a string role")
    end
    if m.content ~= nil and m.content ~= null and type(m.content) ~= "string" and type(m.content) ~= "table" then
      raise("teacher:chat: messages[" .. i .. "].content must be a string or a list of parts")
    end
  end
  body.messages = json.array(body.messages)
  return body
end

local function estimate_tokens(body)
  local chars = 0
  for _, m in ipairs(body.messages) do
    if type(m.content) == "string" then chars = chars + #m.content end
  end
  return math.ceil(chars / 4) + math.floor(body.max_tokens or body.max_completion_tokens or 256)
end

-- A token bucket refilled continuously: `rate` per second up to `capacity`.
local Bucket = {}
Bucket.__index = Bucket
local function bucket(per_minute)
  return setmetatable({ capacity = per_minute, level = per_minute, rate = per_minute / 60, t = sched.now() },
    Bucket)
end
function Bucket:refill()
  local now = sched.now()
  self.level = math.min(self.capacity, self.level + (now - self.t) * self.rate)
  self.t = now
end
-- Waits (suspending the task) until n can be taken, then takes it.
function Bucket:take(n)
  n = math.min(n, self.capacity)
  self:refill()
  while self.level < n do
    sched.sleep((n - self.level) / self.rate)
    self:refill()
  end
  self.level = self.level - n
end
function Bucket:give(n) self.level = math.min(self.capacity, self.level + n) end

-- Pacing from the server's own numbers (x-ratelimit-* headers, as OpenAI,
-- OpenRouter and many proxies send them): one per endpoint URL. For requests
-- and for tokens it keeps an estimate of what the server still allows,
-- refilled at the rate the headers imply ((limit - remaining) / reset: the
-- time the server says it needs to be full again) and resynchronised by every
-- reply. A reply's numbers are older than the requests sent after it left,
-- so those are subtracted again: the estimate errs on the safe side. A
-- request waits while the estimate is below what it needs, so requests stop
-- before a 429 rather than after. A server that sends no headers is never
-- paced here (AIMD and Retry-After handle it).
local ServerLimits = {}
ServerLimits.__index = ServerLimits
local function server_limits()
  return setmetatable({ known = false, sent = 0, sent_tokens = 0, waits = 0, waited = 0 }, ServerLimits)
end

local function refill(d, now)
  if d.rate > 0 and d.level < d.limit then d.level = math.min(d.limit, d.level + (now - d.t) * d.rate) end
  -- Past the reset the server said it would be full again (also when no
  -- rate could be inferred: remaining = limit, or no reset sent).
  if now >= d.reset_at and d.level < d.limit then d.level = d.limit end
  d.t = now
end

-- Seconds until dimension d allows n, 0 when it does now.
local function wait_for(d, n, now)
  if not d then return 0 end
  refill(d, now)
  n = math.min(n, d.limit)
  if d.level >= n then return 0 end
  local until_reset = math.max(d.reset_at - now, 0.001)
  if d.rate <= 0 then return until_reset end
  return math.min((n - d.level) / d.rate, until_reset)
end

-- Waits until the server's limits allow one request of `tokens` tokens and
-- takes them; returns the marks reply() needs.
function ServerLimits:take(tokens)
  if self.known then
    while true do
      local now = sched.now()
      local wait = math.max(wait_for(self.requests, 1, now), wait_for(self.tokens, tokens, now))
      if wait <= 0 then break end
      self.waits = self.waits + 1
      self.waited = self.waited + wait
      sched.sleep(wait)
    end
    if self.requests then self.requests.level = self.requests.level - 1 end
    if self.tokens then self.tokens.level = self.tokens.level - tokens end
  end
  self.sent = self.sent + 1
  self.sent_tokens = self.sent_tokens + tokens
  return self.sent, self.sent_tokens
end

-- One dimension from a reply: remaining now, minus what was sent after the
-- request this reply answers (sent_after), refilled at (limit - remaining) / reset.
local function resync(d, limit, remaining, reset, sent_after, now)
  if not remaining then return d end
  d = d or { rate = 0, reset_at = now }
  d.limit = limit or math.max(d.limit or 0, remaining)
  if reset and reset > 0 and remaining < d.limit then d.rate = (d.limit - remaining) / reset end
  d.reset_at = now + (reset or 0)
  d.level = remaining - sent_after
  d.t = now
  return d
end

-- The x-ratelimit-* values of a reply (core.http's limits table) to the
-- request marked (mark, mark_tokens) by take.
function ServerLimits:reply(h, mark, mark_tokens)
  if not h then return end
  local now = sched.now()
  self.requests = resync(self.requests, h.limit_requests, h.remaining_requests, h.reset_requests,
    self.sent - mark, now)
  self.tokens = resync(self.tokens, h.limit_tokens, h.remaining_tokens, h.reset_tokens,
    self.sent_tokens - mark_tokens, now)
  self.known = self.requests ~= nil or self.tokens ~= nil
end

-- Why a retry happened, for stats.retry_causes.
local RETRY_CAUSES = { "429", "5xx", "timeout", "reset", "bad_body" }
M.RETRY_CAUSES = RETRY_CAUSES

-- The state shared by every teacher call of one run.
local Pool = {}
Pool.__index = Pool

-- cfg: base_url, api_key_env, model, teachers{name={model=, base_url=, api_key_env=}},
-- concurrency, rpm, tpm, timeout, stall, max_retries, backoff_base, backoff_cap,
-- cache (path), cache_mode ("rw"|"off"|"only"), batch_export (path), prices
-- {model={input=, output=}} per 1M tokens, max_cost, open_cache(path, readonly)
function M.pool(cfg)
  cfg = cfg or {}
  local p = setmetatable({
    cfg = cfg,
    limit = cfg.concurrency or 16,
    max_limit = cfg.concurrency or 16,
    inflight = 0,
    reserved = 0, reserving = 0, -- --max-cost: the most the requests in flight may cost, and their number
    waiters = {},
    last_decrease = 0,
    usage = {},
    cost = 0,
    stats = { requests = 0, retries = 0, cache_hits = 0, failures = 0, rate_limited = 0,
              prompt_tokens = 0, completion_tokens = 0, deferred = 0, coalesced = 0,
              retry_causes = { ["429"] = 0, ["5xx"] = 0, timeout = 0, reset = 0, bad_body = 0 } },
    queued = 0, -- tasks waiting to send (limits, buckets, a free slot)
    server_limits = {}, -- endpoint URL -> ServerLimits
    flights = {}, -- cache key -> {waiters = {task handles}, ok =, raw =, err =} while in flight
    batch_keys = {},
    jitter = core.rng.new(math.floor(sched.now() * 1e6), core.sys.pid()),
  }, Pool)
  if cfg.rpm then p.rpm = bucket(cfg.rpm) end
  if cfg.tpm then p.tpm = bucket(cfg.tpm) end
  return p
end

function Pool:http()
  if not self.client then
    self.client = core.http.client { max_host_connections = math.max(self.max_limit, 1) }
  end
  return self.client
end

function Pool:cache()
  if self.cache_obj == nil then
    local mode = self.cfg.cache_mode or "rw"
    local path = self.cfg.cache or ".lacuna/cache.db"
    if mode == "off" or not self.cfg.open_cache then
      self.cache_obj = false
    elseif mode == "only" and not core.sys.stat(path) then
      -- Nothing cached yet: every lookup misses, which --cache-only reports.
      self.cache_obj = false
    else
      local c, err = self.cfg.open_cache(path, mode == "only")
      if not c then
        -- A cache that cannot be opened stops the run rather than failing
        -- every item the same way.
        self.stop_reason = "the teacher cache cannot be opened: " .. tostring(err)
        error("teacher cache: " .. tostring(err), 0)
      end
      self.cache_obj = c
    end
  end
  return self.cache_obj or nil
end

function Pool:close()
  if self.cache_obj then self.cache_obj:close() end
  if self.batch then
    local ok, err = self.batch:commit()
    if not ok then error("--batch-export: " .. tostring(err), 0) end
  end
end

-- Why the run must stop (the cost cap, a cache that cannot be opened), or nil.
function Pool:stopped() return self.stop_reason end

-- A snapshot of the pool for the progress line, the summary and the
-- manifest: counters, usage per model, cost and configuration. Callers read
-- this instead of the pool's fields.
function Pool:report()
  local st, cfg = self.stats, self.cfg
  local models = {}
  for model, u in pairs(self.usage) do
    models[model] = { requests = u.requests, cached = u.cached, prompt_tokens = u.prompt_tokens,
      completion_tokens = u.completion_tokens, cost = self:price(model) and u.cost or nil }
  end
  local paced = { waits = 0, seconds = 0, headers = false }
  for _, lim in pairs(self.server_limits) do
    paced.waits, paced.seconds = paced.waits + lim.waits, paced.seconds + lim.waited
    paced.headers = paced.headers or lim.known
  end
  local causes = {}
  for k, v in pairs(st.retry_causes) do causes[k] = v end
  return {
    retry_causes = causes, paced = paced,
    requests = st.requests, retries = st.retries, cache_hits = st.cache_hits, failures = st.failures,
    rate_limited = st.rate_limited, prompt_tokens = st.prompt_tokens, completion_tokens = st.completion_tokens,
    deferred = st.deferred, coalesced = st.coalesced, inflight = self.inflight, models = models,
    used = st.requests + st.cache_hits + st.coalesced > 0,
    cost = cfg.prices and self.cost or nil, prices = cfg.prices, max_cost = cfg.max_cost,
    cache = cfg.cache_mode ~= "off" and cfg.cache or nil, cache_mode = cfg.cache_mode,
    concurrency = self.max_limit, batch_export = cfg.batch_export, stop_reason = self.stop_reason,
  }
end

-- Concurrency window with AIMD: halve on 429 (at most once a second), grow
-- by 1/limit per success, never above --concurrency.
function Pool:acquire()
  if not sched.self() then return false end
  while self.inflight >= math.max(1, math.floor(self.limit)) do
    self.waiters[#self.waiters + 1] = sched.self()
    sched.park()
  end
  self.inflight = self.inflight + 1
  return true
end

function Pool:release()
  if not sched.self() then return end
  self.inflight = self.inflight - 1
  while #self.waiters > 0 and self.inflight + #self.waiters > 0 do
    local h = table.remove(self.waiters, 1)
    if sched.unpark(h) then break end
  end
end

-- Whether a new work item may start: not while requests wait to be sent
-- (a slot, a limit): a new item would only wait too, and cost memory.
function Pool:wants_items() return self.queued == 0 end

-- lim: the endpoint's ServerLimits. A server that paces us with headers is
-- not second-guessed by AIMD.
function Pool:on_rate_limited(lim)
  self.stats.rate_limited = self.stats.rate_limited + 1
  if lim and lim.known then return end
  local now = sched.now()
  if now - self.last_decrease >= 1 then
    self.limit = math.max(1, self.limit / 2)
    self.last_decrease = now
  end
end

function Pool:on_success()
  self.limit = math.min(self.max_limit, self.limit + 1 / self.limit)
end

-- A usage count as the server reported it: a non-negative integer, else 0
-- (a server may send no usage, null, a string or a negative count).
local function usage_tokens(usage, field)
  local v = type(usage) == "table" and math.tointeger(usage[field])
  return v and v >= 0 and v or 0
end

function Pool:account(model, usage, cached)
  local u = self.usage[model]
  if not u then
    u = { requests = 0, cached = 0, prompt_tokens = 0, completion_tokens = 0, cost = 0 }
    self.usage[model] = u
  end
  if cached then
    u.cached = u.cached + 1
    return
  end
  local pt = usage_tokens(usage, "prompt_tokens")
  local ct = usage_tokens(usage, "completion_tokens")
  u.requests = u.requests + 1
  u.prompt_tokens = u.prompt_tokens + pt
  u.completion_tokens = u.completion_tokens + ct
  self.stats.prompt_tokens = self.stats.prompt_tokens + pt
  self.stats.completion_tokens = self.stats.completion_tokens + ct
  local price = self:price(model)
  if price then
    local c = (pt * price.input + ct * price.output) / 1e6
    u.cost = u.cost + c
    self.cost = self.cost + c
    if self.cfg.max_cost and self.cost >= self.cfg.max_cost and not self.stop_reason then
      self.stop_reason = string.format("the cost reached $%.4f (--max-cost %g)", self.cost, self.cfg.max_cost)
    end
  end
end

-- A model's price (--price MODEL=... or the every-model --price in=...), or nil.
function Pool:price(model)
  local prices = self.cfg.prices
  return prices and (prices[model] or prices["*"]) or nil
end

-- --max-cost: what a request may cost at most, its prompt estimate and its
-- max_tokens (4096 when it sets none) at the model's price; 0 without one.
local UNBOUNDED_COMPLETION = 4096
function Pool:reservation(body)
  local price = self.cfg.max_cost and self:price(body.model)
  if not price then return 0 end
  local chars = 0
  for _, m in ipairs(body.messages) do
    if type(m.content) == "string" then chars = chars + #m.content end
  end
  local ceiling = body.max_tokens or body.max_completion_tokens or UNBOUNDED_COMPLETION
  return (math.ceil(chars / 3) * price.input + ceiling * (body.n or 1) * price.output) / 1e6
end

-- Holds a request until its reservation fits under --max-cost beside the
-- cost so far and the requests in flight. Alone, a request goes while the
-- cost is under the cap (its worst case may be far above what it costs), so
-- the cap is passed by one request's cost at most; false once it is reached.
function Pool:reserve(amount)
  local cap = self.cfg.max_cost
  if not cap or amount == 0 then return true end
  while self.cost + self.reserved + amount > cap do
    -- (counted, not compared with 0: the float sum of many + and - is not 0)
    if self.reserving == 0 or not sched.self() then
      if self.cost >= cap then return false end
      break
    end
    sched.sleep(0.02)
  end
  self.reserving = self.reserving + 1
  self.reserved = self.reserved + amount
  return true
end

-- Where and how to reach a named teacher (nil name: the default one).
function Pool:endpoint(name)
  local t = name and self.cfg.teachers and self.cfg.teachers[name]
  if name and not t then
    local names = {}
    for k in pairs(self.cfg.teachers or {}) do names[#names + 1] = k end
    table.sort(names)
    raise("no teacher named '" .. name .. "' (configure it with --teacher " .. name ..
      "=MODEL; configured: " .. (#names > 0 and table.concat(names, ", ") or "none") .. ")")
  end
  t = t or {}
  local base = t.base_url or self.cfg.base_url or "https://api.openai.com/v1"
  local key_env = t.api_key_env or self.cfg.api_key_env or "OPENAI_API_KEY"
  local key = os.getenv(key_env)
  local headers = { "Content-Type: application/json", "Accept: application/json" }
  if key and key ~= "" then headers[#headers + 1] = "Authorization: Bearer " .. key end
  return { url = base:gsub("/+$", "") .. "/chat/completions", headers = headers,
           model = t.model or self.cfg.model, name = name or "default" }
end

-- A 429 that retrying cannot help: OpenAI's exhausted quota (billing).
local function quota_exhausted(body)
  local obj = decode(body or "")
  local e = type(obj) == "table" and obj.error
  return type(e) == "table" and (e.code == "insufficient_quota" or e.type == "insufficient_quota")
end

local function server_message(body)
  local obj = decode(body or "")
  if type(obj) == "table" then
    local e = obj.error
    local msg = type(e) == "table" and e.message or e
    if type(msg) == "string" and msg:find("%S") then return msg end
    -- An error object with a blank message still has its type or code.
    if type(e) == "table" then
      local parts = {}
      for _, k in ipairs({ "type", "code" }) do
        local v = e[k]
        if (type(v) == "string" and v:find("%S")) or math.type(v) == "integer" then
          parts[#parts + 1] = k .. " " .. tostring(v)
        end
      end
      if #parts > 0 then return "(no message; " .. table.concat(parts, ", ") .. ")" end
    end
  end
  local text = tostring(body or ""):sub(1, 200):gsub("%s+", " ")
  return text:find("%S") and text or "(empty body)"
end

-- Checks a 200 body; returns the decoded response or nil, why (retryable).
-- result_of(response, key, cached) builds what teacher:chat returns. Both in
-- C (core/reply.c): they run for every reply.
local parse_reply, result_of = core.reply.parse, core.reply.result

-- What the teacher makes of a reply body (tests/fuzz/fuzz_reply.c): for a
-- 200, the result or nil, why; for an error status, the server's message.
function M.read_reply(status, body)
  if status ~= 200 then return nil, server_message(body), quota_exhausted(body) end
  local obj, err = parse_reply(body)
  if not obj then return nil, err end
  return result_of(obj)
end

-- What one attempt of Pool:send holds in the pool: a place among the queued,
-- a slot of the window, a reserved cost. Pool:send gives each back as it
-- goes; a task the scheduler fails while it waits (Ctrl-C, a wait nobody
-- will end) is never resumed, but its to-be-closed variables are closed, and
-- this gives back what it still held, so the pool's counts stay true.
local Hold = {}
Hold.__index = Hold
function Hold:__close()
  local pool = self.pool
  if self.queued then
    pool.queued = pool.queued - 1
    local waiters = pool.waiters -- (it may have been waiting for a slot)
    for i = #waiters, 1, -1 do
      if waiters[i] == self.task then table.remove(waiters, i) end
    end
  end
  if self.slot then pool.inflight = pool.inflight - 1 end
  if self.reservation then
    pool.reserving = pool.reserving - 1
    pool.reserved = pool.reserving > 0 and pool.reserved - self.reservation or 0
  end
end

-- Sends one request with retries; returns the decoded reply and its body.
-- timeout: the request's own (teacher:chat's timeout=), or nil. It touches
-- no recipe value (the body is text by now), so Pool:request runs it with
-- sched.unmetered: the instruction budget is the recipe's, and lacuna's own
-- per-request code runs faster without the count hook.
function Pool:send(ep, body_text, est_tokens, timeout, reservation)
  local cfg = self.cfg
  reservation = reservation or 0
  local max_retries = cfg.max_retries or 6
  local base, cap = cfg.backoff_base or 0.5, cfg.backoff_cap or 30
  local attempt = 0
  local lim = self.server_limits[ep.url]
  if not lim then
    lim = server_limits()
    self.server_limits[ep.url] = lim
  end
  while true do
    attempt = attempt + 1
    local hold <close> = setmetatable({ pool = self, queued = true, task = sched.self() }, Hold)
    self.queued = self.queued + 1
    if self.rpm then self.rpm:take(1) end
    if self.tpm then self.tpm:take(est_tokens) end
    local mark, mark_tokens = lim:take(est_tokens)
    hold.slot = self:acquire()
    self.queued = self.queued - 1
    hold.queued = false
    local reserving = self.reserving
    if not self.stop_reason and not self:reserve(reservation) then
      self.stop_reason = string.format("the cost reached $%.4f (--max-cost %g)", self.cost, cfg.max_cost)
    end
    if self.reserving > reserving then hold.reservation = reservation end
    if self.stop_reason then
      -- Nothing more is paid for once the run stops; the item is recorded as
      -- failed and a rerun with the cache completes it.
      hold.slot = false
      self:release()
      error("teacher request not sent: the run stopped because " .. self.stop_reason, 0)
    end
    self.stats.requests = self.stats.requests + 1
    -- (the transport's options: one table for every request without its own timeout)
    local post_opts = self.post_opts
    if timeout or not post_opts then
      post_opts = { timeout = timeout or cfg.timeout or 120, stall = cfg.stall or 60 }
      if not timeout then self.post_opts = post_opts end
    end
    local client = self:http()
    local ok, status, body, retry_after, terr, sends, limits, failure = pcall(client.post, client,
      ep.url, ep.headers, body_text, post_opts)
    hold.slot = false
    self:release()
    -- (the reply's real cost is accounted by the caller before anything else runs)
    if reservation > 0 then
      hold.reservation = nil
      self.reserving = self.reserving - 1
      self.reserved = self.reserving > 0 and self.reserved - reservation or 0
    end
    if not ok then error(status, 0) end
    lim:reply(limits, mark, mark_tokens)
    local causes = self.stats.retry_causes
    if sends and sends > 1 then
      -- libcurl sent the request again by itself (a reused connection was
      -- reset before the reply): each send may have been billed.
      self.stats.requests = self.stats.requests + sends - 1
      self.stats.retries = self.stats.retries + sends - 1
      causes.reset = causes.reset + sends - 1
    end
    local why, retryable, cause
    if terr then
      why, retryable = terr, true
      cause = failure == "body" and "bad_body" or failure == "timeout" and "timeout" or "reset"
    elseif status == 200 then
      local obj, perr = parse_reply(body)
      if obj then
        self:on_success()
        return obj, body
      end
      why, retryable, cause = perr, true, "bad_body"
    else
      why = "HTTP " .. status .. ": " .. server_message(body)
      retryable = RETRY_STATUS[status] or false
      cause = status == 429 and "429" or status == 408 and "timeout" or "5xx"
      if status == 429 and quota_exhausted(body) then
        retryable = false
      elseif status == 429 then
        self:on_rate_limited(lim)
      end
    end
    -- A wait longer than a request may take (a daily limit's Retry-After)
    -- would look like a hang: the item fails now, saying how long.
    local max_wait = timeout or cfg.timeout or 120
    if retryable and retry_after and retry_after > max_wait then
      why = string.format("%s (the server asks to retry after %.0f s, more than --timeout %g s)", why,
        retry_after, max_wait)
      retryable = false
    end
    if not retryable then
      self.stats.failures = self.stats.failures + 1
      error("teacher " .. ep.name .. " (" .. ep.url .. "): " .. why, 0)
    end
    if attempt > max_retries then
      self.stats.failures = self.stats.failures + 1
      error(string.format("teacher %s (%s): %s (gave up after %d attempts)", ep.name, ep.url, why, attempt), 0)
    end
    self.stats.retries = self.stats.retries + 1
    causes[cause] = causes[cause] + 1
    -- Full jitter (uniform in [0, min(cap, base * 2^n)]), but never sooner
    -- than the server's Retry-After.
    local delay = self.jitter:float() * math.min(cap, base * 2 ^ (attempt - 1))
    if retry_after and retry_after > delay then delay = retry_after end
    if self.tpm then self.tpm:give(est_tokens) end
    sched.sleep(delay)
  end
end

-- Checks a recipe's request (raising its mistakes at the recipe's line) and
-- returns what Pool:request needs: the body and the cache key,
-- sha256(encode(body) .. "\n" .. sample). When the request may be sent
-- (may_send), the JSON text is made once here and the key hashed from it;
-- a --cache-only run never sends, so its key is computed in C without the text.
local function prepare(ep, req, may_send)
  local body = build_body(req, ep.model)
  local sample = req.sample or 0
  if math.type(sample) ~= "integer" then raise("teacher:chat: sample must be an integer, got " .. kind(sample)) end
  -- (timeout is read here, where a recipe's metamethods run metered)
  local timeout = req.timeout
  if not may_send then return { body = body, key = request_key(body, sample), timeout = timeout } end
  local text = encode(body)
  return { body = body, key = sha256(text .. "\n" .. sample), text = text, timeout = timeout }
end

-- One chat completion (see M.Teacher:chat).
function Pool:chat(ep, req, item)
  return self:request(ep, prepare(ep, req, self.cfg.cache_mode ~= "only"), item)
end

-- Waits for the identical request in flight and returns its reply as this
-- call's own result (decoded again: callers never share tables).
function Pool:join_flight(flight, key)
  flight.waiters[#flight.waiters + 1] = sched.self()
  sched.park()
  if not flight.ok then error(flight.err, 0) end
  self.stats.coalesced = self.stats.coalesced + 1
  local res = result_of(parse_reply(flight.raw), key, false)
  res.coalesced = true
  return res
end

-- Sends a prepared request unless the cache or an identical request in
-- flight answers it.
function Pool:request(ep, p, item)
  local body, key = p.body, p.key
  local cache = self:cache()
  if cache then
    local hit, gerr = cache:get(key)
    if gerr then error("teacher cache: " .. tostring(gerr), 0) end
    if hit then
      local obj = parse_reply(hit)
      if obj then
        if self.cfg.used_keys then self.cfg.used_keys[key] = true end
        self.stats.cache_hits = self.stats.cache_hits + 1
        self:account(body.model, obj.usage ~= null and obj.usage or nil, true)
        if self.cfg.estimate then self.cfg.estimate:observe(key, body, item, nil, true) end
        -- Lookups share a read snapshot while hits come back to back (core/cache.c);
        -- with requests on their way the run will soon wait, so let it go now.
        -- (A cache wrapper without end_read, the REPL's :cost, holds none.)
        if (self.inflight > 0 or self.queued > 0) and cache.end_read then cache:end_read() end
        return result_of(obj, key, true)
      end
    end
  end
  if self.cfg.cache_mode == "only" then
    error("teacher: cache miss for request " .. key:sub(1, 16) .. " (model " .. body.model ..
      ") and --cache-only forbids calling the teacher", 0)
  end
  if self.cfg.batch_failed then
    -- lacuna run --batch: a request the Batch API refused for good fails its
    -- item with the recorded reason instead of going to the next batch.
    local why = self.cfg.batch_failed(key)
    if why then error("teacher request " .. key:sub(1, 16) .. " failed in the Batch API: " .. why, 0) end
  end
  if self.cfg.estimate and not self.cfg.estimate:send(key, body, item) then
    -- --estimate: rendered and counted, not sent.
    error(setmetatable({ key = key }, Deferred), 0)
  end
  if self.cfg.batch_export then
    self:defer(key, body)
  end
  local flight = self.flights[key]
  if flight then return self:join_flight(flight, key) end
  local body_text = p.text or encode(body)
  -- Outside a scheduler run nothing else can be in flight: no flight needed.
  if sched.self() then
    flight = { waiters = {} }
    self.flights[key] = flight
  end
  local ok, obj, raw = pcall(sched.unmetered, self.send, self, ep, body_text, estimate_tokens(body), p.timeout,
    self:reservation(body))
  if ok and cache then
    local put_ok, err = cache:put(key, { model = body.model, request = body_text, body = raw,
      prompt_tokens = usage_tokens(obj.usage, "prompt_tokens"),
      completion_tokens = usage_tokens(obj.usage, "completion_tokens") })
    if not put_ok then ok, obj = false, "teacher cache: " .. tostring(err) end
  end
  if ok then
    self:account(body.model, obj.usage ~= null and obj.usage or nil, false)
    if self.cfg.estimate then self.cfg.estimate:observe(key, body, item, obj.usage ~= null and obj.usage or nil) end
  end
  if flight then
    -- Every waiter gets this outcome, the reply or the error. (A leader
    -- killed before this line leaves its waiters to the scheduler, which
    -- fails tasks waiting for an event nobody will deliver.)
    self.flights[key] = nil
    flight.ok, flight.raw, flight.err = ok, raw, obj
    for _, h in ipairs(flight.waiters) do sched.unpark(h) end
  end
  if not ok then error(obj, 0) end
  return result_of(obj, key, false)
end

-- Batch export: writes the request in OpenAI Batch API form and stops the
-- item; the rerun after `lacuna cache import-batch` finds it in the cache.
function Pool:defer(key, body)
  if not self.batch then
    local w, err = core.jsonl.writer(self.cfg.batch_export)
    if not w then error("--batch-export: " .. tostring(err), 0) end
    self.batch = w
  end
  if not self.batch_keys[key] then
    self.batch_keys[key] = true
    self.batch:write(setmetatable({ custom_id = key, method = "POST", url = "/v1/chat/completions", body = body },
      { __jsonorder = { "custom_id", "method", "url", "body" } }))
    self.stats.deferred = self.stats.deferred + 1
  end
  error(setmetatable({ key = key }, Deferred), 0)
end

-- The object a recipe sees as ctx.teacher / ctx.teachers[name].
local Teacher = {}
Teacher.__index = Teacher
M.Teacher = Teacher

function Pool:teacher(name, item)
  local key = name or false
  self.endpoints = self.endpoints or {}
  local ep = self.endpoints[key]
  if not ep then
    ep = self:endpoint(name)
    self.endpoints[key] = ep
  end
  return setmetatable({ pool = self, ep = ep, item = item }, Teacher)
end

-- teacher:chat{model=, messages=, temperature=, max_tokens=, n=, seed=, stop=,
-- response_format=, sample=} -> {text=, finish_reason=, usage=, model=,
-- cached=, choices={{text=, finish_reason=}...}}
function Teacher:chat(req)
  return self.pool:chat(self.ep, req, self.item)
end

-- teacher:chat_many{req1, req2, ...} -> {result1, result2, ...}: all sent at
-- once (fan-out); raises the first error after all have finished.
function Teacher:chat_many(reqs)
  if type(reqs) ~= "table" then raise("teacher:chat_many expects a list of requests") end
  -- Every request is checked before any is sent, so a mistake in one is
  -- raised here, at the recipe's line, and costs nothing.
  local prepared = {}
  local may_send = self.pool.cfg.cache_mode ~= "only"
  for i, r in ipairs(reqs) do prepared[i] = prepare(self.ep, r, may_send) end
  local pool, ep, item = self.pool, self.ep, self.item
  if not sched.self() or #prepared <= 1 then
    local out = {}
    for i, p in ipairs(prepared) do out[i] = pool:request(ep, p, item) end
    return out
  end
  -- Identical requests in the list share one flight (Pool:request).
  local handles = {}
  for i, p in ipairs(prepared) do
    handles[i] = sched.spawn(function() return pool:request(ep, p, item) end)
  end
  local res = sched.join(handles)
  local out = {}
  for i, r in ipairs(res) do
    if not r.ok then error(r.value, 0) end
    out[i] = r.value
  end
  return out
end

-- Strips a ```json fence that chat models like to add.
local function unfence(text)
  local inner = text:match("^%s*```[%w_-]*%s*\n(.-)\n?%s*```%s*$")
  return inner or text
end

local function check_schema(v, schema, path)
  if type(schema) ~= "table" then return true end
  local t = schema.type
  local function is(tn)
    if tn == "object" then return type(v) == "table" and not json.is_array(v) end
    if tn == "array" then return type(v) == "table" and json.is_array(v) end
    if tn == "integer" then return math.type(v) == "integer" end
    if tn == "number" then return type(v) == "number" end
    if tn == "null" then return v == null end
    return type(v) == tn
  end
  if t and not is(t) then return false, path .. ": expected " .. t end
  if schema.enum then
    local found = false
    for _, e in ipairs(schema.enum) do
      if e == v then found = true end
    end
    if not found then return false, path .. ": not one of the allowed values" end
  end
  if type(v) == "table" then
    for _, k in ipairs(schema.required or {}) do
      if v[k] == nil then return false, path .. ": missing field '" .. k .. "'" end
    end
    -- (in a fixed order, so that the first bad field named, and so the re-ask
    -- quoting it and its cache key, are the same in every run)
    local props = schema.properties or {}
    for _, k in ipairs(keyorder.keys(props)) do
      if v[k] ~= nil then
        local ok, err = check_schema(v[k], props[k], path .. "." .. tostring(k))
        if not ok then return false, err end
      end
    end
    if schema.items then
      for i, e in ipairs(v) do
        local ok, err = check_schema(e, schema.items, path .. "[" .. i .. "]")
        if not ok then return false, err end
      end
    end
  end
  return true
end
M.check_schema = check_schema

-- teacher:chat_json{..., schema=, validate=fn(obj)->ok,err, max_reasks=2}
-- -> value, result. Parses the reply as JSON, checks it against `schema` (a
-- JSON-Schema subset: type, required, properties, items, enum; by default
-- the response_format's json_schema) and `validate`, and re-asks with the
-- error a bounded number of times.
function Teacher:chat_json(req)
  if type(req) ~= "table" then raise("teacher:chat_json expects a table of request fields") end
  local schema = req.schema
  if not schema and type(req.response_format) == "table" and type(req.response_format.json_schema) == "table" then
    schema = req.response_format.json_schema.schema
  end
  local max_reasks = req.max_reasks or 2
  local messages = {}
  for i, m in ipairs(req.messages or {}) do messages[i] = m end
  local last_err
  for attempt = 0, max_reasks do
    local r = {}
    for k, v in pairs(req) do
      if k ~= "schema" and k ~= "validate" and k ~= "max_reasks" then r[k] = v end
    end
    r.messages = messages
    local res = self:chat(r)
    local text = res.text or ""
    local value, err = decode(unfence(text))
    if value == nil then
      err = "not valid JSON (" .. tostring(err) .. ")"
    else
      local ok, serr = check_schema(value, schema, "reply")
      if ok and req.validate then ok, serr = req.validate(value) end
      if ok then return value, res end
      err = serr or "rejected by validate"
      value = nil
    end
    last_err = err
    if attempt < max_reasks then
      local nxt = {}
      for i, m in ipairs(messages) do nxt[i] = m end
      nxt[#nxt + 1] = { role = "assistant", content = text }
      nxt[#nxt + 1] = { role = "user", content = "That reply was " .. err ..
        ". Reply again with only the corrected JSON, nothing else." }
      messages = nxt
    end
  end
  raise("teacher reply is " .. tostring(last_err) .. " after " .. (max_reasks + 1) .. " attempts")
end

-- Behind a C frame (see the top): `return ctx.teacher:chat{...}` is a tail
-- call, and a mistake in the request must still name the recipe's line.
for _, k in ipairs({ "chat", "chat_many", "chat_json" }) do Teacher[k] = entry(Teacher[k]) end

return M
