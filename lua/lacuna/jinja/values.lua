-- Python's values for lacuna.jinja (filters, tests and the evaluator build on them).
--
-- Python values in Lua: str = string, int/float = integer/float, bool =
-- boolean, None = lacuna.null (NONE), and tables with the metatables below
-- for list, tuple, dict (ordered keys), namespace, undefined and callables.
-- Render variables are converted once on entry, so the evaluator only ever
-- sees these forms.
local M = {}

local ok_core, core = pcall(require, "lacuna.core")
local json = ok_core and core.json or nil
local NONE = json and json.null or setmetatable({}, { __name = "jinja.None" })
M.NONE = NONE

local List = { __name = "jinja.list" }
local Tuple = { __name = "jinja.tuple" }
local Dict = { __name = "jinja.dict" }       -- { keys = {k...}, map = {k = v} }
local Namespace = { __name = "jinja.namespace" } -- same shape as Dict
local Undef = { __name = "jinja.undefined" } -- { hint = message for errors }
local Func = { __name = "jinja.function" }   -- { name = ..., fn = function(args, kw) }
M.List, M.Tuple, M.Dict, M.Namespace, M.Undef, M.Func = List, Tuple, Dict, Namespace, Undef, Func

-- The template being rendered: its name and the line of the statement
-- running, for error messages.
local cur = { name = "template", line = 0 }

local function fail(msg, ...)
  if select("#", ...) > 0 then msg = string.format(msg, ...) end
  error({ jinja = true, msg = cur.name .. ":" .. cur.line .. ": " .. msg }, 0)
end
M.fail = fail

local function list(t) return setmetatable(t or {}, List) end
local function tuple(t) return setmetatable(t or {}, Tuple) end
local function undef(hint) return setmetatable({ hint = hint }, Undef) end
local function func(name, fn) return setmetatable({ name = name, fn = fn }, Func) end
local function dict(keys, map) return setmetatable({ keys = keys or {}, map = map or {} }, Dict) end
M.list, M.tuple, M.undef, M.func, M.dict = list, tuple, undef, func, dict

