-- prompt_erasure: Orca 2's cautious-reasoning data (DESIGN §1.1). The teacher
-- answers each question under a detailed system instruction that names a
-- reasoning strategy chosen for the question's category; the training example
-- replaces that instruction by a generic one, so the student learns to pick
-- the strategy itself. strategy=auto measures every strategy on gold-answered
-- items of each category in setup and keeps the most accurate. Every example
-- is checked for any sentence or 8-word run of any teacher instruction (the
-- erasure proof); an example that holds one fails its item, and finish fails
-- the run.
local lc = require "lacuna"

local ORCA_SYSTEM = "You are Orca, an AI language model created by Microsoft. You are a cautious assistant. " ..
  "You carefully follow instructions. You are helpful and harmless and you follow ethical guidelines and " ..
  "promote positive behavior."

-- The last sentence of every instruction fixes the answer's last line, so
-- that the gold check can read it; it is instruction text like the rest.
local LAST_LINE = " Finish with one last line that reads \"Final answer:\" followed by the answer alone."

local STRATEGIES = {
  step_by_step = "Solve the task by reasoning in explicit, numbered steps. Restate what the question asks and " ..
    "which facts it gives before you start. Derive each step only from the facts and the steps before it, " ..
    "and check every intermediate result before moving on. When the steps lead to a conclusion, state it " ..
    "plainly." .. LAST_LINE,
  recall_then_generate = "Before answering, recall the background knowledge that the task depends on: " ..
    "definitions, facts, rules or typical situations, written as a short list of statements that are true " ..
    "in general. Then write the answer using only what you recalled and what the task states. Keep the " ..
    "recalled statements separate from the answer itself." .. LAST_LINE,
  recall_reason_generate = "Work in three stages and label none of them. First bring to mind the relevant " ..
    "knowledge that the question presupposes and write it down briefly. Second reason over that knowledge " ..
    "and the question together, ruling out possibilities that contradict it. Third produce the answer that " ..
    "survives this reasoning and say why the others fail." .. LAST_LINE,
  explain_then_answer = "Start with a clear explanation of the concepts the task involves, as if teaching a " ..
    "curious student who has not met them before. Connect the explanation to the specific question that was " ..
    "asked, pointing out what makes it tricky. Only after the explanation is complete, give the answer " ..
    "that follows from it." .. LAST_LINE,
  direct_answer = "Give the answer immediately without any preamble or working. Do not explain how you " ..
    "reached it unless the task explicitly asks for an explanation. Keep the response as short as the " ..
    "task allows while remaining complete and correct." .. LAST_LINE,
}

-- Built by setup, only read by map (README: what a recipe may share across
-- items), except `leaks`: map adds the location of an example that failed the
-- erasure proof, a set that ends the same whatever the order, read by finish.
local state = { leaks = {} }

-- ---- text helpers ----

