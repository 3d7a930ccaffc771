-- val_probe: FILM's VAL probing sets (DESIGN §1.4; An et al. 2024, "Make Your
-- LLM Fully Utilize the Context") and, beyond FILM, a length x depth grid with
-- RULER-style multi-key and multi-value needles. setup reads the raw pieces
-- (document sentences, code functions, database entities), builds one context
-- per FILM set of exactly N items in about `tokens` of the student's tokens,
-- and plans one work item per probe; map writes the probe (the prompt, the gold
-- answer, meta.probe) or skips it when its key occurs more than once in its
-- context (ambiguous, as FILM's skip lists do). `lacuna eval` scores them.
local lc = require "lacuna"

local FILM = "Below is a context and an instruction. Based on the information provided in the context, " ..
  "write a response for the instruction.\n\n### Context:\n{context}\n\n### Instruction:\n{instruction}"

local KINDS = { "document", "code", "database" }

-- How each kind shows an item in a context, what its key is, and what is asked.
local SHAPES = {
  document = {
    sep = "\n",
    text = function(p) return p.sentence end,
    key = function(p) return p.piece end,
    ask = function(key)
      return string.format('In the above context, there is one sentence that contains the piece "%s". ' ..
        "Reply with that whole sentence, exactly as it is written.", key)
    end,
    ask_all = function(key, n)
      return string.format('In the above context, %d sentences contain the piece "%s". ' ..
        "Reply with each of those sentences, exactly as written, one per line.", n, key)
    end,
  },
  code = {
    sep = "\n\n",
    text = function(p) return "def " .. p.function_name .. "():\n" .. p.function_define end,
    key = function(p) return p.piece end,
    ask = function(key)
      return string.format('In the above context, there is one function whose body contains the line "%s". ' ..
        "Reply with the name of that function only.", key)
    end,
    ask_all = function(key, n)
      return string.format('In the above context, %d functions have a body that contains the line "%s". ' ..
        "Reply with the names of those functions only.", n, key)
    end,
  },
  database = {
    sep = "\n",
    text = function(p) return string.format("id: %s, label: %s, description: %s", p.id, p.label, p.description) end,
    key = function(p) return p.id end,
    ask = function(key)
      return string.format("In the above context, there is one entity whose id is %s. " ..
        "Reply with its label and its description.", key)
    end,
    ask_all = function(key, n)
      return string.format("In the above context, %d entities have the id %s. " ..
        "Reply with the label and the description of each of them.", n, key)
    end,
  },
}

-- Built by setup, only read by map (README: what a recipe may share across items).
local state = { pieces = {}, counts = {}, key_tokens = {}, sets = {}, sep_tokens = {}, train_text = nil }

-- ---- pieces ----

local function kind_of(rec)
  if rec.sentence ~= nil and rec.piece ~= nil then return "document" end
  if rec.function_name ~= nil and rec.function_define ~= nil and rec.piece ~= nil then return "code" end
  if rec.id ~= nil and rec.label ~= nil and rec.dcpt ~= nil then return "database" end
end

-- A piece of a kind, or nil and why it cannot be used.
local function piece_of(kind, rec)
  local p
  if kind == "document" then
    p = { sentence = rec.sentence, piece = rec.piece }
    if not p.sentence:find(p.piece, 1, true) then return nil, "the piece is not part of the sentence" end
  elseif kind == "code" then
    p = { function_name = rec.function_name, function_define = rec.function_define, piece = rec.piece }
    if not p.function_define:find(p.piece, 1, true) then return nil, "the piece is not a line of the function" end
  else
    p = { id = tostring(rec.id), label = rec.label, description = rec.dcpt }
    -- FILM's metric strips dots: an empty label or description would match any answer.
    if p.label:gsub("^%.+", ""):gsub("%.+$", "") == "" or p.description:gsub("^%.+", ""):gsub("%.+$", "") == "" then
      return nil, "an empty label or description"
    end
  end
  local key = SHAPES[kind].key(p)
  if not key:match("%S") then return nil, "an empty key" end
  return p
end

-- How many items of a context hold the key: an ambiguous probe has more than
-- one (its answer is not unique; a key repeated inside its own item is not
-- ambiguous). A code key is a line: it counts where a line is that line
-- (white space around it aside), not part of a longer line; a database id
-- counts only when no digit follows it; a document piece counts anywhere.
-- starts: each item's first byte (0-based), ascending.
local function holders(kind, text, key, starts)
  local seen, n, from = {}, 0, 1
  local line = kind == "code" and key:match("^%s*(.-)%s*$")
  while true do
    local a, b = text:find(line or key, from, true)
    if not a then return n end
    local counts
    if kind == "code" then
      local ls = a
      while ls > 1 and text:byte(ls - 1) ~= 10 do ls = ls - 1 end
      local le = text:find("\n", b + 1, true) or #text + 1
      counts = not text:sub(ls, a - 1):match("%S") and not text:sub(b + 1, le - 1):match("%S")
    else
      counts = kind ~= "database" or not text:sub(b + 1, b + 1):match("%d")
    end
    if counts then
      -- the item holding byte a - 1: the last start <= a - 1
      local lo, hi = 1, #starts
      while lo < hi do
        local mid = (lo + hi + 1) // 2
        if starts[mid] <= a - 1 then lo = mid else hi = mid - 1 end
      end
      if not seen[lo] then
        seen[lo] = true
        n = n + 1
      end
    end
    from = a + 1
  end
end

-- ---- prompts ----

local function fill(template, context, instruction)
  local a, b = template:find("{context}", 1, true)
  local text = template:sub(1, a - 1) .. context .. template:sub(b + 1)
  local c, d = text:find("{instruction}", a + #context, true)
  return text:sub(1, c - 1) .. instruction .. text:sub(d + 1)
end

-- The prompt's tokens as the student sees them: through its chat template
-- when the --tokenizer model has one, else the prompt text itself.
local function prompt_tokens(prompt, tok, params)
  if params.chat and not tok.approximate then
    local text, err = tok:chat({ { role = "user", content = prompt } }, { add_generation_prompt = true })
    if not text then error("chat template: " .. tostring(err), 0) end
    return lc.text.count(text, tok), text
  end
  return lc.text.count(prompt, tok)
end

-- ---- choosing items to a token budget ----

-- Swaps items between `chosen` and the reserve until the items' tokens (with
-- separators) lie in [budget - 16, budget]: a random walk that keeps every
-- swap that brings the total nearer to budget - 8. Returns the total or nil.
local function fit(chosen, reserve, t, sep_t, budget, rng)
  local total = 0
  for i, x in ipairs(chosen) do total = total + t[x] + (i > 1 and sep_t or 0) end
  local aim = budget - 8
  for _ = 1, 8 do
    if total <= budget and total >= budget - 16 then return total end
    for r = 1, #reserve do
      local c = rng:int(#chosen)
      local new = total - t[chosen[c]] + t[reserve[r]]
      if math.abs(new - aim) < math.abs(total - aim) then
        chosen[c], reserve[r] = reserve[r], chosen[c]
        total = new
        if total <= budget and total >= budget - 16 then return total end
      end
    end
  end
  if total <= budget and total >= budget - 16 then return total end
  return nil, total
end

local function join_items(kind, items)
  local texts = {}
  for i, x in ipairs(items) do texts[i] = state.text_of[kind][x] end
  return table.concat(texts, SHAPES[kind].sep)
end

-- Byte start (0-based) of each item in a context joined with sep.
local function item_starts(kind, items)
  local starts, at, sep = {}, 0, #SHAPES[kind].sep
  for i, x in ipairs(items) do
    starts[i] = at
    at = at + #state.text_of[kind][x] + sep
  end
  return starts
end

-- Exact token count of a joined context, corrected by more swaps when joins
-- merge tokens differently from the per-item counts (a few rounds at most).
local function settle(kind, chosen, reserve, budget, rng, tok)
  local t, sep_t = state.counts[kind], state.sep_tokens[kind]
  local goal = budget
  local best, best_exact, best_chosen, best_reserve
  for _ = 1, 6 do
    local text = join_items(kind, chosen)
    local exact = lc.text.count(text, tok)
    if not best or math.abs(exact - (budget - 8)) < math.abs(best_exact - (budget - 8)) then
      best, best_exact = text, exact
      best_chosen, best_reserve = table.move(chosen, 1, #chosen, 1, {}), table.move(reserve, 1, #reserve, 1, {})
    end
    if exact <= budget and exact >= budget - 16 then break end
    goal = goal + (budget - 8 - exact)
    if not fit(chosen, reserve, t, sep_t, goal, rng) then break end
  end
  -- (the closest draw: its items, and the reserve that goes with them)
  table.move(best_chosen, 1, #best_chosen, 1, chosen)
  table.move(best_reserve, 1, #best_reserve, 1, reserve)
  return best, best_exact
end

-- ---- the plan ----

local function shuffled(n, rng)
  local v = {}
  for i = 1, n do v[i] = i end
  rng:shuffle(v)
  return v
end

-- One FILM set: exactly n items of kind whose context fills the budget.
local function build_set(kind, set_id, n, p, tok, rng)
  local pieces = state.pieces[kind]
  if #pieces < n then
    error(string.format("%s: %d positions need %d pieces, the inputs hold %d", kind, n, n, #pieces), 0)
  end
  local order = shuffled(#pieces, rng)
  local chosen, reserve = {}, {}
  for i, x in ipairs(order) do
    if i <= n then chosen[i] = x else reserve[#reserve + 1] = x end
  end
  -- The frame: the template with an empty key, plus the set's longest key
  -- (and a token for the joins), so that every probe of the set fits `tokens`.
  local frame = prompt_tokens(fill(p.template, "", SHAPES[kind].ask("")), tok, p) + 1
  local key_t = state.key_tokens[kind]
  local function longest_key()
    local m = 0
    for _, x in ipairs(chosen) do m = math.max(m, key_t[x]) end
    return m
  end
  local text, exact, budget
  for _ = 1, 4 do
    local k = longest_key()
    budget = p.tokens - frame - k
    local total, got = fit(chosen, reserve, state.counts[kind], state.sep_tokens[kind], budget, rng)
    if not total and math.abs(got - budget) > p.tolerance * budget then
      error(string.format("%s: no %d pieces fill %d tokens within %g%% (the closest draw came to %d): change " ..
        "tokens, tolerance or positions_%s", kind, n, budget, p.tolerance * 100, got, kind), 0)
    end
    text, exact = settle(kind, chosen, reserve, budget, rng, tok)
    if longest_key() <= k then break end
  end
  local starts = item_starts(kind, chosen)
  local at = assert(lc.text.token_index(text, starts, tok))
  return { kind = kind, set_id = set_id, items = chosen, text = text, tokens = exact, starts = starts, at = at,
           target = p.tokens }
end

-- ---- grid contexts (map) ----

-- A needle's key changed a little: one digit or letter of one word, so that
-- it reads like the key but is not it (a hard negative).
local function perturb(key, rng)
  for _ = 1, 20 do
    local words = {}
    for s, w in key:gmatch("()([%w_]+)") do words[#words + 1] = { s, w } end
    if #words == 0 then return key .. "x" end
    local pick = words[rng:int(#words)]
    local s, w = pick[1], pick[2]
    local i = rng:int(#w)
    local ch = w:sub(i, i)
    local new
    if ch:match("%d") then
      new = tostring((tonumber(ch) + rng:int(9)) % 10)
    elseif ch:match("%u") then
      new = string.char(65 + (ch:byte() - 65 + rng:int(25)) % 26)
    else
      new = string.char(97 + ((ch:lower():byte() - 97) + rng:int(25)) % 26)
    end
    local out = key:sub(1, s + i - 2) .. new .. key:sub(s + i)
    if out ~= key and not out:find(key, 1, true) and not key:find(out, 1, true) then return out end
  end
  return key .. "_2"
end

-- An item's text with its key replaced by another key (a distractor or an
-- extra value): database and code swap the id or the line; a document
-- sentence gets the key put in at a word boundary of another sentence.
local function with_key(kind, base, key, rng)
  if kind == "database" then
    return SHAPES.database.text { id = key, label = base.label, description = base.description }
  elseif kind == "code" then
    local body = base.function_define:gsub(base.piece:gsub("%p", "%%%0"), (key:gsub("%%", "%%%%")), 1)
    return SHAPES.code.text { function_name = base.function_name, function_define = body }, base.function_name
  end
  local words = {}
  for pos in base.sentence:gmatch("() ") do words[#words + 1] = pos end
  local at = #words > 0 and words[rng:int(#words)] or #base.sentence + 1
  return base.sentence:sub(1, at - 1) .. " " .. key .. base.sentence:sub(at)
end

-- A grid probe's context: the needle items and fillers of the same kind (none
-- holding the key) up to the budget, the first needle at the item boundary
-- nearest its depth, the others at uniformly drawn boundaries.
local function grid_context(kind, needles, depth, budget, key, ctx)
  local tok, rng = ctx.tokenizer, ctx.rng
  local t, sep_t, pieces = state.counts[kind], state.sep_tokens[kind], state.pieces[kind]
  local fixed = 0
  for _, nd in ipairs(needles) do
    nd.tokens = lc.text.count(nd.text, tok)
    fixed = fixed + nd.tokens + sep_t
  end
  local room = budget - fixed
  local fillers, total, tries = {}, 0, 0
  local used = {}
  for _, nd in ipairs(needles) do
    if nd.index then used[nd.index] = true end
  end
  -- Draw whole items while they fit, then swap some for unused ones (fit)
  -- until the fillers land within 16 tokens of the room.
  local function usable(x) return not used[x] and not state.text_of[kind][x]:find(key, 1, true) end
  local misses = 0
  while misses < 200 and tries < 100000 do
    tries = tries + 1
    local x = rng:int(#pieces)
    if usable(x) and total + t[x] + sep_t <= room then
      fillers[#fillers + 1] = x
      used[x] = true
      total = total + t[x] + sep_t
      misses = 0
    else
      misses = misses + 1
    end
  end
  if #fillers > 0 and total < room - 16 then
    local reserve = {}
    for _ = 1, math.min(4 * #pieces, 20000) do
      local y = rng:int(#pieces)
      if usable(y) then
        reserve[#reserve + 1] = y
        used[y] = true
      end
      if #reserve >= 3000 then break end
    end
    local got = fit(fillers, reserve, t, sep_t, room - sep_t, rng)
    if got then total = got + sep_t end
  end
  -- Place the needles: the first at `depth`, the rest anywhere.
  local slots = {}
  local function at_depth(d)
    local before, best, best_k = 0, math.huge, 0
    for k = 0, #fillers do
      local diff = math.abs(before - d * total)
      if diff < best then best, best_k = diff, k end
      if k < #fillers then before = before + t[fillers[k + 1]] + sep_t end
    end
    return best_k
  end
  slots[1] = at_depth(depth)
  for i = 2, #needles do slots[i] = rng:int(0, #fillers) end
  local parts, marks = {}, {}
  local function put_needles(k)
    for i, nd in ipairs(needles) do
      if slots[i] == k then
        parts[#parts + 1] = nd.text
        marks[#parts] = i
      end
    end
  end
  for k = 0, #fillers do
    put_needles(k)
    if k < #fillers then parts[#parts + 1] = state.text_of[kind][fillers[k + 1]] end
  end
  local sep = SHAPES[kind].sep
  local starts, at = {}, 0
  for j, s in ipairs(parts) do
    if marks[j] then starts[marks[j]] = at end
    at = at + #s + #sep
  end
  return table.concat(parts, sep), starts
end

-- ---- decontamination ----

-- The text of every message of a training output (any chat format), one
-- string; nil when no file was given.
local function training_text(lines)
  local out = {}
  local function walk(v)
    if type(v) == "string" then
      out[#out + 1] = v
    elseif type(v) == "table" then
      for k, x in pairs(v) do
        if k ~= "meta" then walk(x) end
      end
    end
  end
  for i, line in ipairs(lines) do
    local obj = lc.json.decode(line)
    if obj == nil then error(string.format("decontaminate: line %d is not JSON", i), 0) end
    walk(obj)
  end
  return table.concat(out, "\n")
end

-- The text that must not occur in training data for a probe: its gold item.
local function gold_item(kind, p)
  if kind == "document" then return p.sentence end
  if kind == "code" then return p.function_define end
  return p.label
end

-- ---- setup ----

-- Reads every input record into state.pieces by kind (the kinds asked for, or
-- every kind the inputs hold). Returns the kinds and the unusable counts.
local function read_pieces(run, p)
  local wanted, all = {}, #p.kinds == 0
  for _, k in ipairs(p.kinds) do
    if not SHAPES[k] then error("kinds: unknown kind '" .. tostring(k) .. "' (document, code, database)", 0) end
    wanted[k] = true
  end
  local unusable = {}
  state.text_of = {}
  for _, k in ipairs(KINDS) do
    state.pieces[k], state.text_of[k], unusable[k] = {}, {}, 0
  end
  for rec, file, line in run:records() do
    local kind = kind_of(rec)
    if not kind then
      error(string.format("%s:%d: not a VAL piece: expected {sentence, piece}, {function_name, function_define, " ..
        "piece} or {id, label, dcpt}", file, line), 0)
    end
    if all then wanted[kind] = true end
    if wanted[kind] then
      local piece = piece_of(kind, rec)
      if piece then
        local list = state.pieces[kind]
        list[#list + 1] = piece
        state.text_of[kind][#list] = SHAPES[kind].text(piece)
      else
        unusable[kind] = unusable[kind] + 1
      end
    end
  end
  local kinds = {}
  for _, k in ipairs(KINDS) do
    if wanted[k] then kinds[#kinds + 1] = k end
  end
  if #kinds == 0 then error("the inputs hold no VAL pieces", 0) end
  return kinds, unusable
end

-- Counts a kind's pieces (their text, their key) under the run's tokenizer.
-- Keys longer than max_key_tokens would shorten every context of their set
-- (each set is sized for its longest instruction): such pieces are left out.
local function measure_pieces(kind, p, tok, unusable)
  local kept, kept_text, key_t = {}, {}, {}
  for i, piece in ipairs(state.pieces[kind]) do
    local kt = lc.text.count(SHAPES[kind].key(piece), tok)
    if kt <= p.max_key_tokens then
      local j = #kept + 1
      kept[j], kept_text[j], key_t[j] = piece, state.text_of[kind][i], kt
    else
      unusable[kind] = unusable[kind] + 1
    end
  end
  if #kept == 0 then error(kind .. ": the inputs hold no usable " .. kind .. " pieces", 0) end
  state.pieces[kind], state.text_of[kind], state.key_tokens[kind] = kept, kept_text, key_t
  local t = {}
  for i = 1, #kept do t[i] = lc.text.count(kept_text[i], tok) end
  state.counts[kind] = t
  state.sep_tokens[kind] = lc.text.count(SHAPES[kind].sep, tok)
end

-- A kind's FILM sets and their probes (items), counted in c.
local function plan_film(kind, p, tok, rng, items, c)
  local n = p["positions_" .. kind]
  for s = 0, (n > 0 and p.sets or 0) - 1 do
    local set = build_set(kind, s, n, p, tok, rng)
    state.sets[#state.sets + 1] = set
    for pos = 1, n do
      local key = SHAPES[kind].key(state.pieces[kind][set.items[pos]])
      local hits = holders(kind, set.text, key, set.starts)
      if hits > 1 then c.ambiguous = c.ambiguous + 1 end
      items[#items + 1] = { family = "film", set = #state.sets, position = pos, hits = hits }
      c.probes = c.probes + 1
    end
  end
end

-- A kind's grid probes: every length x depth x needle kind x repeat.
local function plan_grid(kind, p, items, c)
  for li, length in ipairs(p.grid_lengths) do
    for d = 0, p.grid_depths - 1 do
      local depth = p.grid_depths > 1 and d / (p.grid_depths - 1) or 0.5
      for _, variant in ipairs(p.grid_needles) do
        for r = 1, p.grid_repeats do
          items[#items + 1] = { family = "grid", kind = kind, length = length, length_index = li - 1,
                                depth = depth, depth_index = d, needle = variant, repeat_index = r - 1 }
          c.grid = c.grid + 1
        end
      end
    end
  end
end

-- Flags the FILM probes whose gold item occurs in the training output and
-- reports the counts per kind.
local function decontaminate(run, p, kinds, items)
  state.train_text = training_text(p.decontaminate)
  local found, checked = {}, {}
  for _, it in ipairs(items) do
    if it.family == "film" then
      local set = state.sets[it.set]
      local piece = state.pieces[set.kind][set.items[it.position]]
      checked[set.kind] = (checked[set.kind] or 0) + 1
      if state.train_text:find(gold_item(set.kind, piece), 1, true) then
        it.contaminated = true
        found[set.kind] = (found[set.kind] or 0) + 1
      end
    end
  end
  local rep = {}
  for _, kind in ipairs(kinds) do rep[kind] = { checked = checked[kind] or 0, found = found[kind] or 0 } end
  run:report("decontamination", rep)
end

-- Each set's mean item length beside its kind's: a set whose N items must
-- fill `tokens` draws longer (or shorter) items than the kind's average.
local function set_report()
  local sets = {}
  for i, s in ipairs(state.sets) do
    local t, sum, all = state.counts[s.kind], 0, 0
    for _, x in ipairs(s.items) do sum = sum + t[x] end
    for _, v in ipairs(t) do all = all + v end
    sets[i] = { kind = s.kind, set_id = s.set_id, items = #s.items, context_tokens = s.tokens, target = s.target,
                item_tokens_mean = math.floor(sum / #s.items * 10 + 0.5) / 10,
                kind_item_tokens_mean = math.floor(all / #t * 10 + 0.5) / 10 }
  end
  return sets
end

local function plan(run)
  local p = run.params
  local tok = run.tokenizer
  local a, b = p.template:find("{context}", 1, true)
  if not a or not p.template:find("{instruction}", b + 1, true) then
    error("template must hold {context} and, after it, {instruction}", 0)
  end
  if p.chat and tok.approximate then
    error("chat=true needs --tokenizer DIR (a model with a chat template)", 0)
  end
  for _, v in ipairs(p.grid_needles) do
    if v ~= "single" and v ~= "multikey" and v ~= "multivalue" then
      error("grid_needles: unknown needle '" .. tostring(v) .. "' (single, multikey, multivalue)", 0)
    end
  end
  local kinds, unusable = read_pieces(run, p)
  local rng = lc.rng(run.seed, 0x76616c) -- "val": setup's own stream
  local items, counts = {}, {}
  for _, kind in ipairs(kinds) do
    measure_pieces(kind, p, tok, unusable)
    local c = { pieces = #state.pieces[kind], unusable = unusable[kind], probes = 0, ambiguous = 0, grid = 0 }
    counts[kind] = c
    plan_film(kind, p, tok, rng, items, c)
    plan_grid(kind, p, items, c)
  end
  if p.decontaminate then decontaminate(run, p, kinds, items) end
  run:report("probes", counts)
  run:report("sets", set_report())
  run:report("tokenizer", tok.approximate and "approximate" or tok.name)
  return items
end

-- ---- map ----

local function film_probe(item, ctx)
  local set = state.sets[item.set]
  local kind = set.kind
  local piece = state.pieces[kind][set.items[item.position]]
  local key = SHAPES[kind].key(piece)
  if item.hits > 1 then
    return nil, string.format("ambiguous: %d items of the context of %s set %d hold the key", item.hits, kind,
      set.set_id)
  end
  local n = #set.items
  local token = set.at[item.position]
  local others = set.tokens - (state.counts[kind][set.items[item.position]])
  return {
    kind = kind, key = key, piece = piece, context = set.text, set_id = set.set_id, position_id = item.position - 1,
    positions = n, token_offset = token, context_tokens = set.tokens, target_tokens = set.target,
    depth = others > 0 and math.min(1, token / others) or 0, byte_start = set.starts[item.position],
  }
end

local function grid_probe(item, ctx)
  local kind, rng = item.kind, ctx.rng
  local pieces = state.pieces[kind]
  local x = rng:int(#pieces)
  local piece = pieces[x]
  local key = SHAPES[kind].key(piece)
  local needles = { { text = state.text_of[kind][x], index = x } }
  local golds = nil
  local p = ctx.params
  -- Other items for distractors and extra values: never the needle, never twice.
  local taken = { [x] = true }
  local function other_item()
    for _ = 1, 1000 do
      local y = rng:int(#pieces)
      if not taken[y] then
        taken[y] = true
        return y
      end
    end
    error(kind .. ": too few pieces for the grid's needles", 0)
  end
  local distractor_keys
  if item.needle == "multikey" then
    distractor_keys = lc.json.array {}
    for i = 1, p.distractors do
      local y = other_item()
      distractor_keys[i] = perturb(key, rng)
      local text = with_key(kind, pieces[y], distractor_keys[i], rng)
      needles[#needles + 1] = { text = text, index = y }
    end
  elseif item.needle == "multivalue" then
    golds = { piece }
    for _ = 2, p.values do
      local y = other_item()
      local other = pieces[y]
      local text, name = with_key(kind, other, key, rng)
      local g
      if kind == "document" then
        g = { sentence = text, piece = key }
      elseif kind == "code" then
        g = { function_name = name, piece = key }
      else
        g = { id = key, label = other.label, description = other.description }
      end
      golds[#golds + 1] = g
      needles[#needles + 1] = { text = text, index = y }
    end
  end
  local instruction = golds and SHAPES[kind].ask_all(key, #golds) or SHAPES[kind].ask(key)
  local frame = prompt_tokens(fill(p.template, "", instruction), ctx.tokenizer, p)
  local budget = item.length - frame
  local context, starts
  -- The whole prompt (through the chat template with chat=true) must land in
  -- [length - 16, length]: the context's budget moves by each miss.
  local ptokens, rendered
  for _ = 1, 8 do
    context, starts = grid_context(kind, needles, item.depth, budget, key, ctx)
    ptokens, rendered = prompt_tokens(fill(p.template, context, instruction), ctx.tokenizer, p)
    if ptokens <= item.length and ptokens >= item.length - 16 then break end
    if ptokens > item.length then
      budget = budget - (ptokens - item.length) - 4
    else
      budget = budget + (item.length - 8 - ptokens)
    end
  end
  local at = assert(lc.text.token_index(context, { starts[1] }, ctx.tokenizer))
  local total = lc.text.count(context, ctx.tokenizer)
  local others = total - needles[1].tokens
  return {
    kind = kind, key = key, piece = piece, golds = golds, context = context, instruction = instruction,
    distractor_keys = distractor_keys, prompt_tokens = ptokens, rendered = rendered, token_offset = at[1],
    context_tokens = total, target_tokens = item.length, byte_start = starts[1],
    depth = others > 0 and math.min(1, at[1] / others) or 0,
    grid = { length = item.length, length_index = item.length_index, depth = item.depth,
             depth_index = item.depth_index, needle = item.needle, distractors = item.needle == "multikey"
               and p.distractors or nil, values = golds and #golds or nil, ["repeat"] = item.repeat_index },
  }
end

-- FILM's gold fields of a piece: completion (the text FILM compares), and for
-- database its label and description.
local function gold_fields(kind, piece, out)
  if kind == "document" then
    out.completion = piece.sentence
  elseif kind == "code" then
    out.completion = piece.function_name
  else
    out.completion = piece.label .. ", " .. piece.description
    out.label, out.description = piece.label, piece.description
  end
  return out
end

return lc.recipe {
  name = "val_probe",
  version = "1.0.0",
  format = "trl",
  summary = "FILM's VAL probing sets and a length x depth grid with multi-key/multi-value needles",
  cite = "An et al. 2024, arXiv 2404.16811 (FILM, VaLProbing); Hsieh et al. 2024, RULER (NIAH variants)",
  description = [[
VAL probing (DESIGN §1.4). Input: FILM's raw pieces (valprobing/*.jsonl): document
sentences {sentence, piece}, code functions {function_name, function_define, piece},
database entities {id, label, dcpt}, in any mix. For each kind, `sets` contexts of
exactly positions_KIND items (FILM: 800/800/750 x 4) in about `tokens` of the
student's tokens (--tokenizer, else the approximate counter; with chat=true the
prompt is measured through the model's chat template); one probe per item:
document sentence retrieval (a piece -> the whole sentence), code function
retrieval (a body line -> the function name), database entity retrieval (an id ->
label and description). A probe is skipped as ambiguous when more than one item of
its context holds its key. grid_lengths adds, per kind, probes at every length x
grid_depths depths, for each of grid_needles: single, multikey (the needle plus
`distractors` hard negatives whose keys differ by one character) and multivalue
(`values` items share the key; all are asked for). decontaminate=FILE counts the
probes whose gold item occurs in a training output (report.decontamination). Each
probe is written in --format trl (prompt/completion messages) with meta.probe, which
`lacuna eval` reads.]],
  params = {
    kinds = lc.list("string", {}, "probe kinds to build: document, code, database (default: every kind in the inputs)"),
    tokens = lc.int(32000, "a probe prompt's length, in the student's tokens", { min = 64 }),
    sets = lc.int(4, "contexts (sets) per kind", { min = 0 }),
    max_key_tokens = lc.int(64, "pieces whose key is longer (in tokens) are left out of the FILM sets", { min = 1 }),
    tolerance = lc.number(0.05, "a set's context may miss the budget by this share when its N items cannot land " ..
      "within 16 tokens", { min = 0, max = 1 }),
    positions_document = lc.int(800, "document items per context (positions)", { min = 0 }),
    positions_code = lc.int(800, "code items per context (positions)", { min = 0 }),
    positions_database = lc.int(750, "database items per context (positions)", { min = 0 }),
    grid_lengths = lc.list("int", {}, "grid prompt lengths in tokens (e.g. 4096,8192,16384,32000); empty: no grid"),
    grid_depths = lc.int(10, "grid depths, evenly from 0 to 1", { min = 1 }),
    grid_repeats = lc.int(1, "grid probes per cell and needle kind", { min = 1 }),
    grid_needles = lc.list("string", { "single" }, "grid needle kinds: single, multikey, multivalue"),
    distractors = lc.int(3, "multikey: hard negatives per probe", { min = 1 }),
    values = lc.int(2, "multivalue: items sharing the key", { min = 2 }),
    template = lc.string(FILM, "the prompt: {context} and {instruction} are replaced (FILM's by default)"),
    chat = lc.bool(false, "measure prompts through the --tokenizer model's chat template"),
    rendered = lc.bool(false, "with chat: also write the rendered prompt text (meta.prompt_text, for raw completion)"),
    decontaminate = lc.file("a training output (JSONL) whose text no probe's gold item may be in", { lines = true }),
  },
  input = { sentence = "string?", piece = "string?", function_name = "string?", function_define = "string?",
            id = "any?", label = "string?", dcpt = "string?" },

  setup = plan,

  map = function(item, ctx)
    local pr, why
    if item.family == "film" then pr, why = film_probe(item, ctx) else pr = grid_probe(item, ctx) end
    if not pr then return lc.skip(why) end
    local kind = pr.kind
    local instruction = pr.instruction or SHAPES[kind].ask(pr.key)
    local prompt = fill(ctx.params.template, pr.context, instruction)
    local ptokens, rendered = pr.prompt_tokens, pr.rendered
    if not ptokens then ptokens, rendered = prompt_tokens(prompt, ctx.tokenizer, ctx.params) end
    local probe = gold_fields(kind, pr.piece, {
      kind = kind, family = item.family, key = pr.key,
      set_id = pr.set_id, position_id = pr.position_id, positions = pr.positions,
      depth = pr.depth, token_offset = pr.token_offset, byte_start = pr.byte_start,
      context_tokens = pr.context_tokens, prompt_tokens = ptokens, target_tokens = pr.target_tokens,
      grid = pr.grid, distractor_keys = pr.distractor_keys, contaminated = item.contaminated or nil,
    })
    if pr.golds then
      local answers = lc.json.array {}
      for i, g in ipairs(pr.golds) do answers[i] = gold_fields(kind, g, {}) end
      probe.answers = answers
    end
    local answer = probe.completion
    if probe.answers then
      local parts = {}
      for i, g in ipairs(probe.answers) do parts[i] = g.completion end
      answer = table.concat(parts, "\n")
    end
    local ex = lc.example()
    ex:user(prompt, false)
    ex:assistant(answer)
    ex:meta().probe = probe
    if rendered and ctx.params.rendered then ex:meta().prompt_text = rendered end
    return ex
  end,
}
