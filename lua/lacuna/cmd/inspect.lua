-- lacuna inspect OUT [-n N] [--where COND]... [--html FILE]: an output file's
-- examples as conversations, trained and masked text told apart
-- (lacuna.inspect reads them, inspect_term draws them, inspect_html writes
-- the page).
local usage = require "lacuna.usage"

local M = {
  name = "inspect",
  summary = "Show an output file's examples as conversations, trained and masked text told apart; " ..
    "--html writes a self-contained page with the metadata, the statistics charts and the manifest.",
  usage = { "lacuna inspect OUT [-n N] [--where COND]... [--html FILE] [--tokenizer DIR]" },
  operands = { { key = "out", name = "OUT" } },
  groups = {
    { title = "inspect options",
      { "-n", "--count", arg = "N", key = "count", kind = "int", min = 0,
        doc = "show the first N examples that match (default 10 in the terminal, 1000 in --html)" },
      { "--where", arg = "COND", key = "where", kind = "list",
        doc = "show only lines whose field matches, e.g. meta.case=bad, meta.n>=3, meta.tag~x, !meta.id; repeatable (all must hold)" },
      { "--html", arg = "FILE", key = "html", doc = "write one self-contained HTML page instead" },
      { "--tokenizer", arg = "DIR", key = "tokenizer",
        doc = "decode --format tokens lines with this model's tokenizer.json" },
      { "--color", key = "color", kind = "flag", doc = "colour even when stdout is not a terminal" },
      { "--no-color", key = "color", kind = "flag", value = false,
        doc = "mark trained text [[like this]] instead of colouring it (also NO_COLOR=1)" },
    },
  },
  notes = function()
    return "Every format lacuna writes is read, told by its fields: axolotl (train, train_detail), openai\n" ..
      "(weight), sharegpt (conversations; the manifest's mask_history trains only the last turn), trl\n" ..
      "(prompt, completion) and tokens (input_ids, labels; --tokenizer shows the text).\n" ..
      "COND: PATH OP VALUE or PATH or !PATH; PATH is dotted from the line's top (meta.case, meta.in2.depth,\n" ..
      "list elements 1-based); OP is = != < <= > >= or ~ (contains); a|b matches either. The HTML page\n" ..
      "filters with the same language."
  end,
}

function M.main(o)
  if not o.out then usage.error("inspect: which file? (lacuna inspect OUT)") end
  local inspect = require "lacuna.inspect"
  local tok = o.tokenizer and require("lacuna.options").tokenizer(o.tokenizer)
  local sel, err = inspect.select(o.out, {
    where = o.where, limit = o.count or (o.html and 1000 or 10), tokenizer = tok })
  if not sel then usage.error("%s", err) end
  for _, e in ipairs(sel.errors) do io.stderr:write("lacuna: ", e, "\n") end
  if o.html then
    local page = require("lacuna.inspect_html").page(sel)
    local f, ferr = io.open(o.html, "wb")
    if not f then usage.error("--html: %s", ferr) end
    f:write(page)
    f:close()
    io.stderr:write(string.format("lacuna: %d of %d examples written to %s\n", #sel.items, sel.matched, o.html))
  else
    local color = o.color
    if color == nil then color = require("lacuna.inspect_term").use_color(1) end
    io.stdout:write(inspect.text(sel, color))
  end
  return #sel.errors > 0 and 1 or 0
end

return M
