-- lacuna.text from Lua: segmenting and counting under a tokenizer or the
-- approximate counter, the pool's API and its mistakes, sampling with
-- exclusion, contexts at given depths, the byte -> token index.
local t = require "testlib"
local lc = require "lacuna"
local text = lc.text

local fixtures = os.getenv("LACUNA_FIXTURES") or "../fixtures"
local words = assert(lc.tokenizer.load(fixtures .. "/text/words.json")) -- one token per pre-token

local function corpus_pool(opts)
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

t.test("sentences and segments", function()
  t.eq(text.sentences("Dr. Who left. Then e.g. this. 中文。好！"), { "Dr. Who left.", "Then e.g. this.", "中文。", "好！" })
  local segs, counts = text.segment("One two three. Four five six seven. Fifteen.", 5, words)
  t.eq(segs, { "One two three.", "Four five six seven.", "Fifteen." })
  t.eq(counts, { 4, 5, 2 })
  -- the approximate counter through lc.tokenizer.approximate() or nil: same answers
  local a1, c1 = text.segment("One two three. Four five six seven.", 5, lc.tokenizer.approximate())
  local a2, c2 = text.segment("One two three. Four five six seven.", 5)
  t.eq(a1, a2)
  t.eq(c1, c2)
  t.eq(text.count("Hello, world!", words), 4)
  -- without a tokenizer: lacuna's approximate counter, the one lc.tokenizer.approximate() is
  local sample = "Approximate counts, 12345 and 中文 too.\n"
  t.eq(text.count(sample), lc.tokenizer.approximate():count(sample))
  t.raises(function() text.segment("x", 0) end, "max_tokens must be in 1..4294967295")
  t.raises(function() text.segment("x", 1 << 40) end, "max_tokens must be in 1..4294967295")
  t.raises(function() text.segment("x", 5, 42) end, "tokenizer must be")
end)

