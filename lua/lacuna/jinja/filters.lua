-- Jinja2's filters and tests, as lacuna.jinja supports them:
-- filters[name](value, args, kw) and tests[name](value, args) with evaluated
-- arguments.
local R = require "lacuna.jinja.values"
local NONE, Undef, Func, Dict = R.NONE, R.Undef, R.Func, R.Dict
local fail, str, bind, truthy, typename = R.fail, R.str, R.bind, R.truthy, R.typename
local list, undef, is_seq = R.list, R.undef, R.is_seq
local items_of, chars, eq = R.items_of, R.chars, R.eq
local F, T = {}, {}

local function is_undef(v) return getmetatable(v) == Undef end
local function is_none(v) return v == nil or v == NONE end

-- Jinja's sort key: strings compared case-insensitively unless asked
local function sort_key(v, case_sensitive)
  if type(v) == "string" and not case_sensitive then return v:lower() end
  return v
end

local function stable_sort(items, keyf, reverse)
  local dec = {}
  for i, x in ipairs(items) do dec[i] = { k = keyf(x), i = i, v = x } end
  table.sort(dec, function(a, b)
    if R.eq(a.k, b.k) then return a.i < b.i end
    local less = R.compare("<", a.k, b.k)
    if reverse then less = not less end
    return less
  end)
  local out = {}
  for i, d in ipairs(dec) do out[i] = d.v end
  return out
end

-- ---------------------------------------------------------------- strings
F.trim = function(v, a, kw)
  local set = R.strip_set(bind("trim", { { "chars", NONE } }, a, kw))
  return R.rstrip(R.lstrip(str(v), set), set)
