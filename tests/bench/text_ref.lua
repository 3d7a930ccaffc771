-- The reference for tests/bench/run_text.sh: lacuna.text's context assembly
-- (core/text/context.c) written again in plain Lua over Lua tables, step for
-- step (same draws from the same rng, same trimming, placement and joins), so
-- that both produce the same bytes and the benchmark compares equal work. It
-- counts through the same approximate counter (lc.text.count) and finds
-- sentences with lc.text.sentences: what a recipe would call. It returns the
-- text as a Lua string (table.concat): plain Lua has no other byte buffer.
-- text_bench.lua writes it with f:write, as it writes lacuna's text from an
-- lc.text buffer (buf:write) or from the default call's string.
local lc = require "lacuna"
local sentences = lc.text.sentences
local SLACK = 16

local M = {}

-- The approximate counter's rules (core/tokenizer/approx.c) in Lua, for the
-- all-Lua row; ASCII text only (the benchmark's corpus), which is checked.
function M.approx_count(s)
  local t, i, n = 0.0, 1, #s
  while i <= n do
    local c = s:byte(i)
    local j
    if (c >= 65 and c <= 90) or (c >= 97 and c <= 122) then
      j = s:find("[^%a]", i + 1) or n + 1
      t = t + 1 + (j - i) // 9
    elseif c >= 48 and c <= 57 then
      j = s:find("[^%d]", i + 1) or n + 1
      t = t + (j - i + 2) // 3
    elseif c == 10 then
      j = s:find("[^\n]", i + 1) or n + 1
      t = t + 1
    elseif c == 32 then
      j = s:find("[^ ]", i + 1) or n + 1
      t = t + (j - i - 1) / 8
    elseif c < 128 then
      j = i + 1
      if c > 32 and c ~= 127 then t = t + 0.6 end
    else
      error("approx_count: the all-Lua counter handles ASCII only")
    end
    i = j
  end
  return math.floor(t + 0.5)
end

-- P = {text = {...}, tokens = {...}, doc = {...}, n = N}; count defaults to
-- lacuna's own counter.
function M.context(P, g, opts, count)
  count = count or lc.text.count
  local sep = opts.sep or "\n"
  local sep_t = count(sep)
  local target = opts.target
  local needles, depth, ntok = opts.needles or {}, {}, {}
  local excluded = {}
  for _, d in ipairs(opts.exclude or {}) do excluded[d] = true end
  local goal = target
  for j, s in ipairs(needles) do
    depth[j] = (opts.depths and opts.depths[j]) or g:float()
    ntok[j] = count(s)
    goal = goal - (ntok[j] + 2 * sep_t)
  end
  -- draws without replacement: a sparse Fisher-Yates over 0-based slots,
  -- 32 positions at a time as the C side draws them (DRAW_AHEAD)
  local map, next_i, fill, nfill = {}, 0, {}, 0
  local queue, qhead = {}, 1
  local function draw()
    while true do
      if qhead > #queue then
        queue, qhead = {}, 1
        while #queue < 32 and next_i < P.n do
          local i = next_i
          next_i = i + 1
          local j = i + g:int(P.n - i) - 1
          local pick = map[j] or j
          if j ~= i then map[j] = map[i] or i end
          queue[#queue + 1] = pick
        end
        if #queue == 0 then
          error("the pool has too few segments outside the excluded documents to reach the target")
        end
      end
      local pick = queue[qhead]
      qhead = qhead + 1
      if not excluded[P.doc[pick + 1]] then return pick + 1 end
    end
  end
  local m, last_len, last_tokens = 0, 0, 0
  local function trim(s, budget)
    local ends = {}
    for e in s:gmatch("%S+()") do ends[#ends + 1] = e - 1 end
    local lo, hi, len, tok = 0, #ends, 0, 0
    while lo < hi do
      local mid = lo + (hi - lo + 1) // 2
      local t = count(s:sub(1, ends[mid]))
      if t <= budget then
        lo, len, tok = mid, ends[mid], t
      else
        hi = mid - 1
      end
    end
    if lo == #ends or budget - tok <= 4 then return len, tok end
    -- inside a long next word, at a character (ASCII corpus: a byte)
    local a = (s:find("[^ \t\n\r]", len + 1) or len + 1) - 1
    local l, h = a + 1, ends[lo + 1]
    while l < h do
      local mid = l + (h - l + 1) // 2
      local t = count(s:sub(1, mid))
      if t <= budget then
        l, len, tok = mid, mid, t
      else
        h = mid - 1
      end
    end
    return len, tok
  end
  local function plan(goal_)
    m = 0
    if goal_ <= 0 then return end
    local sum, k = 0, 0
    while true do
      if k == nfill then
        nfill = nfill + 1
        fill[nfill] = draw()
      end
      local slot = fill[k + 1]
      local t = P.tokens[slot]
      local join = k > 0 and sep_t or 0
      if sum + join + t < goal_ then
        sum = sum + join + t
      else
        local budget = goal_ - sum - join
        local len, tk = #P.text[slot], t
        if budget < t then
          len, tk = 0, 0
          if budget > 0 then len, tk = trim(P.text[slot], budget) end
        end
        if len > 0 then
          m, last_len, last_tokens = k + 1, len, tk
        else
          m = k
          if m > 0 then last_len, last_tokens = #P.text[fill[k]], P.tokens[fill[k]] end
        end
        return
      end
      k = k + 1
    end
  end
  local function ftext(k) return P.text[fill[k + 1]] end
  local function flen(k) return k + 1 == m and last_len or #P.text[fill[k + 1]] end
  local function ftok(k) return k + 1 == m and last_tokens or P.tokens[fill[k + 1]] end
  local function place(j, pos)
    local start = 0
    for k = 0, m - 1 do
      local e = start + ftok(k)
      if pos < e or k + 1 == m then
        local s, n = ftext(k), flen(k)
        if n < #s then s = s:sub(1, n) end
        local best_b, best = 0, math.abs(pos - start)
        if math.abs(e - pos) < best then best, best_b = math.abs(e - pos), n end
        local at = 1
        for _, sent in ipairs(sentences(s)) do
          local a = s:find(sent, at, true)
          local se = a + #sent - 1
          if se >= n then break end
          local pt = count(s:sub(1, se))
          local d = math.abs(start + pt - pos)
          if d < best then best, best_b = d, se end
          if start + pt > pos then break end
          at = se + 1
        end
        if best_b == n then return { k = k + 1, b = 0, j = j } end
        return { k = k, b = best_b, j = j }
      end
      start = e + sep_t
    end
    return { k = m, b = 0, j = j }
  end
  local aim, short_goal, long_goal = target - 4, math.mininteger, math.maxinteger
  local out, total, spans
  for round = 0, math.huge do
    plan(goal)
    local hay = 0
    for k = 0, m - 1 do hay = hay + ftok(k) + (k > 0 and sep_t or 0) end
    local spots = {}
    for j = 1, #needles do spots[j] = place(j, depth[j] * hay) end
    table.sort(spots, function(a, b)
      if a.k ~= b.k then return a.k < b.k end
      if a.b ~= b.b then return a.b < b.b end
      return a.j < b.j
    end)
    local parts, np, tokens, bytes = {}, 0, 0, 0
    spans = {}
    local function emit(s, t, j)
      if #s == 0 and not j then return end
      if np > 0 then
        parts[#parts + 1] = sep
        tokens, bytes = tokens + sep_t, bytes + #sep
      end
      np = np + 1
      if j then spans[j] = { byte_start = bytes, byte_end = bytes + #s, token = tokens, tokens = t } end
      parts[#parts + 1] = s
      tokens, bytes = tokens + t, bytes + #s
    end
    local q = 1
    for k = 0, m do
      local s, n, from = nil, 0, 0
      if k < m then s, n = ftext(k), flen(k) end
      while q <= #spots and spots[q].k == k do
        local cut = spots[q].b
        if cut > from then
          local piece = s:sub(from + 1, cut)
          emit(piece, count(piece))
          from = (s:find("%S", cut + 1) or n + 1) - 1
          if from > n then from = n end
        end
        local j = spots[q].j
        emit(needles[j], ntok[j], j)
        q = q + 1
      end
      if k < m and from < n then
        if from == 0 then
          emit(n < #s and s:sub(1, n) or s, ftok(k))
        else
          local piece = s:sub(from + 1, n)
          emit(piece, count(piece))
        end
      end
    end
    out, total = table.concat(parts), tokens
    if total <= target and total >= target - SLACK then break end
    if m == 0 and goal <= 0 and total > target then break end
    if total > target then
      long_goal = math.min(long_goal, goal)
    else
      short_goal = math.max(short_goal, goal)
    end
    local nxt = goal + aim - total
    if round >= 3 or nxt <= short_goal or nxt >= long_goal then
      if short_goal == math.mininteger or long_goal == math.maxinteger then
        nxt = total > target and goal - (total - aim) - 8 * round or goal + (aim - total) + 8 * round
      elseif long_goal - short_goal <= 1 or round >= 40 then
        error("could not bring the context within 16 tokens of the target")
      else
        nxt = short_goal + (long_goal - short_goal) // 2
      end
    end
    goal = nxt
  end
  return { text = out, tokens = total, needles = spans }
end

return M
