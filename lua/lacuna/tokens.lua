-- The pre-tokenized format: `input_ids`, `attention_mask`, `labels` (-100
-- where masked), rendered with the model's own chat template and tokenized
-- with its tokenizer.json — what HF apply_chat_template plus HF tokenizers
-- produce for the same messages.
--
-- Labels come from the example's span masks through the token offsets: a
-- token is trained only if it lies wholly inside a trained span (a token that
-- straddles a mask boundary is masked); the first special token after a
-- trained assistant turn (its end-of-turn token: <|eot_id|>, <|im_end|>,
-- <end_of_turn>, ...) is trained too, as TRL and axolotl do.
local core = require "lacuna.core"
local json = core.json

local M = {}

local TOP = { __jsonorder = { "input_ids", "attention_mask", "labels", "meta" } }

-- Placement by construction. The template is rendered twice with the same
-- options: once with the real contents (the text that gets tokenized), and
-- once with each content replaced by a unique sentinel. The sentinel render
-- cuts the template's own text into frames F0, F1, ..., Fn around the
-- contents, in the order the template prints them. The real text must then be
-- F0 c1 F1 c2 ... Fn, where each ci is its message's content, possibly with
-- whitespace cut at either end (Jinja's trim, Python's strip('\n'), ...). The
-- frames are matched exactly, so a content is never found inside the
-- template's own text (a one-letter answer "A" against a role header, a
-- leading "\n\n" against the header's newlines). This is axolotl's idea
-- (render with a dummy content and take the differences) made exact for every
-- message at once, on the whole conversation, so templates that print a turn
-- differently when it is the last one (Qwen3) still place correctly.
--
-- Python's str.isspace() set: what trim/strip remove in transformers' Jinja.
local SPACE = { [" "] = true, ["\t"] = true, ["\n"] = true, ["\r"] = true, ["\v"] = true, ["\f"] = true,
                ["\x1c"] = true, ["\x1d"] = true, ["\x1e"] = true, ["\x1f"] = true,
                ["\u{85}"] = true, ["\u{a0}"] = true, ["\u{1680}"] = true, ["\u{2028}"] = true,
                ["\u{2029}"] = true, ["\u{202f}"] = true, ["\u{205f}"] = true, ["\u{3000}"] = true }
for cp = 0x2000, 0x200a do SPACE[utf8.char(cp)] = true end

local CHAR = "[\0-\x7F\xC0-\xFF][\x80-\xBF]*"

