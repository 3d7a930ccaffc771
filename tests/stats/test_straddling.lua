-- The straddling-token count of --format tokens: tokenizer.encode_labels
-- counts the tokens that overlap a trained byte range without lying wholly
-- inside it. The fixture tokenizer splits "cc abc" into c [0,1) c [1,2)
-- "Ġ" [2,3) abc [3,6).
local t = require "testlib"
local lc = require "lacuna"

local tok = assert(lc.tokenizer.load(os.getenv("LACUNA_FIXTURES") .. "/tokenizer/bytelevel.json"))
local TEXT = "cc abc"

local function labels(trained)
  local ids, labs, straddling = tok.raw:encode_labels(TEXT, trained, {})
  t.eq(ids, { 2, 2, 3, 6 })
  return labs, straddling
end

t.test("the offsets the cases rely on", function()
  local ids, bytes = tok:encode(TEXT, { offsets = true, add_special_tokens = false })
  t.eq(ids, { 2, 2, 3, 6 })
  t.eq(bytes, { { 0, 1 }, { 1, 2 }, { 2, 3 }, { 3, 6 } })
end)

t.test("straddling tokens are masked and counted", function()
  -- "bc" is inside abc: abc straddles, nothing is trained.
  t.eq({ labels({ { 4, 6 } }) }, { { -100, -100, -100, -100 }, 1 })
  -- "abc" exactly: trained, no straddling.
  t.eq({ labels({ { 3, 6 } }) }, { { -100, -100, -100, 6 }, 0 })
  -- "c a": c and the space trained, abc straddles the end.
  t.eq({ labels({ { 1, 4 } }) }, { { -100, 2, 3, -100 }, 1 })
  -- Two ranges: the first c trained; abc straddles the second.
  t.eq({ labels({ { 0, 1 }, { 5, 6 } }) }, { { 2, -100, -100, -100 }, 1 })
  -- From inside the first c to inside abc: both ends straddle.
  t.eq({ labels({ { 1, 5 } }) }, { { -100, 2, 3, -100 }, 1 })
  t.eq({ labels({ { 0, 6 } }) }, { { 2, 2, 3, 6 }, 0 })
  t.eq({ labels({}) }, { { -100, -100, -100, -100 }, 0 })
end)

t.done()
