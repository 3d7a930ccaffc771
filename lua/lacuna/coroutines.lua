-- The `coroutine` library a recipe sees (OpenResty's approach in
-- ngx_http_lua_coroutine.c: the recipe's coroutines are its own, lacuna's
-- are not reachable). Each work item runs in a coroutine that lacuna owns;
-- a sandboxed recipe can neither get it (coroutine.running() answers nil
-- there) nor resume, yield, close or inspect it.
--
-- A teacher call (or any wait) inside a coroutine the recipe made works like
-- anywhere else: the wait suspends the whole work item, passing the yield up
-- through every coroutine between the call and the item, and the reply comes
-- back down the same way. A coroutine parked like that cannot be resumed or
-- closed by anyone else, so another item cannot hand it a forged reply.
local sched = require("lacuna.core").sched

local M = {}

local create, resume, yield = coroutine.create, coroutine.resume, coroutine.yield
local status, running, close = coroutine.status, coroutine.running, coroutine.close
local isyieldable = coroutine.isyieldable
local bridge, waiting = sched.bridge, sched.waiting
local pack, unpack = table.pack, table.unpack

-- Builds one library. hide: only coroutines made through this library are
-- visible (sandboxed recipes); without it, any coroutine may be resumed
-- (trusted recipes), and waits still pass up.
function M.library(hide)
  local mine = setmetatable({}, { __mode = "k" })   -- made by this library
  local parked = setmetatable({}, { __mode = "k" }) -- suspended on a lacuna wait

  local function check(co, fname, may_be_parked)
    if type(co) ~= "thread" then
      error("bad argument #1 to '" .. fname .. "' (coroutine expected, got " .. type(co) .. ")", 3)
    end
    if hide and not mine[co] then
      error(fname .. ": not a coroutine this recipe made", 3)
    end
    if parked[co] and not may_be_parked then
      error(fname .. ": the coroutine is waiting for lacuna (a teacher reply) and only lacuna resumes it", 3)
    end
  end

  -- Resumes co; while it is suspended on a wait, suspends the caller too
  -- (up to the work item, which the scheduler parks) and resumes co with
  -- what the caller is woken with.
  local function step(co, ...)
    -- A wait inside co can pass up only if the caller can yield (not from
    -- a metamethod or a table.sort / string.gsub callback); otherwise the
    -- wait fails in co with a clear error instead.
    local up = isyieldable()
    if not up then bridge(co, false) end
    local r = pack(resume(co, ...))
    while up and r[1] and waiting() and status(co) == "suspended" do
      parked[co] = true
      local back = pack(yield())
      parked[co] = nil
      r = pack(resume(co, unpack(back, 1, back.n)))
    end
    if not up then bridge(co, true) end
    return r
  end

  local lib = {}

  function lib.create(f)
    if type(f) ~= "function" then
      error("bad argument #1 to 'create' (function expected, got " .. type(f) .. ")", 2)
    end
    local co = create(f)
    mine[co] = true
    bridge(co, true)
    return co
  end

  function lib.resume(co, ...)
    check(co, "resume")
    local r = step(co, ...)
    return unpack(r, 1, r.n)
  end

  function lib.wrap(f)
    local co = lib.create(f)
    return function(...)
      if parked[co] then error("the coroutine is waiting for lacuna (a teacher reply)", 2) end
      local r = step(co, ...)
      if r[1] then return unpack(r, 2, r.n) end
      if status(co) == "dead" then close(co) end
      error(r[2], 0)
    end
  end

  function lib.yield(...)
    if hide and not mine[running()] then
      error("coroutine.yield outside a coroutine created by the recipe", 2)
    end
    return yield(...)
  end

  function lib.status(co)
    check(co, "status", true)
    return status(co)
  end

  function lib.close(co)
    check(co, "close")
    return close(co)
  end

  function lib.running()
    local co, main = running()
    if hide and not mine[co] then return nil, true end
    return co, main
  end

  function lib.isyieldable()
    if hide and not mine[running()] then return false end
    return isyieldable()
  end

  return lib
end

return M