t.test("segment: random text, invalid UTF-8 included", function()
  local g = lc.rng(31)
  local atoms = { "a", "word", "Mr.", "3.14", ". ", "! ", "? ", "\n", "\n\n", " ", "  ", "é", "中", "文。", "”", "e.g.",
                  "\xff", "\xe4\xbd", "—", "https://example.com/x?y=1", "(", ")", "\t" }
  for round = 1, 300 do
    local parts = {}
    for i = 1, g:int(0, 200) do parts[i] = atoms[g:int(#atoms)] end
    local s = table.concat(parts)
    for _, tok in ipairs { words, false } do
      local max = g:int(1, 40)
      local segs, counts = text.segment(s, max, tok or nil)
      local at = 1
      for i, seg in ipairs(segs) do
        local a, b = s:find(seg, at, true)
        t.truthy(a, "segment " .. i .. " is the next part of the text")
        t.truthy(not s:sub(at, a - 1):find("%S"), "only whitespace skipped")
        at = b + 1
        t.eq(counts[i], text.count(seg, tok or nil))
        t.truthy(counts[i] <= max or utf8.len(seg) == 1 or #seg == 1, "over the limit: " .. counts[i] .. " > " .. max)
        t.truthy(seg:find("^%S") and seg:find("%S$"), "trimmed")
        if utf8.len(s) then t.truthy(utf8.len(seg), "valid UTF-8 stays valid") end
      end
      t.truthy(not s:sub(at):find("%S"), "nothing left over in round " .. round)
    end
  end
end)

t.test("segment: invalid bytes are characters of their own", function()
  -- A run of stray continuation bytes or a truncated sequence used to be one
  -- indivisible "character" (up to 4 bytes), so a segment went over the limit.
  local segs, counts = text.segment(("\x80"):rep(6), 1)
  t.eq(table.concat(segs), ("\x80"):rep(6))
  for i, c in ipairs(counts) do t.truthy(c <= 1, "segment " .. i .. " has " .. c .. " tokens") end
  local sp = assert(lc.tokenizer.load(fixtures .. "/tokenizer/sentencepiece.json")) -- byte fallback
  segs, counts = text.segment("ab \xe4\xbd cd", 2, sp)
  t.eq(table.concat(segs), "ab\xe4\xbdcd")
  for i, c in ipairs(counts) do t.truthy(c <= 2, "segment " .. i .. " has " .. c .. " tokens") end
  -- a valid character is never cut, even when alone it is over the limit
  segs = text.segment("😀😀😀", 1, sp)
  t.eq(segs, { "😀", "😀", "😀" })
end)

t.test("segment: hostile documents lose no text and give no empty segment", function()
  local docs = {
    ("我们今天去公园散步天气很好然后吃了午饭"):rep(20), ("the quick brown fox jumps over the lazy dog "):rep(30),
    "See https://example.com/" .. ("abcdefghij0123456789"):rep(40) .. " ok.",
    ("👩‍👩‍👧‍👦 e\u{301}\u{302} 🇫🇷 a\u{327}\u{301}b "):rep(20), ("Line one.\r\nLine two\r\n\r\nPara two. "):rep(20),
    ("abc\0def. ghi\0\0 jkl. "):rep(20), ("ok \xff\xfe \xe4\xbd text \xc3 more. \x80\x80\x80 "):rep(20), "",
    " \t\r\n  \n\n \f\v ", ("x"):rep(3000), "e" .. ("\u{301}"):rep(300),
  }
  local sp = assert(lc.tokenizer.load(fixtures .. "/tokenizer/sentencepiece.json"))
  local bl = assert(lc.tokenizer.load(fixtures .. "/tokenizer/bytelevel.json"))
  for _, tok in ipairs { false, words, sp, bl } do
    for d, s in ipairs(docs) do
      for _, max in ipairs { 1, 3, 16 } do
        local segs, counts = assert(text.segment(s, max, tok or nil))
        local at = 1
        for i, seg in ipairs(segs) do
          local where = ("doc %d, max %d, segment %d"):format(d, max, i)
          t.truthy(#seg > 0, where .. " is empty")
          local a, b = s:find(seg, at, true)
          t.truthy(a and not s:sub(at, a - 1):find("[^ \t\r\n\f\v]"), where .. ": text lost before it")
          at = (b or at) + 1
          t.eq(counts[i], text.count(seg, tok or nil), where)
          t.truthy(counts[i] <= max or (utf8.len(seg) or #seg) == 1, where .. " over the limit")
          if utf8.len(s) then t.truthy(utf8.len(seg), where .. " cut inside a character") end
        end
        t.truthy(not s:sub(at):find("[^ \t\r\n\f\v]"), ("doc %d, max %d: text left over"):format(d, max))
      end
    end
  end
end)

t.test("token_index maps bytes to the token holding them", function()
  local s = "Hello, big world!"
  t.eq(text.token_index(s, { 0, 4, 5, 6, 7, 11, #s }, words), { 0, 0, 1, 2, 2, 3, 5 })
  local approx = text.token_index(s, { 0, #s })
  t.eq(approx[1], 0)
  t.eq(approx[2], text.count(s))
  t.raises(function() text.token_index(s, { #s + 1 }, words) end, "is not a byte offset")
end)

t.test("pool: reservoir, get, stats, determinism", function()
  local a = text.pool { capacity = 50, seed = 3 }
  local b = text.pool { capacity = 50, rng = lc.rng(3) }
  local c = text.pool { capacity = 50, seed = 3 }
  for i = 1, 5000 do
    a:add("segment " .. i, i)
    b:add("segment " .. i, i)
    c:add("segment " .. i, i, 2)
  end
  t.eq(#a, 50)
  t.eq(a:stats().offered, 5000)
  t.eq(a:stats().record_bytes // a:stats().segments, 24)
  local same, differ = true, 0
  for i = 1, 50 do
    local sa, ta, da = a:get(i)
    local sc, _, dc = c:get(i)
    same = same and sa == sc and da == dc
    t.eq(sa, "segment " .. da)
    if select(3, b:get(i)) ~= da then differ = differ + 1 end
    t.eq(ta, text.count(sa))
  end
  t.truthy(same, "same seed, same pool")
  t.truthy(differ > 25, "a seed from an rng is another stream")
  t.raises(function() a:get(51) end, "no such segment")
  t.raises(function() text.pool { capacity = 0 } end, "capacity must be >= 1")
  t.raises(function() a:add("x", "doc") end, "number expected")
  a:close()
  t.raises(function() a:size() end, "closed pool")
  do
    local scoped <close> = text.pool { capacity = 5, seed = 1 }
    scoped:add("x", 1)
  end
end)

t.test("sample: distinct, excludes documents, deterministic", function()
  local pool = text.pool { capacity = 100, seed = 1 }
  for i = 0, 99 do pool:add("s" .. i, i // 10) end
  local picks = assert(pool:sample(lc.rng(5), 80, { 2, 7 }))
  t.eq(#picks, 80)
  local seen = {}
  for _, slot in ipairs(picks) do
    t.truthy(not seen[slot], "no slot twice")
    seen[slot] = true
    local _, _, doc = pool:get(slot)
    t.truthy(doc ~= 2 and doc ~= 7, "excluded document drawn")
  end
  t.eq(pool:sample(lc.rng(5), 80, { 2, 7 }), picks)
  t.fails("fewer segments", pool:sample(lc.rng(5), 81, { 2, 7 }))
  t.raises(function() pool:sample(lc.rng(5), 1, { "x" }) end, "not a document id")
end)

t.test("context: exact under a tokenizer, needles where asked", function()
  local pool = corpus_pool { capacity = 10000, seed = 8, tokenizer = words }
  local needle = "The code is 4242."
  for _, depth in ipairs { 0, 0.5, 1 } do
    local c = assert(pool:context(lc.rng(1), { target = 900, needles = { needle }, depths = { depth }, exclude = { 1 } }))
    t.truthy(c.tokens <= 900 and c.tokens >= 884, "tokens " .. c.tokens)
    t.eq(c.tokens, words:count(c.text))
    local n = c.needles[1]
    t.eq(c.text:sub(n.byte_start + 1, n.byte_end), needle)
    t.eq(n.token, words:count(c.text:sub(1, n.byte_start)))
    t.eq(n.tokens, 5)
    t.truthy(math.abs(n.depth - depth) < 0.05, "depth " .. n.depth .. " for " .. depth)
  end
  local first = assert(pool:context(lc.rng(1), { target = 900, needles = { needle }, depths = { 0 } }))
  t.eq(first.needles[1].byte_start, 0)
  local last = assert(pool:context(lc.rng(1), { target = 900, needles = { needle }, depths = { 1 } }))
  t.eq(last.needles[1].byte_end, #last.text)
  -- same rng state, same context; a space separator is honoured
  local a = pool:context(lc.rng(2), { target = 500, needles = { "x y.", "z w." }, sep = " " })
  local b = pool:context(lc.rng(2), { target = 500, needles = { "x y.", "z w." }, sep = " " })
  t.eq(a, b)
  t.truthy(not a.text:find("\n"), "joined with spaces")
  t.raises(function() pool:context(lc.rng(1), { target = 0 }) end, "target must be")
  t.raises(function() pool:context(lc.rng(1), { target = 10, needles = { "a" }, depths = { 1.5 } }) end, "outside [0, 1]")
  t.raises(function() pool:context(lc.rng(1), { target = 10, needles = { true } }) end, "needles[1] is not a string or a pool slot")
  t.fails("too few segments", pool:context(lc.rng(1), { target = 10000000 }))
  -- a needle given as a pool slot: its text, and its document excluded
  local stext, _, sdoc = pool:get(7)
  local c = assert(pool:context(lc.rng(4), { target = 3000, needles = { 7 } }))
  local n = c.needles[1]
  t.eq(c.text:sub(n.byte_start + 1, n.byte_end), stext)
  local others = {}
  for i = 1, #pool do
    local s, _, d = pool:get(i)
    if d == sdoc and i ~= 7 then others[#others + 1] = s end
  end
  for _, s in ipairs(others) do t.truthy(not c.text:find(s, 1, true), "a segment of the needle's document") end
  t.raises(function() pool:context(lc.rng(1), { target = 10, needles = { #pool + 1 } }) end, "is not a pool slot")
end)

t.test("context: exact under every fixture tokenizer, whatever merges across the joins", function()
  local atoms = { "word", "The", "river", "3.14", ". ", "! ", "? ", "\n", "\n\n", " ", "  ", "é", "中文", "文。", "”",
    "e.g.", "—", "https://example.com/a/b?c=1&d=2", "(", ")", "\t", "😀", "e\u{301}", "\r\n", "ありがとう", "1234567",
    "don't", "'s", "...", "Mr. Smith", "x" }
  local needles_of = { "The code is 4242.", " lead space", "trail space ", "\n", "中文。", "x", "😀😀", "don't" }
  local sp = assert(lc.tokenizer.load(fixtures .. "/tokenizer/sentencepiece.json"))
  local bl = assert(lc.tokenizer.load(fixtures .. "/tokenizer/bytelevel.json"))
  for _, tok in ipairs { words, sp, bl } do
    local g = lc.rng(7)
    local pool = text.pool { capacity = 5000, seed = 1, tokenizer = tok }
    for d = 1, 150 do
      local p = {}
      for i = 1, g:int(1, 300) do p[i] = atoms[g:int(#atoms)] end
      assert(pool:add_document(table.concat(p), d, g:int(4, 64)))
    end
    local built = 0
    for round = 1, 120 do
      local needles, depths = {}, {}
      for j = 1, g:int(0, 3) do
        needles[j] = needles_of[g:int(#needles_of)]
        if g:int(2) == 1 then depths[j] = ({ 0, 1, 0.5, g:float() })[g:int(4)] end
      end
      local sep = ({ "\n", " ", "", "\n\n", "|" })[g:int(5)]
      local target = g:int(20, 1500)
      local c, err = pool:context(lc.rng(round), { target = target, needles = needles, depths = depths, sep = sep })
      local where = ("round %d, target %d, sep %q"):format(round, target, sep)
      if c then
        built = built + 1
        t.eq(c.tokens, tok:count(c.text), where)
        t.truthy(c.tokens <= target and c.tokens >= target - 16, where .. ": " .. c.tokens .. " tokens")
        for j, n in ipairs(c.needles) do
          t.eq(c.text:sub(n.byte_start + 1, n.byte_end), needles[j], where)
          t.eq(n.token, text.token_index(c.text, { n.byte_start }, tok)[1], where .. ", needle " .. j)
        end
      else
        t.truthy(err:find("needles alone are") or err:find("too few segments"), where .. ": " .. err)
      end
    end
    t.truthy(built >= 100, "contexts built: " .. built)
  end
end)

t.test("context: caller mistakes and targets it cannot meet", function()
  local pool = corpus_pool { capacity = 10000, seed = 8, tokenizer = words }
  -- needles alone over the target: nil and a message, not a context over the target
  local many = {}
  for i = 1, 30 do many[i] = "Needle number " .. i .. "." end
  t.fails("the needles alone are 120 tokens, over the target 100", pool:context(lc.rng(1), { target = 100, needles = many }))
  local empty = text.pool { capacity = 5, seed = 1 }
  t.fails("needles alone are", empty:context(lc.rng(1), { target = 3, needles = { "one two three four five" } }))
  t.fails("too few segments", empty:context(lc.rng(1), { target = 3 }))
  -- exactly at the target with no filler is fine
  local c = assert(pool:context(lc.rng(1), { target = 5, needles = { "The code is 4242." } }))
  t.eq(c.tokens, 5)
  t.eq(c.fillers, 0)
  t.raises(function() pool:context(lc.rng(1), { target = 100, needles = { "a" }, depths = { 0 / 0 } }) end,
    "depths[1] = -nan is outside [0, 1]")
  t.raises(function() pool:context(lc.rng(1), { target = 100, needles = { "a" }, depths = { 0.5, 0.2 } }) end,
    "depths has 2 entries for 1 needles")
  t.raises(function() pool:context(lc.rng(1), { target = 100, exclude = "3" }) end,
    "exclude must be a list of document ids, got string")
  t.raises(function() pool:context(lc.rng(1), { target = 2.5 }) end, "target must be an integer >= 1")
  t.raises(function() pool:context(lc.rng(1), { target = -1 }) end, "target must be an integer >= 1")
  t.eq(tostring(text.pool { capacity = math.maxinteger, seed = 1 }),
    "lacuna.TextPool (0 of " .. math.maxinteger .. " segments)")
  -- capacity 1: still a uniform reservoir, one segment
  local one = text.pool { capacity = 1, seed = 4 }
  for i = 1, 100 do one:add("seg " .. i, i) end
  t.eq(#one, 1)
  t.fails("fewer segments", one:sample(lc.rng(1), 1, { select(3, one:get(1)) }))
  t.eq(one:sample(lc.rng(1), 0), {})
end)

t.test("context: a needle at depth 0 comes first, before a filler of 0 tokens too", function()
  local pool = text.pool { capacity = 100, seed = 2 }
  pool:add("Zero.", 1, 0) -- as a tokenizer that drops its bytes would count it
  for d = 2, 30 do pool:add("Filler words of document " .. d .. ".", d) end
  for seed = 1, 40 do
    local c = assert(pool:context(lc.rng(seed), { target = 60, needles = { "Needle." }, depths = { 0 } }))
    t.eq(c.needles[1].byte_start, 0, "seed " .. seed)
  end
end)

t.test("context: approximate counter sums the pieces", function()
  local pool = corpus_pool { capacity = 10000, seed = 8 }
  local c = assert(pool:context(lc.rng(3), { target = 2000, needles = { "Needle here." } }))
  t.truthy(c.tokens <= 2000 and c.tokens >= 1984, "tokens " .. c.tokens)
  t.truthy(math.abs(c.tokens - text.count(c.text)) <= c.fillers // 2 + 2, "sum close to the whole count")
end)

t.test("context into a buffer: the same text, kept in C memory", function()
  local pool = corpus_pool { capacity = 10000, seed = 8 }
  local buf = text.buffer()
  t.eq(#buf, 0)
  t.eq(buf:tostring(), "")
  t.eq(buf:sub(1), "")
  for i, target in ipairs { 300, 2000, 700 } do -- a shorter one after a longer one reuses the room
    local opts = { target = target, needles = { "Needle " .. i .. "." }, exclude = { i } }
    local want = assert(pool:context(lc.rng(i), opts))
    local got = assert(pool:context(lc.rng(i), opts, buf))
    t.eq(got.text, nil)
    t.eq(buf:tostring(), want.text)
    t.eq(tostring(buf), want.text)
    t.eq(#buf, #want.text)
    t.eq(buf:len(), #want.text)
    want.text = nil
    t.eq(got, want)
    local n = got.needles[1]
    t.eq(buf:sub(n.byte_start + 1, n.byte_end), "Needle " .. i .. ".")
  end
  local s = buf:tostring()
  for _, ij in ipairs { { 1 }, { 5, 9 }, { -7 }, { -7, -2 }, { 0, 3 }, { 10, 5 }, { -1000, 4 }, { 3, 1000000 }, { #s + 1 } } do
    t.eq(buf:sub(ij[1], ij[2]), s:sub(ij[1], ij[2]), "sub(" .. tostring(ij[1]) .. ", " .. tostring(ij[2]) .. ")")
  end
  local path = t.tmpdir() .. "/buf.txt"
  local f = assert(io.open(path, "wb"))
  t.eq(buf:write(f), f)
  f:write("|")
  f:close()
  t.eq(t.readfile(path), s .. "|")
  t.raises(function() buf:write(f) end, "closed file")
  t.raises(function() buf:write("x") end, "FILE* expected")
  t.raises(function() pool:context(lc.rng(1), { target = 10 }, {}) end, "lacuna.TextBuffer expected")
end)

t.test("a closed tokenizer is noticed by the pool", function()
  local tok = assert(lc.tokenizer.load(fixtures .. "/text/words.json"))
  local pool = text.pool { capacity = 10, seed = 1, tokenizer = tok }
  pool:add("a b", 1)
  tok:close()
  t.raises(function() pool:add("c d", 2) end, "closed tokenizer")
end)

return t.done()