end
F.upper = function(v) return (str(v):upper()) end
F.lower = function(v) return (str(v):lower()) end
F.capitalize = function(v) return R.capitalize(str(v)) end
F.title = function(v)
  -- Jinja's title: each piece after a run of -, whitespace, ( { [ <
  -- gets its first character upper-cased, the rest lower-cased
  local out, start = {}, true
  for _, c in ipairs(chars(str(v))) do
    if c == "-" or c == "(" or c == "{" or c == "[" or c == "<" or R.SPACE[c] then
      out[#out + 1] = c
      start = true
    else
      out[#out + 1] = start and c:upper() or c:lower()
      start = false
    end
  end
  return table.concat(out)
end
F.replace = function(v, a, kw)
  local old, new, count = bind("replace", { { "old" }, { "new" }, { "count", NONE } }, a, kw)
  return R.py_replace(str(v), str(old), str(new), count)
end
F.string = function(v) return str(v) end
F.safe = function(v) return v end
F.escape = function(v)
  return (str(v):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&#34;", ["'"] = "&#39;" }))
end
F.e = F.escape
F.indent = function(v, a, kw)
  local width, first, blank = bind("indent", { { "width", 4 }, { "first", false }, { "blank", false } }, a, kw)
  local ind = type(width) == "string" and width or string.rep(" ", width)
  local lines = {}
  for line in (str(v) .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  for i = 2, #lines do
    if truthy(blank) or lines[i] ~= "" then lines[i] = ind .. lines[i] end
  end
  local s = table.concat(lines, "\n")
  if truthy(first) then s = ind .. s end
  return s
end
F.wordcount = function(v)
  local n = 0
  for _ in str(v):gmatch("[%w_]+") do n = n + 1 end
  return n
end
F.tojson = function(v, a, kw)
  local indent, separators, sort_keys, ensure_ascii = bind("tojson",
    { { "indent", NONE }, { "separators", NONE }, { "sort_keys", false }, { "ensure_ascii", false } }, a, kw)
  return R.to_json(v, indent, separators, truthy(sort_keys), truthy(ensure_ascii))
end

-- ---------------------------------------------------------------- numbers
F.int = function(v, a, kw)
  local default, base = bind("int", { { "default", 0 }, { "base", 10 } }, a, kw)
  if type(v) == "boolean" then return v and 1 or 0 end
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return default end
    return math.tointeger(v < 0 and math.ceil(v) or math.floor(v)) or default
  end
  if type(v) == "string" then
    local s = R.rstrip(R.lstrip(v, R.SPACE), R.SPACE):gsub("_", "")
    local n = base == 10 and math.tointeger(tonumber(s)) or tonumber(s, base)
    if n then return n end
    local f = tonumber(s)
    if f and f == f and f ~= math.huge and f ~= -math.huge then
      return math.tointeger(f < 0 and math.ceil(f) or math.floor(f)) or default
    end
  end
  return default
end
F.float = function(v, a, kw)
  local default = bind("float", { { "default", 0.0 } }, a, kw)
  if type(v) == "boolean" then return v and 1.0 or 0.0 end
  if type(v) == "number" then return v + 0.0 end
  if type(v) == "string" then
    local f = tonumber((R.rstrip(R.lstrip(v, R.SPACE), R.SPACE)))
    if f then return f + 0.0 end
  end
  return default
end
F.abs = function(v)
  if type(v) ~= "number" then fail("bad operand type for abs(): '%s'", typename(v)) end
  return math.abs(v)
end
F.round = function(v, a, kw)
  local precision, method = bind("round", { { "precision", 0 }, { "method", "common" } }, a, kw)
  if type(v) ~= "number" then fail("round: not a number: %s", typename(v)) end
  local m = 10.0 ^ precision
  if method == "ceil" then return math.ceil(v * m) / m end
  if method == "floor" then return math.floor(v * m) / m end
  if method ~= "common" then fail("round: method must be 'common', 'ceil' or 'floor'") end
  local x = v * m
  return (x < 0 and -math.floor(-x + 0.5) or math.floor(x + 0.5)) / m
end

-- ---------------------------------------------------------------- sequences
F.length = function(v) return R.length(v) end
F.count = F.length
F.list = function(v) return list(table.move(items_of(v), 1, #items_of(v), 1, {})) end
F.first = function(v)
  local items = items_of(v)
  if #items == 0 then return undef("No first item, sequence was empty.") end
  return items[1]
end
F.last = function(v)
  local items = items_of(v)
  if #items == 0 then return undef("No last item, sequence was empty.") end
  return items[#items]
end
F.reverse = function(v)
  local items = items_of(v)
  local out = {}
  for i = #items, 1, -1 do out[#out + 1] = items[i] end
  if type(v) == "string" then return table.concat(out) end
  return list(out)
end
F.join = function(v, a, kw)
  local sep, attribute = bind("join", { { "d", "" }, { "attribute", NONE } }, a, kw)
  local parts = {}
  for i, x in ipairs(items_of(v)) do
    if not is_none(attribute) then x = R.getpath(x, attribute) end
    parts[i] = str(x)
  end
  return table.concat(parts, str(sep))
end
F.unique = function(v, a, kw)
  local case_sensitive, attribute = bind("unique", { { "case_sensitive", false }, { "attribute", NONE } }, a, kw)
  local out, seen = {}, {}
  for _, x in ipairs(items_of(v)) do
    local k = is_none(attribute) and x or R.getpath(x, attribute)
    k = sort_key(k, truthy(case_sensitive))
    local dup = false
    for _, s in ipairs(seen) do if eq(s, k) then dup = true; break end end
    if not dup then
      seen[#seen + 1] = k
      out[#out + 1] = x
    end
  end
  return list(out)
end
F.sort = function(v, a, kw)
  local reverse, case_sensitive, attribute = bind("sort",
    { { "reverse", false }, { "case_sensitive", false }, { "attribute", NONE } }, a, kw)
  local cs = truthy(case_sensitive)
  return list(stable_sort(items_of(v), function(x)
    if not is_none(attribute) then x = R.getpath(x, attribute) end
    return sort_key(x, cs)
  end, truthy(reverse)))
end
F.dictsort = function(v, a, kw)
  local case_sensitive, by, reverse = bind("dictsort",
    { { "case_sensitive", false }, { "by", "key" }, { "reverse", false } }, a, kw)
  if getmetatable(v) ~= Dict then fail("dictsort: expected a dict, got %s", typename(v)) end
  local pos = by == "key" and 1 or by == "value" and 2 or fail("You can only sort by either 'key' or 'value'")
  local pairs_ = R.dict_methods.items(v)
  local cs = truthy(case_sensitive)
  return list(stable_sort(pairs_, function(p) return sort_key(p[pos], cs) end, truthy(reverse)))
end
F.items = function(v)
  if is_undef(v) then return list {} end
  if getmetatable(v) ~= Dict then fail("items: can only get item pairs from a mapping, not %s", typename(v)) end
  return R.dict_methods.items(v)
end
F.sum = function(v, a, kw)
  local attribute, start = bind("sum", { { "attribute", NONE }, { "start", 0 } }, a, kw)
  local acc = start
  for _, x in ipairs(items_of(v)) do
    if not is_none(attribute) then x = R.getpath(x, attribute) end
    acc = R.arith("+", acc, x)
  end
  return acc
end
local function minmax(name, want_less)
  return function(v, a, kw)
    local case_sensitive, attribute = bind(name, { { "case_sensitive", false }, { "attribute", NONE } }, a, kw)
    local best, bestk
    for _, x in ipairs(items_of(v)) do
      local k = is_none(attribute) and x or R.getpath(x, attribute)
      k = sort_key(k, truthy(case_sensitive))
      if best == nil or (R.compare("<", k, bestk) == want_less and not eq(k, bestk)) then best, bestk = x, k end
    end
    if best == nil then return undef("No " .. name .. " item, sequence was empty.") end
    return best
  end
end
F.min = minmax("min", true)
F.max = minmax("max", false)
F.attr = function(v, a, kw) return R.getattr(v, R.need_str(bind("attr", { { "name" } }, a, kw), "attr name")) end

-- select/reject(test, *args), selectattr/rejectattr(attr, test, *args)
local function selector(name, by_attr, keep)
  return function(v, a)
    local args = table.move(a, 1, #a, 1, {})
    local attr
    if by_attr then
      attr = table.remove(args, 1)
      if attr == nil then fail("%s: missing attribute name", name) end
    end
    local tname = table.remove(args, 1)
    local test
    if tname == nil then
      test = function(x) return truthy(x) end
    else
      if type(tname) ~= "string" or not T[tname] then fail("%s: no test named %s", name, R.repr(tname)) end
      test = function(x) return T[tname](x, args) end
    end
    local out = {}
    for _, x in ipairs(items_of(v)) do
      local y = attr and R.getpath(x, attr) or x
      if test(y) == keep then out[#out + 1] = x end
    end
    return list(out)
  end
end
F.select = selector("select", false, true)
F.reject = selector("reject", false, false)
F.selectattr = selector("selectattr", true, true)
F.rejectattr = selector("rejectattr", true, false)

F.map = function(v, a, kw)
  local out = {}
  if kw.map.attribute ~= nil then
    local attribute, default = kw.map.attribute, kw.map.default
    for i, x in ipairs(items_of(v)) do
      local y = R.getpath(x, attribute)
      if default ~= nil and is_undef(y) then y = default end
      out[i] = y
    end
    return list(out)
  end
  local fname = a[1]
  if type(fname) ~= "string" or not F[fname] then fail("map: no filter named %s", R.repr(fname)) end
  local rest = table.move(a, 2, #a, 1, {})
  for i, x in ipairs(items_of(v)) do out[i] = F[fname](x, rest, kw) end
  return list(out)
end

F.default = function(v, a, kw)
  local default, boolean = bind("default", { { "default_value", "" }, { "boolean", false } }, a, kw)
  if is_undef(v) or (truthy(boolean) and not truthy(v)) then return default end
  return v
end
F.d = F.default

-- ---------------------------------------------------------------- tests
local function num(v) return type(v) == "number" end
T.defined = function(v) return not is_undef(v) end
T.undefined = function(v) return is_undef(v) end
T.none = function(v) return v == NONE end
T.boolean = function(v) return type(v) == "boolean" end
T["true"] = function(v) return v == true end
T["false"] = function(v) return v == false end
T.integer = function(v) return math.type(v) == "integer" end
T.float = function(v) return math.type(v) == "float" end
T.number = function(v) return num(v) or type(v) == "boolean" end
T.string = function(v) return type(v) == "string" end
T.mapping = function(v) return getmetatable(v) == Dict end
T.iterable = function(v)
  local mt = getmetatable(v)
  return type(v) == "string" or is_seq(v) or mt == Dict or mt == Undef
end
T.sequence = T.iterable
T.callable = function(v) return getmetatable(v) == Func end
T.odd = function(v)
  if math.type(v) ~= "integer" then fail("odd: expected an integer, got %s", typename(v)) end
  return v % 2 == 1
end
T.even = function(v)
  if math.type(v) ~= "integer" then fail("even: expected an integer, got %s", typename(v)) end
  return v % 2 == 0
end
T.divisibleby = function(v, a)
  if not num(v) or not num(a[1]) then fail("divisibleby: expected numbers") end
  if a[1] == 0 then fail("integer division or modulo by zero") end
  return v % a[1] == 0
end
T.lower = function(v) local s = str(v); return s:find("%l") ~= nil and not s:find("%u") end
T.upper = function(v) local s = str(v); return s:find("%u") ~= nil and not s:find("%l") end
T.eq = function(v, a) return eq(v, a[1]) end
T.ne = function(v, a) return not eq(v, a[1]) end
T.lt = function(v, a) return R.compare("<", v, a[1]) end
T.le = function(v, a) return R.compare("<=", v, a[1]) end
T.gt = function(v, a) return R.compare(">", v, a[1]) end
T.ge = function(v, a) return R.compare(">=", v, a[1]) end
T.equalto, T["=="], T["!="], T["<"], T["<="], T[">"], T[">="] = T.eq, T.eq, T.ne, T.lt, T.le, T.gt, T.ge
T.greaterthan, T.lessthan = T.gt, T.lt
T["in"] = function(v, a) return R.contains(a[1], v) end
T.sameas = function(v, a)
  local b = a[1]
  if type(v) == "table" or type(b) == "table" or type(v) == "userdata" then return rawequal(v, b) end
  return v == b and math.type(v) == math.type(b)
end
T.escaped = function() return false end
T.filter = function(v) return type(v) == "string" and F[v] ~= nil end
T.test = function(v) return type(v) == "string" and T[v] ~= nil end

return { filters = F, tests = T }
