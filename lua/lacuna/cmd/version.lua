-- lacuna version: the runtime's version and those of the libraries it runs
-- with (the same table the manifest records as "runtime").
local core = require "lacuna.core"

local M = {
  name = "version",
  summary = "Print the version, and those of Lua and the libraries lacuna runs with.",
  usage = { "lacuna version" },
}

-- The libraries in print order: key of core.versions.versions(), name.
M.libraries = {
  { "lua", "Lua" }, { "curl", "libcurl" }, { "sqlite", "SQLite" }, { "pcre2", "PCRE2" },
  { "utf8proc", "utf8proc" }, { "cjson", "cJSON" }, { "zlib", "zlib" }, { "readline", "readline" },
}

function M.main()
  local v = core.versions.versions()
  local out = { "lacuna " .. v.lacuna }
  for _, lib in ipairs(M.libraries) do out[#out + 1] = ("  %-9s %s"):format(lib[2], v[lib[1]]) end
  io.stdout:write(table.concat(out, "\n"), "\n")
  return 0
end

return M
