-- lacuna reproduce FILE [-o OUT]: a pack's dataset made again, byte for byte,
-- from its cache entries alone (lua/lacuna/pack.lua).
local usage = require "lacuna.usage"

local M = {
  name = "reproduce",
  summary = "Make a packed dataset again from the pack alone (no teacher, no key), checked byte-identical.",
  usage = { "lacuna reproduce FILE [-o OUT] [--trust]" },
  operands = { { key = "file", name = "FILE" } },
  groups = {
    { title = "reproduce options",
      { "-o", "--output", arg = "OUT", key = "out",
        doc = "where to write the dataset (default: the path the run used)" },
      { "--trust", key = "trust", kind = "flag", doc = "needed when the packed run was made with --trust" },
    },
  },
  notes = function()
    return "The inputs are restored at the relative paths the run read them from (an existing file must have\n" ..
      "the same sha256), so run it in an empty folder. A missing cache entry fails its item instead of\n" ..
      "calling a teacher; the exit code is then 1."
  end,
}

function M.main(o)
  if not o.file then usage.error("reproduce: which pack? (lacuna reproduce FILE)") end
  return require("lacuna.pack").reproduce(o)
end

return M
