-- The scheduler: one coroutine per item, results in input order, failures
-- carry their traceback, a stray yield is an error, budgets stop runaways.
local t = require "testlib"
local lc = require "lacuna"
local sched = lc.core.sched

local function run(items, work, window, budget)
  local i = 0
  local got = {}
  local n = sched.run {
    window = window, budget = budget,
    next = function()
      i = i + 1
      return items[i]
    end,
    work = work,
    done = function(seq, ok, value, trace)
      got[#got + 1] = { seq = seq, ok = ok, value = value, trace = trace }
    end,
  }
  return got, n
end

t.test("results arrive in input order with their sequence numbers", function()
  local got, n = run({ 10, 20, 30, 40, 50 }, function(x, seq) return x + seq end, 2)
  t.eq(n, 5)
  for k, r in ipairs(got) do
    t.eq(r.seq, k)
    t.eq(r.ok, true)
    t.eq(r.value, k * 10 + k)
  end
end)

t.test("each item runs in its own coroutine", function()
  local threads = {}
  run({ 1, 2, 3 }, function(x)
    local co, main = coroutine.running()
    t.eq(main, false)
    threads[x] = co
    sched.sleep(0) -- all three are unfinished at once
    t.eq(coroutine.running(), co)
    return x
  end, 8)
  t.truthy(threads[1] ~= threads[2] and threads[2] ~= threads[3] and threads[1] ~= threads[3])
end)

t.test("a finished item's coroutine is reused, clean, by a later item", function()
  local threads, seen = {}, {}
  local got = run({ 1, 2, 3, 4 }, function(...)
    local x = ...
    local co = coroutine.running()
    threads[x] = co
    t.eq(select("#", ...), 2, "a later item starts with its own arguments only")
    seen[x] = coroutine.status(co)
    if x == 2 then error("two fails") end
    return x * 2
  end, 1, 10 ^ 6)
  t.eq(got[1].value, 2)
  t.eq(got[2].ok, false)
  t.eq(got[3].value, 6)
  t.eq(got[4].value, 8)
  t.eq(seen[1], "running")
  t.eq(threads[1], threads[2], "item 2 reuses item 1's coroutine")
  t.truthy(threads[3] ~= threads[2], "a coroutine that failed is not reused")
  t.eq(threads[4], threads[3])
end)

t.test("a reused coroutine charges each item its own instructions", function()
  -- Each item spends about 60% of the budget: on one shared count the
  -- second would pass the limit.
  local got = run({ 1, 2, 3 }, function(x)
    local n = 0
    for i = 1, 20000 do n = n + i end
    return x
  end, 1, 60000)
  for k = 1, 3 do t.eq(got[k].ok, true, "item " .. k .. ": " .. tostring(got[k].value)) end
end)

t.test("a failing item keeps its message and traceback; the others complete", function()
  local got = run({ 1, 2, 3, 4 }, function(x)
    if x == 3 then error("boom on three") end
    return x
  end, 3)
  t.eq(#got, 4)
  t.eq(got[3].ok, false)
  t.truthy(got[3].value:find("boom on three", 1, true))
  t.truthy(got[3].trace:find("stack traceback", 1, true))
  t.eq(got[4].ok, true)
  t.eq(got[4].value, 4)
end)

t.test("non-string errors reach done as they are", function()
  local got = run({ 1 }, function() error({ code = 7 }) end, 1)
  t.eq(got[1].ok, false)
  t.eq(got[1].value.code, 7)
  -- an error object whose __tostring raises does not break the run
  local bad = setmetatable({}, { __tostring = function() error("no text for you") end })
  got = run({ 1, 2 }, function(x) if x == 1 then error(bad) end return x end, 1)
  t.eq({ got[1].ok, got[1].value == bad, got[2].value }, { false, true, 2 })
end)

t.test("a yield that is not lacuna I/O fails the item", function()
  local got = run({ 1, 2 }, function(x)
    if x == 1 then coroutine.yield() end
    return x
  end, 2)
  t.eq(got[1].ok, false)
  t.truthy(got[1].value:find("coroutine.yield outside a coroutine created by the recipe", 1, true))
  t.eq(got[2].value, 2)
end)

t.test("recipe-created coroutines work inside an item", function()
  local got = run({ 3 }, function(x)
    local gen = coroutine.wrap(function()
      for k = 1, x do coroutine.yield(k) end
    end)
    local sum = 0
    for _ = 1, x do sum = sum + gen() end
    return sum
  end, 1)
  t.eq(got[1].value, 6)
end)

t.test("the instruction budget stops a runaway item, even under pcall", function()
  local got = run({ 1, 2, 3 }, function(x)
    if x == 2 then
      pcall(function() while true do end end)
      while true do end
    end
    return x
  end, 2, 100000)
  t.eq(got[1].ok, true)
  t.eq(got[2].ok, false)
  t.truthy(got[2].value:find("instruction limit exceeded", 1, true))
  t.eq(got[3].ok, true)
end)

t.test("the window bounds the items in flight", function()
  -- With nothing to wait on, each item completes before the next starts; the
  -- window only matters for ordering, so a window of 1 still runs everything.
  local got = run({ 1, 2, 3, 4, 5, 6, 7 }, function(x) return x * x end, 1)
  t.eq(#got, 7)
  t.eq(got[7].value, 49)
end)

t.test("an error in next or done propagates and the scheduler can run again", function()
  local ok, err = pcall(sched.run, {
    next = function() error("source broke") end,
    work = function() end,
    done = function() end,
  })
  t.eq(ok, false)
  t.truthy(tostring(err):find("source broke", 1, true))
  local got = run({ 1 }, function(x) return x end, 1)
  t.eq(got[1].value, 1)
end)

t.test("caller mistakes raise", function()
  t.raises(function() sched.run { next = 1, work = print, done = print } end, "field 'next' must be a function")
  t.raises(function() sched.run { window = 0, next = print, work = print, done = print } end, "window must be")
end)

t.test("call_limited runs a function under a budget and reports a traceback", function()
  local ok, a, b = sched.call_limited(0, function(x, y) return x + y, x * y end, 3, 4)
  t.eq({ ok, a, b }, { true, 7, 12 })
  local ok2, msg = sched.call_limited(50000, function() while true do end end)
  t.eq(ok2, false)
  t.truthy(msg:find("instruction limit exceeded", 1, true))
  t.truthy(msg:find("stack traceback", 1, true))
end)

t.test("sleep suspends one item while the others run; output order is kept", function()
  local order = {}
  local got = run({ 30, 0, 10 }, function(ms, seq)
    sched.sleep(ms / 1000)
    order[#order + 1] = seq
    return seq
  end, 3)
  t.eq(order, { 2, 3, 1 })
  t.eq({ got[1].value, got[2].value, got[3].value }, { 1, 2, 3 })
end)

t.test("order: finished items wait for a slow first one while new ones start", function()
  -- window 2: at most 2 unfinished; order 50: up to 50 launched and not yet
  -- emitted. Item 1 waits until item 20 has run: the other 19 start, finish
  -- and wait for it (without the order ring item 20 would never start).
  local running, max_running, finished_before_first = 0, 0, 0
  local first_done = false
  local i = 0
  local got = {}
  local first
  sched.run {
    window = 2, order = 50,
    next = function()
      i = i + 1
      if i <= 20 then return i end
    end,
    work = function(x)
      running = running + 1
      if running > max_running then max_running = running end
      if x == 1 then
        first = sched.self()
        sched.park()
      else
        sched.sleep(0.001)
        if x == 20 then sched.unpark(first) end
      end
      running = running - 1
      if x == 1 then first_done = true elseif not first_done then finished_before_first = finished_before_first + 1 end
      return x
    end,
    done = function(seq, ok, value) got[#got + 1] = ok and value or -1 end,
  }
  t.eq(max_running, 2)
  t.eq(finished_before_first, 19)
  for k = 1, 20 do t.eq(got[k], k) end
  -- order = window (the default): the slow first item holds the rest back.
  running, max_running, finished_before_first, first_done, i, got = 0, 0, 0, false, 0, {}
  sched.run {
    window = 2,
    next = function()
      i = i + 1
      if i <= 20 then return i end
    end,
    work = function(x)
      sched.sleep(x == 1 and 0.05 or 0.001)
      if x == 1 then first_done = true elseif not first_done then finished_before_first = finished_before_first + 1 end
      return x
    end,
    done = function(seq, ok, value) got[#got + 1] = value end,
  }
  t.eq(finished_before_first, 1)
  t.raises(function() sched.run { window = 4, order = 2, next = print, work = print, done = print } end,
    "order must be")
end)

t.test("admit holds new items back while it says no, never all of them", function()
  local running, max_running, launched = 0, 0, 0
  local i = 0
  sched.run {
    window = 10,
    admit = function() return running < 3 end,
    next = function()
      i = i + 1
      if i <= 12 then
        launched = launched + 1
        return i
      end
    end,
    work = function(x)
      running = running + 1
      if running > max_running then max_running = running end
      sched.sleep(0.002)
      running = running - 1
      return x
    end,
    done = function() end,
  }
  t.eq(launched, 12)
  t.eq(max_running, 3)
  -- An admit that always says no still lets one item run at a time.
  i, running, max_running = 0, 0, 0
  local n = sched.run {
    window = 10, admit = function() return false end,
    next = function() i = i + 1 if i <= 20 then return i end end,
    work = function(x)
      running = running + 1
      if running > max_running then max_running = running end
      sched.sleep(0.001)
      running = running - 1
      return x
    end,
    done = function() end,
  }
  t.eq(n, 20)
  t.eq(max_running, 1)
  t.raises(function() sched.run { admit = 1, next = print, work = print, done = print } end,
    "field 'admit' must be a function")
end)

t.test("park and unpark pass values between items", function()
  local parked
  local got = run({ "waiter", "waker" }, function(role)
    if role == "waiter" then
      parked = sched.self()
      local a, b = sched.park()
      return a .. b
    end
    sched.sleep(0.001)
    t.eq(sched.unpark(parked, "x", "y"), true)
    t.eq(sched.unpark(parked, "again"), false)
    return "woke"
  end, 2)
  t.eq(got[1].value, "xy")
  t.eq(got[2].value, "woke")
end)

t.test("spawn and join fan out inside one item", function()
  local got = run({ 3 }, function(n)
    local hs = {}
    for i = 1, n do
      hs[i] = sched.spawn(function(k)
        sched.sleep((n - k) / 1000)
        if k == 2 then error("child two failed") end
        return k * 10
      end, i)
    end
    local res = sched.join(hs)
    return res
  end, 1)
  local res = got[1].value
  t.eq(#res, 3)
  t.eq({ res[1].ok, res[1].value }, { true, 10 })
  t.eq(res[2].ok, false)
  t.truthy(res[2].value:find("child two failed", 1, true))
  t.truthy(res[2].traceback:find("stack traceback", 1, true))
  t.eq({ res[3].ok, res[3].value }, { true, 30 })
end)

t.test("an item waiting for nothing fails instead of hanging", function()
  local got = run({ 1, 2 }, function(x)
    if x == 1 then sched.park() end
    return x
  end, 2)
  t.eq(got[1].ok, false)
  t.truthy(got[1].value:find("waits for an event nobody will deliver", 1, true))
  t.eq(got[2].value, 2)
end)

t.test("waiting primitives outside a run", function()
  local t0 = sched.now()
  sched.sleep(0.01)
  t.truthy(sched.now() - t0 >= 0.009)
  t.raises(function() sched.park() end, "only wait inside a work item")
  t.raises(function() sched.spawn(print) end, "only inside a work item")
end)

return t.done()
