-- Context assembly and sampling give the same bytes, spans and rng state as
-- the assembly did before its speed work (the digest below was made by the
-- code before the draw fetched batches early, commit e545f44): speed changes
-- to core/text must not change a recipe's output for a given seed.
local t = require "testlib"
local lc = require "lacuna"
local text = lc.text

local function corpus_pool(opts) -- the same pool as test_text.lua's
  local pool = text.pool(opts)
  local g = lc.rng(99)
  local vocab = { "river", "stone", "cloud", "paper", "seven", "number", "bright", "under" }
  for d = 1, 120 do
    local sents = {}
    for s = 1, 12 do
      local w = {}
      for i = 1, g:int(4, 12) do w[i] = vocab[g:int(#vocab)] end
      w[1] = w[1]:gsub("^%l", string.upper)
      sents[s] = table.concat(w, " ") .. "."
    end
    assert(pool:add_document(table.concat(sents, " "), d, 40))
  end
  return pool
end

t.test("contexts, needle spans, a sample and the rng state after them: as before", function()
  local pool = corpus_pool { capacity = 10000, seed = 8 }
  t.eq(#pool, 380)
  -- 40-token segments: a 9,000-token context takes ~225 fillers, 7 batches of draws
  local g, parts = lc.rng(12), {}
  for i, target in ipairs { 6000, 2500, 9000 } do
    local c = assert(pool:context(g, { target = target, needles = { "Needle " .. i .. ".", 5 * i }, exclude = { i, i + 7 } }))
    parts[#parts + 1] = c.text
    for _, n in ipairs(c.needles) do parts[#parts + 1] = table.concat({ n.byte_start, n.token, n.tokens }, ",") end
  end
  parts[#parts + 1] = table.concat(assert(pool:sample(g, 300, { 3, 4 })), ",")
  parts[#parts + 1] = tostring(g:int(1 << 30))
  t.eq(lc.sha256(table.concat(parts, "|")), "6a8e9bbdb0db42ca8f8c94c0d9381ea92285220cd8a910f918eef1a7f0ca025f")
end)

return t.done()
