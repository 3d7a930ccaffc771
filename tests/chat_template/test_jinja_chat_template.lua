-- lacuna.chat_template: loading tokenizer_config.json / chat_template.jinja
-- and rendering as transformers' apply_chat_template(tokenize=False).
-- (Byte-identity with @huggingface/jinja on the real templates is
-- tests/chat_template; this file needs no npm.)
local t = require "testlib"
local lc = require "lacuna"
local chat_template = require "lacuna.chat_template"

local fixtures = assert(os.getenv("LACUNA_FIXTURES"), "LACUNA_FIXTURES not set") .. "/jinja"

local conv = {
  { role = "system", content = "S" },
  { role = "user", content = "Hi" },
  { role = "assistant", content = " Hello " },
  { role = "user", content = "Q" },
}

local function write_config(dir, cfg)
  t.writefile(dir .. "/tokenizer_config.json", lc.json.encode(cfg))
end

t.test("load a model directory and render (Llama 2 template)", function()
  local tpl = assert(chat_template.load(fixtures .. "/llama2"))
  t.eq(tpl.bos_token, "<s>")
  t.eq(tpl.eos_token, "</s>")
  t.eq(tpl.unk_token, "<unk>")
  t.eq(assert(tpl:render(conv)),
       "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Q [/INST]")
  -- tokens can be overridden per call
  t.eq(assert(tpl:render({ { role = "user", content = "x" } }, { bos_token = "<B>" })), "<B>[INST] x [/INST]")
end)

t.test("load tokenizer_config.json by path; generation prompt on and off", function()
  local tpl = assert(chat_template.load(fixtures .. "/llama32_tools/tokenizer_config.json"))
  local msgs = { { role = "user", content = "Hi" } }
  local head = "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
    .. "Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
  t.eq(assert(tpl:render(msgs, { date_string = "26 Jul 2024" })), head)
  t.eq(assert(tpl:render(msgs, { date_string = "26 Jul 2024", add_generation_prompt = true })),
       head .. "<|start_header_id|>assistant<|end_header_id|>\n\n")
end)

t.test("tools: absent is None (as transformers passes it), present is rendered", function()
  local tpl = assert(chat_template.new("{{ tools is defined }} {{ tools is none }} {{ documents is none }}"
    .. "{% for t in tools or [] %}|{{ t | tojson }}{% endfor %}"))
  t.eq(assert(tpl:render({})), "True True True")
  local tool = setmetatable({ type = "function", ["function"] = { name = "f" } }, { __jsonorder = { "type", "function" } })
  t.eq(assert(tpl:render({}, { tools = { tool } })), 'True False True|{"type": "function", "function": {"name": "f"}}')
end)

t.test("named templates: default, tool_use when tools are given, explicit choice", function()
  local dir = t.tmpdir()
  write_config(dir, {
    bos_token = { content = "<s>", lstrip = false }, -- an AddedToken object
    eos_token = "</s>",
    chat_template = {
      { name = "default", template = "D{{ bos_token }}{{ messages | length }}" },
      { name = "tool_use", template = "T{{ tools | length }}" },
      { name = "rag", template = "R{{ documents | length }}" },
    },
  })
  local tpl = assert(chat_template.load(dir))
  t.eq(tpl.bos_token, "<s>")
  t.eq(assert(tpl:render(conv)), "D<s>4")
  t.eq(assert(tpl:render(conv, { tools = { { name = "a" }, { name = "b" } } })), "T2")
  t.eq(assert(tpl:render(conv, { template = "rag", documents = { { text = "d" } } })), "R1")
  t.raises(function() tpl:render(conv, { template = "nope" }) end, "no template named 'nope'")
  os.execute("rm -rf '" .. dir .. "'")
end)

