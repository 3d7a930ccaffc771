-- The summary of a `lacuna eval` run as text (stdout) and as JSON
-- (PRED.summary.json, --json): each kind's spans, average and gap, and the
-- grids' depth x length tables.
local json = require("lacuna.core").json

local M = {}

function M.text(s)
  local out = {}
  for _, kind in ipairs({ "document", "code", "database" }) do
    local c = s.curves[kind]
    if c then
      out[#out + 1] = string.format("%-9s %d probes, %d sets, %d positions: avg %s, max-min gap %s", kind, c.probes,
        c.sets, c.positions, c.avg and string.format("%.4f", c.avg) or "n/a",
        c.gap and string.format("%.4f", c.gap) or "n/a")
      local parts = {}
      for _, sp in ipairs(c.spans) do parts[#parts + 1] = sp.mean and string.format("%.3f", sp.mean) or "-" end
      out[#out + 1] = "  spans of 50: " .. table.concat(parts, " ")
    end
  end
  for _, kind in ipairs({ "document", "code", "database" }) do
    local g = s.grids[kind]
    if g then
      local needles = {}
      for nd in pairs(g) do needles[#needles + 1] = nd end
      table.sort(needles)
      for _, nd in ipairs(needles) do
        local t = g[nd]
        out[#out + 1] = string.format("%-9s grid, %s needle: avg %.4f", kind, nd, t.avg)
        local head = { "  depth \\ tokens" }
        for _, l in ipairs(t.lengths) do head[#head + 1] = string.format("%7d", l) end
        out[#out + 1] = table.concat(head, " ")
        for j, d in ipairs(t.depths) do
          local row = { string.format("  %14.2f", d) }
          for i = 1, #t.lengths do
            local c = t.cells[i][j]
            row[#row + 1] = c.mean and string.format("%7.3f", c.mean) or "      -"
          end
          out[#out + 1] = table.concat(row, " ")
        end
      end
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- The JSON form of a summary: spans as lists, nil means as null.
function M.json(s)
  local function arr(t) return json.array(t) end
  local curves = json.object {}
  for kind, c in pairs(s.curves) do
    local spans = {}
    for i, sp in ipairs(c.spans) do
      spans[i] = setmetatable({ from = sp.from, to = sp.to, mean = sp.mean or json.null, std = sp.std or json.null,
        n = sp.n }, { __jsonorder = { "from", "to", "mean", "std", "n" } })
    end
    curves[kind] = setmetatable({ avg = c.avg or json.null, gap = c.gap or json.null, probes = c.probes, sets = c.sets,
      positions = c.positions, spans = arr(spans) },
      { __jsonorder = { "avg", "gap", "probes", "sets", "positions", "spans" } })
  end
  local grids = json.object {}
  for kind, g in pairs(s.grids) do
    grids[kind] = json.object {}
    for nd, t in pairs(g) do
      local cells = {}
      for i, row in ipairs(t.cells) do
        local r = {}
        for j, c in ipairs(row) do r[j] = c.mean or json.null end
        cells[i] = arr(r)
      end
      grids[kind][nd] = setmetatable({ avg = t.avg, lengths = arr(t.lengths), depths = arr(t.depths),
        scores = arr(cells) }, { __jsonorder = { "avg", "lengths", "depths", "scores" } })
    end
  end
  return setmetatable({ probes = s.probes, scored = s.scored, skipped = s.skipped, failed = s.failed, spans = s.spans,
    curves = curves, grids = grids, teacher = s.teacher },
    { __jsonorder = { "probes", "scored", "skipped", "failed", "spans", "curves", "grids", "teacher" } })
end

return M
