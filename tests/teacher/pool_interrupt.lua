-- A pool reused after an interrupted run (test_pool_interrupt.sh): the
-- first run is interrupted (SIGINT to this process) while requests are in
-- flight and others wait for a slot; the pool's counts must be back to zero,
-- and a second run on the same pool must complete every item.
-- usage: LUA_CPATH=BUILD/?.so lua5.4 pool_interrupt.lua BASE_URL
local lc = require "lacuna"
local teacher = require "lacuna.teacher"
local runner = require "lacuna.runner"
local sched, sys = lc.core.sched, lc.core.sys

local pool = teacher.pool(runner.teacher_config { base_url = arg[1], model = "m1", no_cache = true, concurrency = 2 })
local t = pool:teacher(nil, 1)

-- Runs n items of one teacher call each; returns how many finished, how many
-- failed, and whether the run was interrupted.
local function run(n, tag)
  local i, done, failed = 0, 0, 0
  local _, interrupted = sched.run {
    window = n,
    next = function()
      i = i + 1
      if i <= n then return i end
    end,
    work = function(k)
      return t:chat { model = "m1", messages = { { role = "user", content = tag .. " " .. k } } }
    end,
    done = function(_, ok)
      if ok then done = done + 1 else failed = failed + 1 end
    end,
  }
  return done, failed, interrupted
end

sys.catch_signals()
-- The signal arrives while 2 requests are in flight and 4 items wait for a slot.
assert(os.execute("(sleep 0.5; kill -INT " .. sys.pid() .. ") &"))
local done, failed, interrupted = run(6, "first")
print(string.format("first run: %d done, %d failed, interrupted %s", done, failed, tostring(interrupted)))
print(string.format("after the interrupt: inflight %d, queued %d, waiters %d, reserving %d", pool.inflight,
  pool.queued, #pool.waiters, pool.reserving or 0))
sys.clear_interrupt()

done, failed, interrupted = run(6, "second")
print(string.format("second run: %d done, %d failed, interrupted %s", done, failed, tostring(interrupted)))
print(string.format("after the second run: inflight %d, queued %d", pool.inflight, pool.queued))
pool:close()
