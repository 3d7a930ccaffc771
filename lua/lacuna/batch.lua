-- The Batch API lifecycle as a cache fill: requests exported by a run
-- (--batch-export, or `lacuna run --batch`) are uploaded through the Files
-- API in input files within the provider's limits, run as batches, and their
-- outputs imported into the teacher cache, so that rerunning the recipe
-- finds every answer there. The state lives in the cache database
-- (lua/lacuna/batch_store.lua), so every step is idempotent and resumable.
--
-- Crash safety, step by step:
--   * requests are put into a job (state 'new') before anything is uploaded;
--   * an upload killed midway is redone (the orphan file costs nothing);
--   * the batch is created with metadata {lacuna_job = job}; before creating
--     one for an 'uploaded' job, the provider's list is searched for that
--     job, so a kill between the create and its commit never pays twice;
--   * submit and collect hold a lock beside the cache (the kernel drops it
--     when a process dies), so two processes never launch one job twice;
--   * collect imports with INSERT OR IGNORE and settles a job's requests in
--     one transaction: done, failed for good, or pending again (expired,
--     cancelled, retryable errors, missing) for the next submit. Only those
--     are resubmitted, never a whole batch.
local core = require "lacuna.core"
local cache_mod = require "lacuna.cache"
local store_mod = require "lacuna.batch_store"

local json, jsonl, sched = core.json, core.jsonl, core.sched

local M = {}

M.defaults = {
  max_requests = 50000,            -- OpenAI's limit per input file
  max_bytes = 200 * 1024 * 1024,   -- and its size limit
  max_attempts = 3,                -- batches a request may go through
  poll = 30,                       -- seconds between status polls
  completion_window = "24h",
}

-- HTTP statuses a resubmission may cure (as the online retry policy).
local RETRYABLE = { [408] = true, [429] = true, [500] = true, [502] = true, [503] = true, [504] = true }
-- Batch error codes that mean "not run", not "refused".
local NOT_RUN = { batch_expired = true, batch_cancelled = true }

local function say(opts, fmt, ...)
  if not opts.quiet then io.stderr:write("lacuna: ", string.format(fmt, ...), "\n") end
end

-- ------------------------------------------------------------- the API

local Api = {}
Api.__index = Api

-- api{base_url=, api_key_env=, timeout=, max_retries=} -> Api
function M.api(cfg)
  local base = (cfg.base_url or os.getenv("OPENAI_BASE_URL") or "https://api.openai.com/v1"):gsub("/+$", "")
  local key = os.getenv(cfg.api_key_env or "OPENAI_API_KEY")
  local auth = {}
  if key and key ~= "" then auth[1] = "Authorization: Bearer " .. key end
  return setmetatable({ base = base, auth = auth, timeout = cfg.timeout or 600, max_retries = cfg.max_retries or 6,
    client = core.http.client {}, sent = 0 }, Api)
end

