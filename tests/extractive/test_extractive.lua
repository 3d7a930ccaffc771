-- lacuna.extractive: sentence splitting, candidate spans and the cloze pairs
-- for fixed seeds (each checked by reading it: the blank is the answer's place,
-- the answer is the literal span).
local t = require "testlib"
local lc = require "lacuna"
local ex = require "lacuna.extractive"
local rng = lc.core.rng

local TEXT = "The Golden Gate Bridge spans the strait between San Francisco Bay and the Pacific Ocean. " ..
  "Construction began on January 5, 1933, under the chief engineer Joseph Strauss. " ..
  "When it opened in May 1937 it was the longest suspension bridge in the world, with a main span of 1,280 metres. " ..
  "Mr. Strauss died a year later. About 112,000 vehicles cross it on an average day."

t.test("sentences: full stops after abbreviations and initials do not end one", function()
  local got = {}
  for _, r in ipairs(ex.sentences(TEXT)) do got[#got + 1] = TEXT:sub(r[1], r[2]) end
  t.eq(#got, 5)
  t.eq(got[4], "Mr. Strauss died a year later.")
  local s = ex.sentences("Dr. A. B. Smith wrote it in 1901 (see p. 4). It sold well.\n\nA new paragraph")
  t.eq(#s, 3)
  t.eq(ex.sentences("One. two")[1][2], 8, "a lower-case word does not start a sentence")
end)

t.test("candidates: dates whole, numbers outside them, multi-word names", function()
  local got = {}
  for _, c in ipairs(ex.candidates(TEXT)) do got[#got + 1] = c.kind .. ":" .. TEXT:sub(c.b, c.e) end
  t.eq(got, { "name:Golden Gate Bridge", "name:San Francisco Bay", "name:Pacific Ocean", "date:January 5, 1933",
              "name:Joseph Strauss", "date:May 1937", "number:1,280", "number:112,000" })
  got = {}
  local s = "The treaty was signed at the Palace of Versailles in 1919 by 32 states, 4.5% of them COVID-19 free."
  for _, c in ipairs(ex.candidates(s)) do got[#got + 1] = c.kind .. ":" .. s:sub(c.b, c.e) end
  t.eq(got, { "name:Palace of Versailles", "year:1919", "number:32", "number:4.5%", "name:COVID-19" })
end)

t.test("a name that opens a sentence is not cut in half", function()
  local function names_of(s)
    local got = {}
    for _, c in ipairs(ex.candidates(s)) do got[#got + 1] = c.kind .. ":" .. s:sub(c.b, c.e) end
    return got
  end
  t.eq(names_of("Machu Picchu is a citadel built around 1450 by Pachacuti."), { "year:1450", "name:Pachacuti" })
  t.eq(names_of("Hiram Bingham reached Machu Picchu in July 1911 with a guide."),
    { "name:Machu Picchu", "date:July 1911" })
  t.eq(names_of("In Venice the doge Ludovico Manin abdicated."), { "name:Venice", "name:Ludovico Manin" })
end)

t.test("fixed seeds give these pairs", function()
  local want = {
    [1] = { 'Fill in the blank with a name from the text: "Construction began on January 5, 1933, under the chief ' ..
            'engineer ____."', "Joseph Strauss", "name", 153, 167 },
    [2] = { 'Fill in the blank with a number from the text: "About ____ vehicles cross it on an average day."',
            "112,000", "number", 318, 325 },
    [4] = { 'Fill in the blank with a date from the text: "Construction began on ____, under the chief engineer ' ..
            'Joseph Strauss."', "January 5, 1933", "date", 111, 126 },
    [5] = { 'Fill in the blank with a date from the text: "When it opened in ____ it was the longest suspension ' ..
            'bridge in the world, with a main span of 1,280 metres."', "May 1937", "date", 187, 195 },
  }
  for seed, w in pairs(want) do
    local qa = assert(ex.question(TEXT, rng.new(seed)))
    t.eq({ qa.question, qa.answer, qa.answer_kind, qa.span[1], qa.span[2] }, w, "seed " .. seed)
    t.eq(qa.kind, "extractive-cloze")
    t.eq(TEXT:sub(qa.span[1] + 1, qa.span[2]), qa.answer, "the span is the answer")
  end
end)

t.test("deterministic: the same text and rng state give the same pair", function()
  for seed = 1, 20 do
    local a, b = ex.question(TEXT, rng.new(seed, 7)), ex.question(TEXT, rng.new(seed, 7))
    t.eq(a, b)
    local cloze = a.sentence:gsub(a.answer:gsub("%p", "%%%0"), "____", 1)
    t.truthy(a.question:find(cloze, 1, true), "the question is the sentence with the answer blanked")
  end
end)

t.test("recipes reach it as lc.extractive", function()
  t.eq(lc.extractive, ex)
end)

t.test("no usable sentence: nil and the reason", function()
  local qa, why = ex.question("only lower case words here, nothing to ask about at all.", rng.new(1))
  t.eq(qa, nil)
  t.eq(why, "no sentence of 6 to 60 words holds a date, a number or a name")
  t.eq(ex.question("In 1900.", rng.new(1)), nil, "too short a sentence")
  t.raises(function() ex.question(nil, rng.new(1)) end, "text must be a string")
  t.raises(function() ex.question("x", {}) end, "rng must be a lacuna rng")
end)

t.test("the bundled corpus: valid, 300-1500 words a document, questions from nearly every paragraph", function()
  local path = assert(os.getenv("LACUNA_RECIPES"), "LACUNA_RECIPES") .. "/samples/corpus.jsonl"
  local ids, docs, paragraphs, without, bytes = {}, 0, 0, 0, 0
  for line in io.lines(path) do
    bytes = bytes + #line + 1
    local d = lc.json.decode(line)
    docs = docs + 1
    t.truthy(type(d.id) == "string" and not ids[d.id], "unique id: " .. tostring(d.id))
    ids[d.id] = true
    t.truthy(type(d.title) == "string" and d.title ~= "", d.id .. " has a title")
    local words = 0
    for _ in d.text:gmatch("%S+") do words = words + 1 end
    t.truthy(words >= 300 and words <= 1500, d.id .. ": " .. words .. " words")
    t.truthy(ex.question(d.text, rng.new(docs)), d.id .. " gives a question")
    for para in (d.text .. "\n\n"):gmatch("(.-)\n\n") do
      paragraphs = paragraphs + 1
      if not ex.question(para, rng.new(paragraphs)) then without = without + 1 end
    end
  end
  t.truthy(docs >= 40 and docs <= 80, docs .. " documents")
  t.truthy(bytes < 1000000, bytes .. " bytes")
  t.truthy(without <= paragraphs // 20, without .. " of " .. paragraphs .. " paragraphs give no question")
end)

t.done()
