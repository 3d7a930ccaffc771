-- The extractive question writer: type I QA for IN2 without a teacher (no API
-- key). It is a rule, not a model, and says so: every pair has kind =
-- "extractive-cloze". It picks one sentence of the segment that holds a date,
-- a number or a capitalised name, blanks that span out, and asks for it back:
--
--   Fill in the blank with a year from the text: "The bridge opened in ____."
--   answer: "1932"
--
-- The answer is always a literal span of the segment (so it is grounded by
-- construction); the pair tests finding and copying that span, not
-- understanding. The same text and the same rng state give the same pair.
--
--   local extractive = require "lacuna.extractive"
--   local qa, why = extractive.question(segment_text, ctx.rng)
--   -- qa = {question =, answer =, kind = "extractive-cloze", answer_kind =
--   --       "date" | "year" | "number" | "name", sentence =, span = {b, e}}
--   -- span: the answer's bytes in the segment, 0-based, end exclusive.
local raise = require("lacuna.core").caller.error -- mistakes named at the recipe's line
local M = {}

M.KIND = "extractive-cloze"

-- Sentences of this many words make fair cloze questions.
M.MIN_WORDS, M.MAX_WORDS = 6, 60

local MONTHS = {}
for _, m in ipairs({ "January", "February", "March", "April", "May", "June", "July", "August", "September",
                     "October", "November", "December" }) do MONTHS[m] = true end
local NOT_NAMES = { I = true, Monday = true, Tuesday = true, Wednesday = true, Thursday = true, Friday = true,
                    Saturday = true, Sunday = true }
for m in pairs(MONTHS) do NOT_NAMES[m] = true end
-- Lower-case words that may join the capitalised words of one name.
local CONNECTORS = { of = true, de = true, da = true, del = true, van = true, von = true, la = true, le = true,
                     du = true, ["the"] = true }
-- Capitalised only because they open a sentence: a name may follow them. After
-- any other first word, a capitalised second word may continue a name that
-- the sentence opens with ("Machu Picchu is ..."), so it is not taken alone.
local OPENERS = {}
for w in ([[The A An In On At By For From Of To As And But It Its His Her Their Our This That These Those
  When While After Before During Since Until With Under Over According Many Most Some Both All Each Every
  Even Only Today Later Then Here There Although Because If Once About Around Nearly Almost Roughly
  Between Among Unlike Like Near Despite Following Within Through Without]]):gmatch("%a+") do
  OPENERS[w] = true
end
-- Words before a full stop that does not end a sentence.
local ABBREVIATIONS = {}
for _, a in ipairs({ "Mr", "Mrs", "Ms", "Dr", "St", "Mt", "Jr", "Sr", "vs", "etc", "e.g", "i.e", "c", "ca", "No",
                     "Co", "Inc", "Ltd", "Gen", "Col", "Capt", "Lt", "Prof", "Rev", "Fr", "approx", "Ft", "pp", "vol",
                     "Vol", "ch", "fig", "Fig", "ed", "no" }) do
  ABBREVIATIONS[a] = true
end

local PROMPTS = {
  date = "Fill in the blank with a date from the text: ",
  year = "Fill in the blank with a year from the text: ",
  number = "Fill in the blank with a number from the text: ",
  name = "Fill in the blank with a name from the text: ",
}

