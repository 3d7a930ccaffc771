-- Each sched.run takes registry references (coroutines, results) and gives
-- them back; the next run must reuse the freed ones. A run used to unref its
-- fresh (zeroed) item slots as reference 0, which luaL_unref takes for a real
-- one: that emptied the registry's free list, so every run leaked the slots
-- of the one before and the registry grew without bound.
local t = require "testlib"
local lc = require "lacuna"
local sched = lc.core.sched

local function one_run(n)
  local i = 0
  sched.run {
    window = 4, order = 64,
    next = function()
      i = i + 1
      if i <= n then return i end
    end,
    work = function(x) return { x } end,
    done = function() end,
  }
end

t.test("repeated runs reuse the registry slots they freed", function()
  local reg = debug.getregistry()
  for _ = 1, 3 do one_run(20) end
  collectgarbage()
  local before = #reg
  for _ = 1, 50 do one_run(20) end
  collectgarbage()
  t.truthy(#reg <= before + 8, string.format("registry grew from %d to %d slots over 50 runs", before, #reg))
end)

t.done()
