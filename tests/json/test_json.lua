-- json: decode/encode round trips, number exactness, key order, markers,
-- null, depth limit, and the path named by every encode error.
local t = require "testlib"
local json = require("lacuna").core.json

local function rt(v) return json.decode(json.encode(v)) end

t.test("integers stay exact integers", function()
  for _, s in ipairs { "0", "1", "-1", "9007199254740993", "-9007199254740993",
                       "9223372036854775807", "-9223372036854775808" } do
    local v = json.decode(s)
    t.eq(math.type(v), "integer", s)
    t.eq(json.encode(v), s)
  end
  t.eq(json.decode("9007199254740993"), 9007199254740993)
  t.eq(json.decode("-9223372036854775808"), math.mininteger)
  t.eq(rt(math.maxinteger), math.maxinteger)
  t.eq(rt(math.mininteger), math.mininteger)
  -- beyond int64: a float, not a wrapped integer
  local big = json.decode("9223372036854775808")
  t.eq(math.type(big), "float")
  t.eq(big, 2.0 ^ 63)
  t.eq(math.type(json.decode("-0")), "integer")
end)

t.test("floats round-trip and keep a float look", function()
  for _, x in ipairs { 0.1, 1e300, 5e-324, 1.0, -0.0, 1 / 3, 2.5e-8, 123456789.0,
                       2.0 ^ 63, -1.5, 1e21, 0.30000000000000004 } do
    local s = json.encode(x)
    local back = json.decode(s)
    t.eq(math.type(back), "float", s)
    t.truthy(back == x, s .. " did not round-trip")
  end
  t.eq(json.encode(1.0), "1.0")
  t.eq(json.encode(-0.0), "-0.0")
  t.eq(json.encode(0.1), "0.1")
  t.eq(json.encode(1e300), "1e+300")
  t.eq(json.decode("1.0"), 1.0)
  t.eq(math.type(json.decode("1.0")), "float")
  t.eq(math.type(json.decode("1e2")), "float")
  t.eq(json.decode("5e-324"), 5e-324)
  t.eq(json.decode("0.1"), 0.1)
  -- long number tokens are still parsed from their full text
  local long = "0." .. string.rep("0", 70) .. "1"
  t.eq(json.decode("[" .. long .. "]")[1], tonumber(long))
  t.eq(json.decode(string.rep("1", 80)), tonumber(string.rep("1", 80)))
  t.eq(math.type(json.decode(string.rep("1", 80))), "float")
  -- exact parse: the double nearest 2^53+1 written out in full
  t.eq(json.decode("9007199254740993.0"), 9007199254740992.0)
end)

