-- What a sandboxed recipe holds of lacuna, built as data (an allow-list, as
-- the globals are). `require "lacuna"` in a sandboxed recipe returns
-- M.lacuna(): the recipe DSL and pure helpers, no `core`, nothing that opens a
-- file or a connection except through the run's command line (the teacher
-- endpoint, the --tokenizer model). Every object handed to recipe code (ctx,
-- its teachers, params, run, summary) is a proxy: an empty userdata whose
-- metatable is locked (__metatable), exposing methods and read-only fields,
-- never lacuna's tables, so nothing a recipe does to it reaches the pool,
-- its configuration, the API key, the accounting or another item.
local core = require "lacuna.core"
local tokenizer_mod = require "lacuna.tokenizer"

local proxy, target = core.sandbox.proxy, core.sandbox.target
-- Caller mistakes are raised at the recipe's line, not lacuna's (core/caller.c).
local raise, entry = core.caller.error, core.caller.entry
local json = core.json

local M = {}

local SANDBOX_HINT = " (run with --trust to lift the sandbox)"

local function cannot_modify(name)
  return function(_, k)
    raise("cannot modify " .. name .. "." .. tostring(k) .. " from a recipe")
  end
end

-- A read-only proxy over the table t (which stays lacuna's: give it a copy
-- when the original must not be seen). ipairs, #, pairs and indexing work.
local function readonly_proxy(t, name, miss, call)
  local iter = function(_, k) return next(t, k) end
  if miss then setmetatable(t, { __index = miss }) end
  local p
  p = proxy({
    __index = t,
    __newindex = cannot_modify(name),
    __len = function() return #t end,
    -- A closure, not next and t: the loop's state would hand t out.
    __pairs = function() return iter, p, nil end,
    __tostring = function() return name end,
    __metatable = name,
    __call = call,
  }, t)
  return p
end

-- A read-only deep copy of plain data (params, inputs, counts).
local function readonly_copy(v, name)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in next, v do c[k] = readonly_copy(x, name .. "." .. tostring(k)) end
  return readonly_proxy(c, name)
end
M.readonly_copy = readonly_copy

-- ---- teachers -------------------------------------------------------------------

local TEACHER = {}
local teacher_methods = {}
TEACHER.__index = teacher_methods
TEACHER.__newindex = cannot_modify("teacher")
TEACHER.__metatable = "lacuna.teacher"
TEACHER.__tostring = function() return "lacuna.teacher" end

-- The methods sit behind a C frame (caller.entry) so that a mistake in
-- `return ctx.teacher:chat{...}`, a tail call, still names the recipe's line.
local function bad_self() raise("bad self: call teacher methods as teacher:chat{...}") end
teacher_methods.chat = entry(function(self, req)
  return (target(self, TEACHER) or bad_self()):chat(req)
end)
teacher_methods.chat_many = entry(function(self, reqs)
  return (target(self, TEACHER) or bad_self()):chat_many(reqs)
end)
teacher_methods.chat_json = entry(function(self, req)
  return (target(self, TEACHER) or bad_self()):chat_json(req)
end)

-- A recipe's handle on a teacher of the pool, bound to one item.
local function teacher_view(t) return proxy(TEACHER, t) end
M.teacher = teacher_view

-- ---- tokenizer (the --tokenizer model) ---------------------------------------------

local TOKENIZER = {}
local tokenizer_methods = { approximate = false }
TOKENIZER.__index = tokenizer_methods
TOKENIZER.__newindex = cannot_modify("tokenizer")
TOKENIZER.__metatable = "lacuna.tokenizer"
TOKENIZER.__tostring = function() return "lacuna.tokenizer" end
for _, name in ipairs({ "encode", "count", "decode", "token_to_id", "id_to_token", "vocab_size" }) do
  tokenizer_methods[name] = entry(function(self, ...)
    local t = target(self, TOKENIZER)
    if not t then raise("bad self: call tokenizer methods as tok:" .. name .. "(...)") end
    return t[name](t, ...)
  end)
end

-- ---- ctx (one per work item) -------------------------------------------------

