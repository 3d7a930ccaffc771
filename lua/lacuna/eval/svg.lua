-- `lacuna eval --svg FILE`: the position curves (one per kind: the mean score
-- of each span of positions, with the spread over sets as a band) and, for
-- grid probes, the length x depth heat maps, as one hand-written SVG in the
-- style of `lacuna stats --svg` (lua/lacuna/stats_svg.lua).
local base = require "lacuna.stats_svg"

local M = {}

local WIDTH, MARGIN, PLOT_H = base.WIDTH, base.MARGIN, base.PLOT_H
local ORDER = { "document", "code", "database" }
local TITLES = { document = "Document sentence retrieval (bi-directional)",
                 code = "Code function retrieval (backward)", database = "Database entity retrieval (forward)" }

local esc, num = base.esc, base.num
local function fmt(x) return x and string.format("%.4f", x) or "n/a" end

local function sorted_kinds(t)
  local out, seen = {}, {}
  for _, k in ipairs(ORDER) do
    if t[k] then out[#out + 1] = k; seen[k] = true end
  end
  local rest = {}
  for k in pairs(t) do if not seen[k] then rest[#rest + 1] = k end end
  table.sort(rest)
  for _, k in ipairs(rest) do out[#out + 1] = k end
  return out
end

local function curve(out, y, kind, c)
  out[#out + 1] = string.format('<text x="%d" y="%d" class="title">%s: avg %s, max-min gap %s (%d probes, %d sets)</text>',
    MARGIN, y + 16, esc(TITLES[kind] or kind), fmt(c.avg), fmt(c.gap), c.probes, c.sets)
  local top, n = y + 30, #c.spans
  local plot_w = WIDTH - 2 * MARGIN
  local function px(i) return MARGIN + (n > 1 and (i - 1) / (n - 1) or 0.5) * plot_w end
  local function py(v) return top + PLOT_H - v * PLOT_H end
  out[#out + 1] = string.format('<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>', MARGIN, top + PLOT_H,
    WIDTH - MARGIN, top + PLOT_H)
  out[#out + 1] = string.format('<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>', MARGIN, top, MARGIN, top + PLOT_H)
  for _, v in ipairs({ 0, 0.5, 1 }) do
    out[#out + 1] = string.format('<text x="%d" y="%s" class="small" text-anchor="end">%.1f</text>', MARGIN - 4,
      num(py(v) + 3), v)
  end
  local pts = {}
  for i, s in ipairs(c.spans) do
    if s.mean then
      local lo, hi = math.max(0, s.mean - s.std), math.min(1, s.mean + s.std)
      out[#out + 1] = string.format('<line x1="%s" y1="%s" x2="%s" y2="%s" class="err"/>', num(px(i)), num(py(lo)),
        num(px(i)), num(py(hi)))
      pts[#pts + 1] = num(px(i)) .. "," .. num(py(s.mean))
      out[#out + 1] = string.format('<circle cx="%s" cy="%s" r="3" class="dot"><title>positions %d-%d: %.4f (%d probes)</title></circle>',
        num(px(i)), num(py(s.mean)), s.from, s.to, s.mean, s.n)
    end
    out[#out + 1] = string.format('<text x="%s" y="%d" class="small" text-anchor="middle">%d</text>', num(px(i)),
      top + PLOT_H + 14, s.from + 50)
  end
  if #pts > 1 then out[#out + 1] = '<polyline class="line" points="' .. table.concat(pts, " ") .. '"/>' end
  out[#out + 1] = string.format('<text x="%d" y="%d" class="small" text-anchor="middle">position of the gold item (span ends)</text>',
    WIDTH // 2, top + PLOT_H + 28)
  return top + PLOT_H + 44
end

-- Red (0) to green (1).
local function color(v)
  if not v then return "#eeeeee" end
  local r = math.floor(215 - v * 170 + 0.5)
  local g = math.floor(48 + v * 140 + 0.5)
  local b = math.floor(39 + v * 50 + 0.5)
  return string.format("#%02x%02x%02x", r, g, b)
end

local function heat_map(out, y, kind, needle, t)
  out[#out + 1] = string.format('<text x="%d" y="%d" class="title">%s, %s needle: depth (down) x prompt tokens (across), avg %s</text>',
    MARGIN, y + 16, esc(kind), esc(needle), fmt(t.avg))
  local top = y + 30
  local cw, ch = (WIDTH - 2 * MARGIN) / #t.lengths, 22
  for j, d in ipairs(t.depths) do
    local ry = top + (j - 1) * ch
    out[#out + 1] = string.format('<text x="%d" y="%s" class="small" text-anchor="end">%d%%</text>', MARGIN - 4,
      num(ry + 15), math.floor(d * 100 + 0.5))
    for i, l in ipairs(t.lengths) do
      local c = t.cells[i][j]
      out[#out + 1] = string.format('<rect x="%s" y="%d" width="%s" height="%d" fill="%s"><title>%d tokens, depth %.2f: %s (%d)</title></rect>',
        num(MARGIN + (i - 1) * cw), ry, num(cw), ch, color(c.mean), l, d, fmt(c.mean), c.n)
      if c.mean then
        out[#out + 1] = string.format('<text x="%s" y="%s" class="small" text-anchor="middle">%.2f</text>',
          num(MARGIN + (i - 0.5) * cw), num(ry + 15), c.mean)
      end
    end
  end
  local below = top + #t.depths * ch
  for i, l in ipairs(t.lengths) do
    out[#out + 1] = string.format('<text x="%s" y="%d" class="small" text-anchor="middle">%d</text>',
      num(MARGIN + (i - 0.5) * cw), below + 14, l)
  end
  return below + 34
end

-- The SVG document for a summary of lacuna.eval (curves and grids).
function M.render(summary, title)
  local body = {}
  local y = 10
  body[#body + 1] = string.format('<text x="%d" y="%d" class="head">%s</text>', MARGIN, y + 18, esc(title))
  y = y + 30
  for _, kind in ipairs(sorted_kinds(summary.curves)) do y = curve(body, y, kind, summary.curves[kind]) end
  for _, kind in ipairs(sorted_kinds(summary.grids)) do
    local needles = {}
    for nd in pairs(summary.grids[kind]) do needles[#needles + 1] = nd end
    table.sort(needles)
    for _, nd in ipairs(needles) do y = heat_map(body, y, kind, nd, summary.grids[kind][nd]) end
  end
  return base.document(y, body, ".line{fill:none;stroke:#e97132;stroke-width:2}.dot{fill:#e97132}" ..
    ".err{stroke:#f4b898;stroke-width:3}")
end

return M
