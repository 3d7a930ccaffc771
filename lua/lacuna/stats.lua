-- The numbers behind `lacuna stats OUT`: context lengths, needle depths (with
-- a chi-square test of uniformity over deciles), depth x length, the trained
-- share and the straddling-token count. The pass over the file is C
-- (core/stats.c); binning and the report are here.
--
--   local stats = require "lacuna.stats"
--   local s = stats.collect("out.jsonl", { tokenizer = tok })  -- or nil, message
--   io.write(stats.text(s))
local core = require "lacuna.core"
local output = require "lacuna.output"

local M = {}

M.DECILES = 10

-- Unit names of core.stats.scan's counters, and how a report describes them.
local UNITS = {
  { key = "tokens", name = "tokens", how = "exact, from the labels of --format tokens" },
  { key = "chars", name = "characters", how = "characters of the chat text; the chat template's own text is not counted" },
  { key = "counted", name = "tokens", how = "the chat text counted with --tokenizer, each trained or untrained piece " ..
      "on its own; the chat template's own tokens are not counted" },
}

-- A bin width of 1, 2 or 5 times a power of ten giving at most max_bins bins
-- over [lo, hi]; integers stay integers.
function M.nice_width(lo, hi, max_bins, integer)
  local span = hi - lo
  if span <= 0 then return 1 end
  local raw = span / max_bins
  local p = 10 ^ math.floor(math.log(raw, 10))
  local w
  for _, m in ipairs({ 1, 2, 5, 10 }) do
    if m * p >= raw then
      w = m * p
      break
    end
  end
  if integer then w = math.max(1, math.ceil(w)) end
  return w
end

-- Bins for values: {lo = first edge, width, n}. Bin k (1-based) is
-- [lo + (k-1) width, lo + k width).
function M.bins(values, max_bins)
  local lo, hi = math.huge, -math.huge
  for i = 1, #values do
    local v = values[i]
    if v < lo then lo = v end
    if v > hi then hi = v end
  end
  local w = M.nice_width(lo, hi, max_bins or 12, true)
  local first = math.floor(lo / w) * w
  return { lo = first, width = w, n = math.floor((hi - first) / w) + 1 }
end

function M.bin_of(b, v) return math.floor((v - b.lo) / b.width) + 1 end

function M.histogram(values, b)
  local counts = {}
  for k = 1, b.n do counts[k] = 0 end
  for i = 1, #values do
    local k = M.bin_of(b, values[i])
    counts[k] = counts[k] + 1
  end
  return counts
end

function M.decile(d) return math.min(math.floor(d * M.DECILES), M.DECILES - 1) + 1 end

-- Pearson's chi-square against equal decile counts: statistic, df, p-value.
function M.uniformity(counts)
  local n = 0
  for _, c in ipairs(counts) do n = n + c end
  if n == 0 then return nil end
  local expected, x = n / #counts, 0
  for _, c in ipairs(counts) do x = x + (c - expected) ^ 2 / expected end
  local df = #counts - 1
  return { chi2 = x, df = df, p = core.stats.chi2_sf(x, df), expected = expected }
end

