-- :tokens — an example token by token, as the tokens format would label it:
-- rendered with the model's chat template (lua/lacuna/tokens.lua's layout),
-- tokenized, each token's label from the same C pass as --format tokens
-- (core/tokenizer/labels.c): T trained, . masked, S straddling (partly inside
-- a trained span, so masked; move the part boundary onto a token boundary).
-- Without a chat template in the --tokenizer directory, each message's text
-- is tokenized on its own.
local core = require "lacuna.core"
local example = require "lacuna.example"
local conv = require "lacuna.inspect_conv"
local term = require "lacuna.inspect_term"

local M = {}

M.STRADDLE = "\27[33m"

-- An Example from an Example, a conversation (inspect_conv) or a decoded
-- output line of any format.
function M.example_of(v)
  if core.example.is(v) then return v end
  if type(v) ~= "table" then error("expected an example, a conversation or an output line, got " .. type(v), 2) end
  local c = v
  if not (type(v.messages) == "table" and v.messages[1] and v.messages[1].parts) then c = conv.from_record(v) end
  local ex = example.new { meta = c.meta }
  for _, m in ipairs(c.messages) do
    local parts = {}
    for k, p in ipairs(m.parts) do parts[k] = example.part(p.text, p.train) end
    ex:message(m.role, parts, false)
  end
  return ex
end

-- Labels of the tokens of text: list of {id, piece, state = "T" | "." | "S"}.
local function label(tok, text, trained, eot)
  local ids, labels = tok.raw:encode_labels(text, trained, eot or {})
  if not ids then error("tokenizer: " .. tostring(labels), 0) end
  local _, bytes = tok:encode(text, { offsets = true, add_special_tokens = false })
  local out = {}
  for i, id in ipairs(ids) do
    local b, e = bytes[i][1], bytes[i][2]
    local state = labels[i] ~= -100 and "T" or "."
    if state == "." and e > b then
      for _, r in ipairs(trained) do
        if r[1] < e and b < r[2] then state = "S" end
      end
    end
    out[i] = { id = id, piece = text:sub(b + 1, e), state = state }
  end
  return out
end

-- Trained byte ranges of message i, merged.
local function trained_ranges(ex, i)
  local list = {}
  for _, r in ipairs(ex:segments(i)) do
    if r.train and r.e > r.b then
      local last = list[#list]
      if last and last[2] == r.b then last[2] = r.e else list[#list + 1] = { r.b, r.e } end
    end
  end
  return list
end

local function quote(s)
  return '"' .. s:gsub("[%c\"\\]", function(c)
    return ({ ["\n"] = "\\n", ["\t"] = "\\t", ['"'] = '\\"', ["\\"] = "\\\\" })[c] or string.format("\\%d", c:byte())
  end) .. '"'
end

-- The text for the tokens of ex. files: lacuna.tokens.load's {tokenizer,
-- chat_template}, or {tokenizer} alone.
function M.show(ex, files, color)
  local tok = files.tokenizer
  local groups = {}
  if files.chat_template then
    local text, trained, eot = require("lacuna.tokens").layout(ex, files)
    groups[1] = { title = "rendered with the chat template", tokens = label(tok, text, trained, eot) }
  else
    for i = 1, ex:count() do
      local m = ex:raw_message(i)
      groups[#groups + 1] = { title = "message " .. i .. " (" .. m.role .. "), tokenized alone",
                              tokens = label(tok, m.content, trained_ranges(ex, i)) }
    end
  end
  local lines, counts = {}, { T = 0, ["."] = 0, S = 0 }
  local paint = { T = term.TRAINED, ["."] = term.MASKED, S = M.STRADDLE }
  for _, g in ipairs(groups) do
    lines[#lines + 1] = "-- " .. g.title
    for i, t in ipairs(g.tokens) do
      counts[t.state] = counts[t.state] + 1
      local piece = quote(t.piece)
      if color then piece = paint[t.state] .. piece .. term.RESET end
      lines[#lines + 1] = string.format("%5d %7d %s %s%s", i, t.id, t.state, piece,
        t.state == "S" and "  <- straddles a mask boundary (masked)" or "")
    end
  end
  lines[#lines + 1] = string.format("%d tokens: %d trained (T), %d masked (.), %d straddling (S, masked)",
    counts.T + counts["."] + counts.S, counts.T, counts["."], counts.S)
  return table.concat(lines, "\n") .. "\n"
end

return M
