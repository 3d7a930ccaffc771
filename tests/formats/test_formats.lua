-- Trainer formats (lua/lacuna/formats.lua): exact output of every renderer and
-- every case a format cannot represent.
local t = require "testlib"
local lc = require "lacuna"
local E = require "lacuna.example"
local F = require "lacuna.formats"
local part = E.part

-- The conversation of axolotl's chat_template documentation.
local function axolotl_doc_example()
  return E.new { meta = { source = "axolotl docs" } }
    :system("You are an AI assistant.", false)
    :user("Hello", false)
    :assistant("Hello", true)
    :user("How are you?", true)
    :assistant { part("I'm doing", false), part(" very well", true), part(", thank you!", false) }
    :user("I'm doing very well, thank you!", false)
    :assistant("Hi there!", true)
end

local function order(v) return (getmetatable(v) or {}).__jsonorder end

t.test("names and default", function()
  t.eq(F.names, { "axolotl", "openai", "sharegpt", "trl" })
  t.eq(F.default, "axolotl")
end)

t.test("axolotl: the documented train_detail example", function()
  local out = F.render("axolotl", axolotl_doc_example())
  t.eq(out.messages[5].train_detail, {
    { begin_offset = 0, end_offset = 8, train = false },
    { begin_offset = 9, end_offset = 18, train = true },
    { begin_offset = 19, end_offset = 30, train = false },
  })
  t.eq(out, {
    messages = {
      { role = "system", content = "You are an AI assistant.", train = false },
      { role = "user", content = "Hello", train = false },
      { role = "assistant", content = "Hello", train = true },
      { role = "user", content = "How are you?", train = true },
      { role = "assistant", content = "I'm doing very well, thank you!", train_detail = {
        { begin_offset = 0, end_offset = 8, train = false },
        { begin_offset = 9, end_offset = 18, train = true },
        { begin_offset = 19, end_offset = 30, train = false },
      } },
      { role = "user", content = "I'm doing very well, thank you!", train = false },
      { role = "assistant", content = "Hi there!", train = true },
    },
    meta = { source = "axolotl docs" },
  })
  -- key order for the JSON encoder
  t.eq(order(out), { "messages", "meta" })
  t.eq(order(out.messages[1]), { "role", "content", "train", "train_detail" })
  t.eq(order(out.messages[5].train_detail[1]), { "begin_offset", "end_offset", "train" })
end)

t.test("axolotl: the encoder writes the documented JSON", function()
  local json = lc.core.json
  local want = t.readfile(os.getenv("LACUNA_FIXTURES") .. "/formats/axolotl_doc_example.json")
  local got = json.encode(F.render("axolotl", axolotl_doc_example()))
  t.eq((got:gsub("%s", "")), (want:gsub("%s", "")))
end)

t.test("axolotl: character offsets over multi-byte text", function()
  local ex = E.new():user("Q"):assistant { part("é中", false), part("😀ok", true), part("文", false) }
  local out = F.render("axolotl", ex)
  t.eq(out.messages[2].train_detail, {
    { begin_offset = 0, end_offset = 1, train = false },
    { begin_offset = 2, end_offset = 4, train = true },
    { begin_offset = 5, end_offset = 5, train = false },
  })
  t.eq(out.messages[2].train, nil)
  -- parts with one flag are uniform: a plain train key, no detail
  local ex2 = E.new():assistant { part("a", false), part("b", false) }:user("", true)
  t.eq(F.render("axolotl", ex2).messages, {
    { role = "assistant", content = "ab", train = false },
    { role = "user", content = "", train = true },
  })
end)

t.test("meta: omitted when empty or when opts.meta is false", function()
  local ex = E.new():user("u"):assistant("a")
  t.eq(F.render("axolotl", ex).meta, nil)
  ex:meta().id = 3
  t.eq(F.render("axolotl", ex).meta, { id = 3 })
  t.eq(F.render("axolotl", ex, { meta = false }).meta, nil)
  t.eq(F.render("trl", ex).meta, { id = 3 })
  t.eq(F.render("sharegpt", ex).meta, { id = 3 })
  t.eq(F.render("openai", ex).meta, { id = 3 })
  t.eq(F.render(nil, ex).messages[2].train, true) -- nil name: the default format
end)