local function summary_of(values)
  local n = #values
  if n == 0 then return nil end
  local sorted = table.move(values, 1, n, 1, {})
  table.sort(sorted)
  local sum = 0
  for i = 1, n do sum = sum + sorted[i] end
  local median = n % 2 == 1 and sorted[(n + 1) // 2] or (sorted[n // 2] + sorted[n // 2 + 1]) / 2
  return { n = n, min = sorted[1], max = sorted[n], mean = sum / n, median = median }
end

-- OUT's manifest (lacuna run writes it beside OUT), or nil.
local read_manifest = output.read_manifest

-- All the numbers, or nil and a message when OUT cannot be read. opts:
-- tokenizer (an object with :count(text)) counts chat text in tokens.
function M.collect(path, opts)
  opts = opts or {}
  local manifest, mpath = read_manifest(path)
  local notes = manifest and type(manifest.format_notes) == "table" and manifest.format_notes or {}
  local scan_opts = { mask_history = notes.mask_history == true, max_errors = opts.max_errors }
  if opts.tokenizer then
    local tok = opts.tokenizer
    scan_opts.count = function(text) return tok:count(text) end
  end
  local r, err = core.stats.scan(path, scan_opts)
  if not r then return nil, err end

  local s = { path = path, lines = r.lines, blank = r.blank, bad = r.bad, errors = r.errors,
              formats = r.formats, in2 = { lines = r.in2_lines, kinds = r.kinds } }
  s.lengths = {}
  for _, u in ipairs(UNITS) do
    local values = r["len_" .. u.key]
    if #values > 0 then
      local b = M.bins(values)
      s.lengths[#s.lengths + 1] = { unit = u.name, source = u.key, bins = b, counts = M.histogram(values, b),
                                    summary = summary_of(values) }
    end
  end
  s.shares = {}
  for _, u in ipairs(UNITS) do
    local total = r["total_" .. u.key]
    if total > 0 then
      local trained = r["trained_" .. u.key]
      s.shares[#s.shares + 1] = { unit = u.name, source = u.key, how = u.how, trained = trained, total = total,
                                  share = trained / total }
    end
  end
  local depths = r.depths
  s.in2.needles = #depths
  if #depths > 0 then
    local counts = {}
    for k = 1, M.DECILES do counts[k] = 0 end
    local lb = M.bins(r.depth_len)
    local grid = {}
    for k = 1, M.DECILES do
      grid[k] = {}
      for j = 1, lb.n do grid[k][j] = 0 end
    end
    local depth_len = r.depth_len
    for i = 1, #depths do
      local k = M.decile(depths[i])
      counts[k] = counts[k] + 1
      local row = grid[k]
      local j = M.bin_of(lb, depth_len[i])
      row[j] = row[j] + 1
    end
    s.depths = { counts = counts, test = M.uniformity(counts) }
    s.grid = { length_bins = lb, counts = grid }
  end
  s.gaps = summary_of(r.gaps)
  -- --format tokens notes {tokens, examples, samples} when some token
  -- straddles a mask boundary, and nothing when none does.
  local st = notes.straddling_tokens
  s.straddling = { manifest = mpath, manifest_found = manifest ~= nil }
  if type(st) == "table" and math.type(st.tokens) then
    s.straddling.count, s.straddling.examples = st.tokens, st.examples
    s.straddling.sample = type(st.samples) == "table" and st.samples[1] or nil
  elseif math.type(st) then
    s.straddling.count = st
  elseif manifest and manifest.format == "tokens" then
    s.straddling.count, s.straddling.examples, s.straddling.none_noted = 0, 0, true
  end
  return s
end

-- ------------------------------------------------------------------ text

local function commas(n)
  local s = tostring(math.tointeger(n) or n)
  local sign, int, rest = s:match("^(-?)(%d+)(.*)$")
  if not int then return s end
  int = int:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. int .. rest
end

local function bar(c, max, width)
  if max == 0 or c == 0 then return "" end
  return string.rep("#", math.max(1, math.floor(c / max * width + 0.5)))
end

local function max_of(t)
  local m = 0
  for _, v in ipairs(t) do m = math.max(m, v) end
  return m
end

function M.decile_label(k) return string.format("%.1f-%.1f", (k - 1) / M.DECILES, k / M.DECILES) end

function M.bin_label(b, k)
  return string.format("[%s, %s)", commas(b.lo + (k - 1) * b.width), commas(b.lo + k * b.width))
end

-- Verdict on a uniformity test at the 5% level.
function M.verdict(t)
  local v = t.p >= 0.05 and "consistent with uniform depths (p >= 0.05)" or "NOT uniform (p < 0.05)"
  if t.expected < 5 then v = v .. "; fewer than 5 needles expected per decile, so the test is unreliable" end
  return v
end

function M.text(s)
  local out = {}
  local function add(...) out[#out + 1] = string.format(...) end
  local fmts = {}
  for _, name in ipairs({ "tokens", "axolotl", "openai", "messages", "sharegpt", "trl" }) do
    if s.formats[name] > 0 then fmts[#fmts + 1] = name .. " " .. commas(s.formats[name]) end
  end
  add("%s: %s lines = %s counted + %s bad%s", s.path, commas(s.lines), commas(s.lines - s.bad), commas(s.bad),
    s.blank > 0 and string.format(" (and %s blank lines)", commas(s.blank)) or "")
  if #fmts > 0 then add("formats: %s", table.concat(fmts, ", ")) end
  if s.in2.lines > 0 then
    add("IN2 examples: %s (type I %s, type II %s, short %s), %s needles", commas(s.in2.lines),
      commas(s.in2.kinds.I), commas(s.in2.kinds.II), commas(s.in2.kinds.short), commas(s.in2.needles))
  else
    add("IN2 examples: none (no line has meta.in2): no needle statistics")
  end
  for _, l in ipairs(s.lengths) do
    local sm = l.summary
    add("")
    add("context length (%s%s), %s lines: min %s, median %s, mean %.1f, max %s", l.unit,
      l.source == "tokens" and ", meta.in2.context_tokens or input_ids" or "", commas(sm.n), commas(sm.min),
      commas(sm.median), sm.mean, commas(sm.max))
    local m = max_of(l.counts)
    for k, c in ipairs(l.counts) do
      add("  %-22s %9s %s", M.bin_label(l.bins, k), commas(c), bar(c, m, 40))
    end
  end
  if s.depths then
    add("")
    add("needle depth (deciles), %s needles:", commas(s.in2.needles))
    local m = max_of(s.depths.counts)
    for k, c in ipairs(s.depths.counts) do add("  %-9s %9s %s", M.decile_label(k), commas(c), bar(c, m, 40)) end
    local t = s.depths.test
    add("  chi-square %.3f, df %d, p = %.4g: %s", t.chi2, t.df, t.p, M.verdict(t))
    add("")
    add("depth x context length (needles; columns are length bins in tokens):")
    local lb = s.grid.length_bins
    local head = { string.format("  %-9s", "depth") }
    for j = 1, lb.n do head[#head + 1] = string.format(" %8s", commas(lb.lo + (j - 1) * lb.width)) end
    add("%s", table.concat(head))
    for k, row in ipairs(s.grid.counts) do
      local cells = { string.format("  %-9s", M.decile_label(k)) }
      for j = 1, lb.n do cells[#cells + 1] = string.format(" %8s", commas(row[j])) end
      add("%s", table.concat(cells))
    end
  end
  if s.gaps then
    add("")
    add("type II gap (tokens between needles), %s examples: min %s, median %s, max %s", commas(s.gaps.n),
      commas(s.gaps.min), commas(s.gaps.median), commas(s.gaps.max))
  end
  add("")
  if #s.shares == 0 then add("trained share: nothing counted") end
  for _, sh in ipairs(s.shares) do
    add("trained share: %.2f%% of %s (%s of %s; %s)", sh.share * 100, sh.unit, commas(sh.trained), commas(sh.total),
      sh.how)
  end
  local sd = s.straddling
  if sd.none_noted then
    add("straddling tokens: 0 (%s notes none)", sd.manifest)
  elseif sd.count then
    add("straddling tokens: %s%s (from %s; masked, though partly inside a trained span)%s", commas(sd.count),
      sd.examples and string.format(" in %s examples", commas(sd.examples)) or "", sd.manifest,
      sd.sample and ("\n  e.g. " .. sd.sample:gsub("\n", "\\n")) or "")
  elseif s.straddling.manifest_found then
    add("straddling tokens: not recorded (%s has no format_notes.straddling_tokens)", s.straddling.manifest)
  else
    add("straddling tokens: not recorded (no manifest at %s)", s.straddling.manifest)
  end
  return table.concat(out, "\n") .. "\n"
end

-- ------------------------------------------------------------------ JSON

-- The numbers as plain tables for json.encode.
function M.json_value(s)
  local json = core.json
  local function arr(t) return json.array(t) end
  local lengths = {}
  for _, l in ipairs(s.lengths) do
    local edges = {}
    for k = 0, l.bins.n do edges[#edges + 1] = l.bins.lo + k * l.bins.width end
    lengths[#lengths + 1] = { unit = l.unit, source = l.source, edges = arr(edges), counts = arr(l.counts),
                              min = l.summary.min, max = l.summary.max, mean = l.summary.mean,
                              median = l.summary.median, n = l.summary.n }
  end
  local shares = {}
  for _, sh in ipairs(s.shares) do
    shares[#shares + 1] = { unit = sh.unit, source = sh.source, trained = sh.trained, total = sh.total,
                            share = sh.share, how = sh.how }
  end
  local v = {
    path = s.path, lines = s.lines, bad = s.bad, blank = s.blank, errors = arr(s.errors), formats = s.formats,
    in2 = { lines = s.in2.lines, kinds = s.in2.kinds, needles = s.in2.needles },
    lengths = arr(lengths), trained_share = arr(shares),
    straddling_tokens = s.straddling.count or json.null,
    straddling_examples = s.straddling.examples or json.null,
  }
  if s.depths then
    local t = s.depths.test
    v.depth_deciles = { counts = arr(s.depths.counts), chi2 = t.chi2, df = t.df, p = t.p }
    local lb = s.grid.length_bins
    local rows = {}
    for k, row in ipairs(s.grid.counts) do rows[k] = arr(row) end
    local edges = {}
    for k = 0, lb.n do edges[#edges + 1] = lb.lo + k * lb.width end
    v.depth_by_length = { length_edges = arr(edges), counts = arr(rows) }
  end
  if s.gaps then v.type2_gap = s.gaps end
  return v
end

function M.json(s) return core.json.encode(M.json_value(s)) .. "\n" end

return M
