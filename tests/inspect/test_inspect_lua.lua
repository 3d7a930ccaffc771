-- lacuna.inspect_where (--where's language) and lacuna.inspect_conv (every
-- output format back to trained and masked parts), on hand-made lines.
local t = require "testlib"
local lc = require "lacuna" -- (first: it makes lacuna.* loadable)
local where = require "lacuna.inspect_where"
local conv = require "lacuna.inspect_conv"

local line = { meta = { case = "bad", n = 3, ok = false, tags = { "x", "y" }, nothing = lc.null },
               messages = { { role = "user", content = "hi there" } } }
local function holds(cond) return where.compile({ cond })(line) end

t.test("= and != compare text, numbers as numbers, JSON literals", function()
  t.eq(holds("meta.case=bad"), true)
  t.eq(holds("meta.case=good"), false)
  t.eq(holds("meta.case=good|bad"), true)
  t.eq(holds("meta.n=3"), true)
  t.eq(holds("meta.n=3.0"), true)
  t.eq(holds("meta.ok=false"), true)
  t.eq(holds("meta.nothing=null"), true)
  t.eq(holds("meta.case!=bad"), false)
  t.eq(holds("meta.missing!=x"), true)
  t.eq(holds("meta.missing=x"), false)
end)

t.test("< <= > >= need numbers on both sides", function()
  t.eq(holds("meta.n>2"), true)
  t.eq(holds("meta.n>=3"), true)
  t.eq(holds("meta.n<3"), false)
  t.eq(holds("meta.n<=3"), true)
  t.eq(holds("meta.case>1"), false)
end)

t.test("~ is containment in the field's text; lists index from 1", function()
  t.eq(holds("messages.1.content~there"), true)
  t.eq(holds("messages.1.role=user"), true)
  t.eq(holds("meta.tags~\"y\""), true)
  t.eq(holds("meta.tags.2=y"), true)
end)

t.test("PATH and !PATH: present and not null or false", function()
  t.eq(holds("meta.case"), true)
  t.eq(holds("meta.ok"), false)
  t.eq(holds("meta.nothing"), false)
  t.eq(holds("!meta.missing"), true)
  t.eq(holds("!meta.case"), false)
end)

t.test("several conditions must all hold", function()
  t.eq(where.compile({ "meta.case=bad", "meta.n>5" })(line), false)
  t.eq(where.compile({ "meta.case=bad", "meta.n>2" })(line), true)
  t.eq(where.compile({})(line), true)
end)

t.test("mistakes are usage errors naming the condition", function()
  for _, bad in ipairs({ "", "meta..x=1", "=x", "meta.n>x", "a b=1" }) do
    local ok, err = pcall(where.parse, bad)
    t.eq(ok, false, bad)
    t.truthy(require("lacuna.usage").is(err), bad .. ": a usage error")
  end
end)

local function parts_of(c)
  local out = {}
  for i, m in ipairs(c.messages) do
    local p = {}
    for k, part in ipairs(m.parts) do p[k] = { part.text, part.train } end
    out[i] = { m.role, p }
  end
  return out
end

t.test("axolotl: train and train_detail (characters, end inclusive)", function()
  local c = conv.from_record({ messages = {
    { role = "user", content = "q", train = false },
    { role = "assistant", content = "né b", train_detail = {
      { begin_offset = 0, end_offset = 1, train = false }, { begin_offset = 2, end_offset = 3, train = true } } },
    { role = "assistant", content = "dflt" } } })
  t.eq(c.format, "axolotl")
  t.eq(parts_of(c), { { "user", { { "q", false } } }, { "assistant", { { "né", false }, { " b", true } } },
                      { "assistant", { { "dflt", true } } } })
end)

t.test("openai: weight, assistant default trained", function()
  local c = conv.from_record({ messages = { { role = "system", content = "s" },
    { role = "assistant", content = "a", weight = 0 }, { role = "assistant", content = "b" } } })
  t.eq(c.format, "openai")
  t.eq(parts_of(c), { { "system", { { "s", false } } }, { "assistant", { { "a", false } } },
                      { "assistant", { { "b", true } } } })
end)

t.test("sharegpt: system, gpt trained; mask_history keeps only the last", function()
  local rec = { system = "sys", conversations = { { from = "human", value = "h1" }, { from = "gpt", value = "g1" },
    { from = "human", value = "h2" }, { from = "gpt", value = "g2" } } }
  t.eq(parts_of(conv.from_record(rec)), { { "system", { { "sys", false } } }, { "user", { { "h1", false } } },
    { "assistant", { { "g1", true } } }, { "user", { { "h2", false } } }, { "assistant", { { "g2", true } } } })
  local c = conv.from_record(rec, { mask_history = true })
  t.eq(c.messages[3].parts[1].train, false)
  t.eq(c.messages[5].parts[1].train, true)
end)

t.test("trl: conversational and standard prompt/completion", function()
  t.eq(parts_of(conv.from_record({ prompt = { { role = "user", content = "p" } },
    completion = { { role = "assistant", content = "c" } } })),
    { { "user", { { "p", false } } }, { "assistant", { { "c", true } } } })
  t.eq(parts_of(conv.from_record({ prompt = "p", completion = "c" })),
    { { "prompt", { { "p", false } } }, { "completion", { { "c", true } } } })
end)

t.test("tokens: counts, and the text through a tokenizer", function()
  local c = conv.from_record({ input_ids = { 1, 2, 3 }, attention_mask = { 1, 1, 1 }, labels = { -100, 2, 3 } })
  t.eq(c.format, "tokens")
  t.eq(c.note, "3 tokens, 2 trained")
  local tok = assert(lc.tokenizer.load(os.getenv("LACUNA_FIXTURES") .. "/tokenizer/bytelevel.json"))
  local ids = tok:encode("cc abc", { add_special_tokens = false })
  local labels = {}
  for i, id in ipairs(ids) do labels[i] = i > 2 and id or -100 end
  local d = conv.from_record({ input_ids = ids, labels = labels }, { tokenizer = tok })
  t.eq(parts_of(d), { { "tokens", { { "cc", false }, { " abc", true } } } })
end)

t.test("an Example through its resolved view, and an unknown line", function()
  local ex = lc.example({ meta = { k = 1 } }):user("u"):assistant({ lc.part("a", false), lc.part("b", true) })
  local c = conv.from_example(ex)
  t.eq(parts_of(c), { { "user", { { "u", false } } }, { "assistant", { { "a", false }, { "b", true } } } })
  t.eq(c.meta.k, 1)
  t.eq(conv.from_record({ text = "x" }).format, "unknown")
end)

return t.done()