t.test("openai: weights on assistant messages", function()
  local ex = E.new():system("S"):user("U1"):assistant("A1", false):user("U2"):assistant("A2")
  local out = F.render("openai", ex)
  t.eq(out, { messages = {
    { role = "system", content = "S" },
    { role = "user", content = "U1" },
    { role = "assistant", content = "A1", weight = 0 },
    { role = "user", content = "U2" },
    { role = "assistant", content = "A2", weight = 1 },
  } })
  t.eq(math.type(out.messages[5].weight), "integer")
  t.eq(order(out.messages[1]), { "role", "content", "weight" })
end)

t.test("openai: what it cannot represent", function()
  local trained_user = E.new():user("U", true):assistant("A")
  local err = t.raises(function() F.render("openai", trained_user) end,
    "format 'openai' cannot represent this example: message 1 (user) is trained")
  t.truthy(err:find("--format axolotl", 1, true), "suggests axolotl")
  local pam = E.new():user("Q"):assistant { part("wrong. ", false), part("Sorry, fixed.", true) }
  t.raises(function() F.render("openai", pam) end, "message 2 (assistant) is partly trained")
  t.raises(function() F.render("openai", pam, { split_partial = false }) end, "split_partial")
  local ok, why = F.check_representable("openai", pam)
  t.fails("partly trained", ok, why)
  t.eq(F.check_representable("openai", pam, { split_partial = true }), true)
end)

t.test("openai: split_partial splits at the mask boundaries", function()
  local ex = E.new():user("Q")
    :assistant { part("A1. ", false), part("Wait, ", true), part("checking. ", true), part("A2.", false) }
  t.eq(F.render("openai", ex, { split_partial = true }).messages, {
    { role = "user", content = "Q" },
    { role = "assistant", content = "A1. ", weight = 0 },
    { role = "assistant", content = "Wait, checking. ", weight = 1 },
    { role = "assistant", content = "A2.", weight = 0 },
  })
  -- byte slicing keeps multi-byte characters whole
  local ex2 = E.new():user("Q"):assistant { part("中文", false), part("😀", true) }
  t.eq(F.render("openai", ex2, { split_partial = true }).messages, {
    { role = "user", content = "Q" },
    { role = "assistant", content = "中文", weight = 0 },
    { role = "assistant", content = "😀", weight = 1 },
  })
end)

t.test("sharegpt: roles, system and tools", function()
  local ex = E.new():system("S"):user("U"):message("function_call", '{"name":"f"}', true)
    :message("tool", "42"):assistant("A")
  local out = F.render("sharegpt", ex)
  t.eq(out, {
    conversations = {
      { from = "human", value = "U" },
      { from = "function_call", value = '{"name":"f"}' },
      { from = "observation", value = "42" },
      { from = "gpt", value = "A" },
    },
    system = "S",
  })
  t.eq(order(out), { "conversations", "system", "meta" })
  t.eq(order(out.conversations[1]), { "from", "value" })
  -- no system message: no system key
  t.eq(F.render("sharegpt", E.new():user("U"):assistant("A")), {
    conversations = { { from = "human", value = "U" }, { from = "gpt", value = "A" } },
  })
end)

t.test("sharegpt: all assistant turns, or only the last (mask_history)", function()
  local all = E.new():user("U1"):assistant("A1"):user("U2"):assistant("A2")
  local notes = {}
  F.render("sharegpt", all, { notes = notes })
  t.eq(notes, {})
  local last = E.new():user("U1"):assistant("A1", false):user("U2"):assistant("A2")
  notes = {}
  local out = F.render("sharegpt", last, { notes = notes })
  t.eq(notes, { mask_history = true })
  t.eq(out.conversations[2], { from = "gpt", value = "A1" })
  -- one assistant turn is simply "all"
  notes = {}
  F.render("sharegpt", E.new():user("U"):assistant("A"), { notes = notes })
  t.eq(notes, {})
end)

