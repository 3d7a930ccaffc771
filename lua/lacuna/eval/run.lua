-- The probes of a `lacuna eval` run through the teacher's pool: one
-- coroutine per probe inside the scheduler's window (lacuna.core.sched), each
-- answer scored with FILM's metrics and written as one line, in probe order.
-- A failed request fails its probe's line only.
local core = require "lacuna.core"
local teacher = require "lacuna.teacher"
local runner = require "lacuna.runner"
local metrics = require "lacuna.eval.metrics"
local probes = require "lacuna.eval.probes"

local json, sched, sys = core.json, core.sched, core.sys

local M = {}

local LINE_ORDER = { "probe", "kind", "family", "set_id", "position_id", "depth", "grid", "samples", "score", "error",
  "skipped", "cached" }

local function line_of(seq, probe, fields)
  local line = { probe = seq, kind = probe.kind, family = probe.family, set_id = probe.set_id,
                 position_id = probe.position_id, depth = probe.depth, grid = probe.grid }
  for k, v in pairs(fields) do line[k] = v end
  return setmetatable(line, { __jsonorder = LINE_ORDER })
end


-- A progress line on stderr: updating in place on a terminal, else every 5 s.
local function progress_printer(o, counts, pool, t0)
  local tty = sys.isatty(2)
  local every, last = tty and 0.25 or 5, sys.clock()
  return function(final)
    if o.quiet or o.progress == false then return end
    local now = sys.clock()
    if not final and now - last < every then return end
    last = now
    local el = now - t0
    local text = string.format("lacuna: eval: %d done, %.1f probes/s, %d failed, %d in flight", counts.probes,
      el > 0 and counts.probes / el or 0, counts.failed, pool:report().inflight)
    if tty then
      io.stderr:write("\r\27[K", text, final and "\n" or "")
    elseif not final then
      io.stderr:write(text, "\n")
    end
  end
end

-- Runs the probes of reader rd, writing each line to w. skip: 0-based line
-- indices not to send. Returns {counts = {probes, scored, skipped, failed,
-- deferred}, scored = {{kind, family, set_id, position_id, positions, grid,
-- score}...}, first_errors, write_err, interrupted}; raises what the
-- scheduler raises (a reader error).
function M.run(o, rd, w, pool, skip, t0)
  local chat = pool:teacher(nil, nil)
  local max_tokens, temperature = o.max_tokens or 128, o.temperature or 0
  local seq, pending = 0, {}
  local res = { counts = { probes = 0, scored = 0, skipped = 0, failed = 0, deferred = 0 }, scored = {},
                first_errors = {} }
  local counts = res.counts
  local progress = progress_printer(o, counts, pool, t0)
  local _, interrupted = sched.run {
    window = runner.window(o),
    budget = 0,
    next = function()
      if (o.limit and seq >= o.limit) or sys.interrupted() or pool:stopped() then return nil end
      local v, a = rd:next()
      if v == nil then
        if a then error(a, 0) end
        return nil
      end
      seq = seq + 1
      local item
      if skip[seq - 1] then
        item = { skipped = true, probe = v and probes.meta(v, o.probes, o) or {} }
      elseif v == false then
        item = { bad = a, probe = {} }
      else
        local msgs, probe = probes.read(v, o.probes, o)
        if msgs then
          item = { messages = msgs, probe = probe }
        else
          item = { bad = string.format("%s:%d: %s", o.probes, a, probe), probe = {} }
        end
      end
      pending[seq] = item.probe
      return item
    end,
    work = function(item)
      if item.skipped then return { skipped = true } end
      if item.bad then error(item.bad, 0) end
      local r = chat:chat { messages = item.messages, temperature = temperature, max_tokens = max_tokens }
      local text = r.text or ""
      return { text = text, score = metrics.score(item.probe.kind, item.probe, text), cached = r.cached }
    end,
    done = function(i, ok, out)
      local probe = pending[i]
      pending[i] = nil
      counts.probes = counts.probes + 1
      local fields
      if not ok and teacher.is_deferred(out) then
        counts.deferred = counts.deferred + 1 -- (--batch-export: the request is in the batch file)
        return
      end
      if ok and out.skipped then
        counts.skipped = counts.skipped + 1
        fields = { skipped = true }
      elseif ok then
        counts.scored = counts.scored + 1
        fields = { samples = json.array { out.text }, score = out.score, cached = out.cached or nil }
        res.scored[#res.scored + 1] = { kind = probe.kind, family = probe.family, set_id = probe.set_id,
          position_id = probe.position_id, positions = probe.positions, grid = probe.grid, score = out.score }
      else
        counts.failed = counts.failed + 1
        local msg = tostring(out)
        local errs = res.first_errors
        if #errs < 5 then errs[#errs + 1] = string.format("probe %d: %s", i, msg) end
        fields = { error = msg }
      end
      if not res.write_err then
        local wok, e = w:write(line_of(i, probe, fields))
        if not wok then res.write_err = e end
      end
      progress(false)
    end,
  }
  progress(true)
  res.interrupted = interrupted
  return res
end

return M
