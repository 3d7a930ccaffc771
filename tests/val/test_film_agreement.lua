-- lacuna's FILM scorer (lua/lacuna/eval/metrics.lua, eval/curve.lua, core/pycase.c)
-- against film_metrics.py, a re-implementation of FILM's metric code in
-- Python, on a hand-checked set of predictions (fixtures/film_predictions.jsonl:
-- each line's "expected" score was worked out by hand). Scores, span means,
-- avg and gap must agree exactly.
local t = require "testlib"
local lc = require "lacuna"
local metrics = require "lacuna.eval.metrics"
local curve = require "lacuna.eval.curve"
local pycase = require("lacuna.core").pycase

local FIX = "fixtures/film_predictions.jsonl"

local function read_lines(path)
  local out = {}
  for line in io.lines(path) do
    if line:match("%S") then out[#out + 1] = assert(lc.json.decode(line)) end
  end
  return out
end

local function python(args, input)
  local tmp
  if input then
    tmp = os.tmpname()
    local f = assert(io.open(tmp, "wb"))
    f:write(input)
    f:close()
    args = args .. " " .. tmp
  end
  local p = assert(io.popen("python3 " .. args))
  local out = p:read("a")
  local ok = p:close()
  if tmp then os.remove(tmp) end
  assert(ok, "python3 " .. args .. " failed")
  return assert(lc.json.decode(out))
end

local recs = read_lines(FIX)

t.test("every hand-checked score", function()
  for i, r in ipairs(recs) do
    t.eq(metrics.score(r.kind, r, r.prediction) + 0.0, r.expected + 0.0, "line " .. i)
  end
end)

t.test("scores, spans, avg and gap equal film_metrics.py's exactly", function()
  local ref = python("film_metrics.py " .. FIX)
  local results = {}
  for i, r in ipairs(recs) do
    local s = metrics.score(r.kind, r, r.prediction)
    t.truthy(s == ref.scores[i], string.format("line %d: lacuna %.17g, python %.17g", i, s, ref.scores[i]))
    results[i] = { kind = r.kind, set_id = r.set_id, position_id = r.position_id, positions = r.positions, score = s }
  end
  local got = curve.film(results)
  for kind, want in pairs(ref.curves) do
    local c = got[kind]
    t.truthy(c, kind)
    t.truthy(c.avg == want.avg, string.format("%s avg: %.17g vs %.17g", kind, c.avg, want.avg))
    t.truthy(c.gap == want.gap, string.format("%s gap: %.17g vs %.17g", kind, c.gap, want.gap))
    for i, sp in ipairs(c.spans) do
      local w = want.spans[i]
      if w == lc.json.null then w = nil end
      t.truthy(sp.mean == w, string.format("%s span %d: %s vs %s", kind, i, tostring(sp.mean), tostring(w)))
    end
  end
end)

t.test("FILM's spans leave out each span's last position; spans = all keeps it", function()
  local rs = { { kind = "code", set_id = 0, position_id = 0, positions = 50, score = 1 },
               { kind = "code", set_id = 0, position_id = 49, positions = 50, score = 0 } }
  t.eq(curve.film(rs).code.avg, 1.0)
  t.eq(curve.film(rs, { spans = "all" }).code.avg, 0.5)
end)

t.test("lower and split equal Python's str.lower() and str.split()", function()
  local samples = { "ΟΔΟΣ ΣΑΣ Σ", "İstanbul", "Straße ẞ", "A\u{a0}B\u{2028}C\u{1c}D\u{85}E", "Σ.", "ΑΣ'Σ", "ǅ Ǆ",
    "  lead and trail  ", "", "ᾼ ΩΣ\u{301}", "ＡＢＣ", "Ⅻ ⓐ Ⓐ" }
  local ref = python([[-c "import json,sys; xs=json.load(open(sys.argv[1])); print(json.dumps([[x.lower(), x.split()] for x in xs]))"]],
    lc.json.encode(lc.json.array(samples)))
  for i, s in ipairs(samples) do
    t.eq(pycase.lower(s), ref[i][1], "lower " .. s)
    t.eq(pycase.split(s), ref[i][2], "split " .. s)
  end
end)

t.test("scoring mistakes are errors", function()
  t.truthy(not pcall(metrics.score, "document", { completion = "   " }, "x"))
  t.truthy(not pcall(metrics.score, "database", { label = "a" }, "x"))
  t.truthy(not pcall(metrics.score, "unknown", { completion = "a" }, "x"))
  t.eq(metrics.score("document", { answers = { { completion = "a b" }, { completion = "c" } } }, "a c"), 0.75)
end)

return t.done()