t.test("sharegpt: what it cannot represent", function()
  local cases = {
    { E.new():user("U1"):assistant("A1"):user("U2"):assistant("A2", false),
      "some assistant turns are trained and others not" },
    { E.new():user("U1"):assistant("A1"):user("U2"):assistant("A2", false):user("U3"):assistant("A3"),
      "some assistant turns are trained and others not" },
    { E.new():user("U", true):assistant("A"), "message 1 (user) is trained" },
    { E.new():system("S", true):user("U"):assistant("A"), "message 1 (system) is trained" },
    { E.new():user("U"):assistant { part("x", false), part("y", true) }, "message 2 (assistant) is partly trained" },
    { E.new():user("U"):assistant("A", false), "nothing is trained" },
    { E.new():user("U"):system("S"):assistant("A"), "message 2 (system): ShareGPT has a system prompt only as the first" },
    { E.new():assistant("A"), "message 1 (assistant) is out of turn" },
    { E.new():user("U"):user("U2"):assistant("A"), "message 2 (user) is out of turn" },
    { E.new():user("U"):assistant("A"):user("U2"), "must end with an assistant turn" },
    { E.new():user("U"):message("critic", "C"), "message 2 (critic): ShareGPT has no such role" },
    { E.new():system("S"), "must end with an assistant turn" },
  }
  for k, c in ipairs(cases) do
    local err = t.raises(function() F.render("sharegpt", c[1]) end, c[2])
    t.truthy(err:find("format 'sharegpt' cannot represent this example", 1, true), "case " .. k)
    local ok, why = F.check_representable("sharegpt", c[1])
    t.fails(c[2], ok, why)
  end
end)

t.test("trl: prompt and completion", function()
  local ex = E.new { meta = { k = 1 } }:system("S"):user("U"):assistant("A")
  local out = F.render("trl", ex)
  t.eq(out, {
    prompt = { { role = "system", content = "S" }, { role = "user", content = "U" } },
    completion = { { role = "assistant", content = "A" } },
    meta = { k = 1 },
  })
  t.eq(order(out), { "prompt", "completion", "meta" })
  t.eq(order(out.prompt[1]), { "role", "content" })
  -- the completion is the maximal trailing run of trained messages
  local multi = E.new():user("U"):assistant("call", true):message("tool", "r", true):assistant("A")
  t.eq(F.render("trl", multi), {
    prompt = { { role = "user", content = "U" } },
    completion = { { role = "assistant", content = "call" }, { role = "tool", content = "r" },
      { role = "assistant", content = "A" } },
  })
end)

t.test("trl: what it cannot represent", function()
  local cases = {
    { E.new():user("U"):assistant { part("x", false), part("y", true) }, "message 2 (assistant) is partly trained" },
    { E.new():user("U1"):assistant("A1"):user("U2"):assistant("A2"),
      "message 2 (assistant) is trained but is followed by untrained text" },
    { E.new():user("U"):assistant { part("x", true), part("y", false) }:user("U2"):assistant("A"),
      "message 2 (assistant) is partly trained" },
    { E.new():user("U"):assistant("A", false), "message 2 (assistant) is not trained" },
    { E.new():user("U", true):assistant("A"), "every message is trained" },
  }
  for _, c in ipairs(cases) do
    local err = t.raises(function() F.render("trl", c[1]) end, c[2])
    t.truthy(err:find("use --format axolotl", 1, true))
    t.fails(c[2], F.check_representable("trl", c[1]))
  end
end)

t.test("every format: bad examples and caller mistakes", function()
  for _, name in ipairs(F.names) do
    t.raises(function() F.render(name, E.new()) end, "the example has no messages")
  end
  t.raises(function() F.render("alpaca", E.new():user("U")) end,
    "unknown format 'alpaca' (known: axolotl, openai, sharegpt, trl)")
  t.raises(function() F.check_representable("x", E.new()) end, "unknown format 'x'")
  t.raises(function() F.render("axolotl", {}) end, "expected an Example, got table")
  t.raises(function() F.render("axolotl", E.new():user("U"), 5) end, "opts must be a table")
  -- axolotl itself never refuses a valid example
  t.eq(F.check_representable("axolotl", E.new():user("U", true)), true)
end)

return t.done()