t.test("chat_template.jinja beside the config wins; a .jinja path works", function()
  local dir = t.tmpdir()
  write_config(dir, { eos_token = "<E>", chat_template = "from config" })
  t.writefile(dir .. "/chat_template.jinja", "from file{{ eos_token }}\n")
  t.eq(assert(assert(chat_template.load(dir)):render({})), "from file<E>")
  t.eq(assert(assert(chat_template.load(dir .. "/chat_template.jinja")):render({})), "from file<E>")
  t.eq(assert(assert(chat_template.load(dir .. "/tokenizer_config.json")):render({})), "from config")
  os.execute("rm -rf '" .. dir .. "'")
end)

t.test("extra variables reach the template (Qwen3-style enable_thinking)", function()
  local tpl = assert(chat_template.new(
    "{%- if add_generation_prompt %}<a>{%- if enable_thinking is defined and enable_thinking is false %}<think></think>{%- endif %}{%- endif %}"))
  t.eq(assert(tpl:render({}, { add_generation_prompt = true })), "<a>")
  t.eq(assert(tpl:render({}, { add_generation_prompt = true, enable_thinking = false })), "<a><think></think>")
  t.eq(assert(tpl:render({}, { add_generation_prompt = false, enable_thinking = false })), "")
end)

t.test("continue_final_message cuts after the final message", function()
  local tpl = assert(chat_template.load(fixtures .. "/mistral"))
  local msgs = { { role = "user", content = "Q" }, { role = "assistant", content = "The answer is" } }
  t.eq(assert(tpl:render(msgs)), "<s>[INST] Q [/INST]The answer is</s>")
  t.eq(assert(tpl:render(msgs, { continue_final_message = true })), "<s>[INST] Q [/INST]The answer is")
  t.raises(function() tpl:render(msgs, { continue_final_message = true, add_generation_prompt = true }) end,
           "cannot both be set")
end)

t.test("template errors come back as nil, message", function()
  local tpl = assert(chat_template.load(fixtures .. "/mistral"))
  local out, err = tpl:render({ { role = "user", content = "a" }, { role = "user", content = "b" } })
  t.fails("Conversation roles must alternate user/assistant/user/assistant/...", out, err)
  t.truthy(err:find(fixtures .. "/mistral:1:", 1, true), err)
  out, err = tpl:render({ { role = "user", content = "a" }, { role = "tool", content = "b" } })
  t.fails("Only user and assistant roles are supported!", out, err)
end)

t.test("bad files and configs give nil, message", function()
  t.fails("No such file", chat_template.load(fixtures .. "/does-not-exist/tokenizer_config.json"))
  local dir = t.tmpdir()
  t.fails("tokenizer_config.json", chat_template.load(dir))
  t.writefile(dir .. "/tokenizer_config.json", "{ not json")
  t.fails(dir .. "/tokenizer_config.json: byte 4", chat_template.load(dir))
  write_config(dir, { eos_token = "</s>" })
  t.fails("no chat_template", chat_template.load(dir))
  write_config(dir, { chat_template = 5 })
  t.fails("chat_template must be a string or a list", chat_template.load(dir))
  write_config(dir, { chat_template = "ok\n{% for m in messages %}{{ m | nofilter }}{% endfor %}" })
  t.fails("tokenizer_config.json:2: unsupported filter 'nofilter'", chat_template.load(dir .. "/tokenizer_config.json"))
  write_config(dir, { chat_template = { { name = "other", template = "a" }, { name = "x", template = "b" } } })
  t.fails("no template named 'default' among other, x", chat_template.load(dir))
  os.execute("rm -rf '" .. dir .. "'")
end)

t.test("caller mistakes raise", function()
  t.raises(function() chat_template.load(42) end, "path must be a string")
  t.raises(function() chat_template.new(42) end, "source must be a string")
  local tpl = assert(chat_template.new("x"))
  t.raises(function() tpl:render("hello") end, "messages must be a list")
  t.raises(function() tpl:render({}, 5) end, "opts must be a table")
end)

return t.done()
