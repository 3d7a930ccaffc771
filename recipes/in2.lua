-- in2: information-intensive long-context data (IN2, FILM-7B; DESIGN §1.3).
-- setup splits every document into ~128-token segments in an lc.text pool and
-- plans the work items; each item asks one question about one segment (type I)
-- or several segments of one document (type II), and hides them, at uniformly
-- drawn depths, among segments of other documents up to a target length.
local lc = require "lacuna"

local FILM = "Below is a context and an instruction. Based on the information provided in the context, " ..
  "write a response for the instruction.\n\n### Context:\n{context}\n\n### Instruction:\n{instruction}"

-- Built by setup, only read by map (README: what a recipe may share across items).
local state = {}

-- ---- groundedness: the answer's content words must occur in the needles ----

local STOPWORDS = {}
for w in ([[a an the and or but nor of to in on at by for from with without into onto over under about
  as is are was were be been being am do does did done has have had having it its it's this that these those
  there here which who whom whose what when where why how than then so such not no yes very too also just
  only both each either neither any all some many much more most other another same own he she they them
  his her their our your my me we us you him i one s]]):gmatch("[%a']+") do
  STOPWORDS[w] = true
end

local function words_of(text)
  local set = {}
  for w in text:lower():gmatch("[%w\128-\255]+") do set[w] = true end
  return set
end

