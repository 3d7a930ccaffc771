-- The evaluator of lacuna.jinja: walks the parser's tree with Jinja2's
-- scoping (a for loop and a macro call open a scope; if does not; a set
-- inside a loop stays in the loop).
local R = require "lacuna.jinja.values"
local F = require "lacuna.jinja.filters"

local M = {}
local cur, fail, str, truthy = R.cur, R.fail, R.str, R.truthy
local list, tuple, undef, func, dict = R.list, R.tuple, R.undef, R.func, R.dict
local Undef, Func, Namespace = R.Undef, R.Func, R.Namespace
local filters, tests = F.filters, F.tests

local EV, EX = {}, {}

local function eval(n, sc) return EV[n.k](n, sc) end

local function lookup(sc, name)
  repeat
    local v = sc.vars[name]
    if v ~= nil then return v end
    sc = sc.parent
  until not sc
  return undef("'" .. name .. "' is undefined")
end

local function eval_args(n, sc)
  local args = {}
  for i, a in ipairs(n.args) do args[i] = eval(a, sc) end
  local kw = R.NOKW
  if #n.kwnames > 0 then
    kw = { names = n.kwnames, map = {} }
    for _, k in ipairs(n.kwnames) do kw.map[k] = eval(n.kwargs[k], sc) end
  end
  return args, kw
end

local function call(f, args, kw)
  local mt = getmetatable(f)
  if mt == Func then return f.fn(args, kw) end
  if mt == Undef then R.undef_error(f) end
  fail("'%s' object is not callable", R.typename(f))
end

EV.const = function(n) return n.v end
EV.name = function(n, sc) return lookup(sc, n.v) end
EV.list = function(n, sc)
  local out = {}
  for i, x in ipairs(n.items) do out[i] = eval(x, sc) end
  return list(out)
end
EV.tuple = function(n, sc)
  local out = {}
  for i, x in ipairs(n.items) do out[i] = eval(x, sc) end
  return tuple(out)
end
EV.dict = function(n, sc)
  local d = dict()
  for i, k in ipairs(n.keys) do R.dict_set(d, eval(k, sc), eval(n.vals[i], sc)) end
  return d
end
EV.getattr = function(n, sc) return R.getattr(eval(n.obj, sc), n.name) end
EV.getitem = function(n, sc) return R.getitem(eval(n.obj, sc), eval(n.key, sc)) end
EV.slice = function(n, sc)
  local obj = eval(n.obj, sc)
  return R.slice(obj, n.start and eval(n.start, sc), n.stop and eval(n.stop, sc), n.step and eval(n.step, sc))
end
EV.call = function(n, sc)
  local f = eval(n.fn, sc)
  local args, kw = eval_args(n, sc)
  local line = cur.line
  local r = call(f, args, kw)
  cur.line = line
  return r
end
local function apply_filter(f, v, sc)
  local args, kw = eval_args(f, sc)
  return filters[f.name](v, args, kw)
end
EV.filter = function(n, sc) return apply_filter(n, eval(n.e, sc), sc) end
EV.test = function(n, sc)
  local v = eval(n.e, sc)
  local args = eval_args(n, sc)
  return tests[n.name](v, args) ~= n.negate
end
EV.bin = function(n, sc)
  local a, b = eval(n.a, sc), eval(n.b, sc)
  if n.op == "~" then return str(a) .. str(b) end
  return R.arith(n.op, a, b)
end
EV["and"] = function(n, sc)
  local a = eval(n.a, sc)
  if not truthy(a) then return a end
  return eval(n.b, sc)
end
EV["or"] = function(n, sc)
  local a = eval(n.a, sc)
  if truthy(a) then return a end
  return eval(n.b, sc)
end
EV["not"] = function(n, sc) return not truthy(eval(n.e, sc)) end
local function unary(sign)
  return function(n, sc)
    local v = eval(n.e, sc)
    if type(v) == "boolean" then v = v and 1 or 0 end
    if type(v) ~= "number" then
      if getmetatable(v) == Undef then R.undef_error(v) end
      fail("bad operand type for unary %s: '%s'", sign == 1 and "+" or "-", R.typename(v))
    end
    return sign == 1 and v or -v
  end
end
EV.neg, EV.pos = unary(-1), unary(1)
EV.compare = function(n, sc)
  local left = eval(n.first, sc)
  for _, o in ipairs(n.ops) do
    local right = eval(o.e, sc)
    local r
    if o.op == "in" then r = R.contains(right, left)
    elseif o.op == "not in" then r = not R.contains(right, left)
    else r = R.compare(o.op, left, right) end
    if not r then return false end
    left = right
  end
  return true
