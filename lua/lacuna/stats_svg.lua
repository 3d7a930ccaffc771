-- `lacuna stats --svg FILE`: the numbers of lacuna.stats drawn as one
-- hand-written SVG (no dependencies): the length histogram(s) and the depth
-- deciles as bars, depth x length as a heat map (depth down, length across,
-- as needle-in-a-haystack plots lay it out), the test and shares as text.
local stats = require "lacuna.stats"

local M = {}

local WIDTH, MARGIN, PLOT_H = 760, 60, 180

local function esc(s)
  return (tostring(s):gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

local function num(x) return string.format("%.2f", x) end

-- (lacuna eval --svg draws in the same style: lua/lacuna/eval/svg.lua.)
M.esc, M.num, M.WIDTH, M.MARGIN, M.PLOT_H = esc, num, WIDTH, MARGIN, PLOT_H

-- The SVG document of height y around body (a list of elements), with the
-- shared text and axis styles and extra_style's rules.
function M.document(y, body, extra_style)
  local head = string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">',
    WIDTH, y, WIDTH, y)
  local style = "<style>text{font-family:sans-serif;fill:#222}.head{font-size:16px;font-weight:bold}" ..
    ".title{font-size:13px}.small{font-size:10px}.axis{stroke:#444}" .. extra_style .. "</style>"
  return '<?xml version="1.0" encoding="UTF-8"?>\n' .. head .. "\n" .. style .. "\n" .. table.concat(body, "\n") ..
    "\n</svg>\n"
end

local function max_of(t)
  local m = 0
  for _, v in ipairs(t) do m = math.max(m, v) end
  return m
end

-- A bar chart with its title at y; returns the y below it.
local function bars(out, y, title, labels, counts, expected)
  out[#out + 1] = string.format('<text x="%d" y="%d" class="title">%s</text>', MARGIN, y + 16, esc(title))
  local top, n = y + 30, #counts
  local m = math.max(max_of(counts), expected or 0)
  local plot_w = WIDTH - 2 * MARGIN
  local bw = plot_w / n
  out[#out + 1] = string.format('<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>', MARGIN, top + PLOT_H,
    WIDTH - MARGIN, top + PLOT_H)
  for k, c in ipairs(counts) do
    local h = m > 0 and c / m * PLOT_H or 0
    local x = MARGIN + (k - 1) * bw
    out[#out + 1] = string.format('<rect x="%s" y="%s" width="%s" height="%s" class="bar"><title>%s: %d</title></rect>',
      num(x + 1), num(top + PLOT_H - h), num(math.max(bw - 2, 1)), num(h), esc(labels[k]), c)
    out[#out + 1] = string.format('<text x="%s" y="%d" class="small" text-anchor="middle">%s</text>', num(x + bw / 2),
      top + PLOT_H + 14, esc(labels[k]))
  end
  out[#out + 1] = string.format('<text x="%d" y="%d" class="small" text-anchor="end">%d</text>', MARGIN - 4, top + 8, m)
  if expected then
    local ey = top + PLOT_H - expected / m * PLOT_H
    out[#out + 1] = string.format('<line x1="%d" y1="%s" x2="%d" y2="%s" class="expected"/>', MARGIN, num(ey),
      WIDTH - MARGIN, num(ey))
  end
  return top + PLOT_H + 30
end

-- White to dark blue by count.
local function heat(c, m)
  local t = m > 0 and c / m or 0
  local r = math.floor(255 - t * 225 + 0.5)
  local g = math.floor(255 - t * 165 + 0.5)
  local b = math.floor(255 - t * 75 + 0.5)
  return string.format("#%02x%02x%02x", r, g, b)
end

local function heat_map(out, y, grid)
  local lb, rows = grid.length_bins, grid.counts
  out[#out + 1] = string.format('<text x="%d" y="%d" class="title">%s</text>', MARGIN, y + 16,
    "needles: depth (down) x context length in tokens (across)")
  local top = y + 30
  local m = 0
  for _, row in ipairs(rows) do m = math.max(m, max_of(row)) end
  local cw, ch = (WIDTH - 2 * MARGIN) / lb.n, 22
  for k, row in ipairs(rows) do
    local ry = top + (k - 1) * ch
    out[#out + 1] = string.format('<text x="%d" y="%s" class="small" text-anchor="end">%s</text>', MARGIN - 4,
      num(ry + 15), esc(stats.decile_label(k)))
    for j, c in ipairs(row) do
      out[#out + 1] = string.format('<rect x="%s" y="%d" width="%s" height="%d" fill="%s"><title>%s, %s: %d</title></rect>',
        num(MARGIN + (j - 1) * cw), ry, num(cw), ch, heat(c, m), esc(stats.decile_label(k)),
        esc(stats.bin_label(lb, j)), c)
    end
  end
  local below = top + #rows * ch
  for j = 1, lb.n do
    out[#out + 1] = string.format('<text x="%s" y="%d" class="small" text-anchor="middle">%d</text>',
      num(MARGIN + (j - 1) * cw), below + 14, lb.lo + (j - 1) * lb.width)
  end
  return below + 34
end

-- The SVG document for the numbers s of stats.collect.
function M.render(s)
  local body = {}
  local y = 10
  body[#body + 1] = string.format('<text x="%d" y="%d" class="head">%s</text>', MARGIN, y + 18,
    esc("lacuna stats " .. s.path))
  y = y + 30
  for _, l in ipairs(s.lengths) do
    local labels = {}
    for k = 1, l.bins.n do labels[k] = tostring(math.tointeger(l.bins.lo + (k - 1) * l.bins.width)) end
    y = bars(body, y, string.format("context length (%s), %d lines", l.unit, l.summary.n), labels, l.counts)
  end
  if s.depths then
    local labels = {}
    for k = 1, stats.DECILES do labels[k] = stats.decile_label(k) end
    local t = s.depths.test
    y = bars(body, y, string.format("needle depth, %d needles; chi-square %.2f (df %d), p = %.4g; line: uniform",
      s.in2.needles, t.chi2, t.df, t.p), labels, s.depths.counts, t.expected)
    y = heat_map(body, y, s.grid)
  end
  for _, sh in ipairs(s.shares) do
    body[#body + 1] = string.format('<text x="%d" y="%d" class="note">%s</text>', MARGIN, y + 14,
      esc(string.format("trained share: %.2f%% of %s (%d of %d)", sh.share * 100, sh.unit, sh.trained, sh.total)))
    y = y + 20
  end
  body[#body + 1] = string.format('<text x="%d" y="%d" class="note">%s</text>', MARGIN, y + 14,
    esc("straddling tokens: " .. (s.straddling.count and tostring(s.straddling.count) or "not recorded")))
  y = y + 30
  return M.document(y, body, ".note{font-size:12px}.bar{fill:#4a78b5}.expected{stroke:#d33;stroke-dasharray:4 3}")
end

return M