local function words_of(text)
  local words = {}
  for w in text:lower():gmatch("[%w\128-\255]+") do words[#words + 1] = w end
  return words
end

local function choice_lines(choices)
  if type(choices) ~= "table" then return nil end
  local letters, text_of = {}, {}
  if lc.json.is_array(choices) then
    for i, c in ipairs(choices) do
      local letter = string.char(64 + i)
      letters[i], text_of[letter] = letter, type(c) == "table" and tostring(c.text) or tostring(c)
    end
  else
    for letter, text in pairs(choices) do
      letters[#letters + 1], text_of[letter] = letter, tostring(text)
    end
    table.sort(letters)
  end
  local out = {}
  for i, l in ipairs(letters) do out[i] = string.format("(%s) %s", l, text_of[l]) end
  return table.concat(out, "\n")
end

local function user_prompt(rec)
  local lines = choice_lines(rec.choices)
  if not lines then return rec.question end
  return rec.question .. "\n\nAnswer choices:\n" .. lines
end

-- The response's final answer: what follows the last "Final answer:", else its last non-blank line.
local function final_answer(text)
  local found
  for a in text:gmatch("[Ff]inal [Aa]nswer%s*:%s*([^\n]*)") do found = a end
  if not found then
    for line in text:gmatch("[^\n]+") do
      if line:match("%S") then found = line end
    end
  end
  return found or ""
end

local function normalized(s) return table.concat(words_of(s), " ") end

-- Whether the response's final answer is the gold answer: the same words, or
-- the gold's words followed by more ("B" and "(B) Rome" for the gold "B";
-- "Paris" and "Paris, France" for "Paris"), or the text of the gold letter's
-- option when the record has choices.
local function correct(text, gold, choices)
  local got, want = normalized(final_answer(text)), normalized(tostring(gold))
  if want == "" then return false end
  if got == want or got:sub(1, #want + 1) == want .. " " then return true end
  local option = type(choices) == "table" and choices[tostring(gold)]
  if type(option) == "string" and normalized(option) ~= "" then
    local o = normalized(option)
    return got == o or got:sub(1, #o + 1) == o .. " "
  end
  return false
end

-- ---- the erasure proof ----

-- The index of every sentence (as its words) and every 8-word run of the
-- instructions: runs[run] and short[sentence] name the strategy.
local function leak_index(strategies)
  local runs, short = {}, {}
  for name, instruction in pairs(strategies) do
    local words = words_of(instruction)
    for i = 1, #words - 7 do runs[table.concat(words, " ", i, i + 7)] = name end
    for _, sentence in ipairs(lc.text.sentences(instruction)) do
      local sw = words_of(sentence)
      if #sw > 0 and #sw < 8 then short[table.concat(sw, " ")] = name end
    end
  end
  return { runs = runs, short = short }
end

-- nil when text holds no sentence and no 8-word run of an instruction, else what it holds.
local function leak_in(text, index)
  local words = words_of(text)
  for i = 1, #words - 7 do
    local run = table.concat(words, " ", i, i + 7)
    if index.runs[run] then
      return string.format("the 8-word run \"%s\" of strategy %s's instruction", run, index.runs[run])
    end
  end
  local padded = " " .. table.concat(words, " ") .. " "
  for sentence, name in pairs(index.short) do
    if padded:find(" " .. sentence .. " ", 1, true) then
      return string.format("the sentence \"%s\" of strategy %s's instruction", sentence, name)
    end
  end
end

-- Every text the example writes: each message's content and the metadata.
local function example_leak(ex, index)
  for _, m in ipairs(ex:snapshot()) do
    local what = leak_in(m.content, index)
    if what then return m.role .. " message holds " .. what end
  end
  local what = leak_in(lc.json.encode(ex:meta()), index)
  if what then return "the metadata holds " .. what end
end

-- ---- strategies and calibration ----

-- A plain copy of param data (run.params hands out read-only proxies).
local function plain(v)
  if v == lc.null or (type(v) ~= "table" and type(v) ~= "userdata") then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = plain(x) end
  return c
end

-- A JSON object given as a param: a table whose keys are all strings.
local function is_object(t)
  if type(t) ~= "table" then return false end
  for k in pairs(t) do
    if type(k) ~= "string" then return false end
  end
  return true
end

-- The strategy table of the `strategies` param: name -> instruction (a
-- string, or an object with an `instruction` string).
local function read_strategies(t)
  if not is_object(t) or next(t) == nil then
    error("strategies must be a JSON object of strategy name -> instruction", 0)
  end
  local out = {}
  for name, v in pairs(t) do
    if type(v) == "table" then v = v.instruction end
    if type(v) ~= "string" or not v:match("%S") then
      error("strategies." .. tostring(name) .. ": expected an instruction string (or {\"instruction\": ...})", 0)
    end
    if name == "auto" then error("strategies: 'auto' is reserved for calibration", 0) end
    out[name] = v
  end
  return out
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function category_of(rec, field)
  local c = rec[field]
  if c == nil or c == lc.null then return "(none)" end
  if type(c) == "table" then return lc.json.encode(c) end
  return tostring(c)
end

-- setup streams the inputs before the items read them again: stdin cannot be read twice.
local function check_rereadable(run, why)
  for _, path in ipairs(run.inputs) do
    if path == "-" then error(why .. " reads the inputs in setup and again for the items: give a file, not stdin", 0) end
  end
end

local function has_gold(rec)
  return rec.answer ~= nil and rec.answer ~= lc.null and tostring(rec.answer):match("%S") ~= nil
end

local function teacher_request(p, instruction, rec)
  return { messages = { { role = "system", content = instruction }, { role = "user", content = user_prompt(rec) } },
           temperature = p.temperature, max_tokens = p.max_tokens }
end

-- Answers the calibration items of each auto category with every strategy
-- (all at once) and keeps the most accurate; ties go to the shorter answers.
local function calibrate(run, picked, names)
  local p, reqs, slots = run.params, {}, {}
  for _, cat in ipairs(sorted_keys(picked)) do
    for _, item in ipairs(picked[cat]) do
      local rec = item.rec
      for _, name in ipairs(names) do
        reqs[#reqs + 1] = teacher_request(p, state.strategies[name], rec)
        slots[#slots + 1] = { cat = cat, name = name, gold = rec.answer, choices = rec.choices, key = item.key }
      end
    end
  end
  local replies = run.teacher:chat_many(reqs)
  local tally = {}
  for i, r in ipairs(replies) do
    local s = slots[i]
    tally[s.cat] = tally[s.cat] or {}
    local t = tally[s.cat][s.name] or { items = 0, correct = 0, tokens = 0 }
    tally[s.cat][s.name] = t
    t.items = t.items + 1
    if correct(r.text or "", s.gold, s.choices) then t.correct = t.correct + 1 end
    t.tokens = t.tokens + run.tokenizer:count(r.text or "")
  end
  local report, chosen = {}, {}
  local header = { string.format("%-16s", "category") }
  for _, name in ipairs(names) do header[#header + 1] = string.format("%-24s", name) end
  local lines = { "calibration: correct/items (mean answer tokens) per strategy, " ..
    (run.tokenizer.approximate and "approximate tokens" or "tokens of " .. run.tokenizer.name),
    table.concat(header, " ") .. " chosen" }
  for _, cat in ipairs(sorted_keys(tally)) do
    local best, row, per = nil, { string.format("%-16s", cat) }, {}
    for _, name in ipairs(names) do
      local t = tally[cat][name]
      t.accuracy, t.mean_tokens = t.correct / t.items, t.tokens / t.items
      per[name] = { items = t.items, correct = t.correct, accuracy = t.accuracy, mean_tokens = t.mean_tokens }
      row[#row + 1] = string.format("%-24s", string.format("%d/%d (%.0f)", t.correct, t.items, t.mean_tokens))
      if not best or t.accuracy > best.accuracy
        or (t.accuracy == best.accuracy and t.mean_tokens < best.mean_tokens) then
        best = t
        best.name = name
      end
    end
    chosen[cat] = best.name
    -- The chosen strategy's replies serve the calibration items if they are
    -- reused, so that nothing is paid twice even without the cache.
    for i, r in ipairs(replies) do
      if slots[i].cat == cat and slots[i].name == best.name then
        state.calibrated[slots[i].key] = { text = r.text, finish_reason = r.finish_reason }
      end
    end
    report[cat] = { chosen = best.name, strategies = per }
    lines[#lines + 1] = table.concat(row, " ") .. " " .. best.name
  end
  run:log(table.concat(lines, "\n"))
  return chosen, report
end

local function plan(run)
  local p = run.params
  if not run.teacher_configured then
    error("prompt_erasure needs a teacher: run with --model MODEL (and OPENAI_API_KEY / --base-url)", 0)
  end
  state.leaks = {}
  state.strategies = read_strategies(plain(p.strategies))
  local names = sorted_keys(state.strategies)
  state.index = leak_index(state.strategies)
  local what = leak_in(p.system, state.index)
  if what then error("the student's system message holds " .. what .. ": it would fail every example", 0) end
  local function check_choice(choice, where)
    if choice ~= "auto" and not state.strategies[choice] then
      error(string.format("%s: unknown strategy '%s' (strategies: %s, or auto)", where, tostring(choice),
        table.concat(names, ", ")), 0)
    end
  end
  check_choice(p.strategy, "strategy")
  local mapping = plain(p.mapping)
  if not is_object(mapping) then error("mapping must be a JSON object of category -> strategy name (or auto)", 0) end
  for cat, choice in pairs(mapping) do check_choice(choice, "mapping." .. cat) end
  local function wanted(cat)
    local m = mapping[cat]
    if m == nil then return p.strategy end
    return m
  end
  state.strategy_of, state.calibration, state.calibrated = {}, {}, {}
  local needs_auto = p.strategy == "auto"
  for _, choice in pairs(mapping) do needs_auto = needs_auto or choice == "auto" end
  local report = { strategy = p.strategy, mapping = lc.json.object(mapping) }
  if needs_auto then
    check_rereadable(run, "strategy=auto")
    -- The first calibration_items gold-answered records of each auto category, in input order.
    local picked, seen = {}, {}
    for rec, file, line in run:records() do
      local cat = category_of(rec, p.category_field)
      if wanted(cat) == "auto" then
        seen[cat] = true
        picked[cat] = picked[cat] or {}
        if has_gold(rec) and #picked[cat] < p.calibration_items then
          table.insert(picked[cat], { rec = rec, key = file .. ":" .. line })
          state.calibration[file .. ":" .. line] = cat
        end
      end
    end
    for _, cat in ipairs(sorted_keys(seen)) do
      if #picked[cat] == 0 then
        error(string.format("category %s: strategy auto needs items with a gold answer ('answer'), and it has none;" ..
          " map it to a strategy with -p mapping=...", cat), 0)
      end
    end
    local chosen, table_ = calibrate(run, picked, names)
    for cat, name in pairs(chosen) do state.strategy_of[cat] = name end
    report.calibration = { items_per_category = p.calibration_items, reused = p.reuse_calibration,
                           categories = table_ }
  end
  state.wanted = wanted
  report.strategies = names
  run:report("strategies", report)
end

return lc.recipe {
  name = "prompt_erasure",
  version = "1.0.0",
  summary = "Orca 2 cautious-reasoning data: strategy-specific teacher instructions, erased for the student",
  cite = "Mitra et al. 2023, Orca 2: Teaching Small Language Models How to Reason, arXiv 2311.11045",
  description = [[
Orca 2's prompt erasure (DESIGN §1.1). Each record {question, answer?, category?,
choices?} is answered by the teacher under the detailed system instruction of the
strategy its category maps to (`mapping`, else `strategy`); the example the student
sees carries the generic `system` message (Orca 2's by default) instead, and only the
assistant turn is trained. `strategies` is the table of instructions (built in:
step_by_step, recall_then_generate, recall_reason_generate, explain_then_answer,
direct_answer), replaceable with -p strategies=@FILE.json. strategy=auto (or a
category mapped to auto) answers the first calibration_items gold-answered records of
each such category with every strategy in setup, keeps the most accurate (ties: the
shorter mean answer), prints the table and puts it in the manifest (report.strategies);
those records are skipped as calibration items unless reuse_calibration is set.
gold_check turns answers that miss the gold answer into skips. Erasure proof: an
example whose text or metadata holds any sentence or any 8-word run (case and
punctuation ignored) of any instruction fails its item, and finish fails the run.]],
  params = {
    strategy = lc.string("step_by_step", "strategy for categories the mapping leaves out, or auto"),
    mapping = lc.json(lc.json.object {}, "category -> strategy name or auto (JSON object, or @FILE.json)"),
    strategies = lc.json(STRATEGIES, "strategy name -> detailed teacher instruction (JSON object, or @FILE.json)"),
    system = lc.string(ORCA_SYSTEM, "the generic system message the student sees"),
    category_field = lc.string("category", "the input field holding the task category"),
    calibration_items = lc.int(8, "strategy=auto: gold-answered items per category tried with every strategy",
      { min = 1 }),
    reuse_calibration = lc.bool(false, "strategy=auto: also make training examples of the calibration items"),
    gold_check = lc.bool(false, "skip answers that do not match the record's gold answer"),
    temperature = lc.number(0.0, "the teacher's sampling temperature", { min = 0 }),
    max_tokens = lc.int(1024, "the teacher's answer, at most, in tokens", { min = 1 }),
  },
  input = { question = "string", answer = "any?", choices = "any?" },
  examples = {
    { question = "What is 17 + 25?", answer = "42", category = "arithmetic" },
  },

  setup = plan,

  map = function(rec, ctx)
    local p = ctx.params
    local cat = category_of(rec, p.category_field)
    if state.calibration[ctx.file .. ":" .. ctx.line] and not p.reuse_calibration then
      return lc.skip(string.format("calibration item of category %s (reuse_calibration=true trains on it)", cat))
    end
    local name = state.wanted(cat)
    if name == "auto" then name = state.strategy_of[cat] end
    local r = state.calibrated[ctx.file .. ":" .. ctx.line]
      or ctx.teacher:chat(teacher_request(p, state.strategies[name], rec))
    local answer = r.text or ""
    if r.finish_reason == "length" then
      return lc.skip(string.format("the teacher's answer was cut at max_tokens=%d (strategy %s)", p.max_tokens, name))
    end
    if not answer:match("%S") then return lc.skip("the teacher's answer is empty (strategy " .. name .. ")") end
    local right = nil
    if has_gold(rec) then right = correct(answer, rec.answer, rec.choices) end
    if p.gold_check and has_gold(rec) and not right then
      return lc.skip(string.format("gold check: the teacher's final answer %q is not the gold answer %q (strategy %s)",
        final_answer(answer), tostring(rec.answer), name))
    end
    local ex = lc.example()
    ex:system(p.system, false)
    ex:user(user_prompt(rec), false)
    ex:assistant(answer, true)
    ex:meta().orca = { category = cat, strategy = name, correct = right }
    local leak = example_leak(ex, state.index)
    if leak then
      state.leaks[#state.leaks + 1] = ctx.file .. ":" .. ctx.line
      error("erasure proof failed: the " .. leak, 0)
    end
    return ex
  end,

  finish = function(run, summary)
    if #state.leaks > 0 then
      local where = {}
      for i, w in ipairs(state.leaks) do where[i] = w end
      table.sort(where)
      error(string.format("erasure proof failed: %d example(s) held teacher instruction text (%s%s); they are " ..
        "recorded as failures and not written", #where, table.concat(where, ", ", 1, math.min(#where, 5)),
        #where > 5 and ", ..." or ""), 0)
    end
  end,
}