-- nil if every content word of answer occurs in the needle texts, else why not.
-- A word with non-ASCII bytes may be part of a longer run there (CJK has no
-- spaces: 北京 inside 我们去北京), so it only has to occur in the text.
local function ungrounded(answer, needle_texts)
  local joined = table.concat(needle_texts, "\n")
  local have, lower = words_of(joined), joined:lower()
  local content, missing, seen = 0, {}, {}
  for word in answer:gmatch("[%w\128-\255]+") do
    local w = word:lower()
    -- An acronym is content even when it spells a stopword (WHO, IT).
    if not seen[w] and (not STOPWORDS[w] or (#word > 1 and not word:find("%l"))) then
      seen[w] = true
      content = content + 1
      if not have[w] and not (w:find("[\128-\255]") and lower:find(w, 1, true)) then missing[#missing + 1] = w end
    end
  end
  if content == 0 then
    return string.format("ungrounded: the answer %q has no content word to find in the needle segments", answer)
  end
  if #missing > 0 then
    return "ungrounded: the answer's words " .. table.concat(missing, ", ", 1, math.min(#missing, 5)) ..
      (#missing > 5 and ", ..." or "") .. " are not in the needle segments"
  end
end

-- ---- question writers ----

local QA_SCHEMA = {
  type = "object", required = { "question", "answer" },
  properties = { question = { type = "string" }, answer = { type = "string" } },
}

local function valid_qa(obj)
  for _, k in ipairs({ "question", "answer" }) do
    if not obj[k]:match("%S") then return false, k .. " is empty" end
  end
  if #obj.question > 1000 then return false, "question is longer than 1000 bytes" end
  if #obj.answer > 2000 then return false, "answer is longer than 2000 bytes" end
  return true
end

local function teacher_prompt(texts)
  if #texts == 1 then
    return "Here is a passage:\n\n" .. texts[1] .. "\n\nWrite one question that can be answered from this " ..
      "passage alone, and its answer, using the passage's own words. Reply with only a JSON object " ..
      '{"question": "...", "answer": "..."}.'
  end
  local parts = {}
  for i, t in ipairs(texts) do parts[i] = string.format("Passage %d:\n%s", i, t) end
  return string.format("Here are %d passages from one document:\n\n%s\n\nWrite one question whose answer " ..
    "needs information from at least two of the passages, and its answer, using the passages' own words. " ..
    'Reply with only a JSON object {"question": "...", "answer": "..."}.', #texts, table.concat(parts, "\n\n"))
end

-- {question, answer, source, ...} for the needle texts, or nil, reason (a skip).
local function write_qa(texts, ctx)
  if ctx.params.qa == "extractive" then
    local qa, why = lc.extractive.question(texts[1], ctx.rng)
    if not qa then return nil, "extractive: " .. why end
    return { question = qa.question, answer = qa.answer, source = qa.kind, answer_kind = qa.answer_kind }
  end
  local obj = ctx.teacher:chat_json {
    messages = { { role = "user", content = teacher_prompt(texts) } },
    temperature = ctx.params.temperature, schema = QA_SCHEMA, validate = valid_qa,
  }
  return { question = obj.question, answer = obj.answer, source = "teacher" }
end

-- ---- contexts ----

local function fill(template, context, instruction)
  local a, b = template:find("{context}", 1, true)
  local text = template:sub(1, a - 1) .. context .. template:sub(b + 1)
  local c, d = text:find("{instruction}", a + #context, true)
  return text:sub(1, c - 1) .. instruction .. text:sub(d + 1)
end

local function needle_meta(depth, token, b, e)
  return lc.json.object { depth = depth, token_offset = token, byte_span = lc.json.array { b, e } }
end

-- A long context: the needle slots among fillers of other documents.
local function long_context(item, ctx)
  local c, err = state.pool:context(ctx.rng, { target = item.target, needles = item.slots })
  if not c then error("context of " .. item.target .. " tokens: " .. err, 0) end
  local needles, order = lc.json.array {}, {}
  for i, n in ipairs(c.needles) do
    needles[i] = needle_meta(n.depth, n.token, n.byte_start, n.byte_end)
    order[i] = n
  end
  local in2 = { kind = item.kind, context_tokens = c.tokens, target_tokens = item.target, needles = needles }
  if #order > 1 then -- type II: the tokens between the first needle's end and the last one's start
    table.sort(order, function(x, y) return x.token < y.token end)
    in2.gap = math.max(0, order[#order].token - (order[1].token + order[1].tokens))
  end
  return c.text, in2
end

-- Byte offsets (0-based) where the sentences of text start, and where they end.
local function sentence_bounds(text)
  local starts, ends, pos = {}, {}, 1
  for _, sentence in ipairs(lc.text.sentences(text)) do
    local b, e = text:find(sentence, pos, true)
    starts[#starts + 1], ends[#ends + 1] = b - 1, e
    pos = e + 1
  end
  return starts, ends
end

-- The neighbouring segments of slot's document on one side (step -1 or 1),
-- nearest first, until they hold `budget` tokens, joined in text order.
local function neighbours(slot, step, budget)
  local doc_slots = state.slots_of[state.doc_of[slot]]
  local at
  for i, s in ipairs(doc_slots) do
    if s == slot then at = i end
  end
  local parts, tokens, i = {}, 0, at + step
  while doc_slots[i] and tokens < budget do
    local text = state.pool:get(doc_slots[i])
    if step < 0 then table.insert(parts, 1, text) else parts[#parts + 1] = text end
    tokens = tokens + state.tokens_of[doc_slots[i]] + 1
    i = i + step
  end
  return table.concat(parts, "\n")
end

-- The non-needle tokens of a short context with the needle at `depth`, given
-- `room` for them and nb, na tokens of text before and after the needle:
-- as many as fit with depth's share of them before the needle.
local function short_rest(depth, room, nb, na)
  local rest = room
  if depth > 0 then rest = math.min(rest, nb / depth) end
  if depth < 1 then rest = math.min(rest, na / (1 - depth)) end
  return math.floor(rest)
end

-- A short item's needle: the segment of its document around which a short
-- context holds the most text with the needle at a uniformly drawn depth
-- (ties drawn at random). Returns the slot and the depth.
local function short_needle(item, ctx)
  local doc_slots = state.slots_of[item.doc]
  local depth, best, ties = ctx.rng:float(), -1, {}
  local before, total = {}, 0
  for i, s in ipairs(doc_slots) do
    before[i] = total
    total = total + state.tokens_of[s] + 1
  end
  for i, s in ipairs(doc_slots) do
    local room = math.max(0, ctx.params.short_tokens - state.tokens_of[s] - 2)
    local rest = short_rest(depth, room, before[i], total - before[i] - state.tokens_of[s] - 1)
    if rest > best then
      best, ties = rest, { s }
    elseif rest == best then
      ties[#ties + 1] = s
    end
  end
  return ties[ctx.rng:int(#ties)], depth
end

-- A short context: the needle within the original text of its document, at
-- most short_tokens long, cut at sentence boundaries so that the needle sits
-- near `depth` (as near as its place in the document allows).
local function short_context(slot, depth, ctx)
  local tok = ctx.tokenizer
  local needle = (state.pool:get(slot))
  local room = math.max(0, ctx.params.short_tokens - state.tokens_of[slot] - 2)
  local before, after = neighbours(slot, -1, room), neighbours(slot, 1, room)
  local rest = short_rest(depth, room, lc.text.count(before, tok), lc.text.count(after, tok))
  local want = math.floor(depth * rest + 0.5)
  -- The earliest sentence start of `before` whose rest fits in `want` tokens;
  -- the latest sentence end of `after` within rest - (what before got).
  local starts = sentence_bounds(before)
  local cut = #before
  for _, b in ipairs(starts) do
    if lc.text.count(before:sub(b + 1), tok) <= want then
      cut = b
      break
    end
  end
  before = before:sub(cut + 1)
  local left = rest - lc.text.count(before, tok)
  local _, ends = sentence_bounds(after)
  local keep = 0
  for i = #ends, 1, -1 do
    if lc.text.count(after:sub(1, ends[i]), tok) <= left then
      keep = ends[i]
      break
    end
  end
  after = after:sub(1, keep)
  local parts = {}
  if before ~= "" then parts[#parts + 1] = before end
  local b = before ~= "" and #before + 1 or 0
  parts[#parts + 1] = needle
  if after ~= "" then parts[#parts + 1] = after end
  local text = table.concat(parts, "\n")
  local e = b + #needle
  local total = assert(lc.text.count(text, tok))
  local at = assert(lc.text.token_index(text, { b, e }, tok))
  local others = total - (at[2] - at[1])
  local depth = others > 0 and math.min(1.0, at[1] / others) or 0.0
  return text, { kind = "short", context_tokens = total,
                 needles = lc.json.array { needle_meta(depth, at[1], b, e) } }
end

-- ---- the plan ----

-- Groups the pool's slots by document (in slot order: text order unless the
-- pool overflowed its capacity and replaced some).
local function index_pool(pool)
  local doc_of, tokens_of, slots_of, docs = {}, {}, {}, {}
  local doc_tokens, total = {}, 0
  for s = 1, pool:size() do
    local _, tokens, doc = pool:get(s)
    doc_of[s], tokens_of[s] = doc, tokens
    if not slots_of[doc] then
      slots_of[doc] = {}
      docs[#docs + 1] = doc
      doc_tokens[doc] = 0
    end
    table.insert(slots_of[doc], s)
    doc_tokens[doc] = doc_tokens[doc] + tokens
    total = total + tokens
  end
  table.sort(docs)
  return { doc_of = doc_of, tokens_of = tokens_of, slots_of = slots_of, docs = docs, doc_tokens = doc_tokens,
           total = total }
end

-- Integers spread evenly over [lo, hi]: one per stratum of n, jittered, shuffled.
local function spread(n, lo, hi, rng)
  local out = {}
  for k = 0, n - 1 do
    out[k + 1] = math.floor(lo + (hi - lo + 1) * (k + rng:float()) / n)
  end
  rng:shuffle(out)
  return out
end

local function plan(run)
  local p = run.params
  -- Stop once here rather than fail every item with the teacher's "no model".
  if p.qa == "teacher" and not run.teacher_configured then
    error("qa=teacher needs a model: run with --model MODEL (and OPENAI_API_KEY / --base-url), " ..
      "or without a key with -p qa=extractive", 0)
  end
  if p.min_tokens < 17 then
    error("min_tokens must be at least 17 (contexts land within 16 tokens below their target)", 0)
  end
  if p.max_tokens < p.min_tokens + 16 then
    error(string.format("max_tokens (%d) must be at least min_tokens + 16 (%d)", p.max_tokens, p.min_tokens + 16), 0)
  end
  -- A long context holds its needles whole: as many segments as an item can
  -- take, each up to segment_tokens and a separator, within the shortest target.
  local most = p.qa == "teacher" and p.type2 > 0 and p.type2_segments or 1
  if most * (p.segment_tokens + 1) > p.min_tokens then
    error(string.format("min_tokens (%d) must hold an item's needles: %d segment%s of up to segment_tokens = %d " ..
      "tokens; give -p min_tokens=%d or more, or a smaller segment_tokens", p.min_tokens, most,
      most > 1 and "s" or "", p.segment_tokens, most * (p.segment_tokens + 1)), 0)
  end
  if p.short > 0 and p.short_tokens < p.segment_tokens then
    error(string.format("short_tokens (%d) must hold a needle segment of up to segment_tokens = %d tokens " ..
      "(or -p short=0)", p.short_tokens, p.segment_tokens), 0)
  end
  local a, b = p.template:find("{context}", 1, true)
  if not a or not p.template:find("{instruction}", b + 1, true) then
    error("template must hold {context} and, after it, {instruction}", 0)
  end
  local rng = lc.rng(run.seed, 0x696e32) -- "in2": setup's own stream
  local pool = lc.text.pool { capacity = p.pool_capacity, rng = rng, tokenizer = run.tokenizer }
  local ids, n = {}, 0
  for rec, file, line in run:records() do
    n = n + 1
    ids[n] = rec.id ~= nil and rec.id ~= lc.null and rec.id or n
    local ok, err = pool:add_document(rec.text, n, p.segment_tokens)
    if not ok then error(string.format("%s:%d: text: %s", file, line, err), 0) end
  end
  local ix = index_pool(pool)
  if ix.total == 0 then error("no text to segment: the inputs hold no document with text", 0) end
  state.pool, state.ids = pool, ids
  state.doc_of, state.tokens_of, state.slots_of = ix.doc_of, ix.tokens_of, ix.slots_of

  -- Every long context needs max_tokens of fillers from other documents.
  local largest = 0
  for _, d in ipairs(ix.docs) do largest = math.max(largest, ix.doc_tokens[d]) end
  local fillers = math.max(0, ix.total - largest - pool:size())
  if fillers < p.max_tokens then
    local fix = fillers >= p.min_tokens + 16 and string.format(" or -p max_tokens=%d or less", fillers) or ""
    local st = pool:stats()
    if st.offered > st.segments then
      fix = fix .. string.format(" (pool_capacity = %d kept %d of %d segments)", p.pool_capacity, st.segments,
        st.offered)
    end
    error(string.format("the pool holds %d tokens outside its largest document (less one per separator), too " ..
      "few for contexts of max_tokens = %d: give more documents%s", fillers, p.max_tokens, fix), 0)
  end

  local segments = pool:size()
  local count = p.items > 0 and p.items or segments
  local multi = {} -- documents with 2+ segments (type II, and short contexts that have neighbours)
  for _, d in ipairs(ix.docs) do
    if #ix.slots_of[d] >= 2 then multi[#multi + 1] = d end
  end
  local n_short = math.floor(count * p.short + 0.5)
  local type2 = p.qa == "teacher" and #multi > 0 and p.type2 or 0
  local n_two = math.floor((count - n_short) * type2 + 0.5)
  local n_one = count - n_short - n_two
  local kinds = {}
  for _ = 1, n_one do kinds[#kinds + 1] = "I" end
  for _ = 1, n_two do kinds[#kinds + 1] = "II" end
  for _ = 1, n_short do kinds[#kinds + 1] = "short" end
  rng:shuffle(kinds)
  local targets = spread(n_one + n_two, p.min_tokens + 16, p.max_tokens, rng)

  -- Type I needles walk through a shuffled list of every segment (again
  -- reshuffled when more items than segments are planned).
  local order, next_seg = {}, 1
  local function next_segment()
    if next_seg > #order then
      for s = 1, segments do order[s] = s end
      rng:shuffle(order)
      next_seg = 1
    end
    next_seg = next_seg + 1
    return order[next_seg - 1]
  end
  local items, t = {}, 0
  for i, kind in ipairs(kinds) do
    local item = { kind = kind }
    if kind == "II" then
      local slots = ix.slots_of[multi[rng:int(#multi)]]
      local k = rng:int(2, math.min(p.type2_segments, #slots))
      local picked = {}
      for j, s in ipairs(rng:sample(slots, k)) do picked[j] = s end
      table.sort(picked)
      item.slots = picked
    elseif kind == "short" then -- map picks the segment (short_needle)
      item.doc = #multi > 0 and multi[rng:int(#multi)] or ix.doc_of[next_segment()]
    else
      item.slots = { next_segment() }
    end
    if kind ~= "short" then
      t = t + 1
      item.target = targets[t]
    end
    items[i] = item
  end

  run:report("plan", {
    documents = n, segments = segments, segments_offered = pool:stats().offered, corpus_tokens = ix.total,
    items = count, type_I = n_one, type_II = n_two, short = n_short, qa = p.qa,
    tokenizer = run.tokenizer.approximate and "approximate" or "exact",
    note = p.qa == "extractive" and p.type2 > 0
      and "qa=extractive: type II questions need a teacher, so only type I and short items are planned" or nil,
  })
  return items
end

return lc.recipe {
  name = "in2",
  version = "1.0.0",
  summary = "IN2 long-context QA (FILM-7B): needles at uniform depths in 4K-32K-token contexts",
  description = [[
Information-intensive training data (An et al. 2024, "Make Your LLM Fully Utilize the
Context"; DESIGN §1.3). setup splits each input document ({id?, title?, text}) into
segments of about segment_tokens tokens in a pool and plans `items` work items: type I
(a question answered by one segment), type II (by 2..type2_segments segments of one
document) and a `short` share that keeps the original text around the segment as the
context. Long contexts hide the needle segments among segments of other documents,
each needle at its own uniformly drawn depth, with target lengths spread evenly over
[min_tokens, max_tokens]. Questions come from the teacher as JSON {question, answer},
or with qa=extractive (no API key) from lc.extractive: a cloze on a sentence of the
segment holding a date, number or name, labelled "extractive-cloze"; that mode makes
type I and short items only. An answer whose content words are not all in the needle
segments is skipped as ungrounded. Only the answer is trained; every example carries
meta.in2 (kind, context_tokens, target_tokens, needles with depth, token_offset and
byte_span in the context, and the type II gap) for `lacuna stats`.]],
  params = {
    qa = lc.enum({ "teacher", "extractive" }, "teacher",
      "who writes the questions: the teacher, or rules (extractive, no API key: type I only)"),
    items = lc.int(0, "work items to plan (0: one per segment in the pool)", { min = 0 }),
    segment_tokens = lc.int(128, "tokens per segment, at most", { min = 8 }),
    min_tokens = lc.int(4096, "shortest long context, tokens", { min = 1 }),
    max_tokens = lc.int(32768, "longest long context, tokens", { min = 1 }),
    short = lc.number(0.1, "share of short-context items", { min = 0, max = 1 }),
    short_tokens = lc.int(1024, "a short context's length, at most, in tokens", { min = 1 }),
    type2 = lc.number(0.2, "share of type II among the long items (teacher mode)", { min = 0, max = 1 }),
    type2_segments = lc.int(3, "a type II item's segments, at most (at least 2)", { min = 2 }),
    template = lc.string(FILM, "the prompt: {context} and {instruction} are replaced (FILM's by default)"),
    temperature = lc.number(0.7, "the teacher's sampling temperature", { min = 0 }),
    pool_capacity = lc.int(1000000, "segments kept in the pool (reservoir-sampled beyond)", { min = 1 }),
  },
  input = { text = "string", id = "any?", title = "string?" },

  setup = plan,

  map = function(item, ctx)
    local slots, depth = item.slots, nil
    if item.kind == "short" then
      local slot
      slot, depth = short_needle(item, ctx)
      slots = { slot }
    end
    local texts = {}
    for i, s in ipairs(slots) do texts[i] = (state.pool:get(s)) end
    local qa, why = write_qa(texts, ctx)
    if not qa then return lc.skip(why) end
    why = ungrounded(qa.answer, texts)
    if why then return lc.skip(why) end
    local context, in2
    if item.kind == "short" then
      context, in2 = short_context(slots[1], depth, ctx)
    else
      context, in2 = long_context(item, ctx)
    end
    local ex = lc.example()
    ex:user(fill(ctx.params.template, context, qa.question), false)
    ex:assistant(qa.answer, true)
    local meta = ex:meta()
    meta.in2 = in2
    meta.qa = { source = qa.source, answer_kind = qa.answer_kind,
                document = state.ids[state.doc_of[slots[1]]], segments = #slots }
    return ex
  end,
}
