-- The REPL's colon commands. Each takes the session and the rest of the
-- line, writes through session.write and returns true to end the session.
local core = require "lacuna.core"
local usage = require "lacuna.usage"
local runner = require "lacuna.runner"
local conv = require "lacuna.inspect_conv"
local term = require "lacuna.inspect_term"
local pretty = require "lacuna.repl.pretty"
local eval = require "lacuna.repl.eval"

local json = core.json

local M = {}

M.HELP = [[
Lua expressions print their values; statements run. A line that does not
finish a chunk continues on the next one (Ctrl-C drops it). Tab completes
names, fields, methods and commands. Ctrl-C stops a running expression;
Ctrl-D or :quit leaves.

In scope: lc (lacuna), recipe, params, teacher (teacher:chat{messages = ...}),
map(record [, i]) (the recipe's map on one record), example(t) (an Example from
a conversation or an output line), results (the examples of the last :run),
_ (the last value).

:help                 this text
:load RECIPE          load a recipe (a path or a shipped name)
:reload               load the recipe's file again; the teacher cache is kept:
                      a changed request misses it, an unchanged one hits
:params               the recipe's params and their current values
:set KEY VALUE        set a param ("quoted" keeps spaces at the ends), or
                      price MODEL=IN/OUT ($ per 1M tokens), model NAME,
                      seed N, format NAME
:run N                plan, then map the first N items (default 3) and show them
                      (the recipe file as it is now, as lacuna check reads it)
:cost N               estimate the whole run's tokens and dollars from its first
                      N items (default 10), sending nothing
:cache [KEY]          a cached request and its response (KEY or its first
                      characters); without KEY the cache's statistics
:tokens [EXPR]        an example token by token (needs --tokenizer DIR):
                      T trained, . masked, S straddling a mask boundary
:quit                 leave (also Ctrl-D)
]]