local ctx_methods = {}
-- (Behind a C frame: `return ctx:skip(x)` is a tail call, and a mistake in it
-- must still name the recipe's line; see core/caller.c.)
ctx_methods.skip = entry(function(_, reason) return (require "lacuna").skip(reason) end)
function ctx_methods.log(self, ...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  io.stderr:write(string.format("[%s:%d] %s", self.file or "?", self.line or 0, table.concat(parts, "\t")), "\n")
end

-- The item's state: fields a recipe reads, made on first use where that
-- costs something (the rng stream, the teachers).
local STATE = {}
STATE.__index = function(st, k)
  if k == "rng" then
    -- The stream depends only on (seed, item index), not on when it is made.
    -- (plan: the item key's stream where the recipe planned its items.)
    local g = core.rng.new(rawget(st, "seed"), rawget(st, "stream") or rawget(st, "index"))
    rawset(st, "rng", g)
    return g
  elseif k == "teacher" then
    local t = teacher_view(rawget(st, "_pool"):teacher(nil, rawget(st, "index")))
    rawset(st, "teacher", t)
    return t
  elseif k == "teachers" then
    local pool, index, made = rawget(st, "_pool"), rawget(st, "index"), {}
    local named = readonly_proxy(made, "ctx.teachers", function(_, name)
      if type(name) ~= "string" then return nil end
      local t = teacher_view(pool:teacher(name, index))
      rawset(made, name, t)
      return t
    end)
    rawset(st, "teachers", named)
    return named
  end
  return ctx_methods[k]
end

-- ctx for one item: fields params, index, seed, file, line, recipe; rng,
-- teacher, teachers; methods log, skip. `params` is the run's read-only copy.
-- One metatable for every ctx: its __index (C) reads the item's state.
local CTX = {
  __index = core.sandbox.index,
  __newindex = cannot_modify("ctx"),
  __metatable = "lacuna.ctx",
  __tostring = function() return "lacuna.ctx" end,
}
function M.ctx(fields)
  return proxy(CTX, setmetatable(fields, STATE))
end

-- (run, of setup and finish, is lua/lacuna/run_view.lua's: fields and methods.)

-- The outcome that finish(run, summary) reads: a read-only copy.
function M.summary(summary) return readonly_copy(summary, "summary") end

-- ---- the lacuna module a sandboxed recipe requires -------------------------------

-- Parts of lacuna that are not in the view, named so that a recipe that asks
-- learns why rather than getting nil.
local not_available = {
  core = "lacuna.core is not available to sandboxed recipes",
  jsonl = "lacuna.jsonl is not available to sandboxed recipes; declare inputs with -i",
  sys = "lacuna.sys is not available to sandboxed recipes",
  sandbox = "lacuna.sandbox is not available to sandboxed recipes",
  sched = "lacuna.sched is not available to sandboxed recipes",
  cache = "lacuna.cache is not available to sandboxed recipes",
  http = "lacuna.http is not available to sandboxed recipes; call the teacher through ctx.teacher",
}

local function module_view(t, name, call)
  return readonly_proxy(t, name, function(_, k)
    local why = not_available[k]
    if why then raise(why .. SANDBOX_HINT) end
    return nil
  end, call)
end

-- Builds the `lacuna` module of one sandboxed recipe. o: the run options
-- (o.tokenizer: the --tokenizer model, the only one a recipe may load).
function M.lacuna(lc, o)
  o = o or {}
  local model
  local tok = {
    approximate = tokenizer_mod.approximate,
    from_json = tokenizer_mod.from_json,
    -- The tokenizer given on the command line (--tokenizer), or an error.
    model = function()
      if not model then
        if not o.tokenizer then
          raise("lacuna.tokenizer.model(): no tokenizer was given (run with --tokenizer DIR)")
        end
        local t, err = tokenizer_mod.load(o.tokenizer)
        if not t then raise("lacuna.tokenizer.model(): " .. tostring(err)) end
        model = proxy(TOKENIZER, t)
      end
      return model
    end,
    load = function()
      raise("lacuna.tokenizer.load(path) is not available to sandboxed recipes; use" ..
        " lacuna.tokenizer.model(), the --tokenizer given on the command line" .. SANDBOX_HINT)
    end,
  }
  -- lc.text takes the --tokenizer model's proxy where lacuna's own takes a
  -- tokenizer. Each wrapper sits behind a C frame (entry), so a recipe's tail
  -- call into it still names the recipe's line.
  local text = lc.text
  local function tok_arg(t)
    if type(t) == "userdata" then return target(t, TOKENIZER) or t end
    return t
  end
  local text_view = {
    sentences = text.sentences,
    segment = function(s, max_tokens, t) return text.segment(s, max_tokens, tok_arg(t)) end,
    count = function(s, t) return text.count(s, tok_arg(t)) end,
    token_index = function(s, offsets, t) return text.token_index(s, offsets, tok_arg(t)) end,
    pool = function(opts)
      if type(opts) == "table" and type(opts.tokenizer) == "userdata" then
        local copy = {}
        for k, v in pairs(opts) do copy[k] = v end
        copy.tokenizer = tok_arg(opts.tokenizer)
        opts = copy
      end
      return text.pool(opts)
    end,
  }
  for k, f in pairs(text_view) do text_view[k] = entry(f) end
  local extractive = {}
  for k, v in pairs(lc.extractive) do extractive[k] = v end
  local view = {
    version = lc.version,
    extractive = module_view(extractive, "lacuna.extractive"),
    text = module_view(text_view, "lacuna.text"),
    recipe = lc.recipe,
    int = lc.int, number = lc.number, string = lc.string, bool = lc.bool, enum = lc.enum,
    list = lc.list, kind = lc.kind, file = lc.file,
    skip = lc.skip, is_skip = lc.is_skip,
    example = lc.example, part = lc.part, is_example = lc.is_example,
    json = module_view({ encode = json.encode, decode = json.decode, null = json.null,
                         array = json.array, object = json.object, is_array = json.is_array }, "lacuna.json",
                       -- lc.json(default, doc) declares a JSON param (lua/lacuna/params.lua).
                       function(_, ...) return lc.json(...) end),
    null = json.null,
    hash = module_view({ sha256 = core.hash.sha256 }, "lacuna.hash"),
    sha256 = core.hash.sha256,
    rng = lc.rng,
    tokenizer = module_view(tok, "lacuna.tokenizer"),
    formats = module_view({ render = lc.formats.render }, "lacuna.formats"),
  }
  return module_view(view, "lacuna")
end

return M
