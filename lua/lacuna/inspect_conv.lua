-- One view of an example for people to read, whatever it came from: an
-- Example object (the REPL) or a line of any output format lacuna writes
-- (`lacuna inspect`). A conversation is
--   { format = "axolotl" | "openai" | "sharegpt" | "trl" | "tokens" | "example" | "unknown",
--     messages = { { role = "user", parts = { { text = "...", train = false }, ... } }, ... },
--     meta = table or nil, note = "..." or nil }
-- where each part is a maximal run of text the trainer trains (train = true)
-- or masks. The terminal (inspect_term.lua) and the HTML page (inspect_html.lua)
-- draw the same parts, so they cannot disagree about what is trained.
local json = require("lacuna.core").json

local M = {}

local function str(v) return type(v) == "string" and v or "" end

-- 1-based byte position of the character at 0-based character offset c (the
-- byte after the text when c is past its end).
local function byte_at(s, c)
  return utf8.offset(s, c + 1) or (#s + 1)
end

-- Parts of content from axolotl's train_detail: character offsets, end
-- inclusive; text no detail covers is masked (axolotl's default).
local function detail_parts(content, detail)
  local marks = {}
  local nchars = utf8.len(content) or #content
  for c = 0, nchars - 1 do marks[c] = false end
  for _, d in ipairs(detail) do
    local b, e = math.tointeger(d.begin_offset), math.tointeger(d.end_offset)
    if b and e then
      for c = math.max(b, 0), math.min(e, nchars - 1) do marks[c] = d.train == true end
    end
  end
  local parts, c = {}, 0
  while c < nchars do
    local flag, d = marks[c], c
    while d < nchars and marks[d] == flag do d = d + 1 end
    parts[#parts + 1] = { text = content:sub(byte_at(content, c), byte_at(content, d) - 1), train = flag }
    c = d
  end
  if #parts == 0 then parts[1] = { text = content, train = false } end
  return parts
end

local function whole(role, content, train)
  return { role = role, parts = { { text = str(content), train = train and true or false } } }
end

local function meta_of(obj)
  local m = obj.meta
  if type(m) == "table" then return m end
  return nil
end

-- An Example (core/example.c) through its resolved view.
function M.from_example(ex)
  local msgs = {}
  for i, m in ipairs(ex:snapshot()) do
    local parts = {}
    for _, r in ipairs(m.runs) do parts[#parts + 1] = { text = m.content:sub(r.b + 1, r.e), train = r.train } end
    if #parts == 0 then parts[1] = { text = m.content, train = m.state == "trained" } end
    msgs[i] = { role = m.role, parts = parts }
  end
  local meta = ex:meta()
  return { format = "example", messages = msgs, meta = next(meta) ~= nil and meta or nil }
end

local function from_axolotl(obj)
  local msgs = {}
  for i, m in ipairs(obj.messages) do
    local content = str(m.content)
    if type(m.train_detail) == "table" and #m.train_detail > 0 then
      msgs[i] = { role = str(m.role), parts = detail_parts(content, m.train_detail) }
    elseif type(m.train) == "boolean" then
      msgs[i] = whole(str(m.role), content, m.train)
    else
      msgs[i] = whole(str(m.role), content, m.role == "assistant") -- axolotl's roles_to_train default
    end
  end
  return msgs
end

local function from_openai(obj)
  local msgs = {}
  for i, m in ipairs(obj.messages) do
    -- OpenAI trains every assistant message unless its weight is 0.
    msgs[i] = whole(str(m.role), m.content, m.role == "assistant" and m.weight ~= 0)
  end
  return msgs
end

local SHAREGPT_ROLE = { human = "user", gpt = "assistant", observation = "tool", function_call = "function_call" }

-- mask_history (the run's format_notes): LLaMA-Factory trains only the last turn.
local function from_sharegpt(obj, mask_history)
  local msgs = {}
  if type(obj.system) == "string" then msgs[1] = whole("system", obj.system, false) end
  local last_model = 0
  for i, t in ipairs(obj.conversations) do
    if t.from == "gpt" or t.from == "function_call" then last_model = i end
  end
  for i, t in ipairs(obj.conversations) do
    local model = t.from == "gpt" or t.from == "function_call"
    msgs[#msgs + 1] = whole(SHAREGPT_ROLE[t.from] or str(t.from), t.value, model and (not mask_history or i == last_model))
  end
  return msgs
end

local function trl_side(msgs, v, role, train)
  if type(v) == "string" then
    msgs[#msgs + 1] = whole(role, v, train)
  elseif type(v) == "table" then
    for _, m in ipairs(v) do msgs[#msgs + 1] = whole(str(m.role), m.content, train) end
  end
end

local function from_trl(obj)
  local msgs = {}
  trl_side(msgs, obj.prompt, "prompt", false)
  trl_side(msgs, obj.completion, "completion", true)
  return msgs
end

-- Pre-tokenized lines: the text comes back through the tokenizer, run by run
-- (a run: consecutive tokens all trained or all masked).
local function from_tokens(obj, tok)
  local ids, labels = obj.input_ids, obj.labels
  local trained = 0
  for i = 1, #labels do
    if labels[i] ~= -100 then trained = trained + 1 end
  end
  local note = string.format("%d tokens, %d trained", #ids, trained)
  if not tok then
    return { whole("tokens", "(give --tokenizer DIR to see the text)", false) }, note
  end
  local parts, i = {}, 1
  while i <= #ids do
    local flag, j = labels[i] ~= -100, i
    local run = {}
    while j <= #ids and (labels[j] ~= -100) == flag do
      run[#run + 1] = ids[j]
      j = j + 1
    end
    local text = tok:decode(run)
    parts[#parts + 1] = { text = text or "", train = flag }
    i = j
  end
  return { { role = "tokens", parts = parts } }, note
end

-- The format of a decoded output line, by its shape (so that files from
-- other runs and other tools are read too), or nil.
function M.shape(obj)
  if type(obj) ~= "table" then return nil end
  if type(obj.input_ids) == "table" and type(obj.labels) == "table" then return "tokens" end
  if type(obj.conversations) == "table" then return "sharegpt" end
  if obj.prompt ~= nil and obj.completion ~= nil then return "trl" end
  if type(obj.messages) == "table" then
    for _, m in ipairs(obj.messages) do
      if type(m) == "table" and (m.train ~= nil or m.train_detail ~= nil) then return "axolotl" end
      if type(m) == "table" and m.weight ~= nil then return "openai" end
    end
    return "axolotl"
  end
  return nil
end

-- A decoded output line as a conversation. opts: tokenizer (lacuna.tokenizer,
-- for the tokens format), mask_history (sharegpt: only the last turn trained).
function M.from_record(obj, opts)
  opts = opts or {}
  local fmt = M.shape(obj)
  local msgs, note
  if fmt == "axolotl" then
    msgs = from_axolotl(obj)
  elseif fmt == "openai" then
    msgs = from_openai(obj)
  elseif fmt == "sharegpt" then
    msgs = from_sharegpt(obj, opts.mask_history)
  elseif fmt == "trl" then
    msgs = from_trl(obj)
  elseif fmt == "tokens" then
    msgs, note = from_tokens(obj, opts.tokenizer)
  else
    fmt = "unknown"
    msgs = { whole("line", json.encode(obj), false) }
    note = "not a format lacuna writes; shown as JSON"
  end
  return { format = fmt, messages = msgs, meta = type(obj) == "table" and meta_of(obj) or nil, note = note }
end

-- Characters trained and masked over the whole conversation.
function M.counts(conv)
  local t, m = 0, 0
  for _, msg in ipairs(conv.messages) do
    for _, p in ipairs(msg.parts) do
      local n = utf8.len(p.text) or #p.text
      if p.train then t = t + n else m = m + n end
    end
  end
  return t, m
end


return M
