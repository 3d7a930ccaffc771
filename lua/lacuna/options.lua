-- Command-line options declared as data. A command (lua/lacuna/cmd/*.lua)
-- lists its operands and option groups once; this module turns that list into
-- the parser, the command's --help text and the README's option tables, so the
-- three cannot drift apart.
--
-- An option: { "-i", "--input", arg = "FILE", key = "inputs", kind = "list",
--              doc = "..." }
--   kind: "string" (default), "list" (repeatable, collected in order), "int",
--         "number" (with optional min), "flag" (no value: sets key to `value`,
--         true unless given), or "custom" (parse(value, o, flag) stores it).
--   doc:  a string, or a function returning one (for defaults known at run time).
-- A group: { title = "teacher (...)", option, option, ... }
-- A command: { name, summary, usage = {lines}, operands = {{key=, name=}},
--              groups = {group, ...}, notes = function() -> text }
local usage = require "lacuna.usage"

local M = {}

-- The model a --tokenizer DIR option names; a usage error when it cannot be loaded.
function M.tokenizer(dir)
  local tok, err = require("lacuna.tokenizer").load(dir)
  if not tok then usage.error("--tokenizer %s: %s", dir, err) end
  return tok
end

local function doc_text(opt)
  local d = opt.doc
  if type(d) == "function" then d = d() end
  return d
end

-- "-i, --input FILE" / "    --seed N"
local function flag_text(opt)
  local short, long = opt[2] and opt[1] or nil, opt[2] or opt[1]
  local head = short and (short .. ", " .. long) or ("    " .. long)
  if opt.arg then head = head .. " " .. opt.arg end
  return head
end

local function names(opt)
  return opt[2] and { opt[1], opt[2] } or { opt[1] }
end

-- Maps every spelling of every option of cmd to its declaration.
local function index(cmd)
  if cmd._index then return cmd._index end
  local by = {}
  for _, g in ipairs(cmd.groups or {}) do
    for _, opt in ipairs(g) do
      for _, n in ipairs(names(opt)) do
        assert(not by[n], "option declared twice: " .. n)
        by[n] = opt
      end
    end
  end
  cmd._index = by
  return by
end

local function number_value(flag, v, min, integer)
  local n = tonumber(v)
  if integer then n = n and math.tointeger(n) end
  if not n then
    usage.error("%s expects %s, got '%s'", flag, integer and "an integer" or "a number", tostring(v))
  end
  if min and n < min then usage.error(integer and "%s must be >= %d" or "%s must be >= %g", flag, min) end
  return n
end

local function store(opt, flag, v, o)
  local kind = opt.kind or "string"
  if kind == "list" then
    o[opt.key][#o[opt.key] + 1] = v
  elseif kind == "int" or kind == "number" then
    o[opt.key] = number_value(flag, v, opt.min, kind == "int")
  elseif kind == "custom" then
    opt.parse(v, o, flag)
  else
    o[opt.key] = v
  end
end

-- Parses args[i..] for cmd; returns the options table. `--help`/`-h` anywhere
-- sets o.help. Caller mistakes raise usage errors that name the flag.
function M.parse(cmd, args, i)
  local by = index(cmd)
  local o = {}
  for _, g in ipairs(cmd.groups or {}) do
    for _, opt in ipairs(g) do
      if opt.kind == "list" then o[opt.key] = {} end
    end
  end
  local nops = 0
  while i <= #args do
    local a = args[i]
    local flag, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
    flag = flag or a
    local opt = by[flag]
    if a == "--help" or a == "-h" then
      o.help = true
    elseif opt and opt.kind == "flag" then
      if inline then usage.error("%s takes no value", flag) end
      if opt.value == nil then o[opt.key] = true else o[opt.key] = opt.value end
    elseif opt then
      local v = inline
      if v == nil then
        i = i + 1
        v = args[i]
        if v == nil then usage.error("%s needs a value", flag) end
      end
      store(opt, flag, v, o)
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      usage.error("unknown option '%s' for lacuna %s (see lacuna %s --help)", flag, cmd.name, cmd.name)
    else
      nops = nops + 1
      local operand = cmd.operands and cmd.operands[nops]
      local last = cmd.operands and cmd.operands[#cmd.operands]
      if not operand and last and last.rest then operand = last end
      if not operand then
        usage.error("unexpected argument '%s'%s", a, cmd.extra_hint or "")
      end
      if operand.rest then -- (the last operand takes every argument left: FILE...)
        o[operand.key] = o[operand.key] or {}
        table.insert(o[operand.key], a)
      else
        o[operand.key] = a
      end
    end
    i = i + 1
  end
  return o
end

-- Greedy word wrap of text to lines of at most width columns.
local function wrap(text, width)
  local lines, line = {}, ""
  for word in text:gmatch("%S+") do
    if line ~= "" and #line + 1 + #word > width then
      lines[#lines + 1] = line
      line = word
    else
      line = line == "" and word or (line .. " " .. word)
    end
  end
  if line ~= "" then lines[#lines + 1] = line end
  return lines
end

local COLUMN, WIDTH = 26, 80

-- The option lines of one group, as in `lacuna help`.
local function group_lines(g, out)
  for _, opt in ipairs(g) do
    local head = "  " .. flag_text(opt)
    local body = wrap(doc_text(opt), WIDTH - COLUMN)
    if #head + 2 > COLUMN then
      out[#out + 1] = head
    else
      head = head .. string.rep(" ", COLUMN - #head)
      out[#out + 1] = head .. table.remove(body, 1)
    end
    for _, l in ipairs(body) do out[#out + 1] = string.rep(" ", COLUMN) .. l end
  end
end

-- The option groups of cmd as help text.
function M.options_text(cmd)
  local out = {}
  for _, g in ipairs(cmd.groups or {}) do
    out[#out + 1] = ""
    out[#out + 1] = g.title .. ":"
    group_lines(g, out)
  end
  return table.concat(out, "\n")
end

-- `lacuna CMD --help`.
function M.help(cmd)
  local out = {}
  for n, u in ipairs(cmd.usage) do out[#out + 1] = (n == 1 and "usage: " or "       ") .. u end
  out[#out + 1] = ""
  out[#out + 1] = cmd.summary
  if cmd.notes then
    out[#out + 1] = ""
    out[#out + 1] = cmd.notes()
  end
  local opts = M.options_text(cmd)
  if opts ~= "" then out[#out + 1] = opts end
  return table.concat(out, "\n") .. "\n"
end

local function md_cell(s) return (s:gsub("|", "\\|")) end

-- The README's option tables of cmd (markdown). shown (optional) remembers
-- which command's tables were printed, so a command sharing them (check, info
-- take run's options) refers to those instead of repeating them.
function M.markdown(cmd, shown)
  shown = shown or {}
  local out = { "### lacuna " .. cmd.name, "", "```" }
  for _, u in ipairs(cmd.usage) do out[#out + 1] = u end
  out[#out + 1] = "```"
  out[#out + 1] = ""
  out[#out + 1] = cmd.summary
  if cmd.groups and shown[cmd.groups] then
    out[#out + 1] = ""
    out[#out + 1] = "Options: those of `lacuna " .. shown[cmd.groups] .. "`."
    return table.concat(out, "\n") .. "\n"
  end
  if cmd.groups then shown[cmd.groups] = cmd.name end
  for _, g in ipairs(cmd.groups or {}) do
    out[#out + 1] = ""
    if shown[g] then -- a group another command shares (repl takes run's)
      out[#out + 1] = "Also `lacuna " .. shown[g] .. "`'s options under \"" .. md_cell(g.title) .. "\"."
      goto next_group
    end
    shown[g] = cmd.name
    out[#out + 1] = "| " .. md_cell(g.title) .. " | |"
    out[#out + 1] = "|---|---|"
    for _, opt in ipairs(g) do
      local spell = table.concat(names(opt), ", ")
      if opt.arg then spell = spell .. " " .. opt.arg end
      out[#out + 1] = "| `" .. spell .. "` | " .. md_cell(doc_text(opt)) .. " |"
    end
    ::next_group::
  end
  return table.concat(out, "\n") .. "\n"
end

return M
