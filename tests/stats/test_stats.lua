-- lacuna.stats and core.stats: histograms, the depth uniformity test, the
-- trained share of every format and the errors of bad lines, on small
-- fixtures whose numbers are worked out by hand in the comments.
local t = require "testlib"
local lc = require "lacuna"
local stats = require "lacuna.stats"
local chi2_sf = lc.core.stats.chi2_sf

local dir = t.tmpdir()
local function fixture(name, lines)
  local path = dir .. "/" .. name
  t.writefile(path, table.concat(lines, "\n") .. "\n")
  return path
end

local function close(got, want, rel, msg)
  local err = math.abs(got - want) / math.max(math.abs(want), 1e-300)
  t.truthy(err <= rel, string.format("%s: got %.17g, want %.17g (relative error %.3g)", msg, got, want, err))
end

-- A chat line with meta.in2: one needle per depth.
local function in2_line(ctx, depths, kind, gap)
  local needles = {}
  for i, d in ipairs(depths) do
    needles[i] = string.format('{"depth":%s,"token_offset":%d,"byte_span":[%d,%d]}', d, math.floor(d * (ctx - 1)),
      i * 10, i * 10 + 5)
  end
  return string.format('{"messages":[{"role":"user","content":"ctx","train":false},' ..
    '{"role":"assistant","content":"ans","train":true}],"meta":{"in2":{"kind":"%s","context_tokens":%d,' ..
    '"target_tokens":%d,"needles":[%s]%s}}}', kind or "I", ctx, ctx, table.concat(needles, ","),
    gap and (',"gap":' .. gap) or "")
end

t.test("chi2_sf against 30-digit references", function()
  -- Q(df/2, x/2) from mpmath.gammainc(df/2, x/2, inf, regularized=True) at 30
  -- digits (scipy.stats.chi2.sf computes the same function; scipy is not
  -- installed here), which the closed form for odd df (Abramowitz & Stegun
  -- 26.4.4, erfc plus a finite sum) also gives to 1e-15. The x of df 9 include
  -- the textbook critical values for p = 0.90, 0.10, 0.05, 0.01 and 0.001.
  local df9 = {
    { 0.5, 0.99996956625883892 }, { 2.0, 0.99146760662881353 }, { 4.168159, 0.90000000056933988 },
    { 9.0, 0.43727418891386706 }, { 10.0, 0.35048521232336134 }, { 14.683657, 0.099999987256506154 },
    { 16.918978, 0.049999993659331597 }, { 21.665994, 0.010000001183808189 },
    { 27.877166, 0.0009999995662529002 }, { 50.0, 1.0772382022574716e-7 },
    { 100.0, 1.5735176303753944e-17 }, { 120.0, 1.3361647765325286e-21 },
  }
  for _, w in ipairs(df9) do close(chi2_sf(w[1], 9), w[2], 1e-12, "chi2_sf(" .. w[1] .. ", 9)") end
  local others = {
    { 1, 3.841459, 0.049999994653195766 }, { 1, 0.001, 0.97477287936996039 },
    { 3, 7.814728, 0.049999997831966144 }, { 99, 123.225, 0.050001403840465294 },
    { 99, 60.0, 0.99931999704984858 }, { 30, 300.0, 2.6480484856308777e-46 },
  }
  for _, w in ipairs(others) do close(chi2_sf(w[2], w[1]), w[3], 1e-12, "chi2_sf(" .. w[2] .. ", " .. w[1] .. ")") end
  -- Even df: Q = exp(-x/2) * sum_{i<df/2} (x/2)^i / i!.
  close(chi2_sf(3, 2), math.exp(-1.5), 1e-14, "df 2")
  close(chi2_sf(6, 4), math.exp(-3) * (1 + 3), 1e-14, "df 4")
  t.eq(chi2_sf(0, 9), 1.0)
  t.raises(function() chi2_sf(1, 0) end, "degrees of freedom")
  t.raises(function() chi2_sf(-1, 9) end, "x must be >= 0")
end)