-- Byte offsets (0-based) where a cut may fall inside the leading whitespace of
-- s (ascending from 0) and inside its trailing whitespace (descending from #s).
local function cut_points(s)
  local lead, i = { 0 }, 1
  while i <= #s do
    local c = s:match(CHAR, i)
    if not SPACE[c] then break end
    i = i + #c
    lead[#lead + 1] = i - 1
  end
  local trail, j = { #s }, #s
  while j >= 1 do
    local a = j
    while a > 1 and a > j - 3 and s:byte(a) >= 0x80 and s:byte(a) < 0xC0 do a = a - 1 end
    if not SPACE[s:sub(a, j)] then break end
    j = a - 1
    trail[#trail + 1] = j
  end
  return lead, trail
end

-- A marker that occurs in no content: "@@lacuna:<i>:<nonce>@@".
local function sentinel_base(messages)
  local nonce = 0
  while true do
    local base = "@@lacuna" .. nonce .. ":"
    local clash = false
    for _, m in ipairs(messages) do
      if m.content:find(base, 1, true) then clash = true break end
    end
    if not clash then return base end
    nonce = nonce + 1
  end
end

-- Whether a content is empty or white space only.
local function blank(content)
  local lead = cut_points(content)
  return lead[#lead] == #content
end

-- Places the messages whose `wanted[i]` is true; the others keep their real
-- content in the sentinel render (blank untrained ones: a template testing
-- `if message.content | trim` must take the same branch in both renders).
-- Returns the placements in rendering order: {msg = i, start = byte offset in
-- text, delta = bytes cut at the content's front, len = bytes printed}; a
-- message may be printed never or more than once (the caller decides whether
-- that is acceptable). nil, message when the real text is not the frames with
-- the contents between them.
local function place(tpl, text, messages, wanted, render_opts)
  local base = sentinel_base(messages)
  local marked = {}
  for i, m in ipairs(messages) do
    local c = wanted[i] and (base .. i .. "@@") or m.content
    marked[i] = setmetatable({ role = m.role, content = c }, getmetatable(m))
  end
  local stext, err = tpl:render(marked, render_opts)
  if not stext then return nil, "chat template (sentinel render): " .. tostring(err) end
  -- frames and the order of the contents
  local order, frames, from = {}, {}, 1
  local pat = "@@lacuna" .. base:match("^@@lacuna(%d+):") .. ":(%d+)@@"
  while true do
    local a, b, idx = stext:find(pat, from)
    if not a then break end
    frames[#frames + 1] = stext:sub(from, a - 1)
    order[#order + 1] = tonumber(idx)
    from = b + 1
  end
  frames[#frames + 1] = stext:sub(from)
  local places = {}
  if text:sub(1, #frames[1]) ~= frames[1] then
    return nil, "the template's text before the first message differs between renders"
  end
  local p = #frames[1] + 1 -- 1-based position in text
  for k, i in ipairs(order) do
    local content = messages[i].content
    local frame = frames[k + 1]
    local last = k == #order
    local lead, trail = cut_points(content)
    local found
    for _, a in ipairs(lead) do
      for _, b in ipairs(trail) do
        if b >= a then
          local q = p + (b - a)
          if text:sub(p, q - 1) == content:sub(a + 1, b) and text:sub(q, q + #frame - 1) == frame
              and (not last or q + #frame - 1 == #text) then
            found = { msg = i, start = p - 1, delta = a, len = b - a }
            break
          end
        end
      end
      if found then break end
    end
    if not found then
      return nil, string.format("the chat template changes the content of message %d (%s) beyond trimming "
        .. "white space, or prints the conversation differently when the content differs, so its loss mask "
        .. "cannot be placed in the rendered text", i, messages[i].role)
    end
    places[#places + 1] = found
    p = found.start + found.len + #frame + 1
  end
  if #order == 0 and text ~= frames[1] then
    return nil, "the rendered text differs from the template's text with no content in it"
  end
  return places
end

-- Tokens that straddle a mask boundary are masked (a token is trained only if
-- it lies wholly inside a trained span); the run's notes count them and keep
-- a few samples, the token in [[ ]] with some text around it, so that a
-- recipe author can move the boundary onto a token boundary. The samples kept
-- are the smallest strings, so the notes do not depend on completion order.
local SAMPLES, CONTEXT = 5, 24

local function utf8_floor(s, i) -- 1-based i moved back to a character start
  while i > 1 and s:byte(i) and s:byte(i) >= 0x80 and s:byte(i) < 0xC0 do i = i - 1 end
  return i
end

local function utf8_ceil(s, i)
  while i <= #s and s:byte(i) >= 0x80 and s:byte(i) < 0xC0 do i = i + 1 end
  return i
end

local function note_straddling(notes, text, count, from, to)
  -- byte-level tokens may end inside a character: widen to whole characters
  from = utf8_floor(text, from + 1) - 1
  to = utf8_ceil(text, to + 1) - 1
  local st = notes.straddling_tokens
  if not st then
    st = setmetatable({ tokens = 0, examples = 0, samples = {} },
      { __jsonorder = { "tokens", "examples", "samples" } })
    notes.straddling_tokens = st
  end
  st.tokens = st.tokens + count
  st.examples = st.examples + 1
  local a = utf8_floor(text, math.max(from + 1 - CONTEXT, 1))
  local b = utf8_floor(text, math.min(to + 1 + CONTEXT, #text + 1))
  local sample = text:sub(a, from) .. "[[" .. text:sub(from + 1, to) .. "]]" .. text:sub(to + 1, b - 1)
  local list = st.samples
  for _, v in ipairs(list) do
    if v == sample then return end
  end
  list[#list + 1] = sample
  table.sort(list)
  if #list > SAMPLES then list[#list] = nil end
end

-- The example rendered with the chat template, and where its loss mask falls
-- in that text: text, trained (sorted {from, to} byte ranges, end exclusive)
-- and eot (the {after, before} windows of the end-of-turn tokens), as
-- tok.raw:encode_labels takes them. Raises what render raises. (The REPL's
-- :tokens shows the same layout token by token.)
function M.layout(ex, opts)
  local tpl = opts.chat_template
  local n = ex:count()
  local messages = {}
  for i = 1, n do
    local m = ex:raw_message(i)
    messages[i] = setmetatable({ role = m.role, content = m.content }, { __jsonorder = { "role", "content" } })
  end
  local render_opts = { add_generation_prompt = false }
  local text, err = tpl:render(messages, render_opts)
  if not text then error("chat template: " .. tostring(err), 0) end
  local wanted = {}
  for i = 1, n do
    local content = messages[i].content
    wanted[i] = content ~= "" and not blank(content)
    if not wanted[i] and content ~= "" then
      for _, seg in ipairs(ex:segments(i)) do
        if seg.train then wanted[i] = true end
      end
    end
  end
  local places, perr = place(tpl, text, messages, wanted, render_opts)
  if not places then error(perr, 0) end
  -- Trained byte ranges of the rendered text, in text order, and for each
  -- trained assistant turn the window where its end-of-turn token sits: from
  -- the end of its content to the start of the next printed content.
  local printed, trained, eot = {}, {}, {}
  for k, pl in ipairs(places) do
    local i = pl.msg
    local segs = ex:segments(i)
    local any_trained, last_trained = false, false
    for _, seg in ipairs(segs) do
      if seg.train then any_trained = true end
      last_trained = seg.train
    end
    if any_trained then
      if printed[i] then
        error(string.format("the chat template prints message %d (%s) more than once, so its loss mask "
          .. "is ambiguous", i, messages[i].role), 0)
      end
      printed[i] = true
      for _, seg in ipairs(segs) do
        -- the segment in the rendered text, clipped to what the template kept
        local b = math.max(seg.b - pl.delta, 0)
        local e = math.min(seg.e - pl.delta, pl.len)
        if seg.train and e > b then
          local from, to = pl.start + b, pl.start + e
          local prev = trained[#trained]
          if prev and prev[2] >= from then
            if from < prev[1] then error("internal: trained ranges out of order", 0) end
            prev[2] = math.max(prev[2], to)
          else
            trained[#trained + 1] = { from, to }
          end
        end
      end
      if messages[i].role == "assistant" and last_trained then
        local after = pl.start + pl.len
        local before = places[k + 1] and places[k + 1].start or #text
        eot[#eot + 1] = { after, before }
      end
    end
  end
  for i = 1, n do
    if not printed[i] then
      for _, seg in ipairs(ex:segments(i)) do
        if seg.train and seg.e > seg.b then
          error(string.format("the chat template does not print message %d (%s), which has a trained part",
            i, messages[i].role), 0)
        end
      end
    end
  end
  return text, trained, eot
end

-- Renders an example; opts.tokenizer (lacuna.tokenizer object) and
-- opts.chat_template (lacuna.chat_template object) are required.
function M.render(ex, opts)
  local tok, tpl = opts.tokenizer, opts.chat_template
  if not tok or not tpl then error("format 'tokens' needs --tokenizer DIR (tokenizer.json and its chat template)", 0) end
  local text, trained, eot = M.layout(ex, opts)
  local ids, labels, straddling, sfrom, sto = tok.raw:encode_labels(text, trained, eot)
  if not ids then error("tokenizer: " .. tostring(labels), 0) end
  local any = false
  for i = 1, #labels do
    if labels[i] ~= -100 then
      any = true
      break
    end
  end
  if not any then error("no token of this example is trained after tokenization", 0) end
  -- noted once the example is sure to be written
  if straddling > 0 and opts.notes then note_straddling(opts.notes, text, straddling, sfrom, sto) end
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
