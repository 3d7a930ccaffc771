-- The `run` a recipe's setup(run) and finish(run, summary) receive, and the
-- tokenizer handle of run.tokenizer / ctx.tokenizer. Both are proxies (empty
-- userdata with a locked metatable): fields read-only, methods only, nothing
-- that reaches lacuna's tables, the pool or the accounting.
--
--   run.params, run.seed, run.recipe, run.inputs, run.format   read-only
--   run.teacher_configured     true when the default teacher has a model (--model)
--   run.tokenizer              the --tokenizer model, or the approximate counter
--   run.teacher, run.teachers[name]   in setup: the teacher (fan-out, cache)
--   run:records()              for record, file, line in run:records() do
--   run:items(n), run:groups{by = F | size = N}   plans setup may return
--   run:report(key, value)     a statistic for the manifest's `report`
--   run:log(...)
local core = require "lacuna.core"
local plan = require "lacuna.plan"
local tokenizer_mod = require "lacuna.tokenizer"

local M = {}

local view = require "lacuna.view"

local proxy, target = core.sandbox.proxy, core.sandbox.target
local raise, entry = core.caller.error, core.caller.entry
local json = core.json

local function cannot_modify(name)
  return function(_, k) raise("cannot modify " .. name .. "." .. tostring(k) .. " from a recipe") end
end

local readonly_copy = view.readonly_copy

-- ---- tokenizer --------------------------------------------------------------------

local TOKENIZER = {}
local tok_methods = {}
TOKENIZER.__newindex = cannot_modify("tokenizer")
TOKENIZER.__metatable = "lacuna.tokenizer"
TOKENIZER.__tostring = function(p)
  local t = target(p, TOKENIZER)
  return t.approximate and "lacuna.tokenizer (approximate counter)" or "lacuna.tokenizer (" .. tostring(t.path) .. ")"
end
-- Fields: approximate (true for the counter), name.
TOKENIZER.__index = function(p, k)
  local t = target(p, TOKENIZER)
  if k == "approximate" then return t.approximate end
  if k == "name" then return t.approximate and "approximate" or t.path end
  return tok_methods[k]
end
for _, name in ipairs({ "count", "encode", "decode", "token_to_id", "id_to_token", "vocab_size" }) do
  tok_methods[name] = entry(function(self, ...)
    local t = target(self, TOKENIZER)
    if not t then raise("bad self: call tokenizer methods as tok:" .. name .. "(...)") end
    if t.approximate and name ~= "count" then
      raise("tokenizer:" .. name .. ": the approximate counter only counts (run with --tokenizer DIR for " ..
        name .. ")")
    end
    return t[name](t, ...)
  end)
end

-- tok:chat(messages[, {add_generation_prompt = bool}]) -> text | nil, message:
-- the messages rendered with the --tokenizer model's chat template (its
-- tokenizer_config.json or chat_template.jinja, loaded on first use), as
-- apply_chat_template(tokenize=False) renders them. A model without a chat
-- template gives nil, message.
tok_methods.chat = entry(function(self, messages, opts)
  local t = target(self, TOKENIZER)
  if not t then raise("bad self: call tokenizer methods as tok:chat(...)") end
  if t.approximate then
    raise("tokenizer:chat: the approximate counter has no chat template (run with --tokenizer DIR)")
  end
  if type(messages) ~= "table" then raise("tokenizer:chat: messages must be a list of {role, content}") end
  if opts ~= nil and type(opts) ~= "table" then raise("tokenizer:chat: options must be a table") end
  local list = {}
  for i, m in ipairs(messages) do
    if type(m) ~= "table" or type(m.role) ~= "string" or type(m.content) ~= "string" then
      raise("tokenizer:chat: messages[" .. i .. "] must be {role = string, content = string}")
    end
    list[i] = { role = m.role, content = m.content }
  end
  if t.chat_template == nil then
    local path = t.path
    if path and path:match("%.json$") then path = path:match("^(.*)/[^/]*$") or "." end
    local tpl, err
    if path then tpl, err = require("lacuna.chat_template").load(path) end
    t.chat_template, t.chat_error = tpl or false, err or "the tokenizer was not loaded from a model directory"
  end
  if not t.chat_template then return nil, t.chat_error end
  return t.chat_template:render(list, { add_generation_prompt = opts and opts.add_generation_prompt and true })
end)

-- The tokenizer object behind a handle made here (for lc.text), or nil.
function M.tokenizer_target(p) return target(p, TOKENIZER) end

-- The handle on the run's tokenizer: the loaded model t, or the approximate
-- counter when t is nil.
function M.tokenizer(t)
  return proxy(TOKENIZER, t or tokenizer_mod.approximate())
end

-- ---- teacher ------------------------------------------------------------------------

-- (The teacher handle is the sandbox view's, as ctx.teacher's.)
local teacher_view = view.teacher

-- ---- run ----------------------------------------------------------------------------