local function dict_set(d, k, v)
  if d.map[k] == nil then d.keys[#d.keys + 1] = k end
  d.map[k] = v
end

local function is_seq(v)
  local mt = getmetatable(v)
  return mt == List or mt == Tuple
end

local function typename(v)
  local t = type(v)
  if t == "string" then return "str" end
  if t == "boolean" then return "bool" end
  if t == "number" then return math.type(v) == "integer" and "int" or "float" end
  if v == NONE then return "NoneType" end
  local mt = getmetatable(v)
  if mt == List then return "list" end
  if mt == Tuple then return "tuple" end
  if mt == Dict then return "dict" end
  if mt == Namespace then return "Namespace" end
  if mt == Undef then return "Undefined" end
  if mt == Func then return "function" end
  return t
end
M.typename = typename

local function undef_error(u) fail("%s", u.hint or "undefined value") end

-- ------------------------------------------------------------ conversion

-- Lua value -> template value (once per render).
local function from_lua(v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return v end
  if v == nil or v == NONE then return NONE end
  if t == "function" then
    return func("function", function(args, kw)
      local kwt = {}
      for _, k in ipairs(kw.names) do kwt[k] = kw.map[k] end
      local n = #args
      if #kw.names > 0 then args[n + 1] = kwt; n = n + 1 end
      return from_lua(v(table.unpack(args, 1, n)))
    end)
  end
  if t ~= "table" then fail("cannot use a Lua %s as a template value", t) end
  local mt = getmetatable(v)
  if mt == List or mt == Tuple or mt == Dict or mt == Namespace or mt == Undef or mt == Func then return v end
  local n, count = #v, 0
  for _ in pairs(v) do count = count + 1 end
  local as_list
  if count == 0 then
    as_list = json ~= nil and json.encode(v) == "[]"
  else
    as_list = n == count and n > 0
  end
  if as_list then
    local out = {}
    for i = 1, n do out[i] = from_lua(v[i]) end
    return list(out)
  end
  -- a dict: keys named in __jsonorder first, the rest sorted (numbers
  -- before strings), as lacuna.json orders them
  local keys, seen = {}, {}
  local order = type(mt) == "table" and rawget(mt, "__jsonorder")
  if type(order) == "table" then
    for _, k in ipairs(order) do
      if v[k] ~= nil and not seen[k] then keys[#keys + 1] = k; seen[k] = true end
    end
  end
  local rest = {}
  for k in pairs(v) do if not seen[k] then rest[#rest + 1] = k end end
  table.sort(rest, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta == "number" end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  local map = {}
  for _, k in ipairs(keys) do map[k] = from_lua(v[k]) end
  return dict(keys, map)
end
M.from_lua = from_lua

-- ------------------------------------------------------------ strings

local CHARPAT = "[\0-\x7F\xC0-\xFF][\x80-\xBF]*"

local function chars(s)
  local out = {}
  for c in s:gmatch(CHARPAT) do out[#out + 1] = c end
  return out
end

local function ulen(s) return utf8.len(s) or #chars(s) end

-- Python's str.isspace() set
local SPACE = { [" "] = true, ["\t"] = true, ["\n"] = true, ["\r"] = true, ["\v"] = true, ["\f"] = true,
                ["\x1c"] = true, ["\x1d"] = true, ["\x1e"] = true, ["\x1f"] = true,
                ["\u{85}"] = true, ["\u{a0}"] = true, ["\u{1680}"] = true, ["\u{2028}"] = true,
                ["\u{2029}"] = true, ["\u{202f}"] = true, ["\u{205f}"] = true, ["\u{3000}"] = true }
for cp = 0x2000, 0x200a do SPACE[utf8.char(cp)] = true end

-- The set of characters a strip/lstrip/rstrip removes: Python whitespace,
-- or each character of `chars_arg`.
local function strip_set(chars_arg)
  if chars_arg == nil or chars_arg == NONE or getmetatable(chars_arg) == Undef then return SPACE end
  if type(chars_arg) ~= "string" then fail("strip arg must be None or str, not %s", typename(chars_arg)) end
  local set = {}
  for _, c in ipairs(chars(chars_arg)) do set[c] = true end
  return set
end

local function lstrip(s, set)
  local i = 1
  while i <= #s do
    local c = s:match(CHARPAT, i)
    if not set[c] then break end
    i = i + #c
  end
  return s:sub(i)
end

local function rstrip(s, set)
  local j = #s
  while j >= 1 do
    local a = j
    while a > 1 and a > j - 3 and s:byte(a) >= 0x80 and s:byte(a) < 0xC0 do a = a - 1 end
    if not set[s:sub(a, j)] then break end
    j = a - 1
  end
  return s:sub(1, j)
end
M.lstrip, M.rstrip, M.SPACE = lstrip, rstrip, SPACE

local function is_space_char(c) return SPACE[c] == true end

-- Python's repr() of a float: the shortest digits that round-trip, fixed
-- notation for exponents -4..15, else d.ddde+XX.
local function float_repr(x)
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  local s
  for p = 0, 16 do
    s = string.format("%." .. p .. "e", x)
    if tonumber(s) == x then break end
  end
  local sign, d1, rest, exp = s:match("^(-?)(%d)%.?(%d*)e([-+]%d+)$")
  local digits = (d1 .. rest):gsub("0+$", "")
  if digits == "" then digits = "0" end
  exp = tonumber(exp)
  if exp >= -4 and exp < 16 then
    if exp >= 0 then
      if #digits <= exp + 1 then
        return sign .. digits .. string.rep("0", exp + 1 - #digits) .. ".0"
      end
      return sign .. digits:sub(1, exp + 1) .. "." .. digits:sub(exp + 2)
    end
    return sign .. "0." .. string.rep("0", -exp - 1) .. digits
  end
  local m = digits:sub(1, 1)
  if #digits > 1 then m = m .. "." .. digits:sub(2) end
  return string.format("%s%se%s%02d", sign, m, exp < 0 and "-" or "+", math.abs(exp))
end
M.float_repr = float_repr

local function num_str(v)
  if math.type(v) == "integer" then return string.format("%d", v) end
  return float_repr(v)
end

local str, repr

local function repr_string(s)
  local q = (s:find("'", 1, true) and not s:find('"', 1, true)) and '"' or "'"
  local out = s:gsub("[%c\\'\"]", function(c)
    if c == "\\" then return "\\\\" end
    if c == q then return "\\" .. c end
    if c == "'" or c == '"' then return c end
    if c == "\n" then return "\\n" end
    if c == "\r" then return "\\r" end
    if c == "\t" then return "\\t" end
    return string.format("\\x%02x", c:byte())
  end)
  return q .. out .. q
end

local function seq_repr(items, open, close, single_comma)
  local parts = {}
  for i, x in ipairs(items) do parts[i] = repr(x) end
  local body = table.concat(parts, ", ")
  if single_comma and #items == 1 then body = body .. "," end
  return open .. body .. close
end

local function dict_repr(d)
  local parts = {}
  for i, k in ipairs(d.keys) do parts[i] = repr(k) .. ": " .. repr(d.map[k]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- Python's str()
function str(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return num_str(v) end
  if t == "boolean" then return v and "True" or "False" end
  if v == NONE then return "None" end
  local mt = getmetatable(v)
  if mt == Undef then return "" end
  if mt == List then return seq_repr(v, "[", "]") end
  if mt == Tuple then return seq_repr(v, "(", ")", true) end
  if mt == Dict then return dict_repr(v) end
  if mt == Namespace then return "<Namespace " .. dict_repr(v) .. ">" end
  if mt == Func then return "<function " .. tostring(v.name) .. ">" end
  return tostring(v)
end

function repr(v)
  if type(v) == "string" then return repr_string(v) end
  if getmetatable(v) == Undef then return "Undefined" end
  return str(v)
end
M.str, M.repr = str, repr

-- transformers' tojson: json.dumps(x, ensure_ascii=False, indent=indent,
-- separators=separators, sort_keys=sort_keys)
local function json_string(s, ascii)
  local out = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\r" then return "\\r" end
    if c == "\t" then return "\\t" end
    if c == "\b" then return "\\b" end
    if c == "\f" then return "\\f" end
    if c == "\127" then return c end
    return string.format("\\u%04x", c:byte())
  end)
  if ascii then
    out = out:gsub("[\xC0-\xFF][\x80-\xBF]*", function(c)
      local ok, cp = pcall(utf8.codepoint, c)
      if not ok then return c end
      if cp < 0x10000 then return string.format("\\u%04x", cp) end
      cp = cp - 0x10000
      return string.format("\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF))
    end)
  end
  return '"' .. out .. '"'
end

local function json_key(k, ascii)
  if type(k) == "string" then return json_string(k, ascii) end
  if type(k) == "boolean" then return k and '"true"' or '"false"' end
  if k == NONE then return '"null"' end
  if type(k) == "number" then return '"' .. num_str(k) .. '"' end
  fail("keys must be str, int, float, bool or None, not %s", typename(k))
end

local function tojson(v, o, level)
  local t = type(v)
  if t == "string" then return json_string(v, o.ascii) end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then
    if v ~= v then return "NaN" end
    if v == math.huge then return "Infinity" end
    if v == -math.huge then return "-Infinity" end
    return num_str(v)
  end
  if v == NONE then return "null" end
  local mt = getmetatable(v)
  local nl = o.indent and ("\n" .. string.rep(o.indent, level + 1)) or ""
  local nl_close = o.indent and ("\n" .. string.rep(o.indent, level)) or ""
  if mt == List or mt == Tuple then
    if #v == 0 then return "[]" end
    local parts = {}
    for i, x in ipairs(v) do parts[i] = tojson(x, o, level + 1) end
    return "[" .. nl .. table.concat(parts, o.item_sep .. nl) .. nl_close .. "]"
  end
  if mt == Dict then
    if #v.keys == 0 then return "{}" end
    local keys = v.keys
    if o.sort_keys then
      keys = table.move(keys, 1, #keys, 1, {})
      table.sort(keys, function(a, b)
        if type(a) ~= type(b) then fail("'<' not supported between instances of '%s' and '%s'", typename(a), typename(b)) end
        return a < b
      end)
    end
    local parts = {}
    for i, k in ipairs(keys) do
      parts[i] = json_key(k, o.ascii) .. o.key_sep .. tojson(v.map[k], o, level + 1)
    end
    return "{" .. nl .. table.concat(parts, o.item_sep .. nl) .. nl_close .. "}"
  end
  fail("Object of type %s is not JSON serializable", typename(v))
end

local function to_json(v, indent, separators, sort_keys, ensure_ascii)
  local o = { ascii = ensure_ascii and true or false, sort_keys = sort_keys and true or false }
  if indent ~= nil and indent ~= NONE then
    if math.type(indent) == "integer" then o.indent = string.rep(" ", indent)
    elseif type(indent) == "string" then o.indent = indent
    else fail("tojson: indent must be an int or a string") end
  end
  if separators ~= nil and separators ~= NONE then
    if not is_seq(separators) or #separators ~= 2 then fail("tojson: separators must be a pair of strings") end
    o.item_sep, o.key_sep = str(separators[1]), str(separators[2])
  else
    o.item_sep, o.key_sep = o.indent and "," or ", ", ": "
  end
  return tojson(v, o, 0)
end
M.to_json = to_json

-- ------------------------------------------------------------ semantics

local function truthy(v)
  if v == false or v == nil or v == NONE then return false end
  local t = type(v)
  if t == "number" then return v ~= 0 end
  if t == "string" then return v ~= "" end
  if t == "table" then
    local mt = getmetatable(v)
    if mt == List or mt == Tuple then return #v > 0 end
    if mt == Dict then return #v.keys > 0 end
    if mt == Undef then return false end
  end
  return true
end
M.truthy = truthy

local function numeric(v)
  -- bool is an int in Python arithmetic
  if type(v) == "boolean" then return v and 1 or 0 end
  if type(v) == "number" then return v end
  return nil
end

local function eq(a, b)
  if a == b then return true end
  local na, nb = numeric(a), numeric(b)
  if na and nb then return na == nb end
  local ma, mb = getmetatable(a), getmetatable(b)
  if type(a) ~= "table" or type(b) ~= "table" or ma ~= mb then return false end
  if ma == List or ma == Tuple then
    if #a ~= #b then return false end
    for i = 1, #a do if not eq(a[i], b[i]) then return false end end
    return true
  end
  if ma == Dict or ma == Namespace then
    if #a.keys ~= #b.keys then return false end
    for _, k in ipairs(a.keys) do
      local bv = b.map[k]
      if bv == nil or not eq(a.map[k], bv) then return false end
    end
    return true
  end
  return ma == Undef
end
M.eq = eq

local function lt(a, b, op)
  local na, nb = numeric(a), numeric(b)
  if na and nb then return na < nb end
  if type(a) == "string" and type(b) == "string" then return a < b end
  if is_seq(a) and getmetatable(a) == getmetatable(b) then
    for i = 1, math.min(#a, #b) do
      if not eq(a[i], b[i]) then return lt(a[i], b[i], op) end
    end
    return #a < #b
  end
  if getmetatable(a) == Undef then undef_error(a) end
  if getmetatable(b) == Undef then undef_error(b) end
  fail("'%s' not supported between instances of '%s' and '%s'", op or "<", typename(a), typename(b))
end

local function compare(op, a, b)
  if op == "==" then return eq(a, b) end
  if op == "!=" then return not eq(a, b) end
  if op == "<" then return lt(a, b, op) end
  if op == ">" then return lt(b, a, op) end
  if op == "<=" then return not lt(b, a, op) end
  if op == ">=" then return not lt(a, b, op) end
  fail("unknown comparison %s", op)
end

local function contains(container, item)
  if type(container) == "string" then
    if type(item) ~= "string" then fail("'in <string>' requires string as left operand, not %s", typename(item)) end
    return container:find(item, 1, true) ~= nil
  end
  local mt = getmetatable(container)
  if mt == List or mt == Tuple then
    for _, x in ipairs(container) do if eq(x, item) then return true end end
    return false
  end
  if mt == Dict then
    if container.map[item] ~= nil then return true end
    if type(item) == "boolean" then return container.map[item and 1 or 0] ~= nil end
    return false
  end
  if mt == Undef then return false end
  fail("argument of type '%s' is not iterable", typename(container))
end
M.contains = contains

-- Items of an iterable, as an array.
local function items_of(v)
  local mt = getmetatable(v)
  if mt == List or mt == Tuple then return v end
  if type(v) == "string" then return chars(v) end
  if mt == Dict then return table.move(v.keys, 1, #v.keys, 1, {}) end
  if mt == Undef then return {} end
  fail("'%s' object is not iterable", typename(v))
end
M.items_of = items_of

local function length(v)
  if type(v) == "string" then return ulen(v) end
  local mt = getmetatable(v)
  if mt == List or mt == Tuple then return #v end
  if mt == Dict then return #v.keys end
  if mt == Undef then return 0 end
  fail("object of type '%s' has no len()", typename(v))
end

local function int_pow(a, b)
  local r = 1
  while b > 0 do
    if b & 1 == 1 then r = r * a end
    a = a * a
    b = b >> 1
  end
  return r
end

local function arith(op, a, b)
  if getmetatable(a) == Undef then undef_error(a) end
  if getmetatable(b) == Undef then undef_error(b) end
  local na, nb = numeric(a), numeric(b)
  if na and nb then
    if op == "+" then return na + nb end
    if op == "-" then return na - nb end
    if op == "*" then return na * nb end
    if op == "/" then
      if nb == 0 then fail("division by zero") end
      return na / nb
    end
    if op == "//" or op == "%" then
      if nb == 0 then fail("integer division or modulo by zero") end
      if op == "//" then return na // nb end
      return na % nb
    end
    if op == "**" then
      if math.type(na) == "integer" and math.type(nb) == "integer" and nb >= 0 then return int_pow(na, nb) end
      return (na + 0.0) ^ nb
    end
  end
  local ta, tb = type(a), type(b)
  if op == "+" then
    if ta == "string" and tb == "string" then return a .. b end
    local ma, mb = getmetatable(a), getmetatable(b)
    if (ma == List or ma == Tuple) and ma == mb then
      local out = table.move(a, 1, #a, 1, {})
      table.move(b, 1, #b, #out + 1, out)
      return setmetatable(out, ma)
    end
    if ta == "string" then fail('can only concatenate str (not "%s") to str', typename(b)) end
  elseif op == "*" then
    local s, n = a, nb
    if not (ta == "string" or is_seq(a)) then s, n = b, na end
    if n and math.type(n) == "integer" then
      if type(s) == "string" then return n > 0 and s:rep(n) or "" end
      if is_seq(s) then
        local out = {}
        for _ = 1, n do table.move(s, 1, #s, #out + 1, out) end
        return setmetatable(out, getmetatable(s))
      end
    end
  elseif op == "%" and ta == "string" then
    fail("unsupported: string formatting with '%s'", "%")
  end
  fail("unsupported operand type(s) for %s: '%s' and '%s'", op, typename(a), typename(b))
end
M.arith = arith

-- Python slicing of an array of items.
local function slice_items(items, start, stop, step)
  local n = #items
  local function idx(v, what)
    if v == nil or v == NONE or getmetatable(v) == Undef then return nil end
    v = numeric(v)
    if math.type(v) ~= "integer" then fail("slice indices must be integers or None") end
    return v
  end
  start, stop, step = idx(start), idx(stop), idx(step) or 1
  if step == 0 then fail("slice step cannot be zero") end
  local out = {}
  if step > 0 then
    start = start == nil and 0 or (start < 0 and math.max(start + n, 0) or math.min(start, n))
    stop = stop == nil and n or (stop < 0 and math.max(stop + n, 0) or math.min(stop, n))
    for i = start, stop - 1, step do out[#out + 1] = items[i + 1] end
  else
    start = start == nil and n - 1 or (start < 0 and math.max(start + n, -1) or math.min(start, n - 1))
    stop = stop == nil and -1 or (stop < 0 and math.max(stop + n, -1) or math.min(stop, n - 1))
    for i = start, stop + 1, step do out[#out + 1] = items[i + 1] end
  end
  return out
end

local function do_slice(obj, start, stop, step)
  if type(obj) == "string" then return table.concat(slice_items(chars(obj), start, stop, step)) end
  local mt = getmetatable(obj)
  if mt == List or mt == Tuple then return setmetatable(slice_items(obj, start, stop, step), mt) end
  if mt == Undef then undef_error(obj) end
  fail("'%s' object is not subscriptable", typename(obj))
end
M.slice = do_slice

-- ------------------------------------------------------------ attributes

local str_methods, dict_methods = {}, {}

local function bound(methods, obj, name)
  local m = methods[name]
  if not m then return nil end
  return func(name, function(args, kw) return m(obj, args, kw) end)
end

local function obj_desc(obj)
  local tn = typename(obj)
  if tn == "NoneType" then return "None" end
  return "'" .. tn .. " object'"
end

-- obj.name (Jinja: attribute first, then item)
local function getattr(obj, name)
  local t = type(obj)
  if t == "string" then
    return bound(str_methods, obj, name) or undef(string.format("'str object' has no attribute '%s'", name))
  end
  local mt = getmetatable(obj)
  if mt == Dict then
    local m = bound(dict_methods, obj, name)
    if m then return m end
    local v = obj.map[name]
    if v ~= nil then return v end
  elseif mt == Namespace then
    local v = obj.map[name]
    if v ~= nil then return v end
  elseif mt == Undef then
    undef_error(obj)
  end
  return undef(string.format("%s has no attribute '%s'", obj_desc(obj), name))
end
M.getattr = getattr

-- obj[key] (Jinja: item first, then attribute)
local function getitem(obj, key)
  local mt = getmetatable(obj)
  if mt == Undef then undef_error(obj) end
  local k = key
  if type(k) == "boolean" then k = k and 1 or 0 end
  if mt == List or mt == Tuple or type(obj) == "string" then
    if math.type(k) == "integer" then
      local items = type(obj) == "string" and chars(obj) or obj
      local i = k < 0 and #items + k + 1 or k + 1
      local v = items[i]
      if v ~= nil and i >= 1 then return v end
      return undef(string.format("%s has no element %d", obj_desc(obj), k))
    end
  elseif mt == Dict or mt == Namespace then
    local v = obj.map[key]
    if v == nil and type(key) == "boolean" then v = obj.map[k] end
    if v ~= nil then return v end
  end
  if type(key) == "string" then return getattr(obj, key) end
  return undef(string.format("%s has no element %s", obj_desc(obj), repr(key)))
end
M.getitem = getitem

-- "a.b.0" as Jinja's attribute filters resolve it
local function getpath(obj, path)
  if type(path) ~= "string" then return getitem(obj, path) end
  for part in path:gmatch("[^.]+") do
    local n = math.tointeger(tonumber(part))
    if getmetatable(obj) == Undef then return obj end
    obj = getitem(obj, n or part)
  end
  return obj
end

-- ------------------------------------------------------------ arguments

-- Binds positional args and kwargs to named parameters with defaults:
-- spec = { {"name", default}, ... } ; a default of `nil` means required.
local function bind(fname, spec, args, kw)
  local out = {}
  for i, p in ipairs(spec) do
    local v = args[i]
    if v == nil then v = kw.map[p[1]] end
    if v == nil then v = p[2] end
    out[i] = v
  end
  if #args > #spec then fail("%s() takes at most %d arguments (%d given)", fname, #spec, #args) end
  for _, k in ipairs(kw.names) do
    local known = false
    for _, p in ipairs(spec) do if p[1] == k then known = true end end
    if not known then fail("%s() got an unexpected keyword argument '%s'", fname, k) end
  end
  return table.unpack(out, 1, #spec)
end

local NOKW = { names = {}, map = {} }
M.NOKW = NOKW

local function need_str(v, what)
  if type(v) ~= "string" then fail("%s must be a string, not %s", what, typename(v)) end
  return v
end

-- ------------------------------------------------------------ str methods

local function upper(s) return (s:upper()) end
local function lower(s) return (s:lower()) end

local function py_title(s)
  -- str.title(): a cased character after an uncased one starts a word
  local prev_cased = false
  return (s:gsub(CHARPAT, function(c)
    local cased = c:match("^%a$") ~= nil
    local r = c
    if cased then r = prev_cased and c:lower() or c:upper() end
    prev_cased = cased
    return r
  end))
end

local function capitalize(s)
  local first = s:match(CHARPAT) or ""
  return first:upper() .. s:sub(#first + 1):lower()
end

local function split_ws(s, maxsplit)
  local out = {}
  local i, n = 1, #s
  while true do
    while i <= n do
      local c = s:match(CHARPAT, i)
      if not is_space_char(c) then break end
      i = i + #c
    end
    if i > n then break end
    if maxsplit >= 0 and #out >= maxsplit then
      out[#out + 1] = s:sub(i)
      break
    end
    local j = i
    while j <= n do
      local c = s:match(CHARPAT, j)
      if is_space_char(c) then break end
      j = j + #c
    end
    out[#out + 1] = s:sub(i, j - 1)
    i = j
  end
  return out
end

local function split_sep(s, sep, maxsplit)
  if sep == "" then fail("empty separator") end
  local out, i = {}, 1
  while maxsplit < 0 or #out < maxsplit do
    local a, b = s:find(sep, i, true)
    if not a then break end
    out[#out + 1] = s:sub(i, a - 1)
    i = b + 1
  end
  out[#out + 1] = s:sub(i)
  return out
end

local function py_replace(s, old, new, count)
  count = (count == nil or count == NONE) and -1 or count
  if old == "" then
    local cs, out, done = chars(s), {}, 0
    for i = 1, #cs + 1 do
      if count < 0 or done < count then out[#out + 1] = new; done = done + 1 end
      out[#out + 1] = cs[i]
    end
    return table.concat(out)
  end
  local out, i, done = {}, 1, 0
  while count < 0 or done < count do
    local a, b = s:find(old, i, true)
    if not a then break end
    out[#out + 1] = s:sub(i, a - 1)
    out[#out + 1] = new
    i = b + 1
    done = done + 1
  end
  out[#out + 1] = s:sub(i)
  return table.concat(out)
end

local function affix_test(name, s, arg, at_start)
  local cands = is_seq(arg) and arg or { arg }
  for _, p in ipairs(cands) do
    if type(p) ~= "string" then fail("%s arg must be str or a tuple of str, not %s", name, typename(p)) end
    if at_start and s:sub(1, #p) == p then return true end
    if not at_start and (p == "" or s:sub(-#p) == p) then return true end
  end
  return false
end

str_methods.strip = function(s, a, kw)
  local set = strip_set(bind("strip", { { "chars" } }, a, kw))
  return rstrip(lstrip(s, set), set)
end
str_methods.lstrip = function(s, a, kw) return lstrip(s, strip_set(bind("lstrip", { { "chars" } }, a, kw))) end
str_methods.rstrip = function(s, a, kw) return rstrip(s, strip_set(bind("rstrip", { { "chars" } }, a, kw))) end
str_methods.upper = function(s) return upper(s) end
str_methods.lower = function(s) return lower(s) end
str_methods.title = function(s) return py_title(s) end
str_methods.capitalize = function(s) return capitalize(s) end
str_methods.split = function(s, a, kw)
  local sep, maxsplit = bind("split", { { "sep", NONE }, { "maxsplit", -1 } }, a, kw)
  if sep == NONE then return list(split_ws(s, maxsplit)) end
  return list(split_sep(s, need_str(sep, "sep"), maxsplit))
end
str_methods.rsplit = function(s, a, kw)
  local sep, maxsplit = bind("rsplit", { { "sep", NONE }, { "maxsplit", -1 } }, a, kw)
  if maxsplit >= 0 then fail("unsupported: str.rsplit with maxsplit") end
  if sep == NONE then return list(split_ws(s, -1)) end
  return list(split_sep(s, need_str(sep, "sep"), -1))
end
str_methods.splitlines = function(s)
  local out = {}
  for line in (s .. "\n"):gmatch("(.-)\r?\n") do out[#out + 1] = line end
  if s == "" or s:sub(-1) == "\n" then out[#out] = nil end
  return list(out)
end
str_methods.startswith = function(s, a, kw) return affix_test("startswith", s, bind("startswith", { { "prefix" } }, a, kw), true) end
str_methods.endswith = function(s, a, kw) return affix_test("endswith", s, bind("endswith", { { "suffix" } }, a, kw), false) end
str_methods.replace = function(s, a, kw)
  local old, new, count = bind("replace", { { "old" }, { "new" }, { "count", -1 } }, a, kw)
  return py_replace(s, need_str(old, "replace() argument 1"), need_str(new, "replace() argument 2"), count)
end
str_methods.join = function(s, a, kw)
  local items = items_of(bind("join", { { "iterable" } }, a, kw))
  for i, x in ipairs(items) do
    if type(x) ~= "string" then fail("sequence item %d: expected str instance, %s found", i - 1, typename(x)) end
  end
  return table.concat(items, s)
end
str_methods.find = function(s, a, kw)
  local sub = need_str(bind("find", { { "sub" } }, a, kw), "find() argument")
  local p = s:find(sub, 1, true)
  if not p then return -1 end
  return ulen(s:sub(1, p - 1))
end
str_methods.count = function(s, a, kw)
  local sub = need_str(bind("count", { { "sub" } }, a, kw), "count() argument")
  if sub == "" then return ulen(s) + 1 end
  local n, i = 0, 1
  while true do
    local _, b = s:find(sub, i, true)
    if not b then return n end
    n, i = n + 1, b + 1
  end
end
str_methods.isdigit = function(s) return s ~= "" and not s:find("%D") end
str_methods.isalpha = function(s) return s ~= "" and not s:find("%A") end
str_methods.isspace = function(s)
  if s == "" then return false end
  for _, c in ipairs(chars(s)) do if not SPACE[c] then return false end end
  return true
end
str_methods.islower = function(s) return s:find("%l") ~= nil and not s:find("%u") end
str_methods.isupper = function(s) return s:find("%u") ~= nil and not s:find("%l") end

dict_methods.items = function(d)
  local out = {}
  for i, k in ipairs(d.keys) do out[i] = tuple { k, d.map[k] } end
  return list(out)
end
dict_methods.keys = function(d) return list(table.move(d.keys, 1, #d.keys, 1, {})) end
dict_methods.values = function(d)
  local out = {}
  for i, k in ipairs(d.keys) do out[i] = d.map[k] end
  return list(out)
end
dict_methods.get = function(d, a, kw)
  local k, default = bind("get", { { "key" }, { "default", NONE } }, a, kw)
  local v = d.map[k]
  if v == nil then return default end
  return v
end

M.str_methods, M.dict_methods, M.strip_set = str_methods, dict_methods, strip_set
M.chars, M.ulen, M.length, M.items_of, M.bind, M.getpath = chars, ulen, length, items_of, bind, getpath
M.compare, M.py_title, M.capitalize, M.py_replace, M.need_str = compare, py_title, capitalize, py_replace, need_str
M.dict_set, M.is_seq, M.undef_error, M.cur = dict_set, is_seq, undef_error, cur

return M
