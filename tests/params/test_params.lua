-- Typed recipe params and the recipe declaration.
local t = require "testlib"
local lc = require "lacuna"
local params = require "lacuna.params"

local decl = {
  n = lc.int(4, "attempts", { min = 1, max = 10 }),
  temp = lc.number(0.7, "temperature"),
  name = lc.string("x", "a name"),
  flag = lc.bool(false, "a flag"),
  mode = lc.enum({ "a", "b" }, "a", "a mode"),
  tags = lc.list("string", { "p", "q" }, "tags"),
  ids = lc.list("int", {}, "ids"),
}

t.test("defaults resolve", function()
  local v = params.resolve("r", decl, {})
  t.eq(v, { n = 4, temp = 0.7, name = "x", flag = false, mode = "a", tags = { "p", "q" }, ids = {} })
end)

t.test("overrides parse by type", function()
  local v = params.resolve("r", decl, { "n=7", "temp=1", "name=a=b", "flag=yes", "mode=b", "tags=x,y,z", "ids=1,2" })
  t.eq(v.n, 7)
  t.eq(math.type(v.temp), "float")
  t.eq(v.name, "a=b")
  t.eq(v.flag, true)
  t.eq(v.mode, "b")
  t.eq(v.tags, { "x", "y", "z" })
  t.eq(v.ids, { 1, 2 })
end)

t.test("a number param is a float whether its default or -p wrote it", function()
  local d = { t0 = lc.number(0, "temperature") }
  local by_default = params.resolve("r", d, {})
  local by_flag = params.resolve("r", d, { "t0=0" })
  t.eq(math.type(by_default.t0), "float")
  t.eq(math.type(by_flag.t0), "float")
  t.eq(require("lacuna.core").json.encode(by_default), require("lacuna.core").json.encode(by_flag))
end)

t.test("ill-typed and unknown values are clear errors", function()
  local function err(kv)
    local ok, e = pcall(params.resolve, "r", decl, { kv })
    t.eq(ok, false)
    return tostring(e)
  end
  t.truthy(err("n=abc"):find("param 'n' (int): 'abc' is not an integer", 1, true))
  t.truthy(err("n=11"):find("must be <= 10", 1, true))
  t.truthy(err("n=0"):find("must be >= 1", 1, true))
  t.truthy(err("temp=hot"):find("'hot' is not a number", 1, true))
  t.truthy(err("flag=maybe"):find("'maybe' is not a boolean", 1, true))
  t.truthy(err("mode=c"):find("'c' is not one of a, b", 1, true))
  t.truthy(err("ids=1,x"):find("element 2: 'x' is not an integer", 1, true))
  t.truthy(err("zzz=1"):find("unknown param 'zzz' for recipe r (known: flag, ids, mode, n, name, tags, temp)", 1, true))
  t.truthy(err("novalue"):find("expected key=value", 1, true))
end)

t.test("required params must be given", function()
  local d = { key = lc.string(nil, "api key name", { required = true }) }
  local ok, e = pcall(params.resolve, "r", d, {})
  t.eq(ok, false)
  t.truthy(tostring(e):find("param 'key' of recipe r is required", 1, true))
end)

t.test("bad declarations raise at declaration", function()
  t.raises(function() lc.int(1.5) end, "expected an integer")
  t.raises(function() lc.enum({}) end, "non-empty list")
  t.raises(function() lc.list("table") end, "list elements must be")
end)

t.test("recipe declarations are checked", function()
  local map = function() end
  t.raises(function() lc.recipe { version = "1", map = map } end, "field 'name' is required")
  t.raises(function() lc.recipe { name = "x", version = "1" } end, "field 'map' is required")
  t.raises(function() lc.recipe { name = "x", version = "1", map = map, mapp = map } end, "unknown field 'mapp'")
  t.raises(function() lc.recipe { name = "x", version = 1, map = map } end, "field 'version' must be a string")
  t.raises(function() lc.recipe { name = "x", version = "1", map = map, params = { n = 3 } } end,
    "must be declared with lc.int")
  t.raises(function() lc.recipe { name = "x", version = "1", map = map, input = { q = "str" } } end,
    "recipe input field 'q': type must be one of")
end)

t.test("input records are checked field by field", function()
  local r = lc.recipe { name = "x", version = "1", map = function() end,
    input = { q = "string", n = "integer?", c = "array", o = { type = "object", optional = true } } }
  t.eq(r:check_input({ q = "a", c = lc.json.array({}) }, lc.null), nil)
  t.eq(r:check_input({ c = lc.json.array() }, lc.null), "field 'q': missing (expected string)")
  t.eq(r:check_input({ q = 1, c = lc.json.array() }, lc.null), "field 'q': expected string, got integer")
  t.eq(r:check_input({ q = "a", c = lc.json.array(), n = 1.5 }, lc.null), "field 'n': expected integer, got number")
  t.eq(r:check_input({ q = "a", c = { a = 1 } }, lc.null), "field 'c': expected array, got object")
  t.eq(r:check_input({ q = "a", c = lc.json.array(), o = { 1 } }, lc.null), "field 'o': expected object, got array")
  t.eq(r:check_input({ q = lc.null, c = lc.json.array() }, lc.null), "field 'q': missing (expected string)")
  t.eq(r:check_input({ 1, 2 }, lc.null), "record: expected a JSON object, got array")
end)

