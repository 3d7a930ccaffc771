-- lacuna help [COMMAND] [--markdown]: the overview, one command's help, or the
-- README's option tables (generated from the same declarations as the parser).
local usage = require "lacuna.usage"
local options = require "lacuna.options"

local M = {
  name = "help",
  summary = "Print this help, or one command's help (same as lacuna COMMAND --help).",
  usage = { "lacuna help [COMMAND]", "lacuna help --markdown" },
  operands = { { key = "command", name = "COMMAND" } },
  groups = {
    { title = "help options",
      { "--markdown", key = "markdown", kind = "flag",
        doc = "print every command's options as the markdown tables of README.md" } },
  },
}

local EXIT_CODES = [[
exit codes: 0 every item done, 1 some items failed (or stopped early), 2 usage
or configuration error or outputs not writable (nothing committed), 3 requests
exported for the Batch API, 130 interrupted (nothing committed).]]

-- The overview: commands, run's options, cache usage, exit codes.
function M.overview()
  local cli = require "lacuna.cli"
  local run = cli.command("run")
  local out = { "usage: lacuna <command> [options]", "", "commands:" }
  for _, name in ipairs(cli.names) do
    local cmd = cli.command(name)
    out[#out + 1] = ("  %-10s %s"):format(name, cmd.summary)
  end
  out[#out + 1] = ""
  out[#out + 1] = "Each command's options: lacuna COMMAND --help."
  out[#out + 1] = run.notes()
  out[#out + 1] = options.options_text(run)
  out[#out + 1] = ""
  out[#out + 1] = "cache:"
  for _, u in ipairs(cli.command("cache").usage) do out[#out + 1] = "  " .. u end
  out[#out + 1] = ""
  out[#out + 1] = EXIT_CODES
  return table.concat(out, "\n") .. "\n"
end

-- Every command's options as markdown, in the order of lacuna help.
function M.markdown()
  local cli = require "lacuna.cli"
  local out, shown = {}, {}
  for _, name in ipairs(cli.names) do out[#out + 1] = options.markdown(cli.command(name), shown) end
  return table.concat(out, "\n")
end

function M.main(o)
  if o.markdown then
    io.stdout:write(M.markdown())
  elseif o.command then
    local cmd = require("lacuna.cli").command(o.command)
    if not cmd then usage.error("unknown command '%s' (see lacuna help)", o.command) end
    io.stdout:write(options.help(cmd))
  else
    io.stdout:write(M.overview())
  end
  return 0
end

return M
