-- The `lacuna` command line: a dispatcher over lua/lacuna/cmd/<name>.lua. Each
-- command declares its operands and options as data (lacuna.options turns them
-- into the parser and the help) and a main(o) returning the exit code.
-- Exit codes: 0 every item done, 1 some items failed, 2 usage or configuration
-- error, 3 requests exported for the Batch API, 130 interrupted.
local usage = require "lacuna.usage"
local options = require "lacuna.options"
local runner = require "lacuna.runner"

local M = {}

-- The commands, in the order `lacuna help` lists them.
M.names = { "run", "check", "info", "stats", "eval", "inspect", "repl", "cache", "batch", "new", "bundle", "pack", "reproduce", "version", "help" }

local aliases = { ["--help"] = "help", ["-h"] = "help", ["--version"] = "version", ["-V"] = "version" }

local known = {}
for _, name in ipairs(M.names) do known[name] = true end

-- The command module named name, or nil.
function M.command(name)
  return known[name] and require("lacuna.cmd." .. name) or nil
end

local function dispatch(args)
  local cmd = M.command(aliases[args[1]] or args[1])
  local o = options.parse(cmd, args, 2)
  if o.help then
    io.stdout:write(options.help(cmd))
    return 0
  end
  return cmd.main(o)
end

-- Entry from core/host.c: args[0] is the program, args[1] the command.
function M.main(args)
  local name = args[1]
  if name == nil then
    io.stderr:write(require("lacuna.cmd.help").overview())
    return 2
  end
  if not M.command(aliases[name] or name) then
    io.stderr:write("lacuna: unknown command '", name, "' (see lacuna help)\n")
    return 2
  end
  local ok, res = xpcall(dispatch, function(e)
    if usage.is(e) then return e end
    return debug.traceback(tostring(e), 2)
  end, args)
  if ok then return res end
  io.stderr:write("lacuna: ", usage.text(res), "\n")
  return 2
end

-- Entry from lacuna_run() in the C API: o is an options table; the counts
-- are stored back into it. Usage errors propagate to the caller's err.
function M.run_options(o)
  local code, counts = runner.run(o)
  o.counts = counts
  return code
end

return M
