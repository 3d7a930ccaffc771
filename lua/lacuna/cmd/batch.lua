-- lacuna batch submit [FILE]|status|wait|collect|cancel: the provider's Batch
-- API as a cache fill (lua/lacuna/batch.lua). State lives in the cache
-- database, so every subcommand is idempotent and can be rerun after a crash.
local usage = require "lacuna.usage"

local M = {
  name = "batch",
  summary = "Run exported teacher requests through the Batch API into the cache.",
  usage = {
    "lacuna batch submit [FILE] [options]   add FILE (from --batch-export) and submit what is pending",
    "lacuna batch status [options]          poll the running batches once",
    "lacuna batch wait [options]            poll until every batch has finished",
    "lacuna batch collect [options]         import finished batches into the cache",
    "lacuna batch cancel [options]          cancel the running batches",
  },
  operands = { { key = "sub", name = "SUBCOMMAND" }, { key = "file", name = "FILE" } },
  notes = function()
    return "The batch state lives in the cache database: every subcommand can be rerun, and resumes after a crash.\n"
      .. "Exit codes: 0 done, 1 a step failed (the message says why; rerun to resume), 2 usage error, "
      .. "130 interrupted."
  end,
}

local function defaults() return require("lacuna.batch").defaults end

-- Shared by `lacuna run --batch` (lua/lacuna/cmd/run.lua).
M.option_group = {
  title = "Batch API (lacuna batch, lacuna run --batch)",
  { "--batch-max-requests", arg = "N", key = "batch_max_requests", kind = "int", min = 1,
    doc = function() return ("requests per batch input file (default %d)"):format(defaults().max_requests) end },
  { "--batch-max-bytes", arg = "N", key = "batch_max_bytes", kind = "int", min = 1,
    doc = function() return ("bytes per batch input file (default %d)"):format(defaults().max_bytes) end },
  { "--batch-max-attempts", arg = "N", key = "batch_max_attempts", kind = "int", min = 1,
    doc = function()
      return ("batches a request may go through before it is recorded as failed (default %d)")
        :format(defaults().max_attempts)
    end },
  { "--poll", arg = "SECONDS", key = "poll", kind = "number", min = 0,
    doc = function() return ("seconds between status polls (default %g)"):format(defaults().poll) end },
  { "--completion-window", arg = "W", key = "completion_window", doc = "the batches' completion window (default 24h)" },
}

M.groups = {
  {
    title = "batch options",
    { "--cache", arg = "DB", key = "cache", doc = "the cache that holds the answers and the batch state (default .lacuna/cache.db)" },
    { "--base-url", arg = "URL", key = "base_url",
      doc = "API base (default $OPENAI_BASE_URL, else https://api.openai.com/v1)" },
    { "--api-key-env", arg = "VAR", key = "api_key_env",
      doc = "environment variable holding the API key (default OPENAI_API_KEY)" },
    { "-q", "--quiet", key = "quiet", kind = "flag", doc = "no progress on stderr" },
  },
  M.option_group,
}

-- The batch module's options from parsed command-line options.
function M.batch_opts(o)
  return { max_requests = o.batch_max_requests, max_bytes = o.batch_max_bytes, max_attempts = o.batch_max_attempts,
    poll = o.poll, completion_window = o.completion_window, quiet = o.quiet, verbose = not o.quiet and o.sub == "status" }
end

local function summary(store)
  local c = store:counts()
  io.stderr:write(string.format("lacuna: batch requests: %d pending, %d submitted, %d done, %d failed\n",
    c.pending, c.submitted, c.done, c.failed))
  return c
end

function M.main(o)
  local batch = require "lacuna.batch"
  local subs = { submit = true, status = true, wait = true, collect = true, cancel = true }
  if not subs[o.sub or ""] then usage.error("lacuna batch: expected submit, status, wait, collect or cancel") end
  if o.file and o.sub ~= "submit" then usage.error("lacuna batch %s takes no FILE", o.sub) end
  require("lacuna.core").sys.catch_signals()
  local path = o.cache or ".lacuna/cache.db"
  local store = batch.open_store(path)
  local api = batch.api { base_url = o.base_url, api_key_env = o.api_key_env }
  local bo = M.batch_opts(o)
  local ok, res = pcall(function()
    if o.sub == "submit" then
      if o.file then
        local read, added = batch.add_file(store, o.file)
        if not o.quiet then
          io.stderr:write(string.format("lacuna: %s: %d requests, %d new\n", o.file, read, added))
        end
      end
      local s = batch.submit(store, api, bo)
      if not o.quiet then
        io.stderr:write(string.format("lacuna: submitted %d requests in %d batches (%d HTTP requests)\n",
          s.requests, s.jobs, s.http))
      end
    elseif o.sub == "status" then
      local s = batch.status(store, api, bo)
      if not o.quiet then
        io.stderr:write(string.format("lacuna: %d batches: %d running, %d finished; %d/%d requests done, %d failed" ..
          " (%d HTTP requests)\n", s.jobs, s.running, s.finished, s.completed, s.total, s.failed, s.http))
      end
    elseif o.sub == "wait" then
      local s, err = batch.wait(store, api, bo)
      if not s and err == "interrupted" then return 130 end
      if not s then error(err, 0) end
      if not o.quiet then io.stderr:write(string.format("lacuna: every batch finished (%d polls)\n", s.polls)) end
    elseif o.sub == "collect" then
      local cache = M.open_cache(path)
      local s = batch.collect(store, api, cache, bo)
      cache:close()
      if not o.quiet then
        io.stderr:write(string.format("lacuna: collected %d batches: %d answered, %d to resubmit, %d failed" ..
          " (%d HTTP requests)\n", s.jobs, s.done, s.pending, s.failed, s.http))
      end
    else
      batch.cancel(store, api, bo)
    end
    return 0
  end)
  local code = ok and res or nil
  if ok and not o.quiet then
    local c = summary(store)
    if o.sub == "collect" and c.failed > 0 then
      for i, f in ipairs(store:failures()) do
        if i > 5 then break end
        io.stderr:write(string.format("lacuna: failed %s: %s\n", f.key:sub(1, 16), tostring(f.error)))
      end
    end
  end
  store:close()
  if not ok and require("lacuna.core").sys.interrupted() then
    io.stderr:write("lacuna: batch ", o.sub, ": interrupted; rerun to resume\n")
    return 130
  end
  if not ok then
    io.stderr:write("lacuna: batch ", o.sub, ": ", tostring(res), "\n")
    return 1
  end
  return code
end

-- The response cache the answers go into.
function M.open_cache(path)
  local c, err = require("lacuna.cache").open(path)
  if not c then error("cache " .. tostring(err), 0) end
  return c
end

return M
