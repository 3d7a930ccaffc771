-- Writes lacuna's bash completion or man page, generated from the command
-- table that also makes the parser and `lacuna help` (lua/lacuna/cli.lua's
-- names, each lua/lacuna/cmd/<name>.lua's usage, operands and option groups),
-- so that a new command or option appears in both at the next build.
--   lua5.4 cli_docs.lua bash|man OUT      (lacuna.so on LUA_CPATH)
local lc = require "lacuna"
local cli = require "lacuna.cli"
local formats = require "lacuna.formats"
local core = require "lacuna.core"

local what, out = arg[1], arg[2]
if (what ~= "bash" and what ~= "man") or not out then
  io.stderr:write("usage: lua5.4 cli_docs.lua bash|man OUT\n")
  os.exit(2)
end

local function sorted_keys(t)
  local v = {}
  for k in pairs(t) do v[#v + 1] = k end
  table.sort(v)
  return v
end

local recipes = {}
for _, name in ipairs(sorted_keys(core.shipped_recipes)) do recipes[#recipes + 1] = (name:gsub("%.lua$", "")) end
-- --format takes the formats' names and "tokens" (pre-tokenized, lua/lacuna/runner.lua).
local format_values = { table.unpack(formats.names) }
format_values[#format_values + 1] = "tokens"

-- Every command with its flags: { name, cmd, flags = {...}, valued = {...} }.
local commands = {}
for _, name in ipairs(cli.names) do
  local cmd = cli.command(name)
  local c = { name = name, cmd = cmd, flags = {}, valued = {} }
  for _, g in ipairs(cmd.groups or {}) do
    for _, opt in ipairs(g) do
      for k = 1, (opt[2] and 2 or 1) do
        c.flags[#c.flags + 1] = opt[k]
        if opt.kind ~= "flag" then c.valued[#c.valued + 1] = opt[k] end
      end
    end
  end
  c.flags[#c.flags + 1] = "--help"
  commands[#commands + 1] = c
end

-- A command's first operand, as bash completes it.
local function operand_words(c)
  local op = c.cmd.operands and c.cmd.operands[1]
  if not op then return nil end
  if op.name == "RECIPE" then return "recipe" end
  if op.name == "COMMAND" then return table.concat(cli.names, " ") end
  if op.name == "SUBCOMMAND" then -- the word after "lacuna NAME" in each usage line
    local subs, seen = {}, {}
    for _, u in ipairs(c.cmd.usage) do
      local s = u:match("^lacuna %S+ ([%w%-]+)")
      if s and not seen[s] then
        seen[s] = true
        subs[#subs + 1] = s
      end
    end
    return table.concat(subs, " ")
  end
  return "file"
end

local function bash()
  local o = {
    "# bash completion for lacuna; generated from the command table by core/tools/cli_docs.lua: do not edit",
    "_lacuna() {",
    "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}",
    "  local IFS=$' \\t\\n'",
    "  if [[ $COMP_CWORD -eq 1 ]]; then",
    ('    COMPREPLY=($(compgen -W "%s --help --version" -- "$cur"))'):format(table.concat(cli.names, " ")),
    "    return",
    "  fi",
    "  local flags='' valued='' operand=''",
    "  case ${COMP_WORDS[1]} in",
  }
  for _, c in ipairs(commands) do
    o[#o + 1] = ("    %s) flags='%s' valued=' %s ' operand='%s' ;;"):format(c.name, table.concat(c.flags, " "),
      table.concat(c.valued, " "), operand_words(c) or "")
  end
  o[#o + 1] = "    *) return ;;"
  o[#o + 1] = "  esac"
  o[#o + 1] = "  case $prev in"
  o[#o + 1] = ('    -f|--format) [[ $valued == *" $prev "* ]] && { COMPREPLY=($(compgen -W "%s" -- "$cur")); return; } ;;')
    :format(table.concat(format_values, " "))
  o[#o + 1] = "  esac"
  o[#o + 1] = "  if [[ $prev == -* && $valued == *\" $prev \"* ]]; then"
  o[#o + 1] = "    COMPREPLY=($(compgen -f -- \"$cur\"))"
  o[#o + 1] = "    return"
  o[#o + 1] = "  fi"
  o[#o + 1] = "  if [[ $cur == -* ]]; then"
  o[#o + 1] = "    COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))"
  o[#o + 1] = "    return"
  o[#o + 1] = "  fi"
  o[#o + 1] = "  # the first operand (no earlier word that is neither a flag nor a flag's value)"
  o[#o + 1] = "  local i first=1"
  o[#o + 1] = "  for ((i = 2; i < COMP_CWORD; i++)); do"
  o[#o + 1] = "    local w=${COMP_WORDS[i]} before=${COMP_WORDS[i-1]}"
  o[#o + 1] = "    [[ $w == -* || ($i -gt 2 && $valued == *\" $before \"*) ]] || first=0"
  o[#o + 1] = "  done"
  o[#o + 1] = "  case $first:$operand in"
  o[#o + 1] = ('    1:recipe) COMPREPLY=($(compgen -W "%s" -- "$cur") $(compgen -f -X \'!*.lua\' -- "$cur")'
    .. ' $(compgen -d -- "$cur")) ;;'):format(table.concat(recipes, " "))
  o[#o + 1] = "    1:file|0:*|1:) COMPREPLY=($(compgen -f -- \"$cur\")) ;;"
  o[#o + 1] = "    1:*) COMPREPLY=($(compgen -W \"$operand\" -- \"$cur\")) ;;"
  o[#o + 1] = "  esac"
  o[#o + 1] = "}"
  o[#o + 1] = "complete -o filenames -F _lacuna lacuna"
  return table.concat(o, "\n") .. "\n"
end

-- roff-escapes text: backslashes, dashes, and a leading dot or quote.
local function roff(s)
  s = s:gsub("\\", "\\e"):gsub("%-", "\\-")
  return (s:gsub("^([%.'])", "\\&%1"):gsub("\n([%.'])", "\n\\&%1"))
end

local function flag_head(opt)
  local names = opt[2] and { opt[1], opt[2] } or { opt[1] }
  for i, n in ipairs(names) do names[i] = "\\fB" .. roff(n) .. "\\fR" end
  local head = table.concat(names, ", ")
  if opt.arg then head = head .. " \\fI" .. roff(opt.arg) .. "\\fR" end
  return head
end

local function man()
  local help = require "lacuna.cmd.help"
  local o = {
    '.\\" generated from the command table by core/tools/cli_docs.lua: do not edit',
    ('.TH LACUNA 1 "" "lacuna %s" "User Commands"'):format(lc.version),
    ".SH NAME",
    "lacuna \\- run recipes that design fine\\-tuning data for LLMs",
    ".SH SYNOPSIS",
  }
  for _, c in ipairs(commands) do
    for _, u in ipairs(c.cmd.usage) do
      o[#o + 1] = ".br"
      o[#o + 1] = roff((u:gsub("%s%s+.*$", "")))
    end
  end
  o[#o + 1] = ".SH DESCRIPTION"
  o[#o + 1] = "lacuna hosts Lua 5.4 and runs \\fIrecipes\\fR: short Lua files that turn a JSONL corpus into "
    .. "fine\\-tuning data (axolotl, OpenAI, ShareGPT, TRL or pre\\-tokenized), deterministically and "
    .. "without losing an item, with span\\-level loss masks."
  o[#o + 1] = ".SH COMMANDS"
  for _, c in ipairs(commands) do
    o[#o + 1] = ".SS " .. c.name
    for _, u in ipairs(c.cmd.usage) do
      o[#o + 1] = ".br"
      o[#o + 1] = roff(u)
    end
    o[#o + 1] = ".PP"
    o[#o + 1] = roff(c.cmd.summary)
    for _, g in ipairs(c.cmd.groups or {}) do
      o[#o + 1] = ".PP"
      o[#o + 1] = "\\fI" .. roff(g.title) .. "\\fR:"
      for _, opt in ipairs(g) do
        local d = opt.doc
        if type(d) == "function" then d = d() end
        o[#o + 1] = ".TP"
        o[#o + 1] = flag_head(opt)
        o[#o + 1] = roff(d)
      end
    end
  end
  o[#o + 1] = ".SH RECIPES"
  o[#o + 1] = "Shipped recipes, run by name: " .. roff(table.concat(recipes, ", ")) .. "."
  o[#o + 1] = "\\fBlacuna info\\fR \\fIRECIPE\\fR prints a recipe's parameters."
  local exit = help.overview():match("exit codes: (.-)\n*$")
  if exit then
    o[#o + 1] = ".SH EXIT STATUS"
    o[#o + 1] = roff((exit:gsub("%s+", " ")))
  end
  o[#o + 1] = ".SH SEE ALSO"
  o[#o + 1] = "\\fBlua5.4\\fR(1); \\fBlacuna help\\fR; the README of the source tree."
  return table.concat(o, "\n") .. "\n"
end

local text = what == "bash" and bash() or man()
local f = assert(io.open(out, "wb"))
f:write(text)
assert(f:close())
