-- The recipe sandbox, by allow-list (as Redis does for scripts): a recipe's
-- chunk gets its own _ENV holding copies of the safe parts of the standard
-- library and lacuna's recipe view (lua/lacuna/view.lua: no core, proxies
-- only). Reading an unknown global and creating a new one are errors.
-- Every function a recipe can make Lua call runs under the instruction
-- budget, or is refused where Lua cannot budget it: __gc finalizers (Lua runs
-- them with hooks off) are refused in setmetatable, xpcall's message handler
-- runs as an ordinary call after the error has unwound, and error objects
-- become text without __tostring (core/sandbox.c). `--trust` gives a plain
-- environment over _G instead.
local core = require "lacuna.core"
local view = require "lacuna.view"
local coroutines = require "lacuna.coroutines"

local raw_metatable = core.sandbox.raw_metatable

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

-- The string methods ("x"):rep(...) reach, for every string in the state:
-- the library without dump, in a table no recipe can reach or change.
local function protect_string_methods()
  local mt = getmetatable("")
  if not rawget(mt, "__index") or rawget(mt.__index, "dump") then
    mt.__index = copy(string, { dump = true })
  end
end

-- Builds the environment of one recipe chunk. `log` receives print output
-- (stderr, so it never mixes with data); o: the run options (view.lacuna);
-- require_module(name, env): modules beside the recipe (lua/lacuna/bundle.lua).
function M.env(lc, log, o, require_module)
  local lacuna = view.lacuna(lc, o)
  protect_string_methods()
  local env = {}
  for _, name in ipairs({
    "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber",
    "tostring", "type", "rawequal", "rawlen", "rawget", "rawset", "_VERSION",
  }) do
    env[name] = _G[name]
  end
  env.string = copy(string, { dump = true })
  env.string.dump = refuse("string.dump")
  env.table = copy(table)
  env.utf8 = copy(utf8)
  env.coroutine = coroutines.library(true)
  env.math = copy(math, { random = true, randomseed = true })
  env.math.random = refuse("math.random", "use ctx.rng, which is deterministic per item")
  env.math.randomseed = refuse("math.randomseed", "use --seed")
  env.os = setmetatable({ time = os.time, clock = os.clock, date = os.date, difftime = os.difftime }, {
    __index = function(_, k)
      error("os." .. tostring(k) .. " is not available to sandboxed recipes (run with --trust to lift the sandbox)", 2)
    end,
  })
  env.io = nil
  -- Metatables the recipe set itself are its own; lacuna's (examples'
  -- formats, JSON markers, the recipe declaration) read as false and cannot
  -- be replaced.
  local owned = setmetatable({}, { __mode = "k" })
  env.getmetatable = function(v)
    if type(v) ~= "table" then
      error("getmetatable is limited to tables in sandboxed recipes", 2)
    end
    local mt = raw_metatable(v)
    if mt == nil then return nil end
    if not owned[mt] then return false end
    return getmetatable(v)
  end
  env.setmetatable = function(t, mt)
    if type(t) ~= "table" then
      error("bad argument #1 to 'setmetatable' (table expected, got " .. type(t) .. ")", 2)
    end
    if mt ~= nil and type(mt) ~= "table" then
      error("bad argument #2 to 'setmetatable' (nil or table expected)", 2)
    end
    local cur = raw_metatable(t)
    if cur ~= nil and not owned[cur] then
      error("cannot change the metatable of a lacuna object", 2)
    end
    if mt ~= nil and rawget(mt, "__gc") ~= nil then
      error("__gc metamethods are not available to sandboxed recipes (Lua runs finalizers" ..
        " outside the instruction budget)", 2)
    end
    setmetatable(t, mt)
    if mt ~= nil then owned[mt] = true end
    return t
  end
  -- The handler runs after the error has unwound, as an ordinary call under
  -- the budget: Lua calls a real message handler with hooks off when the
  -- error came from the budget's own hook.
  env.xpcall = function(f, handler, ...)
    if type(handler) ~= "function" then
      error("bad argument #2 to 'xpcall' (function expected, got " .. type(handler) .. ")", 2)
    end
    local r = table.pack(pcall(f, ...))
    if r[1] then return table.unpack(r, 1, r.n) end
    return false, select(2, pcall(handler, r[2]))
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
    if name == "lacuna" then return lacuna end
    local value, why
    if require_module then value, why = require_module(name, env) end
    if value ~= nil then return value end
    error(why or ("module '" .. tostring(name) .. "' is not available to sandboxed recipes (allowed: lacuna);" ..
      " run with --trust to lift the sandbox"), 2)
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
-- Modules beside the recipe come first, then package.path's.
function M.trusted_env(require_module)
  local env = {}
  env._G = env
  if require_module then
    env.require = function(name)
      local value, why = require_module(name, env)
      if value ~= nil then return value end
      if why and why:find("^module cycle") then error(why, 2) end
      return require(name)
    end
  end
  -- A teacher call inside a coroutine suspends the item (waits pass up).
  env.coroutine = coroutines.library(false)
  return setmetatable(env, { __index = _G })
end

return M
