-- The recipe sandbox, by allow-list (as Redis does for scripts): a recipe's
-- chunk gets its own _ENV holding copies of the safe parts of the standard
-- library and a read-only view of lacuna without file access. Reading an
-- unknown global and creating a new one are errors. `--trust` gives a plain
-- environment over _G instead.
local M = {}

local function copy(t, except)
  local c = {}
  for k, v in pairs(t) do
    if not (except and except[k]) then c[k] = v end
  end
  return c
end

local function refuse(what, hint)
  return function()
    error(what .. " is not available to sandboxed recipes" .. (hint and ("; " .. hint) or "") ..
      " (run with --trust to lift the sandbox)", 2)
  end
end

-- Parts of lacuna a sandboxed recipe must not reach: anything that opens or
-- writes files or changes the process.
local hidden = { jsonl = true, sys = true, sandbox = true, sched = true, shipped_recipes = true }

-- A read-only proxy of a module table; nested tables get proxies too, and
-- the hidden parts raise a clear error.
local function readonly(t, name, cache)
  cache = cache or {}
  if cache[t] then return cache[t] end
  local proxy = setmetatable({}, {
    __index = function(_, k)
      if hidden[k] then
        error(name .. "." .. tostring(k) .. " is not available to sandboxed recipes" ..
          " (run with --trust to lift the sandbox)", 2)
      end
      local v = t[k]
      local vmt = type(v) == "table" and getmetatable(v)
      -- (A table whose metatable is only a __call, as lc.json's, is module data too.)
      if type(v) == "table" and (vmt == nil or (type(vmt) == "table" and next(vmt) == "__call" and next(vmt, "__call") == nil)) then
        return readonly(v, name .. "." .. tostring(k), cache)
      end
      return v
    end,
    __newindex = function(_, k)
      error("cannot modify " .. name .. "." .. tostring(k) .. " from a recipe", 2)
    end,
    __pairs = function()
      return function(_, k)
        local nk, nv = next(t, k)
        while nk ~= nil and hidden[nk] do nk, nv = next(t, nk) end
        return nk, nv
      end, t, nil
    end,
    __metatable = false,
    __call = getmetatable(t) and getmetatable(t).__call,
  })
  cache[t] = proxy
  return proxy
end
M.readonly = readonly

function M.lacuna_view(lc)
  return readonly(lc, "lacuna")
end

-- Builds the environment of one recipe chunk. `log` receives print output
-- (stderr, so it never mixes with data).
function M.env(lc, log)
  local view = M.lacuna_view(lc)
  local env = {}
  for _, name in ipairs({
    "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber",
    "tostring", "type", "xpcall", "rawequal", "rawlen", "rawget", "rawset",
    "setmetatable", "_VERSION",
  }) do
    env[name] = _G[name]
  end
  env.string = copy(string, { dump = true })
  env.string.dump = refuse("string.dump")
  env.table = copy(table)
  env.utf8 = copy(utf8)
  env.coroutine = copy(coroutine)
  env.math = copy(math, { random = true, randomseed = true })
  env.math.random = refuse("math.random", "use ctx.rng, which is deterministic per item")
  env.math.randomseed = refuse("math.randomseed", "use --seed")
  env.os = setmetatable({ time = os.time, clock = os.clock, date = os.date, difftime = os.difftime }, {
    __index = function(_, k)
      error("os." .. tostring(k) .. " is not available to sandboxed recipes (run with --trust to lift the sandbox)", 2)
    end,
  })
  env.io = nil
  env.getmetatable = function(v)
    if type(v) ~= "table" then
      error("getmetatable is limited to tables in sandboxed recipes", 2)
    end
    return getmetatable(v)
  end
  env.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    log(table.concat(parts, "\t"))
  end
  env.collectgarbage = function(opt)
    if opt == nil or opt == "count" then return collectgarbage("count") end
    error("collectgarbage('" .. tostring(opt) .. "') is not available to sandboxed recipes", 2)
  end
  env.require = function(name)
    if name == "lacuna" then return view end
    error("module '" .. tostring(name) .. "' is not available to sandboxed recipes (allowed: lacuna);" ..
      " run with --trust to lift the sandbox", 2)
  end
  env.load = function(chunk, chunkname, mode, chunk_env)
    if mode ~= nil and mode ~= "t" then
      error("load: only text chunks (mode 't') are allowed in sandboxed recipes", 2)
    end
    if type(chunk) ~= "string" and type(chunk) ~= "function" then
      error("load: chunk must be a string or a function", 2)
    end
    return load(chunk, chunkname, "t", chunk_env or env)
  end
  for _, name in ipairs({ "dofile", "loadfile" }) do
    env[name] = refuse(name)
  end
  env._G = env
  return setmetatable(env, {
    __index = function(_, k)
      if k == "io" or k == "debug" or k == "package" or k == "os" then
        error("'" .. k .. "' is not available to sandboxed recipes (run with --trust to lift the sandbox)", 2)
      end
      error("global '" .. tostring(k) .. "' is not defined", 2)
    end,
    __newindex = function(_, k)
      error("assignment to undeclared global '" .. tostring(k) ..
        "' (declare it local; recipes cannot create globals)", 2)
    end,
    __metatable = false,
  })
end

-- The environment of a trusted recipe: its own table, falling back to _G.
function M.trusted_env()
  local env = {}
  env._G = env
  return setmetatable(env, { __index = _G })
end

return M
