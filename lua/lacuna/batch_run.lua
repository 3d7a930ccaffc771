-- lacuna run --batch: the whole run through the Batch API. Each cycle runs
-- the recipe from the cache: items whose next teacher call is not cached
-- stop there and their requests are exported (one "step" of a recipe with
-- dependent calls); those are submitted, waited for and collected into the
-- cache (lua/lacuna/batch.lua), and the next cycle gets further. When a
-- cycle needs nothing more, it writes the outputs like an online run.
--
-- Everything lives in the cache database, so a killed `run --batch` rerun
-- with the same command resumes: answered requests are cache hits, running
-- batches are waited for, nothing already submitted is submitted again.
local core = require "lacuna.core"
local runner = require "lacuna.runner"
local batch = require "lacuna.batch"
local batch_cmd = require "lacuna.cmd.batch"

local M = {}

local function stderr(s) io.stderr:write(s, "\n") end

-- A cycle can only stop making progress when every request it exports is
-- already settled, which the store rules out; this bound is a safety net.
local MAX_CYCLES = 1000

function M.run(o)
  local cache_path = o.cache or ".lacuna/cache.db"
  if o.no_cache or o.cache_only then
    require("lacuna.usage").error("run --batch needs the cache (no --no-cache or --cache-only)")
  end
  if o.batch_export then require("lacuna.usage").error("run --batch writes its own export; drop --batch-export") end
  local store = batch.open_store(cache_path)
  local api = batch.api { base_url = o.base_url, api_key_env = o.api_key_env, timeout = o.timeout,
    max_retries = o.max_retries }
  local bo = batch_cmd.batch_opts(o)
  bo.verbose = false
  local dir = cache_path:match("^(.*)/[^/]*$") or "."
  -- Named after the output, so that a killed run's leftover is the rerun's own.
  local export = string.format("%s/batch-export-%s.jsonl", dir,
    core.hash.sha256(tostring(o.output)):sub(1, 16))
  local summary = { cycles = 0, submitted = 0, batches = 0, polls = 0, http_requests = 0 }
  local function finish(code, counts)
    os.remove(export)
    store:close()
    return code, counts
  end
  for cycle = 1, MAX_CYCLES do
    -- Batches left running by a killed run are waited for and collected
    -- first: their answers may be what this cycle needs.
    local ok, err = pcall(function()
      local active = store:jobs("active")
      if #active > 0 then
        local s = batch.submit(store, api, bo) -- half-made jobs of a killed run
        summary.http_requests = summary.http_requests + s.http
        local w, werr = batch.wait(store, api, bo)
        if not w then error(werr, 0) end
        summary.polls = summary.polls + w.polls
        summary.http_requests = summary.http_requests + w.http
        local cache = batch_cmd.open_cache(cache_path)
        local c = batch.collect(store, api, cache, bo)
        cache:close()
        summary.http_requests = summary.http_requests + c.http
      end
    end)
    if not ok then
      if core.sys.interrupted() then return finish(130) end
      stderr("lacuna: run --batch: " .. tostring(err) .. " (rerun the same command to resume)")
      return finish(1)
    end
    local ro = {}
    for k, v in pairs(o) do ro[k] = v end
    ro.batch_export = export
    ro.batch_failed = function(key)
      local state, why = store:request(key)
      if state == "failed" then return why or "failed" end
    end
    ro.batch_summary = summary
    summary.cycles = cycle
    local code, counts = runner.run(ro)
    if code ~= 3 then return finish(code, counts) end
    local submitted
    ok, err = pcall(function()
      local _, added = batch.add_file(store, export)
      os.remove(export)
      local s = batch.submit(store, api, bo)
      submitted = s.requests
      summary.submitted = summary.submitted + s.requests
      summary.batches = summary.batches + s.jobs
      summary.http_requests = summary.http_requests + s.http
      if not o.quiet then
        stderr(string.format("lacuna: batch cycle %d: %d new requests, %d submitted in %d batches", cycle, added,
          s.requests, s.jobs))
      end
    end)
    if not ok then
      if core.sys.interrupted() then return finish(130) end
      stderr("lacuna: run --batch: " .. tostring(err) .. " (rerun the same command to resume)")
      return finish(1)
    end
    if submitted == 0 and #store:jobs("active") == 0 then
      stderr("lacuna: run --batch: the run still waits for requests that are neither answered nor submittable")
      return finish(1)
    end
  end
  stderr("lacuna: run --batch: no end after " .. MAX_CYCLES .. " cycles")
  return finish(1)
end

return M
