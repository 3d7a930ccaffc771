-- The Batch API's bookkeeping, in the cache database beside the responses
-- (schema 2): every request lacuna handed to a batch, and every batch job,
-- with their states. Each state change is committed before the next HTTP
-- call, so any command can be killed and rerun: it picks up where the
-- database says it was.
--
-- A request (batch_requests, keyed by the teacher's cache key = custom_id):
--   pending    waits to be put in a job (new, missing from a finished job, or
--              failed in a way a resubmission may cure)
--   submitted  in job `job`
--   done       its response is in the cache
--   failed     the provider refused it for good (error kept), or it failed
--              --max-attempts times
-- A job (batch_jobs, keyed by lacuna's own id, chosen before the upload):
--   new        requests assigned, input file not uploaded yet
--   uploaded   file_id known, no batch yet
--   validating | in_progress | finalizing | cancelling   the provider's states
--   completed | expired | failed | cancelled             finished, not collected
--   collected  outputs imported, its requests settled
local core = require "lacuna.core"

local M = {}

local SCHEMA = [[
CREATE TABLE IF NOT EXISTS batch_jobs(
  job TEXT PRIMARY KEY,
  base_url TEXT NOT NULL,
  state TEXT NOT NULL,
  batch_id TEXT,
  file_id TEXT,
  requests INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  output_file_id TEXT,
  error_file_id TEXT,
  completed INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  message TEXT,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batch_requests(
  key TEXT PRIMARY KEY,
  line TEXT NOT NULL,
  state TEXT NOT NULL,
  job TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  updated INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS batch_requests_by_state ON batch_requests(state, job);
UPDATE meta SET value = '2' WHERE key = 'schema' AND CAST(value AS INTEGER) < 2;
]]

-- Terminal states of the provider: the job waits for `collect`.
M.FINISHED = { completed = true, expired = true, failed = true, cancelled = true }

local Store = {}
Store.__index = Store

local function now() return os.time() end

-- open(path) -> store | nil, message. Creates the cache (schema 1) if need
-- be through core.cache, then adds the batch tables (schema 2).
function M.open(path)
  local dir = path:match("^(.*)/[^/]*$")
  if dir and dir ~= "" then core.sys.mkdirs(dir) end
  local c, err = core.cache.open(path)
  if not c then return nil, err end
  c:close()
  local db
  db, err = core.sql.open(path)
  if not db then return nil, err end
  local ok
  ok, err = db:exec("BEGIN IMMEDIATE;" .. SCHEMA .. "COMMIT;")
  if not ok then
    db:close()
    return nil, path .. ": " .. tostring(err)
  end
  return setmetatable({ db = db, path = path }, Store)
end

function Store:close() self.db:close() end

-- Raises on a database failure: the batch commands stop there, and their
-- rerun resumes from the last commit.
local function check(v, err)
  if v == nil then error("batch store: " .. tostring(err), 0) end
  return v
end

function Store:rows(sql, ...) return check(self.db:rows(sql, ...)) end
function Store:exec(sql, ...) return check(self.db:exec(sql, ...)) end

-- Runs fn inside one write transaction.
function Store:atomically(fn)
  self:exec("BEGIN IMMEDIATE")
  local ok, err = pcall(fn)
  if not ok then
    self.db:exec("ROLLBACK")
    error(err, 0)
  end
  self:exec("COMMIT")
end

-- add(lines): registers requests (tables {custom_id=, line=}) not seen
-- before as pending; known ones keep their state. Returns the number added.
function Store:add(list)
  local added = 0
  self:atomically(function()
    local t = now()
    for _, r in ipairs(list) do
      added = added + self:exec("INSERT OR IGNORE INTO batch_requests(key, line, state, updated) VALUES(?1, ?2, 'pending', ?3)",
        r.key, r.line, t)
    end
  end)
  return added
end

-- The state of one request (nil when unknown) and its error.
function Store:request(key)
  local r = self:rows("SELECT state, error, attempts FROM batch_requests WHERE key = ?1", key)[1]
  if r then return r.state, r.error, r.attempts end
end

-- Requests waiting for a job, in the order they were added: {key=, size=
-- (bytes of the line)}, not the lines themselves (a million of them would
-- not fit in memory; a job's lines are read one job at a time).
function Store:pending()
  return self:rows("SELECT key, length(CAST(line AS BLOB)) AS size FROM batch_requests " ..
    "WHERE state = 'pending' ORDER BY rowid")
end

-- Puts the requests (a list of keys) into a new job; returns the job id,
-- or nil when another process took them all meanwhile (only requests still
-- pending are taken, in the same transaction).
function Store:new_job(base_url, keys, bytes)
  local t = now()
  local job
  self:atomically(function()
    local n = self:rows("SELECT count(*) AS n FROM batch_jobs")[1].n
    job = string.format("lacuna-%d-%d-%d", t, core.sys.pid(), n + 1)
    self:exec("INSERT INTO batch_jobs(job, base_url, state, requests, bytes, created, updated) " ..
      "VALUES(?1, ?2, 'new', ?3, ?4, ?5, ?5)", job, base_url, #keys, bytes, t)
    local taken = 0
    for _, k in ipairs(keys) do
      taken = taken + self:exec("UPDATE batch_requests SET state = 'submitted', job = ?2, attempts = attempts + 1, " ..
        "updated = ?3 WHERE key = ?1 AND state = 'pending'", k, job, t)
    end
    if taken == 0 then
      self:exec("DELETE FROM batch_jobs WHERE job = ?1", job)
      job = nil
    elseif taken < #keys then
      self:exec("UPDATE batch_jobs SET requests = ?2 WHERE job = ?1", job, taken)
    end
  end)
  return job
end

function Store:job_lines(job)
  return self:rows("SELECT key, line FROM batch_requests WHERE job = ?1 AND state = 'submitted' ORDER BY rowid", job)
end

-- Updates a job's fields (a table of column = value).
function Store:update_job(job, fields)
  local cols, vals = {}, {}
  for k, v in pairs(fields) do
    cols[#cols + 1] = k
    vals[#vals + 1] = v
  end
  table.sort(cols)
  local sets = {}
  local ordered = {}
  for i, k in ipairs(cols) do
    sets[i] = k .. " = ?" .. (i + 1)
    ordered[i] = fields[k]
  end
  sets[#sets + 1] = "updated = ?" .. (#cols + 2)
  ordered[#ordered + 1] = now()
  self:exec("UPDATE batch_jobs SET " .. table.concat(sets, ", ") .. " WHERE job = ?1", job, table.unpack(ordered))
end

-- Jobs, oldest first; where: nil (all) or "active" (not collected).
function Store:jobs(where)
  if where == "active" then
    return self:rows("SELECT * FROM batch_jobs WHERE state != 'collected' ORDER BY rowid")
  end
  return self:rows("SELECT * FROM batch_jobs ORDER BY rowid")
end

-- Settles a collected job's requests in one transaction: outcome maps key ->
-- {state = "done"|"pending"|"failed", error = text?}; a request of the job
-- the outcome does not name (missing from both files) is pending again.
function Store:settle(job, outcome, max_attempts)
  local t = now()
  local counts = { done = 0, pending = 0, failed = 0 }
  self:atomically(function()
    for _, r in ipairs(self:rows("SELECT key, attempts FROM batch_requests WHERE job = ?1 AND state = 'submitted'", job)) do
      local o = outcome[r.key] or { state = "pending", error = "missing from the batch's output" }
      local state = o.state
      if state == "pending" and r.attempts >= max_attempts then state = "failed" end
      local err = o.error
      if state == "failed" and o.state == "pending" then
        err = string.format("%s (gave up after %d batch attempts)", err or "not answered", r.attempts)
      end
      counts[state] = counts[state] + 1
      self:exec("UPDATE batch_requests SET state = ?2, error = ?3, job = CASE WHEN ?2 = 'pending' THEN NULL ELSE job END, " ..
        "updated = ?4 WHERE key = ?1", r.key, state, err, t)
    end
    self:exec("UPDATE batch_jobs SET state = 'collected', updated = ?2 WHERE job = ?1", job, t)
  end)
  return counts
end

-- Counts of requests per state: {pending=, submitted=, done=, failed=}.
function Store:counts()
  local c = { pending = 0, submitted = 0, done = 0, failed = 0 }
  for _, r in ipairs(self:rows("SELECT state, count(*) AS n FROM batch_requests GROUP BY state")) do c[r.state] = r.n end
  return c
end

-- The failed requests: {{key=, error=}...}.
function Store:failures()
  return self:rows("SELECT key, error FROM batch_requests WHERE state = 'failed' ORDER BY rowid")
end

return M