t.test("strings: escapes, NUL, unicode, U+2028", function()
  t.eq(json.decode([["a\"b\\c\/d\b\f\n\r\t"]]), "a\"b\\c/d\b\f\n\r\t")
  t.eq(json.decode([["\u0041\u00e9\u4e2d\ud83d\ude00"]]), "Aé中😀")
  t.eq(json.decode([["a\u0000b"]]), "a\0b")
  t.eq(json.encode("a\0b"), [["a\u0000b"]])
  t.eq(json.encode("q\"\\/\n\t\r\b\f\1\31"), [["q\"\\/\n\t\r\b\f\u0001\u001f"]])
  t.eq(json.encode("é中😀"), '"é中😀"')
  t.eq(json.encode("a\u{2028}b\u{2029}"), [["a\u2028b\u2029"]])
  t.eq(json.decode(json.encode("a\u{2028}b")), "a\u{2028}b")
  local all = {}
  for i = 0, 127 do all[#all + 1] = string.char(i) end
  all = table.concat(all)
  t.eq(rt(all), all)
end)

t.test("object keys: sorted bytewise, or __jsonorder first", function()
  t.eq(json.encode { b = 1, a = 2, B = 3, ["a b"] = 4, aa = 5 },
       [[{"B":3,"a":2,"a b":4,"aa":5,"b":1}]])
  local msg = setmetatable({ content = "hi", role = "user", weight = 0, name = "x" },
                           { __jsonorder = { "role", "content", "role", "missing" } })
  t.eq(json.encode(msg), [[{"role":"user","content":"hi","name":"x","weight":0}]])
  t.eq(json.encode { a = { 1, 2 }, b = {} }, [[{"a":[1,2],"b":{}}]])
  -- the same table always gives the same bytes
  local big = {}
  for i = 1, 200 do big["k" .. i] = i end
  local s = json.encode(big)
  for _ = 1, 5 do t.eq(json.encode(big), s) end
  t.truthy(s:find('"k1":1,"k10":10,"k100":100,"k101":101', 1, true))
end)

t.test("array/object markers and empty tables", function()
  t.eq(json.encode {}, "{}")
  t.eq(json.encode(json.array()), "[]")
  t.eq(json.encode(json.object()), "{}")
  t.eq(json.encode(json.array {}), "[]")
  local v = json.decode([[{"a":[],"b":{},"c":[1],"d":{"x":1}}]])
  t.eq(json.encode(v), [[{"a":[],"b":{},"c":[1],"d":{"x":1}}]])
  t.eq(json.is_array(v.a), true)
  t.eq(json.is_array(v.b), false)
  t.eq(json.is_array(v.c), true)
  t.eq(json.is_array { 1, 2, 3 }, true)
  t.eq(json.is_array {}, false)
  t.eq(json.is_array { 1, nil, 3 }, false)
  t.eq(json.is_array { a = 1 }, false)
  t.eq(json.is_array "x", false)
  t.eq(getmetatable(v.a), getmetatable(json.array()))
  t.eq(getmetatable(v.b), getmetatable(json.object()))
  local tbl = {}
  t.truthy(json.array(tbl) == tbl)
  t.raises(function() json.array(setmetatable({}, {})) end, "already has a metatable")
  t.raises(function() json.array(5) end, "table expected")
end)

t.test("null", function()
  local v = json.decode([[{"a":null,"b":[null,1]}]])
  t.truthy(v.a == json.null)
  t.truthy(v.b[1] == json.null)
  t.eq(#v.b, 2)
  t.eq(json.decode("null"), json.null)
  t.eq(type(json.null), "userdata")
  t.eq(json.encode { json.null, 1 }, "[null,1]")
  t.eq(json.encode(nil), "null")
  t.eq(json.encode(json.null), "null")
end)

t.test("decode: duplicate keys, booleans, whitespace, BOM", function()
  t.eq(json.decode([[{"a":1,"a":2}]]).a, 2)
  t.eq(json.decode(" \t\r\n[true,false]\n "), json.array { true, false })
  t.eq(json.decode("\xEF\xBB\xBF[1]")[1], 1)
  local v = json.decode([[{"x":[1,2.5,"s",{"y":-3}]}]])
  t.eq(v.x[2], 2.5)
  t.eq(v.x[4].y, -3)
end)

t.test("decode: malformed input gives nil and a byte position", function()
  t.fails("byte 5: unexpected end of input", json.decode("[1,2"))
  t.fails("byte 8: unexpected '}'", json.decode([[{"a":1,}]]))
  t.fails("byte 4: unexpected '2'", json.decode("[1 2"))
  t.fails("byte 1: invalid number", json.decode("01"))
  t.fails("byte 2: invalid number", json.decode("[1.]"))
  t.fails("byte 1: invalid number", json.decode("-"))
  t.fails("byte 1: unexpected 'N'", json.decode("NaN"))
  t.fails("byte 1: unexpected end of input", json.decode(""))
  t.fails("byte 6: unexpected ']' after the JSON value", json.decode("[1,2]]"))
  t.fails("unterminated string from byte 1", json.decode('"abc'))
  t.fails("byte 3: unescaped control character 0x0A in string", json.decode('"a\nb"'))
  t.fails("byte 4: unexpected control character 0x01", json.decode("[1,\1 2]"))
  t.fails("byte 2: invalid escape sequence in string", json.decode('"\\x"'))
  t.fails("byte 1: unexpected 't'", json.decode("tru"))
  t.fails("invalid UTF-8 at byte 7", json.decode('"abcd \xC3\x28"'))
  t.fails("invalid UTF-8 at byte 2", json.decode('"\xED\xA0\x80"'))   -- surrogate
  t.fails("invalid UTF-8 at byte 2", json.decode('"\xC0\xAF"'))       -- overlong
  t.fails("invalid UTF-8 at byte 2", json.decode('"\xF4\x90\x80\x80"')) -- > U+10FFFF
  t.fails("invalid UTF-8 at byte 3", json.decode('"a\xE2\x82'))       -- truncated
  t.fails("byte 2: invalid escape sequence", json.decode([["\ud800"]])) -- lone surrogate
  t.fails("byte 4: invalid escape sequence", json.decode([["ab\u12G4"]]))
end)

t.test("decode: depth limit", function()
  local function nest(n) return string.rep("[", n) .. string.rep("]", n) end
  t.truthy(json.decode(nest(128)))
  t.fails("nesting deeper than 128 at byte 129", json.decode(nest(129)))
  t.fails("nesting deeper than 3 at byte 12", json.decode('{"a":[{"b":[1]}]}', { max_depth = 3 }))
  t.truthy(json.decode('{"a":[{"b":1}]}', { max_depth = 3 }))
  t.truthy(json.decode(nest(1000), { max_depth = 1000 }))
  t.fails("nesting deeper than 1000", json.decode(nest(5000), { max_depth = 1000 }))
  t.raises(function() json.decode("[]", { max_depth = 0 }) end, "max_depth")
  t.raises(function() json.decode("[]", 5) end, "table expected")
end)

t.test("encode errors name the path", function()
  local msg = { messages = { { role = "user", content = "x" }, { role = "assistant", content = print } } }
  t.raises(function() json.encode(msg) end, "cannot encode a function at messages[2].content")
  t.raises(function() json.encode { a = { io.stdout } } end, "cannot encode a userdata at a[1]")
  t.raises(function() json.encode { x = 0 / 0 } end, "cannot encode NaN at x")
  t.raises(function() json.encode { x = { 1 / 0 } } end, "cannot encode infinity at x[1]")
  t.raises(function() json.encode { a = { 1, 2, x = 1 } } end, "both integer and string keys at a")
  t.raises(function() json.encode { list = { 1, nil, 3 } } end, "sparse array")
  t.raises(function() json.encode { list = { 1, nil, 3 } } end, "at list")
  t.raises(function() json.encode { [0] = 1 } end, "sparse array (keys must be exactly 1..n) at (root)")
  t.raises(function() json.encode { k = { [true] = 1 } } end, "table key of type boolean at k")
  t.raises(function() json.encode { [1.5] = 1 } end, "table key of type float at (root)")
  t.raises(function() json.encode { ["a b"] = { s = "\xFF" } } end,
           "invalid UTF-8 at byte 1 of a string at [\"a b\"].s")
  t.raises(function() json.encode { ok = { ["\xC3"] = 1 } } end, "invalid UTF-8 at byte 1 of a key")
  local cyc = { items = {} }
  cyc.items[1] = cyc
  t.raises(function() json.encode(cyc) end, "table cycle (a table contains itself) at items[1]")
  local deep = {}
  local cur = deep
  for _ = 1, 1200 do cur.x = {}; cur = cur.x end
  t.raises(function() json.encode(deep) end, "nesting deeper than 1000")
  t.raises(function() json.encode(setmetatable({}, { __jsonorder = 1 })) end, "__jsonorder must be a table")
  t.raises(function() json.encode(coroutine.create(print)) end, "cannot encode a thread at (root)")
  -- a shared (non-cyclic) subtable is fine
  local shared = { 1 }
  t.eq(json.encode { a = shared, b = shared }, [[{"a":[1],"b":[1]}]])
end)

t.test("round trip of a nested document", function()
  local doc = [=[[{"id":7,"messages":[{"content":"Hi \"there\"","role":"user"},]=] ..
              [=[{"content":"ok","role":"assistant","train_detail":[{"begin_offset":0,"end_offset":1,"train":true}]}]},]=] ..
              [=[{"score":0.25,"tags":[],"x":null}]]=]
  local v = assert(json.decode(doc))
  t.eq(json.encode(v), doc)
  t.eq(v[1].messages[2].train_detail[1].end_offset, 1)
end)

return t.done()