t.test("bins: widths 1, 2 or 5 x 10^k and hand-counted histograms", function()
  t.eq(stats.nice_width(100, 990, 12, true), 100) -- 890 / 12 = 74.2 -> 100
  t.eq(stats.nice_width(0, 100, 12, true), 10)    -- 8.3 -> 10
  t.eq(stats.nice_width(0, 50, 12, true), 5)      -- 4.2 -> 5
  t.eq(stats.nice_width(0, 20, 12, true), 2)      -- 1.7 -> 2
  t.eq(stats.nice_width(7, 7, 12, true), 1)
  local b = stats.bins({ 100, 150, 220, 990 })
  t.eq({ b.lo, b.width, b.n }, { 100, 100, 9 })
  t.eq(stats.histogram({ 100, 150, 220, 990 }, b), { 2, 1, 0, 0, 0, 0, 0, 0, 1 })
  t.eq({ stats.decile(0), stats.decile(0.05), stats.decile(0.1), stats.decile(0.99), stats.decile(1) },
    { 1, 1, 2, 10, 10 })
end)

-- Ten needles, one per decile; lengths 100 150 220 400 410 420 430 440 450 990.
local LENGTHS = { 100, 150, 220, 400, 410, 420, 430, 440, 450, 990 }
local uniform_lines = {}
for k = 1, 10 do uniform_lines[k] = in2_line(LENGTHS[k], { (k - 1) / 10 + 0.05 }) end

