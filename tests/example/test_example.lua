-- The friendly Example API (lua/lacuna/example.lua) over core.example.
local t = require "testlib"
local lc = require "lacuna"
local E = require "lacuna.example"

-- Segments as compact strings "b-e/cb-ce:T|F" for readable comparisons.
local function segs(ex, i)
  local out = {}
  for k, s in ipairs(ex:segments(i)) do
    out[k] = string.format("%d-%d/%d-%d:%s", s.b, s.e, s.cb, s.ce, s.train and "T" or "F")
  end
  return out
end

t.test("builders chain and read back", function()
  local ex = E.new()
  t.eq(ex:system("Be careful."):user("2+2?"):assistant("4"), ex)
  t.eq(#ex, 3)
  t.eq(ex:count(), 3)
  t.eq(ex:message(1), { role = "system", content = "Be careful." })
  t.eq(ex:message(3), { role = "assistant", content = "4" })
  ex:user("ok", true):message("tool", "{}", false)
  t.eq(ex:message(4), { role = "user", content = "ok", train = true })
  t.eq(ex:message(5), { role = "tool", content = "{}", train = false })
  t.eq(tostring(ex), "Example (5 messages: system, user, assistant, user, tool)")
  t.truthy(E.is_example(ex))
  t.truthy(not E.is_example({}))
  t.truthy(not E.is_example("x"))
end)

t.test("role defaults: assistant trained, others not", function()
  local ex = E.new():system("s"):user("u"):assistant("a"):message("tool", "t")
  t.eq(segs(ex, 1), { "0-1/0-1:F" })
  t.eq(segs(ex, 2), { "0-1/0-1:F" })
  t.eq(segs(ex, 3), { "0-1/0-1:T" })
  t.eq(segs(ex, 4), { "0-1/0-1:F" })
  ex:assistant("x", false):user("y", true)
  t.eq(segs(ex, 5), { "0-1/0-1:F" })
  t.eq(segs(ex, 6), { "0-1/0-1:T" })
end)

t.test("parts build a PAM message", function()
  local attempt = "A1: the answer is (B). "
  local verify = "Thinking about the correctness of the previous answer... Sorry, there is an error. "
  local fix = "A2: the answer is (C)."
  local ex = E.new()
    :user("Q?")
    :assistant { E.part(attempt, false), E.part(verify, true), { fix, train = true } }
  local m = ex:message(2)
  t.eq(m.content, attempt .. verify .. fix)
  t.eq(m.spans, { { 0, #attempt, false }, { #attempt, #attempt + #verify, true },
    { #attempt + #verify, #m.content, true } })
  local n = #m.content
  t.eq(segs(ex, 2), {
    string.format("0-%d/0-%d:F", #attempt, #attempt),
    string.format("%d-%d/%d-%d:T", #attempt, n, #attempt, n),
  })
end)

t.test("parts: plain strings and nil flags take the message flag", function()
  local ex = E.new():assistant({ "a", E.part("b", false), "c" })
  t.eq(segs(ex, 1), { "0-1/0-1:T", "1-2/1-2:F", "2-3/2-3:T" })
  ex:user({ "a", E.part("b", true) })
  t.eq(segs(ex, 2), { "0-1/0-1:F", "1-2/1-2:T" })
  ex:message("user", { "a", "b" }, true)
  t.eq(segs(ex, 3), { "0-2/0-2:T" })
  -- a single part given alone
  ex:assistant(E.part("solo", false))
  t.eq(ex:message(4).content, "solo")
  t.eq(segs(ex, 4), { "0-4/0-4:F" })
  ex:assistant({ text = "named", train = false })
  t.eq(segs(ex, 5), { "0-5/0-5:F" })
  -- lc exposes the same builders
  local ex2 = lc.example():assistant { lc.part("x", false), lc.part("y", true) }
  t.eq(segs(ex2, 1), { "0-1/0-1:F", "1-2/1-2:T" })
end)

t.test("segments use character offsets for multi-byte text", function()
  -- "Café 中文 😀!" with the CJK word and the emoji trained
  local ex = E.new():assistant { E.part("Café ", false), E.part("中文", true), E.part(" ", false),
    E.part("😀", true), E.part("!", false) }
  t.eq(segs(ex, 1), { "0-6/0-5:F", "6-12/5-7:T", "12-13/7-8:F", "13-17/8-9:T", "17-18/9-10:F" })
  t.eq(ex:char_offset(1, 0), 0)
  t.eq(ex:char_offset(1, 6), 5)
  t.eq(ex:char_offset(1, 17), 9)
  t.eq(ex:char_offset(1, 18), 10)
  t.raises(function() ex:char_offset(1, 7) end, "inside a UTF-8 character")
end)

t.test("explicit spans", function()
  local ex = E.new():spans("assistant", "abcdef", { { 1, 3, true }, { 3, 4, false } })
  t.eq(segs(ex, 1), { "0-1/0-1:F", "1-3/1-3:T", "3-6/3-6:F" })
  -- nil span flag: the role default
  ex:spans("assistant", "abcdef", { { 2, 4 } })
  t.eq(segs(ex, 2), { "0-2/0-2:F", "2-4/2-4:T", "4-6/4-6:F" })
  -- a rejected span list adds nothing
  t.raises(function() ex:spans("assistant", "aé", { { 0, 2 } }) end,
    "span 1: end 2 is inside a UTF-8 character")
  t.eq(#ex, 2)
  t.raises(function() ex:spans("user", "abc", { { 0, 2 }, { 1, 3 } }) end, "span 2: overlaps span 1")
  t.eq(#ex, 2)
end)

t.test("meta", function()
  local ex = E.new { meta = { id = "q1", depth = 0.5 } }
  t.eq(ex:meta(), { id = "q1", depth = 0.5 })
  ex:meta().strategy = "step-by-step"
  t.eq(ex:meta().strategy, "step-by-step")
  t.truthy(rawequal(ex:meta(), ex:meta()))
  t.eq(E.new():meta(), {})
  t.eq(E({ meta = { a = 1 } }):meta(), { a = 1 })
end)

t.test("meta: copied from new{meta=}, lists marked with json.array", function()
  local lc = require "lacuna"
  local src = { id = 1 }
  local ex = E { meta = src }
  src.later = true -- documented: new{meta = t} copies t
  t.eq(ex:meta(), { id = 1 })
  ex:meta().tags = {}
  ex:meta().list = lc.json.array {}
  t.eq(lc.json.encode(ex:meta()), '{"id":1,"list":[],"tags":{}}')
end)

t.test("text is validated when it is added", function()
  local ex = E.new():user("héllo"):assistant("fine")
  t.eq(ex:validate(), true)
  t.raises(function() ex:assistant("bad \xff byte") end, "message 3 (assistant): invalid UTF-8 at byte offset 4")
  t.eq(ex:count(), 2)
  -- In a part, the offset counts from the start of the message.
  t.raises(function() ex:assistant { "ok ", E.part("\xc3", false) } end,
    "message 3 (assistant): invalid UTF-8 at byte offset 3")
  t.eq(ex:count(), 2)
  t.raises(function() ex:message("r\xff", "x") end, "role is not valid UTF-8")
end)

t.test("caller mistakes raise", function()
  local ex = E.new()
  t.raises(function() ex:assistant(42) end, "assistant: text must be a string or a list of parts")
  t.raises(function() ex:user("x", "yes") end, "user: train must be a boolean or nil")
  t.raises(function() ex:assistant { "a", 5 } end, "assistant: part 2 must be a string")
  t.raises(function() ex:assistant { { "a", train = 1 } } end, "part 1: train must be a boolean")
  t.eq(#ex, 0) -- a bad part list adds nothing
  t.raises(function() ex:message(true, "x") end, "message: role must be a string")
  t.raises(function() ex:message(1) end, "message index 1 out of range")
  t.raises(function() E.part(1) end, "string expected")
  t.raises(function() E.part("x", 1) end, "boolean or nil expected")
  t.raises(function() E.new { meta = 3 } end, "meta must be a table")
  t.raises(function() E.new(5) end, "table or nil expected")
  t.raises(function() ex:spans("user", 3, {}) end, "spans: text must be a string")
end)

-- A long content is shared with its Lua string, not copied (core/example.c):
-- every reader sees the same text, and changing the message copies it first.
t.test("long contents are shared and read back the same", function()
  local formats = require "lacuna.formats"
  local json = require("lacuna.core").json
  local big = string.rep("abcdefgh", 20000) -- 160 KB, over the sharing threshold
  local esc = string.rep("a\"b\n", 40000) -- long, and needs escapes
  local ex = E.new():system("s"):user(big):assistant(esc)
  t.eq(ex:message(2).content, big)
  t.eq(ex:snapshot()[2].content, big)
  for _, fmt in ipairs({ "axolotl", "openai", "sharegpt", "trl" }) do
    local line = formats.line(fmt, ex, {})
    t.eq(line, json.encode(formats.render(fmt, ex, {})), fmt)
    t.eq(json.decode(line), json.decode(json.encode(formats.render(fmt, ex, {}))), fmt)
  end
  -- metadata after a long piece keeps the line whole
  ex:meta().source = "x"
  t.eq(json.decode(formats.line("axolotl", ex, {})).meta, { source = "x" })
  -- append_part on a shared message: the message gets its own copy
  ex:append_part(2, "TAIL", true)
  t.eq(ex:message(2).content, big .. "TAIL")
  t.eq(#big, 160000) -- (the string it shared is unchanged)
  t.eq(segs(ex, 2), { "0-160000/0-160000:F", "160000-160004/160000-160004:T" })
  -- pop and add again; close
  ex:pop()
  t.eq(#ex, 2)
  ex:assistant(big)
  t.eq(ex:message(3).content, big)
  t.eq(formats.line("axolotl", ex, { meta = false }), json.encode(formats.render("axolotl", ex, { meta = false })))
  do
    local closing <close> = ex
  end
  t.raises(function() ex:message(1) end, "closed")
end)

-- A line whose long text needs escapes, rendered in pieces (render.line's
-- fifth argument, what `lacuna run` asks for): the same bytes as the string,
-- whether made into one (tostring), measured (#) or written by the writer.
t.test("a rendered line in pieces gives the string's bytes", function()
  local core = require "lacuna.core"
  local formats = require "lacuna.formats"
  local unit = "a\"b\\c\n\t\1\127 é \u{2028}\u{2029} € 𝄞 \u{2027}"
  local text = string.rep(unit, 70000 // #unit + 1) -- over the 64 KiB piece threshold
  local ex = E.new():system("s"):user(text):assistant(text .. "!")
  ex:meta().k = "v"
  local dir = t.tmpdir()
  for _, fmt in ipairs({ "axolotl", "openai", "sharegpt", "trl" }) do
    local want = formats.line(fmt, ex, {})
    local got = core.render.line(ex, fmt, false, true, true)
    t.eq(type(got), "userdata", fmt)
    t.eq(#got, #want, fmt)
    t.eq(tostring(got), want, fmt)
    -- the writer: same file bytes and CRC as for the string
    local a, b = core.jsonl.writer(dir .. "/a.jsonl"), core.jsonl.writer(dir .. "/b.jsonl")
    assert(a:write(got))
    assert(b:write(want))
    t.eq(a:stats(), b:stats(), fmt)
    assert(a:commit())
    assert(b:commit())
    t.eq(t.readfile(dir .. "/a.jsonl"), want .. "\n", fmt)
  end
  -- texts that need no escape stay one string
  local plain = E.new():user(string.rep("x", 100000)):assistant("ok")
  t.eq(type(core.render.line(plain, "axolotl", false, true, true)), "string")
end)

return t.done()