end
EV.cond = function(n, sc)
  if truthy(eval(n.test, sc)) then return eval(n.a, sc) end
  if n.b then return eval(n.b, sc) end
  return undef("the inline if-expression evaluated to false and no else section was defined")
end

-- ---------------------------------------------------------------- statements

local function exec(body, sc, out)
  for i = 1, #body do
    local n = body[i]
    local k = n.k
    if k == "text" then
      out[#out + 1] = n.v
    else
      cur.line = n.line
      if k == "output" then
        out[#out + 1] = str(eval(n.e, sc))
      else
        local sig = EX[k](n, sc, out)
        if sig then return sig end
      end
    end
  end
end

local function assign(target, value, sc)
  if target.k == "name" then
    sc.vars[target.v] = value
  elseif target.k == "tuple" then
    local items = R.items_of(value)
    if #items ~= #target.items then
      if #items > #target.items then fail("too many values to unpack (expected %d)", #target.items) end
      fail("not enough values to unpack (expected %d, got %d)", #target.items, #items)
    end
    for i, t in ipairs(target.items) do sc.vars[t.v] = items[i] end
  elseif target.k == "getattr" then
    local obj = eval(target.obj, sc)
    if getmetatable(obj) ~= Namespace then fail("cannot assign attribute on non-namespace object") end
    R.dict_set(obj, target.name, value)
  else
    fail("cannot assign to this expression")
  end
end

EX["if"] = function(n, sc, out)
  for _, b in ipairs(n.branches) do
    if truthy(eval(b.cond, sc)) then return exec(b.body, sc, out) end
  end
  if n.else_body then return exec(n.else_body, sc, out) end
end

local LOOP_KEYS = { "index", "index0", "revindex", "revindex0", "first", "last", "length",
                    "previtem", "nextitem", "depth", "depth0", "cycle" }

EX["for"] = function(n, sc, out)
  -- each iteration gets a fresh scope: a set in the body does not carry
  -- over to the next iteration (that is what namespace() is for)
  local items = R.items_of(eval(n.iter, sc))
  if n.cond then
    local kept = {}
    for _, x in ipairs(items) do
      local ts = { vars = {}, parent = sc }
      assign(n.target, x, ts)
      if truthy(eval(n.cond, ts)) then kept[#kept + 1] = x end
    end
    items = kept
  end
  local count = #items
  if count == 0 then
    if n.else_body then return exec(n.else_body, { vars = {}, parent = sc }, out) end
    return
  end
  local index0 = 0
  local cycle = func("cycle", function(args)
    if #args == 0 then fail("no items for cycling given") end
    return args[index0 % #args + 1]
  end)
  for i = 1, count do
    index0 = i - 1
    local x = items[i]
    local ls = { vars = {}, parent = sc }
    ls.vars.loop = dict(LOOP_KEYS, {
      index = i, index0 = i - 1, revindex = count - i + 1, revindex0 = count - i,
      first = i == 1, last = i == count, length = count,
      previtem = i > 1 and items[i - 1] or undef("there is no previous item"),
      nextitem = i < count and items[i + 1] or undef("there is no next item"),
      depth = 1, depth0 = 0, cycle = cycle,
    })
    assign(n.target, x, ls)
    local sig = exec(n.body, ls, out)
    if sig == "break" then break end
  end
end

EX.set = function(n, sc) assign(n.target, eval(n.e, sc), sc) end

EX.setblock = function(n, sc)
  local buf = {}
  exec(n.body, sc, buf)
  local v = table.concat(buf)
  for _, f in ipairs(n.filters) do v = apply_filter(f, v, sc) end
  assign(n.target, v, sc)
end

-- Binds a macro's (or caller's) parameters in a new scope.
local function bind_params(params, args, kw, parent)
  local ms = { vars = {}, parent = parent }
  local known = {}
  for i, p in ipairs(params) do
    known[p.name] = true
    local v = args[i]
    if v == nil then v = kw.map[p.name] end
    if v == nil then
      if p.default then v = eval(p.default, ms)
      else v = undef("parameter '" .. p.name .. "' was not provided") end
    end
    ms.vars[p.name] = v
  end
  local extra = {}
  for i = #params + 1, #args do extra[#extra + 1] = args[i] end
  ms.vars.varargs = list(extra)
  local kwargs = dict()
  for _, k in ipairs(kw.names) do
    if k == "caller" then ms.vars.caller = kw.map[k]
    elseif not known[k] then R.dict_set(kwargs, k, kw.map[k]) end
  end
  ms.vars.kwargs = kwargs
  return ms
end

-- The body of a macro or a call block as a callable: binds the arguments in a
-- new scope over sc and renders the body to a string.
local function body_function(name, n, sc)
  return func(name, function(args, kw)
    local line = cur.line
    local ms = bind_params(n.params, args, kw, sc)
    local buf = {}
    exec(n.body, ms, buf)
    cur.line = line
    return table.concat(buf)
  end)
end

EX.macro = function(n, sc)
  sc.vars[n.name] = body_function(n.name, n, sc)
end

EX.callblock = function(n, sc, out)
  local caller = body_function("caller", n, sc)
  local f = eval(n.call.fn, sc)
  local args, kw = eval_args(n.call, sc)
  local names = table.move(kw.names, 1, #kw.names, 1, {})
  local map = {}
  for k, v in pairs(kw.map) do map[k] = v end
  names[#names + 1] = "caller"
  map.caller = caller
  out[#out + 1] = str(call(f, args, { names = names, map = map }))
end

EX.filterblock = function(n, sc, out)
  local buf = {}
  exec(n.body, sc, buf)
  local v = table.concat(buf)
  for _, f in ipairs(n.filters) do v = apply_filter(f, v, sc) end
  out[#out + 1] = str(v)
end

EX.with = function(n, sc, out)
  local ws = { vars = {}, parent = sc }
  for i, name in ipairs(n.names) do ws.vars[name] = eval(n.vals[i], sc) end
  return exec(n.body, ws, out)
end

EX["break"] = function() return "break" end
EX["continue"] = function() return "continue" end

-- ---------------------------------------------------------------- globals

local G = { vars = {} }
G.vars.range = func("range", function(args)
  local a, b, step = args[1], args[2], args[3] or 1
  if b == nil then a, b = 0, a end
  for _, v in ipairs { a, b, step } do
    if math.type(v) ~= "integer" then fail("range() arguments must be integers, not %s", R.typename(v)) end
  end
  if step == 0 then fail("range() arg 3 must not be zero") end
  local out = {}
  if (step > 0 and a < b) or (step < 0 and a > b) then
    local count = (step > 0) and ((b - a + step - 1) // step) or ((a - b - step - 1) // -step)
    if count > 1000000 then fail("range() too big (%d items)", count) end
    for i = 0, count - 1 do out[#out + 1] = a + i * step end
  end
  return list(out)
end)
G.vars.dict = func("dict", function(args, kw)
  local d = dict()
  if args[1] ~= nil then
    local src = args[1]
    if getmetatable(src) == R.Dict then
      for _, k in ipairs(src.keys) do R.dict_set(d, k, src.map[k]) end
    else
      for _, p in ipairs(R.items_of(src)) do
        local kv = R.items_of(p)
        R.dict_set(d, kv[1], kv[2])
      end
    end
  end
  for _, k in ipairs(kw.names) do R.dict_set(d, k, kw.map[k]) end
  return d
end)
G.vars.namespace = func("namespace", function(args, kw)
  local d = G.vars.dict.fn(args, kw)
  return setmetatable(d, Namespace)
end)
G.vars.raise_exception = func("raise_exception", function(args)
  fail("%s", str(args[1] == nil and "" or args[1]))
end)
G.vars.strftime_now = func("strftime_now", function(args)
  local fmt = args[1]
  if type(fmt) ~= "string" then fail("strftime_now: format must be a string") end
  local ok, s = pcall(os.date, fmt)
  if not ok then fail("strftime_now: %s", tostring(s)) end
  return s
end)
M.globals = G

function M.render(tpl, vars)
  local saved_name, saved_line = cur.name, cur.line
  cur.name, cur.line = tpl.name, 0
  local ok, res = pcall(function()
    local top = { vars = {}, parent = G }
    for k, v in pairs(vars) do
      if type(k) == "string" then top.vars[k] = R.from_lua(v) end
    end
    local out = {}
    exec(tpl.body, top, out)
    return table.concat(out)
  end)
  local line = cur.line
  cur.name, cur.line = saved_name, saved_line
  if ok then return res end
  if type(res) == "table" and res.jinja then return nil, res.msg end
  -- A Lua error inside the evaluator (e.g. a stack overflow from a recursive
  -- macro) is the template's fault: name the template, not eval.lua.
  local msg = tostring(res):gsub("^[^\n]-lua/lacuna/[%w_/]+%.lua:%d+: ", "")
  return nil, tpl.name .. ":" .. line .. ": " .. msg
end

return M
