-- A conversation (lua/lacuna/inspect_conv.lua) drawn for a terminal: one
-- block per message, the role in a column on the left, trained text in green
-- and masked text in grey. Without colour (not a terminal, NO_COLOR set, or
-- --no-color) trained text is marked [[like this]] and masked text is plain,
-- so the difference survives a pipe, a log or a screen reader.
local json = require("lacuna.core").json
local sys = require("lacuna.core").sys

local M = {}

M.TRAINED, M.MASKED, M.BOLD, M.DIM, M.RESET = "\27[32m", "\27[90m", "\27[1m", "\27[2m", "\27[0m"
M.OPEN, M.CLOSE = "[[", "]]"

-- Whether to colour what goes to file descriptor fd: a terminal, and the
-- NO_COLOR convention (https://no-color.org) not set.
function M.use_color(fd)
  local nc = os.getenv("NO_COLOR")
  if nc and nc ~= "" then return false end
  return sys.isatty(fd or 1) and true or false
end

local ROLE_WIDTH = 10

-- text with every line after the first indented under the role column.
local function indent(text, pad)
  return (text:gsub("\n", "\n" .. pad))
end

-- One message: "role      text", trained and masked runs marked.
function M.message(msg, color)
  local pad = string.rep(" ", ROLE_WIDTH + 1)
  local role = msg.role
  if #role < ROLE_WIDTH then role = role .. string.rep(" ", ROLE_WIDTH - #role) end
  local out = { color and (M.BOLD .. role .. M.RESET) or role, " " }
  for _, p in ipairs(msg.parts) do
    local text = indent(p.text, pad)
    if color then
      -- the colour is reopened after each newline so that a pager keeps it
      local on = p.train and M.TRAINED or M.MASKED
      out[#out + 1] = on .. text:gsub("\n", M.RESET .. "\n" .. on) .. M.RESET
    elseif p.train then
      out[#out + 1] = M.OPEN .. text .. M.CLOSE
    else
      out[#out + 1] = text
    end
  end
  return table.concat(out)
end

-- The whole conversation; opts: color, title (e.g. "example 3  out.jsonl:3").
function M.render(conv, opts)
  opts = opts or {}
  local color = opts.color
  local lines = {}
  local head = opts.title or "example"
  local extra = { conv.format }
  if conv.note then extra[#extra + 1] = conv.note end
  head = head .. "  (" .. table.concat(extra, "; ") .. ")"
  lines[1] = color and (M.DIM .. "── " .. head .. " ──" .. M.RESET) or ("── " .. head .. " ──")
  if conv.meta then
    local ok, text = pcall(json.encode, conv.meta)
    lines[#lines + 1] = "meta       " .. (ok and text or tostring(conv.meta))
  end
  for _, msg in ipairs(conv.messages) do lines[#lines + 1] = M.message(msg, color) end
  return table.concat(lines, "\n") .. "\n"
end

-- The key to the marking, for help texts.
function M.legend(color)
  if color then
    return M.TRAINED .. "trained" .. M.RESET .. " / " .. M.MASKED .. "masked" .. M.RESET
  end
  return M.OPEN .. "trained" .. M.CLOSE .. " / masked (plain)"
end

return M
