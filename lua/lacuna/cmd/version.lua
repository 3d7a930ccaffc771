-- lacuna version: the runtime's and Lua's version.
local core = require "lacuna.core"

local M = {
  name = "version",
  summary = "Print the version.",
  usage = { "lacuna version" },
}

function M.main()
  io.stdout:write("lacuna ", core.version, " (", _VERSION, ")\n")
  return 0
end

return M
