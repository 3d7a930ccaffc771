-- The C renderers (core/render.c) against an independent reference: the
-- former Lua renderers, kept here verbatim as the oracle, over thousands of
-- random examples (roles, parts, explicit spans, empty and Unicode text with
-- characters JSON must escape). For every format and both split_partial
-- settings: formats.line gives exactly encode(reference), render gives tables
-- that encode to the same bytes, the refusals give the reference's reason, and
-- sharegpt's mask_history note agrees.
local t = require "testlib"
local lc = require "lacuna"
local E = require "lacuna.example"
local F = require "lacuna.formats"
local encode = lc.json.encode

-- ---- the reference (lua/lacuna/formats.lua before the renderers moved to C)
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


local function analyse(ex)
  local msgs = {}
  for i = 1, ex:count() do
    local m = ex:raw_message(i)
    local segs = ex:segments(i)
    local state
    if #segs == 0 then
      local tr = m.train
      if m.spans then tr = false elseif tr == nil then tr = m.role == "assistant" end
      state = tr and "trained" or "untrained"
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

local function reference(name, ex, opts, notes)
  if ex:count() == 0 then return nil, "the example has no messages" end
  local obj, why = renderers[name](analyse(ex), opts, notes)
  if not obj then return nil, why end
  local meta = ex:meta()
  if opts.meta ~= false and next(meta) ~= nil then obj.meta = meta end
  return obj
end

-- ---- random examples
local rng = lc.rng(20261201, 9)
local ROLES = { "system", "user", "assistant", "assistant", "user", "tool", "function_call", "critic" }
local PIECES = { "a", "A", "hello", " ", "\n", "\"q\"", "\\", "\t\r\b\f", "\0\1\31", "é", "中文",
  "🙂", "\u{2028}x\u{2029}", "\u{3000}", "<|end|>", "" }

local function text(max)
  local parts = {}
  for i = 1, rng:int(0, max) do parts[i] = PIECES[rng:int(1, #PIECES)] end
  return table.concat(parts)
end

local function flag()
  local r = rng:int(1, 3)
  if r == 1 then return true elseif r == 2 then return false end
  return nil
end

-- Byte offsets of character starts in s (and #s).
local function boundaries(s)
  local b = {}
  for p in utf8.codes(s) do b[#b + 1] = p - 1 end
  b[#b + 1] = #s
  return b
end

local function random_example()
  local ex = E.new()
  if rng:int(1, 3) == 1 then ex:meta().id = rng:int(1, 1000) end
  if rng:int(1, 6) == 1 then ex:meta().tags = lc.json.array { "x", "y" } end
  for _ = 1, rng:int(0, 5) do
    local role = ROLES[rng:int(1, #ROLES)]
    local kind = rng:int(1, 4)
    if kind <= 2 then
      ex:message(role, text(4), flag())
    elseif kind == 3 then
      local parts = {}
      for k = 1, rng:int(0, 4) do parts[k] = E.part(text(3), flag()) end
      ex:message(role, parts, flag())
    else
      local s = text(6)
      local b = boundaries(s)
      local spans, at = {}, 1
      while at < #b and rng:int(1, 3) > 1 do
        local from = rng:int(at, #b)
        if from >= #b then break end
        local to = rng:int(from + 1, #b)
        spans[#spans + 1] = { b[from], b[to], flag() }
        at = to
      end
      ex:spans(role, s, spans)
    end
  end
  return ex
end

t.test("C renderers equal the reference on random examples", function()
  local counts = { ok = 0, refused = 0 }
  for n = 1, 3000 do
    local ex = random_example()
    for _, name in ipairs(F.names) do
      for _, split in ipairs({ false, true }) do
        local opts = { split_partial = split }
        local ref_notes, notes, line_notes = {}, {}, {}
        local want, why = reference(name, ex, opts, ref_notes)
        local line, lwhy = F.line(name, ex, { split_partial = split, notes = line_notes })
        local where = string.format("example %d (%s), %s, split_partial=%s", n, tostring(ex), name, split)
        if want then
          counts.ok = counts.ok + 1
          t.eq(line, encode(want), where .. ": line")
          t.eq(encode(F.render(name, ex, { split_partial = split, notes = notes })), line, where .. ": render")
          t.eq(notes, ref_notes, where .. ": notes")
          t.eq(line_notes, ref_notes, where .. ": line notes")
          t.eq(F.check_representable(name, ex, opts), true, where)
        else
          counts.refused = counts.refused + 1
          t.eq(line, nil, where .. ": refused")
          t.truthy(lwhy:find(why, 1, true), where .. ": reason '" .. tostring(lwhy) .. "' lacks '" .. why .. "'")
          local ok, rwhy = F.check_representable(name, ex, opts)
          t.eq({ ok, rwhy }, { nil, why }, where .. ": check_representable")
        end
      end
    end
  end
  -- Both outcomes were exercised plenty.
  t.truthy(counts.ok > 5000 and counts.refused > 5000, "ok " .. counts.ok .. ", refused " .. counts.refused)
end)

t.test("the snapshot is the resolved view the renderers use", function()
  for _ = 1, 500 do
    local ex = random_example()
    local snap = ex:snapshot()
    local ref = analyse(ex)
    t.eq(#snap, #ref)
    for i, m in ipairs(ref) do
      t.eq(snap[i], { index = i, role = m.role, content = m.content, state = m.state, runs = m.segs })
    end
  end
end)

return t.done()
