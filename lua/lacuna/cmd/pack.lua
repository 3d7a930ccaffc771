-- lacuna pack OUT [-o FILE] [--no-inputs]: the dataset OUT as one file that
-- `lacuna reproduce` turns back into the same bytes (lua/lacuna/pack.lua).
local usage = require "lacuna.usage"

local M = {
  name = "pack",
  summary = "Pack a finished run into one file: recipe and modules, params, manifest, inputs and exactly the " ..
    "cache entries it read (never an API key).",
  usage = { "lacuna pack OUT [-o FILE] [--no-inputs] [--trust]" },
  operands = { { key = "out", name = "OUT" } },
  groups = {
    { title = "pack options",
      { "-o", "--output", arg = "FILE", key = "file",
        doc = "the pack (default OUT with .jsonl replaced by .pack.jsonl.gz)" },
      { "--no-inputs", key = "no_inputs", kind = "flag",
        doc = "record the inputs' sha256 only (reproduce then needs the same files at the same paths)" },
      { "--trust", key = "trust", kind = "flag", doc = "pack a run made with --trust (pack runs the recipe again)" },
    },
  },
  notes = function()
    return "Run it where the run was made: pack runs the recipe again from the cache alone (--cache-only)\n" ..
      "to find the entries it reads, and writes the pack only if that gives OUT's bytes again."
  end,
}

function M.main(o)
  if not o.out then usage.error("pack: which dataset? (lacuna pack OUT)") end
  return require("lacuna.pack").pack(o)
end

return M
