-- Trainer formats (DESIGN §5): each renders one Example into a JSON-ready Lua
-- table, or says exactly why the format cannot carry the example's loss mask.
-- A format never trains text the recipe masked, nor masks text it trained: an
-- example it cannot represent is an error that suggests --format axolotl.
--
--   local formats = require "lacuna.formats"
--   local obj = formats.render("openai", ex, { split_partial = true })
--
-- Emitted objects carry a metatable with __jsonorder so the JSON encoder writes
-- their keys in the order trainers' documentation shows.
local core = require("lacuna.core").example
-- Caller mistakes are raised at the recipe's line, not lacuna's (core/caller.c).
local caller = require("lacuna.core").caller
local raise = caller.error

local M = {}

M.names = { "axolotl", "openai", "sharegpt", "trl" }
M.default = "axolotl"

local function ordered(...) return { __jsonorder = { ... } } end

local AX_TOP = ordered("messages", "meta")
local AX_MSG = ordered("role", "content", "train", "train_detail")
local AX_DETAIL = ordered("begin_offset", "end_offset", "train")
local OA_TOP = ordered("messages", "meta")
local OA_MSG = ordered("role", "content", "weight")
local SG_TOP = ordered("conversations", "system", "meta")
local SG_TURN = ordered("from", "value")
local TRL_TOP = ordered("prompt", "completion", "meta")
local TRL_MSG = ordered("role", "content")

-- Each message with its resolved mask: state is "trained", "untrained" or
-- "partial"; segs are core segments (byte and character offsets).
local function analyse(ex)
  local getter = ex.raw_message or ex.message
  local msgs = {}
  for i = 1, ex:count() do
    local m = getter(ex, i)
    local segs = ex:segments(i)
    local state
    if #segs == 0 then
      -- Empty content: the message's own flag decides (explicit spans: none).
      local t = m.train
      if m.spans then t = false elseif t == nil then t = m.role == "assistant" end
      state = t and "trained" or "untrained"
    else
      local any_t, any_f = false, false
      for _, s in ipairs(segs) do
        if s.train then any_t = true else any_f = true end
      end
      state = (any_t and any_f) and "partial" or (any_t and "trained" or "untrained")
    end
    msgs[i] = { index = i, role = m.role, content = m.content, segs = segs, state = state }
  end
  return msgs
end

local function describe(m)
  return string.format("message %d (%s)", m.index, m.role)
end

local renderers = {}

-- axolotl chat_template with message_field_training: train and
-- message_field_training_detail: train_detail. A partly trained message gets no
-- train key (axolotl then trains it iff train_detail is present) and a detail
-- list covering its whole content, character offsets, end inclusive.
function renderers.axolotl(msgs)
  local out = {}
  for i, m in ipairs(msgs) do
    local o = setmetatable({ role = m.role, content = m.content }, AX_MSG)
    if m.state == "partial" then
      local detail = {}
      for k, s in ipairs(m.segs) do
        detail[k] = setmetatable({ begin_offset = s.cb, end_offset = s.ce - 1, train = s.train },
          AX_DETAIL)
      end
      o.train_detail = detail
    else
      o.train = m.state == "trained"
    end
    out[i] = o
  end
  return setmetatable({ messages = out }, AX_TOP)
end

-- OpenAI chat fine-tuning: weight 0/1 on assistant messages only.
function renderers.openai(msgs, opts)
  local out = {}
  for _, m in ipairs(msgs) do
    if m.role ~= "assistant" then
      if m.state ~= "untrained" then
        return nil, describe(m) .. " is trained, but OpenAI fine-tuning trains only assistant messages"
      end
      out[#out + 1] = setmetatable({ role = m.role, content = m.content }, OA_MSG)
    elseif m.state ~= "partial" then
      out[#out + 1] = setmetatable({ role = m.role, content = m.content,
        weight = m.state == "trained" and 1 or 0 }, OA_MSG)
    elseif opts.split_partial then
      -- Consecutive assistant messages, one per mask run, each with its weight.
      for _, s in ipairs(m.segs) do
        out[#out + 1] = setmetatable({ role = m.role, content = m.content:sub(s.b + 1, s.e),
          weight = s.train and 1 or 0 }, OA_MSG)
      end
    else
      return nil, describe(m) .. " is partly trained, but OpenAI's weight applies to a whole"
        .. " message (split_partial splits it into consecutive assistant messages)"
    end
  end
  return setmetatable({ messages = out }, OA_TOP)
end

-- ShareGPT as LLaMA-Factory reads it: a leading system message becomes the
-- top-level "system"; turns must alternate user side (human, observation) and
-- model side (gpt, function_call), or LLaMA-Factory drops the example.
local SG_FROM = { user = "human", assistant = "gpt", tool = "observation",
  function_call = "function_call" }
local SG_MODEL = { gpt = true, function_call = true }