local function words(rest)
  local t = {}
  for w in rest:gmatch("%S+") do t[#t + 1] = w end
  return t
end

local function count_arg(rest, default, name)
  local w = words(rest)[1]
  if not w then return default end
  local n = math.tointeger(tonumber(w))
  if not n or n < 1 then usage.error(":%s N: N must be a whole number >= 1, got '%s'", name, w) end
  return n
end

local function need_recipe(s)
  if not s.recipe then usage.error("no recipe loaded (lacuna repl RECIPE, or :load RECIPE)") end
end

function M.help(s)
  s.write(M.HELP)
  s.write("Examples print " .. term.legend(s.color) .. ".\n")
end

function M.quit() return true end
M.q, M.exit = M.quit, M.quit

local function loaded_line(s, r, verb)
  s.write(string.format("%s %s %s (%s, sha256 %s)\n", verb, r.name, r.version, r.source_path, r.sha256:sub(1, 12)))
end

function M.load(s, rest)
  local ref = words(rest)[1]
  if not ref then usage.error(":load RECIPE") end
  loaded_line(s, s:load(ref), "loaded")
end

function M.reload(s)
  need_recipe(s)
  local before = s.recipe.sha256
  local r = s:load()
  loaded_line(s, r, r.sha256 == before and "reloaded (unchanged)" or "reloaded")
  s.write("the teacher cache is kept: requests that did not change are answered from it\n")
end

function M.params(s)
  need_recipe(s)
  local r = s.recipe
  local names = {}
  for k in pairs(r.params) do names[#names + 1] = k end
  table.sort(names)
  if #names == 0 then s.write(r.name .. " has no params\n") end
  for _, k in ipairs(names) do
    local p = r.params[k]
    s.write(string.format("  %-16s %s = %s  (%s; default %s)\n", k, p:type_text(), pretty.value(s.values[k]),
      p.doc or "", p:default_text()))
  end
  local o = s.o
  s.write(string.format("  model %s, seed %d, format %s, cache %s%s\n", o.model or "(none: --model or :set model)",
    o.seed or 0, o.format or r.format or "axolotl", o.cache or ".lacuna/cache.db",
    o.prices and "" or "; no price (:set price MODEL=IN/OUT)"))
end

-- Settings that are not recipe params.
local SETTINGS = {
  price = function(s, v)
    local model, pin, pout = v:match("^(.+)=([%d%.]+)/([%d%.]+)$")
    if not model or not tonumber(pin) or not tonumber(pout) then
      usage.error(":set price MODEL=INPUT/OUTPUT (dollars per 1M tokens), got '%s'", v)
    end
    s.o.prices = s.o.prices or {}
    s.o.prices[model] = { input = tonumber(pin), output = tonumber(pout) }
    s:close() -- the pool takes its prices when made
  end,
  model = function(s, v)
    s.o.model = v
    s:close()
  end,
  seed = function(s, v)
    local n = math.tointeger(tonumber(v))
    if not n then usage.error(":set seed N: N must be an integer, got '%s'", v) end
    s.o.seed = n
  end,
  format = function(s, v) s.o.format = v end,
}

function M.set(s, rest)
  local key, value = rest:match("^%s*(%S+)%s+(.-)%s*$")
  if not key then usage.error(":set KEY VALUE") end
  value = value:match('^"(.*)"$') or value -- "a value with spaces at its ends"
  if s.recipe and s.recipe.params[key] then
    s:set_param(key, value)
    s.write(string.format("%s = %s\n", key, pretty.value(s.values[key])))
  elseif SETTINGS[key] then
    SETTINGS[key](s, value)
    s.write(string.format("%s = %s\n", key, value))
  else
    local known = {}
    for k in pairs(s.recipe and s.recipe.params or {}) do known[#known + 1] = k end
    table.sort(known)
    usage.error(":set %s: not a param of %s (params: %s) nor a setting (price, model, seed, format)", key,
      s.recipe and s.recipe.name or "the session", #known > 0 and table.concat(known, ", ") or "none")
  end
end

-- The options of a check over the first n items, with the session's state.
local function check_options(s, n)
  local co = {}
  for k, v in pairs(s.o) do co[k] = v end
  co.params, co.limit = s.overrides, n
  return co
end

-- A writer collecting what runner.check prints.
local function collector()
  local buf = {}
  return { write = function(self, ...)
    for i = 1, select("#", ...) do buf[#buf + 1] = tostring((select(i, ...))) end
    return self
  end, text = function() return table.concat(buf) end }
end

-- Runs runner.check with the pool as an evaluation (spinner, Ctrl-C).
-- Returns ok, check's counts or the error, what check printed.
local function run_check(s, n, pool)
  local out = collector()
  local ok, res = eval.run_plain(function()
    local _, counts = runner.check(check_options(s, n), out, pool)
    return counts
  end)
  return ok, res, out.text()
end

function M.run(s, rest)
  need_recipe(s)
  local n = count_arg(rest, 3, "run")
  local ok, res, text = run_check(s, n, s:pool())
  if not ok and res == "interrupted" then s:interrupted() end
  local results = {}
  local k = 0
  for line in text:gmatch("[^\n]+") do
    if line:sub(1, 1) == "{" then
      k = k + 1
      local obj = json.decode(line)
      results[#results + 1] = obj
      s.write(term.render(conv.from_record(obj), { color = s.color, title = "result " .. k }))
    else
      s.write((s.color and term.DIM or "") .. line .. (s.color and term.RESET or "") .. "\n")
    end
  end
  for i = #s.results, 1, -1 do s.results[i] = nil end
  for i, v in ipairs(results) do s.results[i] = v end
  if not ok then s.write("error: " .. tostring(res) .. "\n") end
end

-- The number of items a whole run would take: the plan's size, else the
-- records of the inputs (or the recipe's own examples).
local function total_items(s, plan_size)
  if plan_size then return plan_size end
  local inputs = s.o.inputs
  if not inputs or #inputs == 0 then return s.recipe.examples and #s.recipe.examples or 0 end
  local n = 0
  local next_record, close = require("lacuna.plan").reader(inputs)
  while true do
    local v = next_record()
    if v == nil then break end
    n = n + 1
  end
  close()
  return n
end

function M.cost(s, rest)
  need_recipe(s)
  local n = count_arg(rest, 10, "cost")
  local cost = require "lacuna.repl.cost"
  local tok = s:tokenizer()
  local count = tok and function(t) return tok:count(t) end or core.tokenizer.approx_count
  local pool, requests = cost.recording_pool(require "lacuna.teacher", runner.teacher_config(s.o), count)
  local ok, counts = run_check(s, n, pool)
  pcall(pool.close, pool)
  if not ok then
    s.write("error: " .. tostring(counts) .. "\n")
    return
  end
  local sampled = counts.read
  local total = total_items(s, counts.plan_size)
  local e = cost.estimate(requests, sampled, total, s.o.prices)
  s.write(cost.text(e, { sampled = sampled, total = total, approximate = tok == nil }))
end

function M.cache(s, rest)
  local key = words(rest)[1]
  local path = s.o.cache or ".lacuna/cache.db"
  if not core.sys.stat(path) then
    s.write("no cache at " .. path .. " yet\n")
    return
  end
  local c, err = require("lacuna.cache").open(path, { readonly = true })
  if not c then usage.error("cache %s: %s", path, err) end
  if not key then
    local st = c:stats()
    c:close()
    s.write(pretty.value(st) .. "\n")
    return
  end
  local found, many = nil, 0
  c:each(function(row)
    if row.key:sub(1, #key) == key then
      many = many + 1
      found = found or row
      if many > 1 then return false end
    end
  end)
  c:close()
  if not found then usage.error(":cache %s: no cached response has a key starting so", key) end
  if many > 1 then usage.error(":cache %s: several keys start so; give more characters", key) end
  local function decoded(t)
    local ok, v = pcall(json.decode, t or "null")
    return ok and v or t
  end
  s.write(string.format("key %s  model %s  %d prompt + %d completion tokens\n", found.key, found.model or "?",
    found.prompt_tokens, found.completion_tokens))
  s.write("request  " .. pretty.value(decoded(found.request), { depth = 6 }) .. "\n")
  s.write("response " .. pretty.value(decoded(found.body), { depth = 6 }) .. "\n")
end

function M.tokens(s, rest)
  if not s.o.tokenizer then usage.error(":tokens needs --tokenizer DIR (a model's tokenizer.json)") end
  local rt = require "lacuna.repl.tokens"
  local v
  if rest:match("%S") then
    local f, err = eval.compile(rest, s.env)
    if not f then usage.error(":tokens %s: %s", rest, err) end
    local ok, res = eval.run(f)
    if not ok then usage.error("%s", res) end
    v = res[1]
  else
    v = rawget(s.env, "_")
    if v == nil then v = s.results[1] end
    if v == nil then usage.error(":tokens EXPR (an example), or evaluate an example first") end
  end
  local files = s.token_files
  if not files then
    local tokfiles = require("lacuna.tokens").load(s.o.tokenizer, s.o.chat_template)
    files = tokfiles or { tokenizer = s:tokenizer() }
    s.token_files = files
  end
  s.write(rt.show(rt.example_of(v), files, s.color))
end

-- Runs ":name rest"; returns true to quit.
function M.dispatch(s, line)
  local name, rest = line:match("^:(%S*)%s*(.-)%s*$")
  local fn = M[name]
  if type(fn) ~= "function" or name == "dispatch" then
    s.write(string.format("unknown command ':%s' (:help lists them)\n", name))
    return false
  end
  return s:try(fn, s, rest) == true
end

return M