local function headers(self, extra)
  local h = { "Accept: application/json" }
  for _, x in ipairs(self.auth) do h[#h + 1] = x end
  if extra then h[#h + 1] = extra end
  return h
end

local function error_text(status, body)
  local obj = json.decode(body or "")
  local e = type(obj) == "table" and obj.error
  if type(e) == "table" and type(e.message) == "string" then return "HTTP " .. status .. ": " .. e.message end
  return "HTTP " .. status .. ": " .. tostring(body or ""):sub(1, 200):gsub("%s+", " ")
end

-- Calls fn() -> status, body, retry_after, err until a final answer:
-- transport errors and retryable statuses are retried with backoff.
-- Returns the decoded 2xx JSON body (or true for a file download), or nil, why.
function Api:call(what, fn, raw)
  local attempt = 0
  while true do
    attempt = attempt + 1
    self.sent = self.sent + 1
    local status, body, retry_after, err = fn()
    local why
    if err then
      why = err
    elseif status >= 200 and status < 300 then
      if raw then return true end
      local obj, derr = json.decode(body)
      if type(obj) == "table" then return obj end
      why = "reply is not JSON (" .. tostring(derr) .. ")"
    else
      why = error_text(status, body)
      if not RETRYABLE[status] then return nil, what .. ": " .. why end
    end
    if attempt > self.max_retries then return nil, string.format("%s: %s (gave up after %d attempts)", what, why, attempt) end
    local delay = math.min(30, 0.25 * 2 ^ (attempt - 1))
    if retry_after and retry_after > delay then delay = retry_after end
    sched.sleep(delay)
    if core.sys.interrupted() then return nil, what .. ": interrupted" end
  end
end

function Api:upload(path, filename)
  return self:call("upload " .. filename, function()
    return self.client:upload(self.base .. "/files", headers(self), { purpose = "batch" },
      { name = "file", path = path, filename = filename, type = "application/jsonl" }, { timeout = self.timeout })
  end)
end

function Api:create(file_id, job, window)
  local body = json.encode { input_file_id = file_id, endpoint = "/v1/chat/completions",
    completion_window = window, metadata = { lacuna_job = job } }
  return self:call("create batch", function()
    return self.client:post(self.base .. "/batches", headers(self, "Content-Type: application/json"), body,
      { timeout = self.timeout })
  end)
end

function Api:get(batch_id)
  return self:call("get batch " .. batch_id, function()
    return self.client:get(self.base .. "/batches/" .. batch_id, headers(self), { timeout = self.timeout })
  end)
end

function Api:cancel(batch_id)
  return self:call("cancel batch " .. batch_id, function()
    return self.client:post(self.base .. "/batches/" .. batch_id .. "/cancel", headers(self), "", { timeout = self.timeout })
  end)
end

-- The provider's batch made for job, or nil (searches the newest 1,000).
function Api:find(job)
  local after
  for _ = 1, 10 do
    local url = self.base .. "/batches?limit=100" .. (after and ("&after=" .. after) or "")
    local page, err = self:call("list batches", function()
      return self.client:get(url, headers(self), { timeout = self.timeout })
    end)
    if not page then return nil, err end
    for _, b in ipairs(type(page.data) == "table" and page.data or {}) do
      if type(b.metadata) == "table" and b.metadata.lacuna_job == job then return b end
    end
    if page.has_more ~= true or not page.last_id then return nil end
    after = page.last_id
  end
  return nil
end

function Api:download(file_id, to)
  return self:call("download " .. file_id, function()
    return self.client:get(self.base .. "/files/" .. file_id .. "/content", headers(self),
      { timeout = self.timeout, to = to })
  end, true)
end

-- ------------------------------------------------------------- steps

-- Reads an exported Batch input file (--batch-export) into the store.
-- Returns requests read, added.
function M.add_file(store, path)
  local r, err = jsonl.open(path)
  if not r then error(err, 0) end
  local list, read, added = {}, 0, 0
  while true do
    local v, msg = r:next()
    if v == nil then break end
    if v == false then
      r:close()
      error(msg, 0)
    end
    if type(v) ~= "table" or not cache_mod.valid_key(v.custom_id) then
      r:close()
      error(string.format("%s:%d: not a lacuna batch request (custom_id must be a cache key)", path, msg), 0)
    end
    list[#list + 1] = { key = v.custom_id, line = json.encode(v) }
    if #list >= 10000 then -- in chunks: the file may hold millions
      read, added = read + #list, added + store:add(list)
      list = {}
    end
  end
  r:close()
  return read + #list, added + store:add(list)
end

local function job_file(store, job)
  local dir = store.path:match("^(.*)/[^/]*$") or "."
  return dir .. "/" .. job .. ".jsonl"
end

-- Uploads a 'new' job's input file and creates (or finds) its batch.
local function launch(store, api, job, opts)
  if job.state == "new" then
    local path = job_file(store, job.job)
    local w, err = jsonl.writer(path)
    if not w then error(err, 0) end
    for _, r in ipairs(store:job_lines(job.job)) do w:write(r.line) end
    local ok, cerr = w:commit()
    if not ok then error(cerr, 0) end
    local f, uerr = api:upload(path, job.job .. ".jsonl")
    os.remove(path)
    if not f then return nil, uerr end
    if type(f.id) ~= "string" then return nil, "upload: the reply has no file id" end
    store:update_job(job.job, { state = "uploaded", file_id = f.id })
    job.state, job.file_id = "uploaded", f.id
  end
  if job.state == "uploaded" then
    -- A create whose reply was lost (a kill, a reset) may have made the batch.
    local b, ferr = api:find(job.job)
    if ferr then return nil, ferr end
    if not b then
      local cerr
      b, cerr = api:create(job.file_id, job.job, opts.completion_window or M.defaults.completion_window)
      if not b then return nil, cerr end
    end
    if type(b.id) ~= "string" then return nil, "create batch: the reply has no batch id" end
    store:update_job(job.job, { state = tostring(b.status or "validating"), batch_id = b.id })
    job.state, job.batch_id = b.status, b.id
  end
  return job
end

-- Splits the pending requests into jobs within the limits.
local function plan_jobs(store, api, opts)
  local max_n = opts.max_requests or M.defaults.max_requests
  local max_b = opts.max_bytes or M.defaults.max_bytes
  local made = {}
  local keys, bytes = {}, 0
  local function flush()
    if #keys > 0 then made[#made + 1] = store:new_job(api.base, keys, bytes) end -- (nil: taken by another process)
    keys, bytes = {}, 0
  end
  for _, r in ipairs(store:pending()) do
    local size = r.size + 1
    if size > max_b then error(string.format("request %s alone is %d bytes, over --batch-max-bytes %d", r.key, size, max_b), 0) end
    if #keys >= max_n or bytes + size > max_b then flush() end
    keys[#keys + 1] = r.key
    bytes = bytes + size
  end
  flush()
  return made
end

-- Runs fn holding the cache's batch lock: one process at a time submits or
-- collects (two submits launching the same job would create two batches).
-- The kernel drops the lock of a killed process, so a rerun never waits for
-- a dead one.
local function exclusively(store, opts, fn)
  local path = store.path .. ".batch-lock"
  local lock, err, holder
  local said = false
  while true do
    lock, err, holder = core.sys.lock(path)
    if lock then break end
    if not holder then error("batch lock " .. path .. ": " .. tostring(err), 0) end
    if not said then
      say(opts, "waiting for process %s, which is submitting or collecting with this cache", tostring(holder))
      said = true
    end
    sched.sleep(0.1)
    if core.sys.interrupted() then error("interrupted", 0) end
  end
  local ok, res = pcall(fn)
  lock:release()
  if not ok then error(res, 0) end
  return res
end

-- submit: resumes half-made jobs, then puts the pending requests into new
-- jobs and launches them. Returns {jobs =, requests =, http =} or raises.
function M.submit(store, api, opts)
  return exclusively(store, opts or {}, function() return M.submit_locked(store, api, opts) end)
end

function M.submit_locked(store, api, opts)
  opts = opts or {}
  local sent0 = api.sent
  local launched, requests = 0, 0
  plan_jobs(store, api, opts)
  for _, job in ipairs(store:jobs("active")) do
    if job.state == "new" or job.state == "uploaded" then
      local ok, err = launch(store, api, job, opts)
      if not ok then error(err, 0) end
      launched = launched + 1
      requests = requests + job.requests
      say(opts, "batch %s: %d requests in %s (%s)", job.job, job.requests, job.batch_id, job.state)
    end
  end
  return { jobs = launched, requests = requests, http = api.sent - sent0 }
end

-- status: polls every launched, unfinished job once. Returns a summary
-- {jobs =, running =, finished =, total =, completed =, failed =, http =}.
function M.status(store, api, opts)
  opts = opts or {}
  local sent0 = api.sent
  local s = { jobs = 0, running = 0, finished = 0, unlaunched = 0, total = 0, completed = 0, failed = 0 }
  for _, job in ipairs(store:jobs("active")) do
    s.jobs = s.jobs + 1
    if job.batch_id and not store_mod.FINISHED[job.state] then
      local b, err = api:get(job.batch_id)
      if not b then error(err, 0) end
      local rc = type(b.request_counts) == "table" and b.request_counts or {}
      local msg
      if type(b.errors) == "table" and type(b.errors.data) == "table" and b.errors.data[1] then
        msg = tostring(b.errors.data[1].message)
      end
      local fields = { state = tostring(b.status), completed = math.tointeger(rc.completed) or 0,
        failed = math.tointeger(rc.failed) or 0, message = msg }
      if type(b.output_file_id) == "string" then fields.output_file_id = b.output_file_id end
      if type(b.error_file_id) == "string" then fields.error_file_id = b.error_file_id end
      store:update_job(job.job, fields)
      for k, v in pairs(fields) do job[k] = v end
    end
    if store_mod.FINISHED[job.state] then
      s.finished = s.finished + 1
    elseif job.batch_id then
      s.running = s.running + 1
    else
      s.unlaunched = s.unlaunched + 1
    end
    s.total = s.total + job.requests
    s.completed = s.completed + (job.completed or 0)
    s.failed = s.failed + (job.failed or 0)
    if opts.verbose then
      say(opts, "batch %s %s: %s, %d/%d done, %d failed%s", job.job, job.batch_id or "(not created)", job.state,
        job.completed or 0, job.requests, job.failed or 0, job.message and (" (" .. job.message .. ")") or "")
    end
  end
  s.http = api.sent - sent0
  return s
end

-- One line of an error file -> key, outcome.
local function error_outcome(v)
  if type(v) ~= "table" or not cache_mod.valid_key(v.custom_id) then return nil end
  local e = v.error
  if type(e) == "table" then
    local code = tostring(e.code or "error")
    local text = code .. ": " .. tostring(e.message or "")
    return v.custom_id, { state = NOT_RUN[code] and "pending" or "failed", error = "batch error " .. text }
  end
  local resp = type(v.response) == "table" and v.response or {}
  local status = math.tointeger(resp.status_code) or 0
  local body = type(resp.body) == "table" and resp.body or {}
  local be = type(body.error) == "table" and body.error or {}
  local text = string.format("HTTP %d: %s", status, tostring(be.message or "no error message"))
  return v.custom_id, { state = RETRYABLE[status] and "pending" or "failed", error = "batch request " .. text }
end

-- Imports one downloaded file line by line; handle(v) -> key, outcome.
local function each_line(path, fn)
  local r, err = jsonl.open(path)
  if not r then error(err, 0) end
  while true do
    local v, msg = r:next()
    if v == nil then break end
    if v ~= false then fn(v) else io.stderr:write("lacuna: ", tostring(msg), "\n") end
  end
  r:close()
end

-- collect: for each finished job, downloads its output and error files,
-- imports the answers into the cache and settles its requests. Returns
-- {jobs =, done =, pending =, failed =, http =}.
function M.collect(store, api, cache, opts)
  return exclusively(store, opts or {}, function() return M.collect_locked(store, api, cache, opts) end)
end

function M.collect_locked(store, api, cache, opts)
  opts = opts or {}
  local sent0 = api.sent
  local max_attempts = opts.max_attempts or M.defaults.max_attempts
  local total = { jobs = 0, done = 0, pending = 0, failed = 0 }
  for _, job in ipairs(store:jobs("active")) do
    if store_mod.FINISHED[job.state] then
      local outcome = {}
      local tmp = job_file(store, job.job) .. ".part"
      if job.output_file_id then
        local ok, err = api:download(job.output_file_id, tmp)
        if not ok then error(err, 0) end
        each_line(tmp, function(v)
          local key, entry = cache_mod.batch_line(v)
          if key then
            local put_ok, perr = cache:put(key, entry)
            if not put_ok then error("teacher cache: " .. tostring(perr), 0) end
            outcome[key] = { state = "done" }
          else
            local k, o = error_outcome(v)
            if k then outcome[k] = o end
          end
        end)
      end
      if job.error_file_id then
        local ok, err = api:download(job.error_file_id, tmp)
        if not ok then error(err, 0) end
        each_line(tmp, function(v)
          local k, o = error_outcome(v)
          if k and not outcome[k] then outcome[k] = o end
        end)
      end
      os.remove(tmp)
      if job.state == "failed" then
        -- The whole file was refused: every request goes back (counted
        -- against --max-attempts), with the provider's reason.
        for _, r in ipairs(store:job_lines(job.job)) do
          outcome[r.key] = { state = "pending", error = "batch failed: " .. tostring(job.message or "no reason given") }
        end
      end
      local c = store:settle(job.job, outcome, max_attempts)
      total.jobs = total.jobs + 1
      for k, n in pairs(c) do total[k] = total[k] + n end
      say(opts, "batch %s (%s, %s): %d answered, %d to resubmit, %d failed", job.job, job.batch_id, job.state,
        c.done, c.pending, c.failed)
    end
  end
  total.http = api.sent - sent0
  return total
end

-- wait: polls until every launched job has finished; a progress line every
-- poll. Returns the last status, or nil, "interrupted".
function M.wait(store, api, opts)
  opts = opts or {}
  local every = opts.poll or M.defaults.poll
  local polls, http = 0, 0
  while true do
    local s = M.status(store, api, opts)
    polls = polls + 1
    http = http + s.http
    say(opts, "batch: %d jobs, %d running, %d finished; %d/%d requests done, %d failed", s.jobs, s.running,
      s.finished, s.completed, s.total, s.failed)
    if s.running == 0 then
      if s.unlaunched > 0 then
        return nil, string.format("%d batches are not created yet (an upload or create failed): run lacuna batch submit",
          s.unlaunched)
      end
      s.polls, s.http = polls, http
      return s
    end
    sched.sleep(every)
    if core.sys.interrupted() then return nil, "interrupted" end
  end
end

-- cancel: asks the provider to cancel every running job (collect then puts
-- their unanswered requests back to pending).
function M.cancel(store, api, opts)
  local n = 0
  for _, job in ipairs(store:jobs("active")) do
    if job.batch_id and not store_mod.FINISHED[job.state] then
      local b, err = api:cancel(job.batch_id)
      if not b then error(err, 0) end
      store:update_job(job.job, { state = tostring(b.status or "cancelling") })
      n = n + 1
      say(opts or {}, "batch %s (%s): %s", job.job, job.batch_id, tostring(b.status))
    end
  end
  return n
end

-- The store of the cache at path (raises a usage-level message on failure).
function M.open_store(path)
  local s, err = store_mod.open(path)
  if not s then error("batch: cache " .. tostring(err), 0) end
  return s
end

return M