function renderers.sharegpt(msgs, _, notes)
  local conv, system = {}, nil
  local first = 1
  if msgs[1].role == "system" then
    if msgs[1].state ~= "untrained" then
      return nil, describe(msgs[1]) .. " is trained; LLaMA-Factory never trains the system prompt"
    end
    system, first = msgs[1].content, 2
  end
  local model = {}
  for i = first, #msgs do
    local m = msgs[i]
    local from = SG_FROM[m.role]
    if m.role == "system" then
      return nil, describe(m) .. ": ShareGPT has a system prompt only as the first message"
    elseif not from then
      return nil, describe(m) .. ": ShareGPT has no such role (user, assistant, tool, function_call)"
    end
    local want_model = #conv % 2 == 1
    if (SG_MODEL[from] or false) ~= want_model then
      return nil, describe(m) .. " is out of turn: LLaMA-Factory needs turns alternating"
        .. " user/tool and assistant/function_call, starting with a user turn"
    end
    if m.state == "partial" then
      return nil, describe(m) .. " is partly trained; LLaMA-Factory trains whole turns"
    elseif not want_model and m.state == "trained" then
      return nil, describe(m) .. " is trained; LLaMA-Factory trains only assistant turns"
    end
    if want_model then model[#model + 1] = m end
    conv[#conv + 1] = setmetatable({ from = from, value = m.content }, SG_TURN)
  end
  if #conv == 0 or #conv % 2 == 1 then
    return nil, "the conversation must end with an assistant turn (LLaMA-Factory drops it otherwise)"
  end
  local ntrained = 0
  for _, m in ipairs(model) do
    if m.state == "trained" then ntrained = ntrained + 1 end
  end
  local last_only = ntrained == 1 and model[#model].state == "trained"
  if ntrained == 0 then
    return nil, "nothing is trained"
  elseif ntrained < #model and not last_only then
    return nil, "some assistant turns are trained and others not; LLaMA-Factory trains every"
      .. " assistant turn, or only the last one (mask_history)"
  end
  if ntrained < #model and notes then notes.mask_history = true end
  return setmetatable({ conversations = conv, system = system }, SG_TOP)
end

-- TRL conversational prompt/completion: the completion is the trailing run of
-- wholly trained messages, the prompt everything before, wholly untrained.
function renderers.trl(msgs)
  local n, k = #msgs, #msgs
  while k >= 1 and msgs[k].state == "trained" do k = k - 1 end
  if k == n then
    if msgs[n].state == "partial" then
      return nil, describe(msgs[n]) .. " is partly trained; TRL's completion is whole messages"
    end
    return nil, describe(msgs[n]) .. " is not trained; TRL trains the completion, which"
      .. " must be the last message(s)"
  end
  if k == 0 then
    return nil, "every message is trained; TRL's prompt/completion needs an untrained prompt"
  end
  local prompt, completion = {}, {}
  for i = 1, k do
    local m = msgs[i]
    if m.state == "partial" then
      return nil, describe(m) .. " is partly trained; TRL trains only whole completion messages"
    elseif m.state == "trained" then
      return nil, describe(m) .. " is trained but is followed by untrained text; TRL trains"
        .. " only the completion at the end"
    end
    prompt[i] = setmetatable({ role = m.role, content = m.content }, TRL_MSG)
  end
  for i = k + 1, n do
    completion[#completion + 1] = setmetatable({ role = msgs[i].role, content = msgs[i].content },
      TRL_MSG)
  end
  return setmetatable({ prompt = prompt, completion = completion }, TRL_TOP)
end

local function known(name)
  if renderers[name] then return true end
  return false
end

-- Renders without raising: the object, or nil and the reason.
local function try(name, ex, opts, notes)
  local ok, err = pcall(ex.validate, ex)
  if not ok then return nil, tostring(err) end
  if ex:count() == 0 then return nil, "the example has no messages" end
  return renderers[name](analyse(ex), opts, notes)
end

local function check_args(name, ex, opts, fname)
  name = name or M.default
  if type(name) ~= "string" or not known(name) then
    raise(string.format("%s: unknown format '%s' (known: %s)", fname, tostring(name),
      table.concat(M.names, ", ")))
  end
  if not core.is(ex) then
    raise(string.format("%s: expected an Example, got %s", fname, type(ex)))
  end
  if opts ~= nil and type(opts) ~= "table" then
    raise(string.format("%s: opts must be a table or nil, got %s", fname, type(opts)))
  end
  return name, opts or {}
end

-- Renders ex in format `name` (nil: M.default). opts: meta = false leaves the
-- metadata out; split_partial (openai); notes, a table that receives notes for
-- the manifest (sharegpt: mask_history = true).
function M.render(name, ex, opts)
  name, opts = check_args(name, ex, opts, "render")
  local obj, why = try(name, ex, opts, opts.notes)
  if not obj then
    raise(string.format("format '%s' cannot represent this example: %s%s", name, why,
      name ~= "axolotl" and "; use --format axolotl, which keeps per-span masks" or ""))
  end
  if opts.meta ~= false then
    local meta = ex:meta()
    if next(meta) ~= nil then obj.meta = meta end
  end
  return obj
end

-- true, or nil and the reason render would give.
function M.check_representable(name, ex, opts)
  name, opts = check_args(name, ex, opts, "check_representable")
  local obj, why = try(name, ex, opts, {})
  if not obj then return nil, why end
  return true
end

-- Behind a C frame, so that a mistake in `return lc.formats.render(...)` (a
-- tail call) names the recipe's line.
M.render = caller.entry(M.render)
M.check_representable = caller.entry(M.check_representable)

return M
