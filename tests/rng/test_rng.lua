-- core.rng (deterministic streams) and core.hash (SHA-256) from Lua.
local t = require "testlib"
local core = require("lacuna").core
local rng, hash = core.rng, core.hash

local function same(a, b) return (t.deep_eq(a, b, "v")) end

local function draws(g, n, m)
  local out = {}
  for i = 1, n do out[i] = g:int(m) end
  return out
end

t.test("same seed and stream give the same sequence", function()
  local a, b = rng.new(123, 9), rng.new(123, 9)
  t.eq(draws(a, 50, 1000), draws(b, 50, 1000))
  t.eq(a:float(), b:float())
  t.eq(a:shuffle({1, 2, 3, 4, 5, 6, 7, 8}), b:shuffle({1, 2, 3, 4, 5, 6, 7, 8}))
end)

t.test("pinned values: every platform draws the same numbers", function()
  -- Also asserted in tests/rng/test_rng.c against an independent transcription.
  t.eq(draws(rng.new(42, 0), 5, 100), {23, 61, 99, 27, 42})
  t.eq(draws(rng.new(42), 5, 100), {23, 61, 99, 27, 42}, "stream defaults to 0")
end)

t.test("different streams and seeds differ", function()
  local base = draws(rng.new(5, 0), 20, 1 << 40)
  t.truthy(not same(base, draws(rng.new(5, 1), 20, 1 << 40)))
  t.truthy(not same(base, draws(rng.new(6, 0), 20, 1 << 40)))
  t.truthy(not same(base, draws(rng.new(-5, 0), 20, 1 << 40)))
  -- Seeds and streams take any integer, including the extremes.
  local g = rng.new(math.mininteger, math.maxinteger)
  t.eq(math.type(g:int(10)), "integer")
end)

