-- The pre-tokenized format: `input_ids`, `attention_mask`, `labels` (-100
-- where masked), rendered with the model's own chat template and tokenized
-- with its tokenizer.json — what HF apply_chat_template plus HF tokenizers
-- produce for the same messages.
--
-- Labels come from the example's span masks through the token offsets: a
-- token is trained only if it lies wholly inside a trained span (a token that
-- straddles a mask boundary is masked); the first special token after a
-- trained assistant turn (its end-of-turn token: <|eot_id|>, <|im_end|>,
-- <end_of_turn>, ...) is trained too, as TRL and axolotl do. The masked
-- tokens that straddle a boundary are counted into opts.notes.straddling_tokens
-- (the manifest's format_notes; `lacuna stats` reports it).
local core = require "lacuna.core"
local json = core.json

local M = {}

local TOP = { __jsonorder = { "input_ids", "attention_mask", "labels", "meta" } }

-- Finds each message's content in the rendered text, in order. Templates may
-- trim the content (Llama 3 does); the mask is then shifted by what was
-- trimmed. Returns {start = byte offset, delta = bytes trimmed at the front,
-- len = bytes found} per message.
local function locate(text, messages)
  local places, from = {}, 1
  for i, m in ipairs(messages) do
    local content = m.content
    local delta = 0
    local a, b = text:find(content, from, true)
    if not a or content == "" then
      local lead, core_text = content:match("^(%s*)(.-)%s*$")
      delta = #lead
      if core_text == "" then
        a, b = from, from - 1 -- empty content: nothing to place
      else
        a, b = text:find(core_text, from, true)
      end
      if not a then
        error(string.format("the chat template changes the content of message %d (%s), so its loss mask " ..
          "cannot be placed in the rendered text", i, m.role), 0)
      end
    end
    places[i] = { start = a - 1, delta = delta, len = b - a + 1 }
    from = b + 1
  end
  return places
end

-- Renders an example; opts.tokenizer (lacuna.tokenizer object) and
-- opts.chat_template (lacuna.chat_template object) are required.
function M.render(ex, opts)
  local tok, tpl = opts.tokenizer, opts.chat_template
  if not tok or not tpl then error("format 'tokens' needs --tokenizer DIR (tokenizer.json and its chat template)", 0) end
  local n = ex:count()
  local messages = {}
  for i = 1, n do
    local m = ex:raw_message(i)
    messages[i] = setmetatable({ role = m.role, content = m.content }, { __jsonorder = { "role", "content" } })
  end
  local text, err = tpl:render(messages, { add_generation_prompt = false })
  if not text then error("chat template: " .. tostring(err), 0) end
  local places = locate(text, messages)
  local trained, eot = {}, {}
  for i = 1, n do
    local p = places[i]
    local last_trained = false
    for _, seg in ipairs(ex:segments(i)) do
      -- The segment in the rendered text, clipped to what the template kept.
      local b = math.max(seg.b - p.delta, 0)
      local e = math.min(seg.e - p.delta, p.len)
      if seg.train and e > b then
        local from, to = p.start + b, p.start + e
        local prev = trained[#trained]
        if prev and prev[2] == from then prev[2] = to else trained[#trained + 1] = { from, to } end
      end
      last_trained = seg.train
    end
    if messages[i].role == "assistant" and last_trained then
      local after = p.start + p.len
      local before = places[i + 1] and places[i + 1].start or #text
      eot[#eot + 1] = { after, before }
    end
  end
  local ids, labels, straddling = tok.raw:encode_labels(text, trained, eot)
  if not ids then error("tokenizer: " .. tostring(labels), 0) end
  local any = false
  for i = 1, #labels do
    if labels[i] ~= -100 then
      any = true
      break
    end
  end
  if not any then error("no token of this example is trained after tokenization", 0) end
  if opts.notes then opts.notes.straddling_tokens = (opts.notes.straddling_tokens or 0) + straddling end
  local mask = {}
  for i = 1, #ids do mask[i] = 1 end
  local obj = setmetatable({
    input_ids = json.array(ids), attention_mask = json.array(mask), labels = json.array(labels),
  }, TOP)
  return require("lacuna.formats").with_meta(obj, ex, opts)
end

-- Loads the tokenizer and chat template of a model directory (tokenizer.json
-- and tokenizer_config.json, as Hugging Face ships them).
function M.load(dir, template_path)
  local tokenizer = require "lacuna.tokenizer"
  local chat_template = require "lacuna.chat_template"
  local tok, err = tokenizer.load(dir)
  if not tok then return nil, err end
  local tpl, terr = chat_template.load(template_path or dir)
  if not tpl then return nil, terr end
  return { tokenizer = tok, chat_template = tpl }
end

return M
