-- A REPL session: the recipe being worked on, its params, the teacher pool
-- (one for the whole session, so its cache, the same file `lacuna run`
-- uses, is kept across :reload), and the environment typed code runs in.
--
-- In that environment: lc (the lacuna module), recipe (the loaded
-- declaration), params (its current values), teacher (the default teacher:
-- teacher:chat{...}), map(record [, i]) (the recipe's map on one record, or
-- on one of its planned items, as a run would call it), example(t) (an Example from a conversation table), _
-- (the last value printed) and results (the examples of the last :run).
-- Everything else is Lua's globals; names typed code assigns stay in the
-- session.
local core = require "lacuna.core"
local usage = require "lacuna.usage"
local runner = require "lacuna.runner"
local params_mod = require "lacuna.params"
local teacher = require "lacuna.teacher"
local view = require "lacuna.view"
local eval = require "lacuna.repl.eval"

local M = {}
M.__index = M

-- o: the options of `lacuna repl` (run's); write(text): where output goes.
function M.new(o, write)
  local s = setmetatable({ o = o, write = write, overrides = {}, results = {} }, M)
  for _, kv in ipairs(o.params or {}) do
    local k = kv:match("^([^=]+)=")
    if k then s.overrides[#s.overrides + 1] = kv end
  end
  s.env = setmetatable({}, { __index = _G })
  s:bind_env()
  return s
end

-- Errors raised for the user (usage errors, nil-returning calls) as text.
local function text_of(e) return usage.is(e) and usage.text(e) or tostring(e) end

-- Calls fn(...) and returns its results, or prints the error and returns nil.
function M:try(fn, ...)
  local res = table.pack(pcall(fn, ...))
  if not res[1] then
    self.write("error: " .. text_of(res[2]) .. "\n")
    return nil
  end
  return table.unpack(res, 2, res.n)
end

-- The teacher pool, made on first use; its cache is the run's
-- (--cache, default .lacuna/cache.db).
function M:pool()
  if not self.pool_obj then self.pool_obj = eval.attach_spinner(teacher.pool(runner.teacher_config(self.o))) end
  return self.pool_obj
end

function M:close()
  if self.pool_obj then pcall(self.pool_obj.close, self.pool_obj) end
  self.pool_obj = nil
end

-- After Ctrl-C: the next call gets a new pool, with its own connections, so
-- nothing of the interrupted requests is carried over (the cache is a file:
-- nothing is lost). The old pool's counts are right too (the scheduler closes
-- what an interrupted call held: tests/teacher/test_pool_interrupt.sh).
function M:interrupted() self:close() end

function M:tokenizer()
  if self.tok == nil and self.o.tokenizer then
    self.tok = require("lacuna.options").tokenizer(self.o.tokenizer)
  end
  return self.tok or nil
end

-- A ctx for item i, as a run makes it (lua/lacuna/runner.lua's make_work).
function M:ctx(i)
  local r = self.recipe
  return view.ctx {
    params = view.readonly_copy(self.values or {}, "params"), index = i, seed = self.o.seed or 0,
    tokenizer = self:tokenizer(), file = "repl", line = i, recipe = r and r.name or "repl", _pool = self:pool(),
  }
end

function M:bind_env()
  local env = self.env
  rawset(env, "lc", require "lacuna")
  rawset(env, "recipe", self.recipe)
  rawset(env, "params", self.values)
  rawset(env, "results", self.results)
  rawset(env, "teacher", setmetatable({}, { __index = function(_, k)
    local t = view.teacher(self:pool():teacher(nil, nil))
    return function(_, ...) return t[k](t, ...) end
  end }))
  rawset(env, "map", function(record, i)
    local r = self.recipe
    if not r then error("no recipe loaded (lacuna repl RECIPE, or :load RECIPE)", 0) end
    -- (a recipe that plans its items in setup maps its own items, not records)
    local err = not r.setup and r:check_input(record, core.json.null)
    if err then error("map: the record does not match the recipe's input: " .. err, 0) end
    return r.map(record, self:ctx(i or 1))
  end)
  rawset(env, "example", function(t) return require("lacuna.repl.tokens").example_of(t) end)
end

-- Loads (or reloads) the recipe at o.recipe and resolves its params.
function M:load(ref)
  local o = self.o
  local old = o.recipe
  o.recipe = ref or o.recipe
  if not o.recipe then usage.error("no recipe: :load RECIPE") end
  local ok, r = pcall(runner.load, o.recipe, o)
  if not ok then
    o.recipe = old
    error(r, 0)
  end
  local values = params_mod.resolve(r.name, r.params, self.overrides)
  self.recipe, self.values = r, values
  self:bind_env()
  return r
end

-- :set KEY VALUE on a recipe param: re-resolved with the other overrides,
-- and left as it was when the value is refused.
function M:set_param(key, value)
  local list = {}
  for _, kv in ipairs(self.overrides) do
    if kv:match("^([^=]+)=") ~= key then list[#list + 1] = kv end
  end
  list[#list + 1] = key .. "=" .. value
  local values = params_mod.resolve(self.recipe.name, self.recipe.params, list)
  self.overrides, self.values = list, values
  self.o.params = list
  self:bind_env()
end

return M
