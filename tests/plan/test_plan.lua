-- Planned work items (lua/lacuna/plan.lua), the run object recipes get in
-- setup and finish (lua/lacuna/run_view.lua), and JSON/file params.
local t = require "testlib"
local lc = require "lacuna"
local plan = require "lacuna.plan"
local run_view = require "lacuna.run_view"
local params = require "lacuna.params"
local usage = require "lacuna.usage"

local FIX = "../fixtures/plan/"
local recipe = lc.recipe {
  name = "t", version = "1", input = { doc = "string", text = "string" },
  map = function() end,
}

local drain = require "plan_drain"

t.test("synthetic items: 1..n, keyed by position, --limit counts items", function()
  local items, state = drain({ kind = "items", n = 5 }, {})
  t.eq(#items, 5)
  t.eq(items[3].record, 3)
  t.eq(items[3].stream, 3)
  t.eq(state.read, 5)
  t.eq(#drain({ kind = "items", n = 5 }, {}, { limit = 2 }), 2)
  t.eq(#drain({ kind = "items", n = 0 }, {}), 0)
end)

t.test("groups by a field: adjacent records, keyed by the field's value", function()
  local items, state = drain({ kind = "groups", by = "doc" }, { FIX .. "docs.jsonl" })
  t.eq(#items, 4)
  t.eq(#items[1].record, 2)
  t.eq(items[1].record[2].text, "Alpha two.")
  t.eq(#items[3].record, 3)
  t.eq(items[3].line, 4)
  t.eq(state.records, 7)
  t.eq(items[2].stream, plan.stream("b"))
  t.truthy(items[2].stream ~= plan.stream("c"), "different keys, different streams")
end)

t.test("groups by count", function()
  local items = drain({ kind = "groups", size = 3 }, { FIX .. "docs.jsonl" })
  t.eq(#items, 3)
  t.eq(#items[1].record, 3)
  t.eq(#items[3].record, 1)
  t.eq(items[3].stream, 3)
end)

t.test("groups: a malformed line, a non-adjacent key", function()
  local items = drain({ kind = "groups", by = "doc" }, { FIX .. "bad_docs.jsonl" })
  t.eq(#items, 4)
  t.eq(items[1].bad, nil)
  t.truthy(items[2].bad:find("bad_docs.jsonl:2:", 1, true), items[2].bad)
  t.eq(items[3].bad, nil) -- (its record is checked by the work function)
  t.truthy(items[4].bad:find("are not adjacent", 1, true), items[4].bad)
  t.truthy(items[4].bad:find("(a group of them ended at " .. FIX .. "bad_docs.jsonl:1)", 1, true), items[4].bad)
end)

t.test("groups: a key seen again in a later input names where its group ended", function()
  local items = drain({ kind = "groups", by = "doc" }, { FIX .. "docs.jsonl", FIX .. "docs.jsonl" })
  local first_again
  for _, w in ipairs(items) do
    if w.bad and not first_again then first_again = w end
  end
  t.truthy(first_again, "a reappearing key fails")
  t.truthy(first_again.bad:find(FIX .. "docs.jsonl:1: records with doc = ", 1, true), first_again.bad)
  -- doc "a" is lines 1-2 of the first input: its group ended at line 2
  t.truthy(first_again.bad:find('doc = "a" are not adjacent (a group of them ended at ' .. FIX .. "docs.jsonl:2)",
    1, true), first_again.bad)
end)

t.test("a list from setup; what setup may return", function()
  t.eq(plan.resolve(nil, "r.lua").kind, "records")
  local spec = plan.resolve({ "a", "b" }, "r.lua")
  t.eq(spec.kind, "list")
  local items = drain(spec, {})
  t.eq(items[2].record, "b")
  local ok, e = pcall(plan.resolve, { a = 1 }, "r.lua")
  t.truthy(not ok and usage.is(e) and e.msg:find("not a list", 1, true), usage.text(e))
  ok, e = pcall(plan.resolve, 7, "r.lua")
  t.truthy(not ok and e.msg:find("setup returned a number", 1, true), usage.text(e))
end)

t.test("item keys: integers are their own stream, others hashed", function()
  t.eq(plan.stream(42), 42)
  t.eq(plan.stream("doc-1"), plan.stream("doc-1"))
  t.eq(math.type(plan.stream("doc-1")), "integer")
  t.truthy(plan.stream("doc-1") >= 0)
end)

t.test("run:records(): records with file:line; bad lines raise with file:line", function()
  local run = run_view.new(recipe, { inputs = { FIX .. "docs.jsonl" } })
  local n, last = 0, nil
  for rec, file, line in run:records() do
    n = n + 1
    last = file .. ":" .. line .. ":" .. rec.doc
  end
  t.eq(n, 7)
  t.eq(last, FIX .. "docs.jsonl:7:d")
  local bad = run_view.new(recipe, { inputs = { FIX .. "bad_docs.jsonl" } })
  t.raises(function() for _ in bad:records() do end end, "bad_docs.jsonl:2: ")
  -- A record that does not match the declaration names its field.
  local typed = lc.recipe { name = "t", version = "1", input = { doc = "string", text = "number" }, map = print }
  local r2 = run_view.new(typed, { inputs = { FIX .. "docs.jsonl" } })
  t.raises(function() for _ in r2:records() do end end, "docs.jsonl:1: field 'text': expected number")
end)

t.test("run: read-only fields, report in order, plans", function()
  local run, st = run_view.new(recipe, { params = { n = 3, list = { 1, 2 } }, seed = 5, inputs = {} })
  t.eq(run.params.n, 3)
  t.eq(run.params.list[2], 2)
  t.eq(run.seed, 5)
  t.raises(function() run.params.n = 4 end, "cannot modify run.params.n")
  t.raises(function() run.params.list[1] = 4 end, "cannot modify run.params.list")
  t.raises(function() run.extra = 1 end, "cannot modify run.extra")
  t.raises(function() return run.teacher end, "available in setup only")
  local value = { 1, 2, 3 }
  run:report("z", value)
  run:report("a", { k = "v" })
  value[1] = 99 -- (reported values are copied when reported)
  run:report("z", { 1, 2, 3 })
  t.eq(lc.json.encode(run_view.report(st)), '{"z":[1,2,3],"a":{"k":"v"}}')
  t.raises(function() run:report("f", print) end, "not JSON data")
  t.raises(function() run:report(1, 2) end, "key must be a non-empty string")
  t.raises(function() run:groups { by = "doc", size = 2 } end, "exactly one of")
  t.raises(function() run:items(-1) end, "n must be >= 0")
  t.raises(function() run.report(nil, "k", 1) end, "bad self")
end)

t.test("a summary for finish is a read-only copy", function()
  local counts = { ok = 2, failed = 0 }
  local s = (require "lacuna.view").summary({ counts = counts })
  t.eq(s.counts.ok, 2)
  t.raises(function() s.counts.ok = 3 end, "cannot modify summary.counts.ok")
  t.raises(function() s.counts = {} end, "cannot modify summary.counts")
  local n = 0
  for _ in pairs(s.counts) do n = n + 1 end
  t.eq(n, 2)
  t.eq(counts.ok, 2)
end)

t.test("run.tokenizer: the approximate counter says so; a model counts exactly", function()
  local run = run_view.new(recipe, {})
  local tok = run.tokenizer
  t.eq(tok.approximate, true)
  t.eq(tok.name, "approximate")
  t.eq(tok:count("one two three"), lc.tokenizer.approximate():count("one two three"))
  t.raises(function() tok:encode("x") end, "only counts")
  t.raises(function() tok.approximate = false end, "cannot modify tokenizer")
  -- lc.text accepts the handle.
  t.eq(lc.text.count("one two three", tok), tok:count("one two three"))
  local model = assert(lc.tokenizer.load("../fixtures/tokenizer/bytelevel.json"))
  local exact = run_view.new(recipe, {}, model).tokenizer
  t.eq(exact.approximate, false)
  t.eq(exact:count("hello world"), model:count("hello world"))
  t.eq(exact:encode("hello world"), model:encode("hello world"))
  t.eq(lc.text.count("hello world", exact), lc.text.count("hello world", model))
end)

t.test("JSON params: inline or @FILE; errors name the param, file, line", function()
  local decl = { s = lc.json({ a = { 1, 2 } }, "table"), f = lc.file("lines", { lines = true }), raw = lc.file("text") }
  local v = params.resolve("r", decl, {})
  t.eq(v.s, { a = { 1, 2 } })
  t.eq(v.f, nil)
  t.truthy(v.s ~= decl.s.default, "a copy of the default")
  v = params.resolve("r", decl, { 's={"x": [true, null]}', "f=" .. FIX .. "phrases.txt", "raw=@" .. FIX .. "phrases.txt" })
  t.eq(v.s.x[1], true)
  t.eq(v.s.x[2], lc.null)
  t.eq(v.f, { "Say it again.", "In other words:" })
  t.eq(v.raw, "Say it again.\n\nIn other words:\r\n")
  v = params.resolve("r", decl, { "s=@" .. FIX .. "strategies.json" })
  t.eq(v.s.careful.weight, 3)
  local function err(kv)
    local ok, e = pcall(params.resolve, "r", decl, { kv })
    t.truthy(not ok and usage.is(e), "a usage error for " .. kv)
    return e.msg
  end
  t.truthy(err("s={"):find("param 's' (json): not JSON (line 1, column", 1, true), err("s={"))
  local m = err("s=@" .. FIX .. "strategies_bad.json")
  t.truthy(m:find("param 's' (json): " .. FIX .. "strategies_bad.json: line 2, column", 1, true), m)
  t.truthy(err("s=@"):find("no file name after @", 1, true))
  t.truthy(err("f=/no/such"):find("param 'f' (file (lines)): cannot read /no/such", 1, true))
  t.raises(function() lc.json(print, "bad default") end, "default of json param")
  t.eq(lc.json.encode({ 1 }), "[1]") -- (lc.json is still the JSON module)
end)

t.test("run.teacher_configured: true with --model only, read-only", function()
  local runner = require "lacuna.runner"
  local with = runner.new_run(recipe, {}, { model = "m" }, {}).view
  local without = runner.new_run(recipe, {}, {}, {}).view
  t.eq(with.teacher_configured, true)
  t.eq(without.teacher_configured, false)
  t.raises(function() with.teacher_configured = false end, "cannot modify run.teacher_configured")
end)

return t.done()
