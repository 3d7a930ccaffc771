-- Evaluating what is typed at the REPL. As lua.c does: the text is first
-- tried as an expression (`return <text>`), then as statements; a syntax
-- error at <eof> means the chunk is not finished yet, and the REPL reads
-- another line. Each evaluation runs as one work item of lacuna's scheduler,
-- so a teacher call inside it suspends the item while the request is in
-- flight (and hits the same cache as `lacuna run`), and Ctrl-C, which only
-- sets a flag (core/sys.c), becomes an "interrupted" error at the item's
-- next instruction hook: the expression stops, the REPL goes on.
local core = require "lacuna.core"

local sched, sys = core.sched, core.sys

local M = {}

local EOF_MARK = "<eof>"

-- Compiles text in env: a function, or nil and "incomplete", or nil and the
-- syntax error.
-- (Unlike lua.c, an expression cut short, `1 +`, continues too.)
function M.compile(text, env)
  local f, rerr = load("return " .. text, "=stdin", "t", env)
  if f then return f end
  local err
  f, err = load(text, "=stdin", "t", env)
  if f then return f end
  if err:sub(-#EOF_MARK) == EOF_MARK or rerr:sub(-#EOF_MARK) == EOF_MARK then return nil, "incomplete" end
  return nil, err
end

-- A spinner on stderr while teacher requests are in flight: started by the
-- first request sent (not by cache hits), it redraws every 0.1 s as a task of
-- the same item and ends itself once no request is in flight, clearing its line.
local FRAMES = { "|", "/", "-", "\\" }

-- (A spinner killed with its item by Ctrl-C stops beating; the next request
-- starts a new one.)
function M.spinner(pool)
  local sp = { running = false, beat = 0 }
  function sp.start()
    if not sched.self() or not sys.isatty(2) then return end
    if sp.running and sched.now() - sp.beat < 0.5 then return end
    sp.running, sp.beat = true, sched.now()
    local t0 = sched.now()
    sched.spawn(function()
      local k = 0
      repeat
        k = k + 1
        sp.beat = sched.now()
        local rep = pool:report()
        io.stderr:write(string.format("\r\27[K%s teacher: %d in flight, %d sent, %d cache hits, %.1fs",
          FRAMES[k % #FRAMES + 1], rep.inflight, rep.requests, rep.cache_hits, sched.now() - t0))
        io.stderr:flush()
        sched.sleep(0.1)
      until pool:report().inflight == 0
      io.stderr:write("\r\27[K")
      io.stderr:flush()
      sp.running = false
    end)
  end
  return sp
end

-- Makes the pool start the spinner whenever it sends a request.
function M.attach_spinner(pool)
  local sp = M.spinner(pool)
  local send = pool.send
  pool.send = function(self, ...)
    sp.start()
    return send(self, ...)
  end
  return pool
end

-- Runs f(), which runs the scheduler itself (runner.check for :run and
-- :cost), protected. Returns true, f's result; or false and the message
-- ("interrupted" after Ctrl-C, the flag then cleared).
function M.run_plain(f)
  local ok, res = pcall(f)
  if sys.interrupted() then
    sys.clear_interrupt()
    return false, "interrupted"
  end
  if ok then return true, res end
  local usage = require "lacuna.usage"
  return false, usage.is(res) and usage.text(res) or tostring(res)
end

-- Runs f() as a scheduled work item. Returns true, packed results; or false
-- and the error's message; or false, "interrupted" after Ctrl-C (the flag is
-- then cleared, so the REPL goes on).
function M.run(f)
  local given = false
  local ok, res
  local _, interrupted = sched.run {
    window = 1,
    next = function()
      if given then return nil end
      given = true
      return f
    end,
    work = function(fn) return table.pack(fn()) end,
    done = function(_, item_ok, value)
      ok, res = item_ok, value
    end,
  }
  if interrupted or sys.interrupted() then
    sys.clear_interrupt()
    return false, "interrupted"
  end
  if not ok then return false, require("lacuna.output").text(res) end
  return true, res
end

return M
