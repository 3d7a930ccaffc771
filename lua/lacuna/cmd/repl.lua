-- lacuna repl [RECIPE] [options]: try a recipe interactively (lua/lacuna/repl/).
-- It takes run's options (teacher, cache, params, --tokenizer, --price, ...).
local core = require "lacuna.core"
local run = require "lacuna.cmd.run"

local sys = core.sys

local M = {
  name = "repl",
  summary = "Work on a recipe interactively: Lua with lacuna loaded, examples shown as conversations, " ..
    ":run, :cost, :reload with the teacher cache kept (:help lists the commands).",
  usage = { "lacuna repl [RECIPE] [options]" },
  operands = run.operands,
  extra_hint = run.extra_hint,
}

M.groups = {
  { title = "repl options",
    { "--history", arg = "FILE", key = "history",
      doc = "history file (default $LACUNA_HISTORY, else $XDG_STATE_HOME/lacuna/history, else ~/.lacuna_history)" },
    { "--no-history", key = "history", kind = "flag", value = false, doc = "neither read nor write a history file" },
    { "--color", key = "color", kind = "flag", doc = "colour examples even when stdout is not a terminal" },
    { "--no-color", key = "color", kind = "flag", value = false,
      doc = "mark trained text [[like this]] instead of colouring it (also NO_COLOR=1)" },
  },
}
for _, g in ipairs(run.groups) do M.groups[#M.groups + 1] = g end

M.notes = function()
  return run.recipe_note() .. "\nOn a terminal lines are edited with readline; Ctrl-C stops a running expression or drops the\n" ..
    "line being typed, Ctrl-D leaves. Off a terminal lines are read from stdin without prompts."
end

-- Where the history lives (nil: none).
function M.history_path(o)
  if o.history == false then return nil end
  if o.history then return o.history end
  local env = os.getenv("LACUNA_HISTORY")
  if env and env ~= "" then return env end
  local state = os.getenv("XDG_STATE_HOME")
  if state and state ~= "" then
    sys.mkdirs(state .. "/lacuna")
    return state .. "/lacuna/history"
  end
  local home = os.getenv("HOME")
  return home and home ~= "" and (home .. "/.lacuna_history") or nil
end

-- Line input: readline on a terminal (with history and Tab completion over
-- env), plain reads otherwise.
local function input(o, env)
  if not sys.isatty(0) then
    return { read = function() return io.stdin:read("l") end, add = function() end, interactive = false }
  end
  local le = core.lineedit
  local path = M.history_path(o)
  local commands = {}
  for name, v in pairs(require "lacuna.repl.commands") do
    if type(v) == "function" and name ~= "dispatch" then commands[#commands + 1] = name end
  end
  local candidates = require("lacuna.repl.complete").candidates
  local function complete(word, line) return candidates(env, word, line, commands) end
  if path then le.load_history(path) end
  return {
    interactive = true,
    read = function(prompt)
      io.stdout:flush()
      return le.read(prompt, complete)
    end,
    add = function(entry)
      le.add_history(entry)
      if path then le.save_history(path) end
    end,
  }
end

local function first_line(s) return (tostring(s):match("^[^\n]*")) end

-- Evaluates a complete chunk and prints its values (or its error).
local function evaluate(s, f, write)
  local eval, pretty = require "lacuna.repl.eval", require "lacuna.repl.pretty"
  local ok, res = eval.run(f)
  if not ok then
    if res == "interrupted" then
      if sys.isatty(2) then io.stderr:write("\r\27[K") end -- (a spinner's line)
      s:interrupted()
    end
    write((res == "interrupted" and "interrupted" or "error: " .. first_line(res)) .. "\n")
  elseif res.n > 0 then
    rawset(s.env, "_", res[1])
    write(pretty.values(res, { color = s.color }) .. "\n")
  end
end

function M.main(o)
  local session = require "lacuna.repl.session"
  local commands = require "lacuna.repl.commands"
  local eval = require "lacuna.repl.eval"
  local term = require "lacuna.inspect_term"
  sys.catch_signals()
  local function write(t)
    io.stdout:write(t)
    io.stdout:flush()
  end
  local s = session.new(o, write)
  s.color = o.color
  if s.color == nil then s.color = term.use_color(1) end
  local inp = input(o, s.env)
  if inp.interactive then
    write(string.format("lacuna %s repl: Lua with lacuna loaded; :help lists the commands, Ctrl-D leaves\n",
      core.version))
  end
  if o.recipe then commands.dispatch(s, ":load " .. o.recipe) end
  local buf
  while true do
    local prompt = buf and ">> " or ((s.recipe and s.recipe.name or "lacuna") .. "> ")
    local line = inp.read(prompt)
    if line == nil then break end
    if line == false then
      buf = nil
    elseif not buf and line:match("^%s*:") then
      inp.add(line)
      if commands.dispatch(s, line:match("^%s*(.-)$")) then break end
    elseif buf or line:match("%S") then
      local text = buf and (buf .. "\n" .. line) or line
      local f, err = eval.compile(text, s.env)
      if not f and err == "incomplete" then
        buf = text
      else
        buf = nil
        inp.add(text)
        if f then evaluate(s, f, write) else write("error: " .. err .. "\n") end
      end
    end
  end
  s:close()
  return 0
end

return M