-- Sentences of text as {b, e} byte ranges (1-based, inclusive), trimmed.
function M.sentences(text)
  local out, start, i, n = {}, 1, 1, #text
  local function add(b, e)
    b = text:find("%S", b) or e + 1
    while e >= b and text:sub(e, e):match("%s") do e = e - 1 end
    if e >= b then out[#out + 1] = { b, e } end
  end
  while i <= n do
    local c = text:sub(i, i)
    if c == "\n" and text:sub(i + 1, i + 1) == "\n" then
      add(start, i - 1)
      start = i + 2
      i = i + 2
    elseif c == "." or c == "!" or c == "?" then
      local j = i + 1
      while text:sub(j, j):match("[\"')%]]") do j = j + 1 end
      local after = text:sub(j, j)
      local next_start = text:match("^%s+()", j)
      local word = text:sub(start, i - 1):match("([%a%.]+)$")
      local abbreviation = c == "." and word and (ABBREVIATIONS[word] or word:match("^%a$"))
      if after == "" or (next_start and not abbreviation and text:sub(next_start, next_start):match("[%u%d\"'(]")) then
        add(start, j - 1)
        start = next_start or j
        i = start
      else
        i = i + 1
      end
    else
      i = i + 1
    end
  end
  add(start, n)
  return out
end

-- Candidate answers in sentence s as {b, e, kind} (inclusive, 1-based in s).
local function dates(s, found)
  local function month_at(b) return MONTHS[s:match("^(%u%l+)", b) or ""] end
  for b, day, year, e in s:gmatch("()%u%l+ (%d%d?), (%d%d%d%d)()") do
    if month_at(b) and tonumber(day) <= 31 then found[#found + 1] = { b, e - 1, "date" } end
  end
  for b, day, month, e in s:gmatch("()(%d%d?) (%u%l+) %d%d%d%d()") do
    if MONTHS[month] and tonumber(day) <= 31 then found[#found + 1] = { b, e - 1, "date" } end
  end
  for b, month, e in s:gmatch("()(%u%l+) %d%d%d%d()") do
    if MONTHS[month] then found[#found + 1] = { b, e - 1, "date" } end
  end
end

local function overlaps(found, b, e)
  for _, f in ipairs(found) do
    if b <= f[2] and e >= f[1] then return true end
  end
  return false
end

local function numbers(s, found)
  local pos = 1
  while true do
    local b, e = s:find("%d[%d,]*", pos)
    if not b then return end
    local dec = s:match("^%.%d+()", e + 1)
    if dec then e = dec - 1 end
    while s:sub(e, e) == "," do e = e - 1 end
    if s:sub(e + 1, e + 1) == "%" then e = e + 1 end
    local before, after = s:sub(b - 1, b - 1), s:sub(e + 1, e + 1)
    -- Not part of a word or code (B2, COVID-19, 3rd).
    if not before:match("[%w%-]") and not after:match("[%a%-]") and not overlaps(found, b, e) then
      local digits = s:sub(b, e)
      local year = digits:match("^%d%d%d%d$") and tonumber(digits) >= 1000 and tonumber(digits) <= 2099
      found[#found + 1] = { b, e, year and "year" or "number" }
    end
    pos = e + 1
  end
end

local function names(s, found)
  local words = {}
  for b, w, e in s:gmatch("()([%w\128-\255'%-]+)()") do words[#words + 1] = { b = b, w = w, e = e - 1 } end
  local function cap(k) return words[k] and words[k].w:match("^%u") and not NOT_NAMES[words[k].w] end
  local k = 2 -- the first word of a sentence is capitalised anyway
  while k <= #words do
    local continues_opener = k == 2 and not OPENERS[words[1].w] and s:sub(words[1].e + 1, words[2].b - 1) == " "
    if cap(k) and s:sub(words[k - 1].e + 1, words[k].b - 1) ~= ". " and not continues_opener then
      local last = k
      while true do
        local gap = words[last + 1] and s:sub(words[last].e + 1, words[last + 1].b - 1)
        if gap == " " and cap(last + 1) then
          last = last + 1
        elseif gap == " " and CONNECTORS[words[last + 1].w] and cap(last + 2)
            and s:sub(words[last + 1].e + 1, words[last + 2].b - 1) == " " then
          last = last + 2
        else
          break
        end
      end
      local b, e = words[k].b, words[last].e
      if s:sub(e - 1, e) == "'s" then e = e - 2 end
      if not overlaps(found, b, e) then found[#found + 1] = { b, e, "name" } end
      k = last + 1
    else
      k = k + 1
    end
  end
end

local function word_count(s)
  local n = 0
  for _ in s:gmatch("%S+") do n = n + 1 end
  return n
end

-- Every candidate of text: {sentence = {b, e}, b, e, kind}, in text order.
function M.candidates(text)
  local out = {}
  for _, range in ipairs(M.sentences(text)) do
    local s = text:sub(range[1], range[2])
    local words = word_count(s)
    if words >= M.MIN_WORDS and words <= M.MAX_WORDS then
      local found = {}
      dates(s, found)
      numbers(s, found)
      names(s, found)
      table.sort(found, function(x, y) return x[1] < y[1] end)
      for _, f in ipairs(found) do
        out[#out + 1] = { sentence = range, b = range[1] + f[1] - 1, e = range[1] + f[2] - 1, kind = f[3] }
      end
    end
  end
  return out
end

local KIND_ORDER = { "date", "year", "number", "name" }

-- A type I QA pair from text, or nil and why none can be made. rng (a
-- lacuna.core.rng generator, e.g. ctx.rng) picks first the kind of answer
-- among those present, then one candidate of that kind.
function M.question(text, rng)
  if type(text) ~= "string" then raise("extractive.question: text must be a string, got " .. type(text)) end
  if type(rng) ~= "userdata" or not rng.int then raise("extractive.question: rng must be a lacuna rng") end
  local by_kind = {}
  for _, c in ipairs(M.candidates(text)) do
    by_kind[c.kind] = by_kind[c.kind] or {}
    table.insert(by_kind[c.kind], c)
  end
  local kinds = {}
  for _, k in ipairs(KIND_ORDER) do
    if by_kind[k] then kinds[#kinds + 1] = k end
  end
  if #kinds == 0 then
    return nil, string.format("no sentence of %d to %d words holds a date, a number or a name", M.MIN_WORDS,
      M.MAX_WORDS)
  end
  local kind = kinds[rng:int(#kinds)]
  local list = by_kind[kind]
  local c = list[rng:int(#list)]
  local sb, se = c.sentence[1], c.sentence[2]
  local sentence = text:sub(sb, se):gsub("%s+", " ")
  local cloze = (text:sub(sb, c.b - 1) .. "____" .. text:sub(c.e + 1, se)):gsub("%s+", " ")
  return {
    question = PROMPTS[kind] .. '"' .. cloze .. '"',
    answer = text:sub(c.b, c.e),
    kind = M.KIND,
    answer_kind = kind,
    sentence = sentence,
    span = { c.b - 1, c.e },
  }
end

-- Behind a C frame, so a recipe's `return lc.<fn>(bad)` (a tail call) keeps
-- the recipe's line for the error (core/caller.c).
local entry = require("lacuna.core").caller.entry
for k, f in pairs(M) do
  if type(f) == "function" then M[k] = entry(f) end
end

return M
