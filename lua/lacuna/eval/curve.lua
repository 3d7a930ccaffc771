-- Position curves and grids of scored probes, as FILM reports them
-- (VaLProbing/plot.py): per kind, each set's mean score over each span of 50
-- positions, the spans' means over the sets, their average ("avg") and the
-- max - min gap. FILM's loop takes positions start .. start + 48 of each span
-- (range(start, start + 50 - 1)), leaving out the span's last position;
-- spans = "film" (the default) does the same so the numbers match FILM's,
-- spans = "all" averages all 50. A span with no scored probe in a set is left
-- out of that set; a span with none in any set is nil and left out of avg and
-- gap. Grid probes average per (length, depth) cell.
local M = {}

M.SPAN = 50

local function mean(t)
  if #t == 0 then return nil end
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return s / #t
end

local function std(t, m)
  local s = 0
  for _, v in ipairs(t) do s = s + (v - m) ^ 2 end
  return math.sqrt(s / #t)
end

-- results: {kind=, set_id=, position_id=, positions=, score=} (FILM probes).
-- Returns {kind = {positions=, spans = {{from=, to=, mean=, std=, n=}...}, avg=, gap=, probes=}}.
function M.film(results, opts)
  opts = opts or {}
  local span = opts.span or M.SPAN
  local film_spans = (opts.spans or "film") == "film"
  local by_kind = {}
  for _, r in ipairs(results) do
    local k = by_kind[r.kind]
    if not k then
      k = { sets = {}, set_ids = {}, positions = 0, probes = 0 }
      by_kind[r.kind] = k
    end
    k.positions = math.max(k.positions, r.positions or (r.position_id + 1))
    local s = k.sets[r.set_id]
    if not s then
      s = {}
      k.sets[r.set_id] = s
      k.set_ids[#k.set_ids + 1] = r.set_id
    end
    s[r.position_id] = s[r.position_id] or {}
    table.insert(s[r.position_id], r.score)
    k.probes = k.probes + 1
  end
  local out = {}
  for kind, k in pairs(by_kind) do
    table.sort(k.set_ids)
    local nspans = math.ceil(k.positions / span)
    local spans, means = {}, {}
    for i = 0, nspans - 1 do
      local from = span * i
      local to = math.min(from + span, k.positions) - 1
      if film_spans then to = math.min(from + span - 1, k.positions) - 1 end
      local per_set, n = {}, 0
      for _, sid in ipairs(k.set_ids) do
        local scores = {}
        for pos = from, to do
          for _, v in ipairs(k.sets[sid][pos] or {}) do scores[#scores + 1] = v end
        end
        n = n + #scores
        if #scores > 0 then per_set[#per_set + 1] = mean(scores) end
      end
      local m = mean(per_set)
      spans[i + 1] = { from = from, to = to, mean = m, std = m and std(per_set, m) or nil, n = n }
      if m then means[#means + 1] = m end
    end
    local lo, hi = math.huge, -math.huge
    for _, m in ipairs(means) do
      lo, hi = math.min(lo, m), math.max(hi, m)
    end
    out[kind] = { positions = k.positions, sets = #k.set_ids, probes = k.probes, spans = spans,
                  avg = mean(means), gap = #means > 0 and hi - lo or nil }
  end
  return out
end

-- results: {kind=, grid = {length=, depth=, needle=}, score=}. Returns
-- {kind = {needle = {lengths = {...}, depths = {...}, cells = {[li][di] = {mean=, n=}}, avg=}}}.
function M.grid(results)
  local out = {}
  for _, r in ipairs(results) do
    local g = r.grid
    local k = out[r.kind] or {}
    out[r.kind] = k
    local t = k[g.needle or "single"]
    if not t then
      t = { lengths = {}, depths = {}, li = {}, di = {}, sums = {}, all = {} }
      k[g.needle or "single"] = t
    end
    if not t.li[g.length] then
      t.lengths[#t.lengths + 1] = g.length
      t.li[g.length] = true
    end
    if not t.di[g.depth] then
      t.depths[#t.depths + 1] = g.depth
      t.di[g.depth] = true
    end
    local key = g.length .. ":" .. g.depth
    local c = t.sums[key] or { sum = 0, n = 0 }
    t.sums[key] = c
    c.sum, c.n = c.sum + r.score, c.n + 1
    t.all[#t.all + 1] = r.score
  end
  for _, k in pairs(out) do
    for _, t in pairs(k) do
      table.sort(t.lengths)
      table.sort(t.depths)
      t.cells = {}
      for i, l in ipairs(t.lengths) do
        t.cells[i] = {}
        for j, d in ipairs(t.depths) do
          local c = t.sums[l .. ":" .. d]
          t.cells[i][j] = c and { mean = c.sum / c.n, n = c.n } or { n = 0 }
        end
      end
      t.avg = mean(t.all)
      t.li, t.di, t.sums, t.all = nil, nil, nil, nil
    end
  end
  return out
end

return M