-- The run's state, lacuna's side: st.r (recipe), st.pool (nil outside
-- setup), st.phase ("setup", "finish" or nil), st.inputs, st.reports (key -> JSON text, in order st.report_keys),
-- st.tokenizer (the handle), st.fields (read-only copies).
local RUN = { __newindex = cannot_modify("run"), __metatable = "lacuna.run",
              __tostring = function() return "lacuna.run" end }
local run_methods = {}

local function state(self, fname)
  local st = target(self, RUN)
  if not st then raise("bad self: call run methods as run:" .. fname .. "(...)") end
  return st
end

-- run:records() and run:report() belong to setup and finish (st.phase): from
-- map, a run kept in an upvalue would report in the order items finish,
-- which the concurrency decides.
local function in_phase(st, fname)
  if not st.phase then
    raise("run:" .. fname .. " is available in setup and finish only" ..
      (fname == "report" and " (from map, put statistics in the examples' metadata)" or ""))
  end
end

run_methods.records = entry(function(self)
  local st = state(self, "records")
  in_phase(st, "records")
  return plan.records(st.r, st.inputs, st.read_opts, st)
end)
-- (st.planned: a plan was made, so that a setup that forgets to return it
-- is told, not run over its records.)
run_methods.items = entry(function(self, n)
  local st = state(self, "items")
  local p = plan.items(n)
  st.planned = true
  return p
end)
run_methods.groups = entry(function(self, opts)
  local st = state(self, "groups")
  local p = plan.groups(opts)
  st.planned = true
  return p
end)
-- The data behind lacuna's read-only views (summary, params, run.inputs),
-- copied, so that run:report("counts", summary.counts) reports the counts.
-- Any other value is returned as it is.
local function plain(v)
  if type(v) ~= "userdata" then return v end
  local mt = debug.getmetatable(v)
  local t = mt and mt.__pairs and type(mt.__index) == "table" and mt.__index
  if not t then return v end
  local c = {}
  for k, x in next, t do c[k] = plain(x) end
  return c
end

-- run:report(key, value): value (JSON data: tables, numbers, strings,
-- booleans) is encoded now, so later changes to it do not reach the manifest.
run_methods.report = entry(function(self, key, value)
  local st = state(self, "report")
  in_phase(st, "report")
  if type(key) ~= "string" or key == "" then raise("run:report(key, value): key must be a non-empty string") end
  if not utf8.len(key) then raise("run:report(key, value): key is not valid UTF-8") end
  if value == nil then raise("run:report('" .. key .. "', value): value is nil") end
  local ok, text = pcall(json.encode, plain(value))
  if not ok then
    text = tostring(text)
    -- (the encoder names the path to the fault, which may be thousands of keys deep)
    if #text > 300 then text = text:sub(1, 300) .. "..." end
    raise("run:report('" .. key .. "'): the value is not JSON data: " .. text)
  end
  if not st.reports[key] then st.report_keys[#st.report_keys + 1] = key end
  st.reports[key] = text
end)
function run_methods.log(self, ...)
  state(self, "log")
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  io.stderr:write("[run] ", table.concat(parts, "\t"), "\n")
end

RUN.__index = function(self, k)
  local st = target(self, RUN)
  local m = run_methods[k]
  if m then return m end
  if k == "tokenizer" then return st.tokenizer end
  if k == "teacher" or k == "teachers" then
    if not st.pool then raise("run." .. k .. " is available in setup only") end
    if k == "teacher" then
      st.teacher = st.teacher or teacher_view(st.pool:teacher(nil, nil))
      return st.teacher
    end
    if not st.teachers then
      local made = {}
      st.teachers = proxy({
        __index = function(_, name)
          if type(name) ~= "string" then return nil end
          made[name] = made[name] or teacher_view(st.pool:teacher(name, nil))
          return made[name]
        end,
        __newindex = cannot_modify("run.teachers"),
        __metatable = "lacuna.teachers",
      }, made)
    end
    return st.teachers
  end
  return st.fields[k]
end

-- A run for recipe r: fields {params=, seed=, recipe=, inputs=, format=},
-- tokenizer the loaded model (or nil for the approximate counter).
-- Returns the proxy and its state.
function M.new(r, fields, tok)
  local f = {}
  for k, v in pairs(fields) do f[k] = readonly_copy(v, "run." .. k) end
  local st = { r = r, inputs = fields.inputs or {}, fields = f, reports = {}, report_keys = {}, phase = "setup",
               tokenizer = M.tokenizer(tok) }
  return proxy(RUN, st), st
end

-- The manifest's `report`: the recipe's statistics in the order reported, or nil.
function M.report(st)
  if #st.report_keys == 0 then return nil end
  local out = {}
  for _, k in ipairs(st.report_keys) do out[k] = json.decode(st.reports[k]) end
  return setmetatable(out, { __jsonorder = st.report_keys })
end

return M