-- A decoded record is checked by its own keys first; whatever is wrong, the
-- message is the one the field-by-field pass gives (the first field in name
-- order), and undeclared keys are ignored.
t.test("input records decoded from JSON: the same verdicts", function()
  local r = lc.recipe { name = "x", version = "1", map = function() end,
    input = { a = "string?", q = "string", n = "integer?", c = "array", o = "object?", z = "any?" } }
  local function check(text) return r:check_input(lc.json.decode(text), lc.null) end
  t.eq(check('{"q": "a", "c": [], "extra": 1, "z": null, "o": null}'), nil)
  t.eq(check('{"c": []}'), "field 'q': missing (expected string)")
  t.eq(check('{"q": null, "c": []}'), "field 'q': missing (expected string)")
  t.eq(check('{"q": "a", "c": [], "n": 1.5}'), "field 'n': expected integer, got number")
  t.eq(check('{"q": "a", "c": {}}'), "field 'c': expected array, got object")
  -- two faults: the first in field order, whatever the record's key order
  t.eq(check('{"q": 1, "c": [], "a": 2}'), "field 'a': expected string, got integer")
  t.eq(check('{"o": [1], "c": {}, "q": "a"}'), "field 'c': expected array, got object")
  t.eq(check('{"n": "x"}'), "field 'c': missing (expected array)")
  t.eq(check('{}'), "field 'c': missing (expected array)")
end)

-- One rule for "is this table an array", json.is_array's (what json.encode
-- writes): decoded [] is an array and decoded {} an object, even when empty.
t.test("input records: arrays and objects by json.is_array", function()
  local r = lc.recipe { name = "x", version = "1", map = function() end,
    input = { c = "array", o = "object?" } }
  local rec = lc.json.decode('{"c": [], "o": {}}')
  t.eq(r:check_input(rec, lc.null), nil)
  rec = lc.json.decode('{"c": {}}')
  t.eq(r:check_input(rec, lc.null), "field 'c': expected array, got object")
  rec = lc.json.decode('{"c": [1], "o": []}')
  t.eq(r:check_input(rec, lc.null), "field 'o': expected object, got array")
  t.eq(r:check_input(lc.json.decode("[]"), lc.null), "record: expected a JSON object, got array")
  t.eq(r:check_input({ c = {} }, lc.null), "field 'c': expected array, got object")
end)

t.test("declarations take min, max, required and (lc.file) lines, typed", function()
  t.raises(function() lc.file("doc", { default = "/etc/passwd" }) end, "file param: unknown option 'default'")
  t.raises(function() lc.int(1, "doc", { kind = "file" }) end, "int param: unknown option 'kind'")
  t.raises(function() lc.int(1, "doc", { choices = { "a" } }) end, "int param: unknown option 'choices'")
  t.raises(function() lc.string("a", "doc", { lines = true }) end, "string param: unknown option 'lines'")
  t.raises(function() lc.int(1, "doc", { min = "0" }) end, "option min must be a number")
  t.raises(function() lc.int(1, "doc", "min=0") end, "options must be a table")
  t.raises(function() lc.int(1, 5) end, "doc must be a string")
  t.raises(function() lc.enum({ 1, 2 }) end, "enum choice 1 must be a string")
  t.raises(function() lc.list("json") end, "list elements must be")
  local p = lc.enum({ "a", "b" }, "a", "doc", { required = true })
  t.eq(p.choices, { "a", "b" })
  t.eq(p.required, true)
  t.eq(lc.list("int", { 1 }, "ids", { min = 0 }).of, "int")
end)

t.test("a file param: the cap, invalid UTF-8 with its line, a directory", function()
  local dir = t.tmpdir()
  local d = { f = lc.file("doc", { lines = true }), j = lc.json(nil, "doc") }
  t.writefile(dir .. "/bad.txt", "one\ntwo\xff\n")
  local ok, e = pcall(params.resolve, "r", d, { "f=" .. dir .. "/bad.txt" })
  t.eq(ok, false)
  t.truthy(tostring(e):find("bad.txt: line 2, byte 8: invalid UTF-8", 1, true), tostring(e))
  ok, e = pcall(params.resolve, "r", d, { "j=@" .. dir })
  t.truthy(not ok and tostring(e):find("param 'j' (json): cannot read " .. dir, 1, true), tostring(e))
  local cap = params.MAX_FILE_BYTES
  params.MAX_FILE_BYTES = 10
  t.writefile(dir .. "/big.txt", string.rep("x", 11))
  t.writefile(dir .. "/fits.txt", string.rep("x", 10))
  ok, e = pcall(params.resolve, "r", d, { "f=" .. dir .. "/big.txt" })
  local fits = params.resolve("r", d, { "f=" .. dir .. "/fits.txt" })
  params.MAX_FILE_BYTES = cap
  t.truthy(not ok and tostring(e):find("big.txt is larger than 0 MiB", 1, true), tostring(e))
  t.eq(fits.f, { string.rep("x", 10) })
end)

return t.done()