t.test("uniform fixture: length histogram, deciles, p = 1, grid", function()
  local s = assert(stats.collect(fixture("uniform.jsonl", uniform_lines)))
  t.eq({ s.lines, s.bad, s.in2.lines, s.in2.needles, s.in2.kinds.I }, { 10, 0, 10, 10, 10 })
  t.eq(#s.lengths, 1)
  local l = s.lengths[1]
  t.eq(l.unit, "tokens")
  -- width 100 from 100: [100,200) 100 150; [200,300) 220; [400,500) 400..450; [900,1000) 990.
  t.eq(l.counts, { 2, 1, 0, 6, 0, 0, 0, 0, 1 })
  t.eq({ l.summary.min, l.summary.max, l.summary.median }, { 100, 990, 415.0 })
  t.eq(s.depths.counts, { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 })
  t.eq(s.depths.test.chi2, 0.0)
  t.eq(s.depths.test.p, 1.0)
  -- Grid: decile k holds the needle of length LENGTHS[k].
  t.eq(s.grid.counts[1], { 1, 0, 0, 0, 0, 0, 0, 0, 0 })
  t.eq(s.grid.counts[3], { 0, 1, 0, 0, 0, 0, 0, 0, 0 })
  t.eq(s.grid.counts[6], { 0, 0, 0, 1, 0, 0, 0, 0, 0 })
  t.eq(s.grid.counts[10], { 0, 0, 0, 0, 0, 0, 0, 0, 1 })
  -- 10 chat lines "ctx" + "ans": 3 of 6 characters trained each.
  t.eq({ s.shares[1].unit, s.shares[1].trained, s.shares[1].total }, { "characters", 30, 60 })
  t.truthy(stats.text(s):find("consistent with uniform depths", 1, true))
end)

t.test("skewed fixtures: the p-value by hand", function()
  -- 20 needles: deciles 6 2 2 2 2 2 1 1 1 1; expected 2; chi2 = (16 + 4 * 1) / 2 = 10.
  local depths = { 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.15, 0.16, 0.25, 0.26, 0.35, 0.36, 0.45, 0.46, 0.55, 0.56,
                   0.65, 0.75, 0.85, 0.95 }
  local lines = {}
  for i = 1, 20, 2 do lines[#lines + 1] = in2_line(1000, { depths[i], depths[i + 1] }, "II", 300) end
  local s = assert(stats.collect(fixture("mild.jsonl", lines)))
  t.eq(s.depths.counts, { 6, 2, 2, 2, 2, 2, 1, 1, 1, 1 })
  close(s.depths.test.chi2, 10, 1e-15, "chi2")
  close(s.depths.test.p, 0.35048521232336134, 1e-12, "p")
  t.eq(s.in2.kinds.II, 10)
  t.eq({ s.gaps.n, s.gaps.min, s.gaps.max }, { 10, 300, 300 })
  -- 30 needles: 21 in the first decile, 1 in each other; expected 3;
  -- chi2 = 18^2 / 3 + 9 * 2^2 / 3 = 108 + 12 = 120.
  lines = {}
  for _ = 1, 21 do lines[#lines + 1] = in2_line(2000, { 0.01 }) end
  for k = 2, 10 do lines[#lines + 1] = in2_line(2000, { (k - 1) / 10 + 0.01 }) end
  s = assert(stats.collect(fixture("skewed.jsonl", lines)))
  close(s.depths.test.chi2, 120, 1e-15, "chi2")
  close(s.depths.test.p, 1.3361647765325286e-21, 1e-10, "p")
  t.truthy(stats.text(s):find("NOT uniform (p < 0.05)", 1, true))
end)

-- Trained share by format (characters are code points).
local FORMATS = {
  { "axolotl", 6, 14, {
    -- "héllo wörld" is 11 characters: 0-4 untrained, 5-10 trained; "abc" untrained.
    '{"messages":[{"role":"user","content":"abc","train":false},{"role":"assistant","content":"héllo wörld",' ..
    '"train_detail":[{"begin_offset":0,"end_offset":4,"train":false},{"begin_offset":5,"end_offset":10,"train":true}]}]}' } },
  { "openai", 3, 9, {
    '{"messages":[{"role":"user","content":"abcd"},{"role":"assistant","content":"xyz","weight":1},' ..
    '{"role":"assistant","content":"pq","weight":0}]}' } },
  { "messages", 3, 5, { '{"messages":[{"role":"user","content":"ab"},{"role":"assistant","content":"cde"}]}' } },
  { "sharegpt", 6, 12, {
    '{"conversations":[{"from":"human","value":"hi"},{"from":"gpt","value":"yes"},{"from":"human","value":"q"},' ..
    '{"from":"gpt","value":"ok!"}],"system":"sys"}' } },
  { "trl", 4, 10, {
    '{"prompt":[{"role":"user","content":"abc"}],"completion":[{"role":"assistant","content":"de"}]}',
    '{"prompt":"abc","completion":"de"}' } },
  { "tokens", 3, 5, { '{"input_ids":[1,2,3,4,5],"attention_mask":[1,1,1,1,1],"labels":[-100,-100,3,4,5]}' } },
}

t.test("trained share of every format", function()
  for _, f in ipairs(FORMATS) do
    local s = assert(stats.collect(fixture(f[1] .. ".jsonl", f[4])))
    t.eq(s.bad, 0, f[1])
    t.eq(s.formats[f[1]], #f[4], f[1] .. " detected")
    t.eq({ s.shares[1].trained, s.shares[1].total }, { f[2], f[3] }, f[1])
    t.eq(s.shares[1].unit, f[1] == "tokens" and "tokens" or "characters", f[1])
    t.eq(s.depths, nil, "no needles without meta.in2")
  end
end)

t.test("manifest: mask_history and the straddling count", function()
  local path = dir .. "/sharegpt.jsonl"
  local s = assert(stats.collect(path))
  t.eq(s.straddling.count, nil)
  t.truthy(stats.text(s):find("straddling tokens: not recorded (no manifest at", 1, true))
  t.writefile(dir .. "/sharegpt.manifest.json", '{"format":"sharegpt","format_notes":{"mask_history":true}}')
  s = assert(stats.collect(path))
  -- Only the last gpt turn ("ok!") is trained.
  t.eq({ s.shares[1].trained, s.shares[1].total }, { 3, 12 })
  t.truthy(stats.text(s):find("has no format_notes.straddling_tokens", 1, true))
  t.writefile(dir .. "/sharegpt.manifest.json", '{"format_notes":{"straddling_tokens":7}}')
  s = assert(stats.collect(path))
  t.eq(s.straddling.count, 7)
  -- What --format tokens notes: a table when some token straddles ...
  t.writefile(dir .. "/sharegpt.manifest.json", '{"format":"tokens","format_notes":{"straddling_tokens":' ..
    '{"tokens":12,"examples":3,"samples":["the a[[nsw]]er"]}}}')
  s = assert(stats.collect(path))
  t.eq({ s.straddling.count, s.straddling.examples, s.straddling.sample }, { 12, 3, "the a[[nsw]]er" })
  t.truthy(stats.text(s):find("straddling tokens: 12 in 3 examples (from", 1, true))
  t.truthy(stats.text(s):find("e.g. the a[[nsw]]er", 1, true))
  -- ... and nothing when none does.
  t.writefile(dir .. "/sharegpt.manifest.json", '{"format":"tokens","format_notes":{}}')
  s = assert(stats.collect(path))
  t.eq(s.straddling.count, 0)
  t.truthy(stats.text(s):find("straddling tokens: 0 (", 1, true))
end)

t.test("a token counter turns chat shares into token shares", function()
  local words = { count = function(_, text) local n = 0 for _ in text:gmatch("%S+") do n = n + 1 end return n end }
  local path = fixture("words.jsonl", {
    '{"messages":[{"role":"user","content":"one two three","train":false},{"role":"assistant","content":"four five","train":true}]}' })
  local s = assert(stats.collect(path, { tokenizer = words }))
  t.eq({ s.shares[1].source, s.shares[1].trained, s.shares[1].total }, { "counted", 2, 5 })
  t.eq(s.lengths[1].source, "counted")
  t.truthy(s.shares[1].how:find("--tokenizer", 1, true))
end)

t.test("bad lines are named (file:line: field) and counted, good ones kept", function()
  local path = fixture("bad.jsonl", {
    in2_line(1000, { 0.5 }),
    "{not json",
    (in2_line(1000, { 0.5 }):gsub('"depth":0.5', '"depth":1.5')),
    '{"input_ids":[1,2]}',
    (in2_line(1000, { 0.5 }):gsub('"token_offset":%d+', '"token_offset":1000')),
    '{"messages":[{"role":"user","content":"a"}],"meta":{"in2":{"kind":"III","context_tokens":5,"needles":[]}}}',
    '{"prompt":"x"}',
    "[1,2]",
    "",
    in2_line(2000, { 0.25 }),
  })
  local s = assert(stats.collect(path))
  t.eq({ s.lines, s.blank, s.bad, s.in2.lines, s.in2.needles }, { 9, 1, 7, 2, 2 })
  t.eq(s.errors, {
    path .. ":2: (line): not valid JSON",
    path .. ":3: meta.in2.needles[1].depth: must be a number in [0, 1]",
    path .. ":4: labels: missing (the tokens format has input_ids and labels)",
    path .. ":5: meta.in2.needles[1].token_offset: must be an integer in [0, context_tokens)",
    path .. ":6: meta.in2.kind: must be \"I\", \"II\" or \"short\"",
    path .. ":7: completion: missing (prompt without a completion)",
    path .. ":8: (line): must be a JSON object",
  })
  s = assert(stats.collect(path, { max_errors = 2 }))
  t.eq({ #s.errors, s.bad }, { 2, 7 })
  local none, err = stats.collect(dir .. "/absent.jsonl")
  t.eq(none, nil)
  t.truthy(err:find("absent.jsonl: cannot open", 1, true))
  -- a directory is named as one (it opened, then failed as "read error after line 0")
  none, err = stats.collect(dir)
  t.eq({ none, err }, { nil, dir .. ": is a directory" })
end)

t.test("CRLF line ends and a last line without a newline", function()
  local path = dir .. "/crlf.jsonl"
  t.writefile(path, in2_line(1000, { 0.5 }) .. "\r\n" .. in2_line(2000, { 0.25 }))
  local s = assert(stats.collect(path))
  t.eq({ s.lines, s.bad, s.in2.needles }, { 2, 0, 2 })
  t.eq(s.lengths[1].summary.max, 2000)
end)

t.test("--json numbers", function()
  local s = assert(stats.collect(dir .. "/uniform.jsonl"))
  local v = lc.json.decode(stats.json(s))
  t.eq(v.depth_deciles.counts, { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 })
  t.eq(v.depth_deciles.p, 1.0)
  t.eq(v.lengths[1].edges, { 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000 })
  t.eq(v.straddling_tokens, lc.null)
end)

t.done()
