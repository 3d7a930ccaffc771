-- lacuna stats OUT [--json] [--svg FILE] [--tokenizer DIR]: what a dataset
-- holds (lacuna.stats computes it, lacuna.stats_svg draws it).
local usage = require "lacuna.usage"

local M = {
  name = "stats",
  summary = "Print an output file's statistics: context lengths, needle depths (with a uniformity test), " ..
    "depth x length, the trained share, straddling tokens.",
  usage = { "lacuna stats OUT [--json] [--svg FILE] [--tokenizer DIR]" },
  operands = { { key = "out", name = "OUT" } },
  groups = {
    { title = "stats options",
      { "--json", key = "json", kind = "flag", doc = "print the numbers as one JSON object instead of text" },
      { "--svg", arg = "FILE", key = "svg", doc = "also draw them into FILE (SVG)" },
      { "--tokenizer", arg = "DIR", key = "tokenizer",
        doc = "count chat formats' text in this model's tokens (tokenizer.json) instead of characters" },
      { "--max-errors", arg = "N", key = "max_errors", kind = "int", min = 0,
        doc = "bad lines to describe on stderr (default 20; all are counted)" },
    },
  },
  notes = function()
    return "Lines with meta.in2 (README: Needle metadata) add the needle statistics; other lines add their length\n" ..
      "and trained share. Bad lines are named on stderr (FILE:LINE: field: problem) and counted; the exit\n" ..
      "code is then 1."
  end,
}

function M.main(o)
  if not o.out then usage.error("stats: which file? (lacuna stats OUT)") end
  local stats = require "lacuna.stats"
  local tok = o.tokenizer and require("lacuna.options").tokenizer(o.tokenizer)
  local s, err = stats.collect(o.out, { tokenizer = tok, max_errors = o.max_errors })
  if not s then usage.error("%s", err) end
  for _, e in ipairs(s.errors) do io.stderr:write("lacuna: ", e, "\n") end
  if s.bad > #s.errors then
    io.stderr:write(string.format("lacuna: ... %d more bad lines\n", s.bad - #s.errors))
  end
  if s.bad > 0 then io.stderr:write(string.format("lacuna: %d bad lines of %d, not counted\n", s.bad, s.lines)) end
  if o.svg then
    local svg = require("lacuna.stats_svg").render(s)
    local f, ferr = io.open(o.svg, "wb")
    if not f then usage.error("--svg: %s", ferr) end
    f:write(svg)
    f:close()
  end
  io.stdout:write(o.json and stats.json(s) or stats.text(s))
  return s.bad > 0 and 1 or 0
end

return M
