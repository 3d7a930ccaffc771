-- lacuna.tokenizer: the friendly API, and the pipeline stages on tokenizers built
-- here. With ignore_merges on and every expected piece in the vocabulary, each
-- pre-token comes out as one token, so the tokens show the splits themselves.
local t = require "testlib"
local lc = require "lacuna"
local tk = lc.tokenizer

local fixtures = os.getenv("LACUNA_FIXTURES") or "../fixtures"

local function jstr(s) return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"' end

-- A tokenizer whose vocab is `pieces` (plus their single chars), ignore_merges on.
local function make(parts, pieces)
  local vocab, seen, n = {}, {}, 0
  local function add(p)
    if not seen[p] then
      seen[p] = true
      vocab[#vocab + 1] = jstr(p) .. ":" .. n
      n = n + 1
    end
  end
  for _, p in ipairs(pieces) do
    for _, c in utf8.codes(p) do add(utf8.char(c)) end
    add(p)
  end
  local json = string.format([[{"version":"1.0","added_tokens":%s,"normalizer":%s,"pre_tokenizer":%s,
    "post_processor":null,"decoder":%s,
    "model":{"type":"BPE","unk_token":null,"ignore_merges":true,"vocab":{%s},"merges":[]}}]],
    parts.added or "[]", parts.normalizer or "null", parts.pre_tokenizer or "null",
    parts.decoder or "null", table.concat(vocab, ","))
  return assert(tk.from_json(json))
end

local function pieces(tok, text, opts)
  local ids, bytes, chars = tok:encode(text, opts or { add_special_tokens = false, offsets = true })
  local out = {}
  for i, id in ipairs(ids) do out[i] = tok:id_to_token(id) end
  return out, bytes, chars
end

local WORDS = { "the", "-", "final", "countdown", "the-", "final-", "-final", "-countdown", "--" }

t.test("Split: every behavior on the-final--countdown (HF's documented example)", function()
  local want = {
    Removed = { "the", "final", "countdown" },
    Isolated = { "the", "-", "final", "-", "-", "countdown" },
    MergedWithPrevious = { "the-", "final-", "-", "countdown" },
    MergedWithNext = { "the", "-final", "-", "-countdown" },
    Contiguous = { "the", "-", "final", "--", "countdown" },
  }
  for behavior, expect in pairs(want) do
    local tok = make({ pre_tokenizer = string.format(
      '{"type":"Split","pattern":{"String":"-"},"behavior":"%s","invert":false}', behavior) }, WORDS)
    t.eq(pieces(tok, "the-final--countdown"), expect, behavior)
  end
end)

t.test("Split: regex pattern with invert keeps the matches", function()
  local tok = make({ pre_tokenizer =
    [[{"type":"Split","pattern":{"Regex":"[a-z]+"},"behavior":"Removed","invert":true}]] }, WORDS)
  t.eq(pieces(tok, "the-final--countdown"), { "the", "final", "countdown" })
end)

t.test("ByteLevel splits with GPT-2's regex and maps bytes", function()
  local tok = make({ pre_tokenizer = [[{"type":"ByteLevel","add_prefix_space":true,"use_regex":true}]],
    decoder = [[{"type":"ByteLevel"}]] }, { "Ġhello", "Ġworld", "!", "Ġ" })
  local got, bytes = pieces(tok, "hello world!")
  t.eq(got, { "Ġhello", "Ġworld", "!" })
  -- the prefix space is aligned with the first character, so offsets stay in the text
  t.eq(bytes, { { 0, 5 }, { 5, 11 }, { 11, 12 } })
  t.eq(tok:decode(tok:encode("hello world!", { add_special_tokens = false })), " hello world!")
end)

t.test("Metaspace: prepend_scheme first, split on the replacement", function()
  local tok = make({ pre_tokenizer =
    [[{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}]],
    decoder = [[{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}]] },
    { "▁hey", "▁you", "▁" })
  local got, bytes = pieces(tok, "hey you")
  t.eq(got, { "▁hey", "▁you" })
  t.eq(bytes, { { 0, 3 }, { 3, 7 } })
  t.eq(tok:decode(tok:encode("hey you")), "hey you")
end)

t.test("Digits: individual or contiguous", function()
  local one = make({ pre_tokenizer = [[{"type":"Digits","individual_digits":true}]] }, { "ab", "123" })
  t.eq(pieces(one, "ab123"), { "ab", "1", "2", "3" })
  local run = make({ pre_tokenizer = [[{"type":"Digits","individual_digits":false}]] }, { "ab", "123" })
  t.eq(pieces(run, "ab123"), { "ab", "123" })
end)

t.test("Sequence of pre-tokenizers", function()
  local tok = make({ pre_tokenizer = [[{"type":"Sequence","pretokenizers":[
      {"type":"WhitespaceSplit"},{"type":"Digits","individual_digits":true}]}]] }, { "ab", "12" })
  t.eq(pieces(tok, " ab  12 "), { "ab", "1", "2" })
end)

t.test("NFC: a composed char aligns with its first source char (HF's alignment)", function()
  local tok = make({ normalizer = [[{"type":"NFC"}]] }, { "é", "x" })
  local got, bytes, chars = pieces(tok, "e\u{301}x")
  t.eq(got, { "é", "x" })
  t.eq(bytes, { { 0, 1 }, { 3, 4 } })
  t.eq(chars, { { 0, 1 }, { 2, 3 } })
end)

t.test("Replace and Lowercase normalizers keep offsets on the original", function()
  local tok = make({ normalizer = [[{"type":"Sequence","normalizers":[{"type":"Lowercase"},
      {"type":"Replace","pattern":{"String":"  "},"content":"_"}]}]],
    pre_tokenizer = [[{"type":"Split","pattern":{"String":"_"},"behavior":"Isolated","invert":false}]] },
    { "ab", "_" })
  local got, bytes = pieces(tok, "AB  ab")
  t.eq(got, { "ab", "_", "ab" })
  -- the replacement aligns with the last character it replaced
  t.eq(bytes, { { 0, 2 }, { 3, 4 }, { 4, 6 } })
end)

t.test("added tokens: normalized contents match the normalized text", function()
  local tok = make({ normalizer = [[{"type":"Lowercase"}]], added = [==[[
      {"id":0,"content":"<B>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":true}]]==] },
    { "a", "<b>" })
  local got, bytes = pieces(tok, "a<B>a")
  t.eq(#got, 3)
  t.eq(got[2], "<B>")
  t.eq(bytes[2], { 1, 4 })
  t.eq(tok:decode(tok:encode("a<B>a"), { skip_special_tokens = true }), "a a")
end)

t.test("load from a directory or a file; errors are nil, message", function()
  local tok = assert(tk.load(fixtures .. "/tokenizer/bytelevel.json"))
  t.eq(tok.approximate, false)
  t.eq(tok:encode("ab"), { 9, 4 })
  t.eq(tok:encode("ab", { add_special_tokens = false }), { 4 })
  t.eq(tok:count("ab abc"), 3)
  t.eq(tok:token_to_id("<x>"), 10)
  t.eq(tok:id_to_token(10), "<x>")
  t.eq(tok:vocab_size(), 11)
  t.fails("normalizer type 'BertNormalizer' is not supported",
    tk.load(fixtures .. "/tokenizer/unsupported_normalizer.json"))
  t.fails("cannot open", tk.load(fixtures .. "/tokenizer/missing"))
  t.raises(function() tok:encode(42) end, "text must be a string")
  t.raises(function() tok:decode({ "x" }) end, "not a token id")
  -- ids and counts out of range are refused, not cast (found by tests/fuzz)
  local text = t.readfile(fixtures .. "/tokenizer/bytelevel.json")
  local neg = text:gsub('"ids": %[%s*9%s*%]', '"ids": [-9]')
  t.truthy(neg ~= text)
  t.fails("post_processor.special_tokens.<s>.ids[0]: expected a token id (an integer >= 0)", tk.from_json(neg))
  local strip = text:gsub('"decoder": {.-}', '"decoder": {"type": "Strip", "content": " ", "start": -1, "stop": 0}')
  t.fails("start and stop must be counts (integers >= 0)", tk.from_json(strip))
  -- Strip after ByteFallback over a lone lead byte decodes (the input ASan
  -- caught reading past a piece is tests/fuzz/corpus/tokenizer/regress_strip_partial_char.json)
  local partial = assert(tk.from_json([[{"version":"1.0","added_tokens":[],"normalizer":null,
    "pre_tokenizer":null,"post_processor":null,
    "decoder":{"type":"Sequence","decoders":[{"type":"ByteFallback"},
      {"type":"Strip","content":" ","start":1,"stop":0}]},
    "model":{"type":"BPE","unk_token":null,"byte_fallback":true,"vocab":{"<0xF0>":0,"a":1},"merges":[]}}]]))
  t.truthy(partial:decode({ 1, 0 }))
end)

-- model.vocab and model.merges are read straight from the text (model_json.c)
-- when they are plain; anything else goes through cJSON. Both must agree.
t.test("vocab and merges with escapes, both merge forms, and the cJSON fallback", function()
  local function load(vocab, merges, extra)
    return tk.from_json(string.format([[{"version":"1.0","added_tokens":[],"normalizer":null,
      "pre_tokenizer":null,"post_processor":null,"decoder":null%s,
      "model":{"type":"BPE","unk_token":null,"vocab":%s,"merges":%s}}]], extra or "", vocab, merges))
  end
  local vocab = [[{"a":0,"b":1,"ab":2,"\u00e9":3,"a\u00e9":4,"\ud83d\ude00":5,"\"":6,"\"\"":7, "x y":8}]]
  for _, merges in ipairs { [=[[["a","b"],"a \u00e9",["\"","\""]]]=], [=[["a b","a \u00e9","\" \""]]=] } do
    local tok = assert(load(vocab, merges))
    t.eq(tok:encode("ab\u{e9}a\u{e9}\u{1F600}\"\"", { add_special_tokens = false }), { 2, 3, 4, 5, 7 }, merges)
  end
  -- declined (an id written 2.0, a \u0000, a duplicate key): cJSON reads it all, same tokenizer
  local tok = assert(load([[{"a":0,"b":1.0,"ab":2}]], [=[["a b"]]=]))
  t.eq(tok:encode("ab", { add_special_tokens = false }), { 2 })
  tok = assert(load([[{"a":0,"b":1,"ab":2,"\u0000":3}]], [=[["a b"]]=]))
  t.eq(tok:encode("ab", { add_special_tokens = false }), { 2 })
  -- errors still name the problem
  t.fails("model.vocab['b']: expected a non-negative integer id", load([[{"a":0,"b":-1}]], "[]"))
  t.fails("model.merges[0]: 'a  b' is not \"a b\"", load([[{"a":0,"b":1}]], [=[["a  b"]]=]))
  t.fails("model.merges[0]: token 'c' is not in the vocabulary", load([[{"a":0,"b":1}]], [=[[["a","c"]]]=]))
  t.fails("not valid JSON", load([[{"a":0,"b":1}]], [=[[["a","b"]]=]))
end)

-- Unicode newer than PCRE2 10.42's tables (issue 9): U+31350 (CJK extension
-- H) and U+11F04 (Kawi) are letters of Unicode 15, U+1FAAF (Khanda) a symbol.
t.test("Unicode 15 letters and symbols are classified as HF tokenizers classifies them", function()
  local letters = make({ pre_tokenizer =
    [[{"type":"Split","pattern":{"Regex":"\\p{L}+"},"behavior":"Isolated","invert":false}]] },
    { "a\u{31350}b", "\u{11F04}", "-" })
  t.eq(pieces(letters, "a\u{31350}b-\u{11F04}"), { "a\u{31350}b", "-", "\u{11F04}" })
  local symbols = make({ pre_tokenizer =
    [[{"type":"Split","pattern":{"Regex":"[\\p{P}\\p{S}]+"},"behavior":"Isolated","invert":false}]] },
    { "-\u{1FAAF}", "a" })
  t.eq(pieces(symbols, "a-\u{1FAAF}a"), { "a", "-\u{1FAAF}", "a" })
end)

t.test("a code point newer than lacuna's Unicode is refused where its category matters", function()
  -- U+10D4A is a Garay letter (Unicode 16), U+1FAE9 an emoji (Unicode 16)
  local letters = make({ pre_tokenizer =
    [[{"type":"Split","pattern":{"Regex":"\\p{L}+"},"behavior":"Isolated","invert":false}]] },
    { "a", "\u{10D4A}", "\u{1FAE9}" })
  t.fails("U+10D4A (byte 1) is unassigned in lacuna's Unicode 15.0.0 tables but assigned",
    letters:encode("a\u{10D4A}", { add_special_tokens = false }))
  -- a pattern that names no symbol class treats a new emoji as it treats any
  -- unassigned code point, as a tokenizer knowing it does: accepted
  t.eq(pieces(letters, "a\u{1FAE9}"), { "a", "\u{1FAE9}" })
  local symbols = make({ pre_tokenizer =
    [[{"type":"Split","pattern":{"Regex":"\\p{S}+"},"behavior":"Isolated","invert":false}]] }, { "a", "\u{1FAE9}" })
  t.eq(symbols:encode("a\u{1FAE9}"), nil)
  -- no pre-tokenizer (SentencePiece style): nothing is classified, nothing refused
  t.eq(pieces(make({}, { "\u{10D4A}" }), "\u{10D4A}"), { "\u{10D4A}" })
end)

t.test("NFC leaves marks newer than Unicode 9.0 in place, as HF's normalizer does", function()
  local nfc = make({ normalizer = [[{"type":"NFC"}]] }, { "a", "\u{1DF6}", "\u{323}", "\u{1EA1}", "\u{1DC4}" })
  -- U+1DF6 (Unicode 10, class 232) stays before U+0323 (class 220)
  t.eq(pieces(nfc, "a\u{1DF6}\u{323}"), { "a", "\u{1DF6}", "\u{323}" })
  -- U+1DC4 (Unicode 5, class 230) is reordered after U+0323, which composes with a
  t.eq(pieces(nfc, "a\u{1DC4}\u{323}"), { "\u{1EA1}", "\u{1DC4}" })
end)

t.test("approximate counter says it is approximate", function()
  local a = tk.approximate()
  t.eq(a.approximate, true)
  t.eq(a:count(""), 0)
  t.eq(a:count("hello"), 1)
  t.eq(a:count("hello world, again."), 4) -- 3 words + 2 punctuation at 0.6
  t.eq(a:count("中文字"), 4) -- 1.25 per ideograph
  t.eq(a:count("12345"), 2)
  t.eq(a:count("\n\n\n"), 1)
end)

return t.done()
