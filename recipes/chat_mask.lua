-- chat_mask: turn chat, ShareGPT, prompt/response or Alpaca JSONL into masked
-- training data under a masking policy. No teacher needed.
local lc = require "lacuna"

local ROLE_OF_FROM = {
  human = "user", user = "user", gpt = "assistant", assistant = "assistant",
  system = "system", tool = "tool", observation = "tool", function_call = "assistant",
}
local ROLES = { system = true, user = true, assistant = true, tool = true }

local function fail(field, fmt, ...)
  error(field .. ": " .. string.format(fmt, ...), 0)
end

local kind = lc.kind

local function text_field(v, field)
  if type(v) ~= "string" then fail(field, "expected string, got %s", kind(v)) end
  return v
end

-- A turn's fields are named ("messages[2].content") only in an error: the
-- name is built when it is needed, not for every turn of every record.
local function turn_field(list, i, key)
  return list .. "[" .. i .. "]" .. (key and "." .. key or "")
end

local function turn_text(m, key, list, i)
  local v = m[key]
  if type(v) ~= "string" then fail(turn_field(list, i, key), "expected string, got %s", kind(v)) end
  return v
end

-- Per-turn training flag carried by the input itself (policy=input):
-- axolotl's `train` or OpenAI's `weight`.
local function input_flag(m, list, i)
  local train, weight = m.train, m.weight
  if train ~= nil and train ~= lc.null then
    if type(train) ~= "boolean" then fail(turn_field(list, i, "train"), "expected boolean, got %s", kind(train)) end
    return train
  end
  if weight ~= nil and weight ~= lc.null then
    if weight ~= 0 and weight ~= 1 then
      fail(turn_field(list, i, "weight"), "expected 0 or 1, got %s", tostring(weight))
    end
    return weight == 1
  end
  return nil
end

-- Normalises any supported record shape to a list of {role, content, flag}.
local function turns_of(rec)
  local turns = {}
  if rec.messages ~= nil then
    for i, m in ipairs(rec.messages) do
      if type(m) ~= "table" then fail(turn_field("messages", i), "expected object, got %s", kind(m)) end
      local role = turn_text(m, "role", "messages", i)
      if not ROLES[role] then
        fail(turn_field("messages", i, "role"), "unknown role '%s' (system, user, assistant, tool)", role)
      end
      turns[i] = { role = role, content = turn_text(m, "content", "messages", i),
                   flag = input_flag(m, "messages", i) }
    end
  elseif rec.conversations ~= nil then
    for i, m in ipairs(rec.conversations) do
      if type(m) ~= "table" then fail(turn_field("conversations", i), "expected object, got %s", kind(m)) end
      local from = turn_text(m, "from", "conversations", i)
      local role = ROLE_OF_FROM[from]
      if not role then
        fail(turn_field("conversations", i, "from"), "unknown speaker '%s' (human, gpt, system, tool)", from)
      end
      turns[i] = { role = role, content = turn_text(m, "value", "conversations", i),
                   flag = input_flag(m, "conversations", i) }
    end
  elseif rec.prompt ~= nil then
    local answer = rec.response or rec.completion
    if answer == nil then fail("response", "missing (a prompt needs a response or completion)") end
    if type(rec.prompt) == "table" then
      for i, m in ipairs(rec.prompt) do
        if type(m) ~= "table" then fail(turn_field("prompt", i), "expected object, got %s", kind(m)) end
        turns[#turns + 1] = { role = turn_text(m, "role", "prompt", i),
                              content = turn_text(m, "content", "prompt", i) }
      end
    else
      turns[1] = { role = "user", content = text_field(rec.prompt, "prompt") }
    end
    if type(answer) == "table" then
      for i, m in ipairs(answer) do
        if type(m) ~= "table" then fail(turn_field("completion", i), "expected object, got %s", kind(m)) end
        turns[#turns + 1] = { role = turn_text(m, "role", "completion", i),
                              content = turn_text(m, "content", "completion", i) }
      end
    else
      turns[#turns + 1] = { role = "assistant",
                            content = text_field(answer, rec.response ~= nil and "response" or "completion") }
    end
  elseif rec.instruction ~= nil then
    local prompt = text_field(rec.instruction, "instruction")
    if rec.input ~= nil and rec.input ~= lc.null and rec.input ~= "" then
      prompt = prompt .. "\n\n" .. text_field(rec.input, "input")
    end
    turns[1] = { role = "user", content = prompt }
    turns[2] = { role = "assistant", content = text_field(rec.output, "output") }
  else
    fail("record", "has none of messages, conversations, prompt/response, instruction/output")
  end
  return turns
end

return lc.recipe {
  name = "chat_mask",
  version = "1.0.0",
  summary = "Chat, ShareGPT, prompt/response or Alpaca JSONL -> masked training data",
  description = [[
Reads one conversation per record in any common shape (messages with role/content,
ShareGPT conversations with from/value, prompt with response or completion, Alpaca
instruction/input/output) and writes it with an explicit loss mask chosen by `policy`:
  last           only the last assistant turn is trained (multi-turn context is prompt)
  all_assistant  every assistant turn is trained (TRL's and axolotl's default)
  all            every turn is trained, user turns included
  input          the record's own per-turn `train` (axolotl) or `weight` (OpenAI) flags]],
  params = {
    policy = lc.enum({ "last", "all_assistant", "all", "input" }, "all_assistant",
      "which turns carry loss"),
    system = lc.string(nil, "system prompt added to records that have none"),
    keep_id = lc.bool(true, "copy the record's id into the example's meta"),
  },
  input = {
    messages = "array?", conversations = "array?", prompt = "any?", response = "string?",
    completion = "any?", instruction = "string?", input = "any?", output = "string?",
    system = "string?", id = "any?",
  },
  examples = {
    { id = 1, messages = { { role = "user", content = "What is 2+2?" },
                           { role = "assistant", content = "4" } } },
    { id = 2, conversations = { { from = "human", value = "Name a prime." },
                                { from = "gpt", value = "7" },
                                { from = "human", value = "Another?" },
                                { from = "gpt", value = "11" } } },
    { id = 3, instruction = "Translate to French", input = "cat", output = "chat" },
  },

  map = function(rec, ctx)
    local turns = turns_of(rec)
    local policy = ctx.params.policy
    local last_assistant
    for i, t in ipairs(turns) do
      if t.role == "assistant" then last_assistant = i end
    end
    if not last_assistant then return lc.skip("no assistant turn") end

    local ex = lc.example()
    local system = rec.system or ctx.params.system
    if system and system ~= lc.null and turns[1].role ~= "system" then
      ex:system(text_field(system, "system"), false)
    end
    for i, t in ipairs(turns) do
      local train
      if policy == "last" then
        train = i == last_assistant
      elseif policy == "all_assistant" then
        train = t.role == "assistant"
      elseif policy == "all" then
        train = true
      else
        train = t.flag
        if train == nil then train = t.role == "assistant" end
      end
      ex:message(t.role, t.content, train)
    end
    if ctx.params.keep_id and rec.id ~= nil then ex:meta().id = rec.id end
    return ex
  end,
}
