-- sched.unmetered(f, ...): lacuna's own per-request code (the teacher's
-- transport) runs without the count hook, which in Lua 5.4 slows every
-- instruction. The budget must still hold for the recipe's code around it:
-- after f returns, after f yields and is resumed, and after f raises into a
-- recipe's pcall, the next runaway loop is stopped.
local t = require "testlib"
local lc = require "lacuna"
local sched = lc.core.sched

local BUDGET = 200000

local function run_one(work)
  local got
  local i = 0
  sched.run {
    window = 1, budget = BUDGET,
    next = function()
      i = i + 1
      if i == 1 then return 1 end
    end,
    work = work,
    done = function(_, ok, value, trace) got = { ok = ok, value = value, trace = trace } end,
  }
  return got
end

local function spin(n)
  local x = 0
  for k = 1, n do x = x + k end
  return x
end

t.test("arguments and results pass through, also outside a scheduler", function()
  t.eq({ sched.unmetered(function(a, b) return a + b, "z", nil end, 1, 2) }, { 3, "z", nil })
  t.eq(select("#", sched.unmetered(function() end)), 0)
  t.raises(function() sched.unmetered(42) end, "function expected")
end)

t.test("unmetered code is not charged to the item's budget", function()
  local got = run_one(function() return sched.unmetered(spin, BUDGET * 2) end)
  t.eq(got.ok, true, tostring(got.value))
  -- the same work metered exceeds it (so the test above means something)
  got = run_one(function() return spin(BUDGET * 2) end)
  t.eq(got.ok, false)
  t.truthy(tostring(got.value):find("instruction limit exceeded", 1, true))
end)

t.test("the recipe's code after it is metered again", function()
  local got = run_one(function()
    sched.unmetered(function() end)
    spin(BUDGET * 20) -- bounded: unmetered, it would end and the item succeed
    return "escaped"
  end)
  t.eq(got.ok, false)
  t.truthy(tostring(got.value):find("instruction limit exceeded", 1, true), tostring(got.value))
end)

t.test("a yield inside keeps the hook off only until it returns", function()
  local got = run_one(function()
    local v = sched.unmetered(function()
      sched.sleep(0.001)
      return spin(BUDGET * 2)
    end)
    t.truthy(v > 0)
    spin(BUDGET * 20) -- bounded: unmetered, it would end and the item succeed
    return "escaped"
  end)
  t.eq(got.ok, false)
  t.truthy(tostring(got.value):find("instruction limit exceeded", 1, true), tostring(got.value))
end)

t.test("an error raised inside and caught by the recipe's pcall leaves it metered", function()
  local got = run_one(function()
    local ok, err = pcall(sched.unmetered, function()
      sched.sleep(0.001)
      error("transport failed", 0)
    end)
    t.eq({ ok, err }, { false, "transport failed" })
    spin(BUDGET * 20) -- bounded: unmetered, it would end and the item succeed
    return "escaped"
  end)
  t.eq(got.ok, false)
  t.truthy(tostring(got.value):find("instruction limit exceeded", 1, true), tostring(got.value))
end)

t.test("an error's traceback still shows the frames inside", function()
  local got = run_one(function()
    sched.unmetered(function() local deep = nil; return deep.field end)
  end)
  t.eq(got.ok, false)
  t.truthy(tostring(got.trace):find("test_sched_unmetered.lua:%d+: in function"), tostring(got.trace))
end)

t.test("a limit already exceeded fires again right after", function()
  local got = run_one(function()
    pcall(function() while true do end end) -- the recipe swallows the limit once
    sched.unmetered(function() end)
    return "escaped"
  end)
  t.eq(got.ok, false)
  t.truthy(tostring(got.value):find("instruction limit exceeded", 1, true), tostring(got.value))
end)

t.done()