t.test("int bounds", function()
  local g = rng.new(1, 2)
  local seen = {}
  for _ = 1, 2000 do
    local v = g:int(6)
    t.truthy(v >= 1 and v <= 6 and math.type(v) == "integer")
    seen[v] = true
    local w = g:int(-3, 3)
    t.truthy(w >= -3 and w <= 3)
  end
  t.eq(#seen, 6)
  t.eq(g:int(1), 1)
  t.eq(g:int(7, 7), 7)
  t.eq(rng.new(1, 2):int(1000.0), rng.new(1, 2):int(1000), "integral float accepted")
  local neg, pos = 0, 0
  for _ = 1, 1000 do
    local v = g:int(math.mininteger, math.maxinteger)
    t.eq(math.type(v), "integer")
    if v < 0 then neg = neg + 1 else pos = pos + 1 end
    local hi = g:int(math.maxinteger - 1, math.maxinteger)
    t.truthy(hi == math.maxinteger or hi == math.maxinteger - 1)
    local lo = g:int(math.mininteger, math.mininteger + 1)
    t.truthy(lo == math.mininteger or lo == math.mininteger + 1)
    t.truthy(g:int(math.maxinteger) >= 1)
  end
  t.truthy(neg > 400 and pos > 400, "full-range draws cover both signs")
end)

t.test("int(1, 10) is uniform (chi-square, fixed seed)", function()
  local g = rng.new(2024, 0)
  local counts = {}
  for i = 1, 10 do counts[i] = 0 end
  local n = 100000
  for _ = 1, n do
    local v = g:int(1, 10)
    counts[v] = counts[v] + 1
  end
  local chi = 0
  for i = 1, 10 do
    local d = counts[i] - n / 10
    chi = chi + d * d / (n / 10)
  end
  t.truthy(chi < 27.88, "chi-square " .. chi .. " >= 27.88 (9 dof, p = 0.001)")
end)

t.test("float ranges", function()
  local g = rng.new(3, 3)
  local sum, lo, hi = 0, 1, 0
  for _ = 1, 20000 do
    local u = g:float()
    t.eq(math.type(u), "float")
    t.truthy(u >= 0 and u < 1)
    lo, hi, sum = math.min(lo, u), math.max(hi, u), sum + u
    local v = g:float(-2, 3)
    t.truthy(v >= -2 and v < 3)
  end
  t.truthy(lo < 0.001 and hi > 0.999)
  t.truthy(math.abs(sum / 20000 - 0.5) < 0.01)
  -- The narrowest interval only ever gives a.
  local a = 1.0
  local b = a + 2 ^ -52
  t.eq(g:float(a, b), a)
end)

t.test("choice", function()
  local g = rng.new(4, 0)
  local items, seen = {"a", "b", "c"}, {}
  for _ = 1, 300 do seen[g:choice(items)] = true end
  t.eq(seen, {a = true, b = true, c = true})
  t.eq(g:choice({"only"}), "only")
end)

t.test("shuffle is an in-place permutation", function()
  local g = rng.new(5, 5)
  local a = {}
  for i = 1, 50 do a[i] = i end
  local r = g:shuffle(a)
  t.truthy(r == a, "returns its argument")
  local seen, moved = {}, 0
  for i = 1, 50 do
    t.truthy(not seen[a[i]])
    seen[a[i]] = true
    if a[i] ~= i then moved = moved + 1 end
  end
  t.eq(#a, 50)
  t.truthy(moved > 25, "a shuffle moves most elements")
  t.eq(g:shuffle({}), {})
  -- Every permutation of 3 elements shows up, roughly evenly.
  local counts, perms = {}, 0
  for _ = 1, 6000 do
    local key = table.concat(g:shuffle({1, 2, 3}))
    if not counts[key] then perms = perms + 1 end
    counts[key] = (counts[key] or 0) + 1
  end
  t.eq(perms, 6)
  for k, c in pairs(counts) do t.truthy(c > 850 and c < 1150, k .. ": " .. c) end
end)

t.test("sample draws distinct elements", function()
  local g = rng.new(6, 0)
  local src = {}
  for i = 1, 100 do src[i] = "x" .. i end
  local s = g:sample(src, 30)
  t.eq(#s, 30)
  local seen = {}
  for _, v in ipairs(s) do
    t.truthy(not seen[v], "duplicate " .. v)
    t.truthy(v:match("^x%d+$"))
    seen[v] = true
  end
  t.eq(src[1], "x1", "source untouched")
  t.eq(src[100], "x100")
  t.eq(g:sample(src, 0), {})
  local all = g:sample({1, 2, 3, 4, 5}, 5)
  table.sort(all)
  t.eq(all, {1, 2, 3, 4, 5})
  -- Every element is equally likely to be drawn.
  local hits = {0, 0, 0, 0}
  for _ = 1, 4000 do
    for _, v in ipairs(g:sample({1, 2, 3, 4}, 2)) do hits[v] = hits[v] + 1 end
  end
  for i = 1, 4 do t.truthy(hits[i] > 1800 and hits[i] < 2200, "hits " .. hits[i]) end
  -- A small sample from a large list does not cost the whole list.
  local big = setmetatable({}, {__len = function() return 1 << 40 end,
                                __index = function(_, i) return i end})
  local few = g:sample(big, 3)
  t.eq(#few, 3)
end)

t.test("weighted", function()
  local g = rng.new(7, 0)
  local counts = {0, 0, 0, 0}
  for _ = 1, 10000 do
    local i = g:weighted({1, 0, 3, 0})
    counts[i] = counts[i] + 1
  end
  t.eq(counts[2], 0, "zero weight picked")
  t.eq(counts[4], 0, "trailing zero weight picked")
  t.truthy(counts[1] > 2300 and counts[1] < 2700, "1/4: " .. counts[1])
  t.eq(g:weighted({"a", "b", "c"}, {0, 0, 2.5}), "c")
  t.eq(g:weighted({0, 1e-300}), 2)
  local seen = {}
  for _ = 1, 200 do seen[g:weighted({"x", "y"}, {1, 1})] = true end
  t.eq(seen, {x = true, y = true})
end)

t.test("split gives independent, reproducible sub-streams", function()
  local a = rng.new(8, 1)
  local s1 = a:split(1)
  draws(a, 10, 100) -- drawing from the parent does not move its children
  t.eq(draws(a:split(1), 10, 1 << 30), draws(s1, 10, 1 << 30))
  t.truthy(not same(draws(a:split(1), 10, 1 << 30), draws(a:split(2), 10, 1 << 30)))
  t.truthy(not same(draws(a:split(1), 10, 1 << 30), draws(rng.new(8, 1), 10, 1 << 30)))
  t.truthy(not same(draws(a:split(1), 10, 1 << 30), draws(rng.new(8, 2):split(1), 10, 1 << 30)))
  t.eq(draws(rng.new(8, 1):split(-3), 5, 1000), draws(rng.new(8, 1):split(-3), 5, 1000))
end)

t.test("state checkpoints and restores", function()
  local g = rng.new(9, 9)
  draws(g, 7, 10)
  local st = g:state()
  t.eq(type(st), "string")
  local want = draws(g, 20, 1 << 50)
  local r = assert(rng.restore(st))
  t.eq(draws(r, 20, 1 << 50), want)
  t.eq(r:state(), g:state())
  t.eq(draws(r:split(4), 5, 99), draws(rng.new(9, 9):split(4), 5, 99))
  t.truthy(tostring(g):find("lacuna.Rng", 1, true))
  t.truthy(tostring(g):find(g:state(), 1, true))
  t.fails("malformed", rng.restore("nope"))
  t.fails("malformed", rng.restore(st:sub(1, -2) .. "g"))
  t.fails("malformed", rng.restore(st:gsub(":[0-9a-f]+$", ":" .. string.rep("0", 64))))
end)

t.test("caller mistakes raise clear errors", function()
  local g = rng.new(10)
  t.raises(function() g:int(0) end, "interval is empty")
  t.raises(function() g:int(5, 1) end, "interval is empty")
  t.raises(function() g:int(1.5) end, "number has no integer representation")
  t.raises(function() g:float(1, 1) end, "interval is empty")
  t.raises(function() g:float(0, math.huge) end, "finite")
  t.raises(function() g:choice({}) end, "empty list")
  t.raises(function() g:choice("abc") end, "table expected")
  t.raises(function() g:sample({1, 2, 3}, 4) end, "larger than the list")
  t.raises(function() g:sample({1, 2, 3}, -1) end, "must be >= 0")
  t.raises(function() g:weighted({}) end, "empty weight list")
  t.raises(function() g:weighted({1, -1}) end, "weight 2")
  t.raises(function() g:weighted({0, 0}) end, "sum to zero")
  t.raises(function() g:weighted({1, "2"}) end, "expected a number")
  t.raises(function() g:weighted({1, 0 / 0}) end, "weight 2")
  t.raises(function() g:weighted({"a", "b"}, {1}) end, "1 weights for 2 items")
  t.raises(function() g.int({}, 3) end, "lacuna.Rng expected")
  t.raises(function() rng.new("x") end, "number expected")
  t.raises(function() g:split(0.5) end, "integer representation")
end)

t.test("hash.sha256", function()
  t.eq(hash.sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  t.eq(hash.sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
  t.eq(hash.sha256(string.rep("a", 1000000)),
       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  local dir = t.tmpdir()
  local p = dir .. "/f.bin"
  local data = string.rep("\0\1\255 lacuna ", 10000)
  t.writefile(p, data)
  t.eq(hash.sha256_file(p), hash.sha256(data))
  t.fails(dir .. "/missing", hash.sha256_file(dir .. "/missing"))
  os.remove(p)
  os.remove(dir)
end)

return t.done()
