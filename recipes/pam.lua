-- pam: intrinsic self-correction data with Partial Answer Masking (Han et al.,
-- AAAI-24; DESIGN §1.2). An attempt model answers each question k times with
-- chain of thought; each attempt is checked against the gold answer. A right
-- attempt makes a good case (attempt, positive verification); a wrong one a
-- bad case (attempt, negative verification, the teacher's explanation given
-- the truth, the right answer), in ONE assistant turn whose first attempt
-- carries no loss: the loss starts at the verification.
local lc = require "lacuna"

-- ---- paraphrase lists (each replaceable with -p NAME=FILE, one a line) ----

local TASK_PROMPTS = {
  "Answer the following multiple-choice question.",
  "Choose the best answer to the question below.",
  "Read the question and pick the correct option.",
  "Select the most appropriate answer from the choices given.",
  "Here is a question with several possible answers; choose the right one.",
  "Pick the option that best answers this question.",
  "Decide which of the answer choices is correct.",
  "Answer this question by choosing one of the options.",
}

local COT_PROMPTS = {
  "Let's consider each step carefully.",
  "Think it through step by step before you answer.",
  "Reason step by step, then give your answer.",
  "Work through the problem one step at a time.",
  "Explain your reasoning step by step and then answer.",
  "Consider the question carefully, step by step.",
  "Go through your reasoning in steps before settling on an answer.",
  "Break the question down and reason about each part in turn.",
}

local CORRECTION_PROMPTS = {
  "After answering, check whether your answer is correct, and correct it if it is not.",
  "Once you have an answer, verify it; if it is wrong, say so and give the right one.",
  "Then review your answer for mistakes and fix any you find.",
  "Afterwards, think about whether your answer is right, and revise it if needed.",
  "When you are done, double-check the answer and correct it if there is an error.",
  "Verify your answer at the end; if you find an error, explain it and answer again.",
  "Before finishing, reflect on the correctness of your answer and correct it when necessary.",
  "Check your previous answer once more and, if it is wrong, give a corrected one.",
  "After you answer, examine it critically and change it if it turns out to be incorrect.",
  "Finally, confirm that your answer is correct, or point out the error and fix it.",
  "Make sure to re-examine your answer; correct it if you spot a mistake.",
  "Take a second look at your answer and amend it if it is not right.",
}

-- The paper's verifications first, then paraphrases.
local POSITIVE = {
  "Thinking about the correctness of the previous answer... I am sure that the earlier answer is correct.",
  "Let me check the previous answer again... I am confident that the earlier answer is correct.",
  "Looking back at the previous answer... it holds up, and I am sure it is correct.",
}
local NEGATIVE = {
  "Thinking about the correctness of the previous answer... Sorry, there is an error in the previous answer.",
  "Let me check the previous answer again... Sorry, the earlier answer is wrong.",
  "Looking back at the previous answer... Sorry, I made a mistake in the previous answer.",
}

local ATTEMPT_SUFFIX_MC = "Let's consider each step carefully. End with a last line of the form " ..
  "\"So the answer is (X).\", where X is the letter of your choice."
local ATTEMPT_SUFFIX = "Let's consider each step carefully. End with a last line of the form " ..
  "\"So the answer is: ANSWER.\""

-- Built by setup, only read by map (README: what a recipe may share across items).
local state = {}

-- ---- questions, options, answers ----

local function words(s)
  local out = {}
  for w in tostring(s):lower():gmatch("[%w\128-\255]+") do out[#out + 1] = w end
  return table.concat(out, " ")
end

-- The options of a record as letters and texts: {letters = {"A", ...}, text = {A = "..."}},
-- from {"A": "bank", ...}, ["bank", ...], [{"label": "A", "text": "bank"}, ...]
-- or {"label": [...], "text": [...]}; nil without choices.
local function options_of(choices)
  if type(choices) ~= "table" then return nil end
  local letters, text = {}, {}
  local function add(label, t)
    label = tostring(label)
    letters[#letters + 1], text[label] = label, tostring(t)
  end
  if type(choices.label) == "table" and type(choices.text) == "table" then
    for i, l in ipairs(choices.label) do add(l, choices.text[i]) end
  elseif lc.json.is_array(choices) then
    for i, c in ipairs(choices) do
      if type(c) == "table" then add(c.label or string.char(64 + i), c.text) else add(string.char(64 + i), c) end
    end
  else
    for l, t in pairs(choices) do add(l, t) end
    table.sort(letters)
  end
  if #letters == 0 then return nil end
  return { letters = letters, text = text }
end

local function question_block(rec, opts)
  if not opts then return rec.question end
  local lines = {}
  for i, l in ipairs(opts.letters) do lines[i] = string.format("(%s) %s", l, opts.text[l]) end
  return rec.question .. "\nAnswer choices:\n" .. table.concat(lines, "\n")
end

-- The gold answer's letter, given as a letter or as an option's text.
local function gold_letter(gold, opts)
  gold = tostring(gold)
  if opts.text[gold] then return gold end
  local g = words(gold)
  for _, l in ipairs(opts.letters) do
    if words(opts.text[l]) == g then return l end
  end
end

-- A reply split into its reasoning and its final answer statement: the last
-- line that states an answer ("... answer is ...", "Answer: ...", or a line that
-- is only an option letter), else the last non-blank line. Returns cot,
-- statement, and the answer the statement gives.
local function split_reply(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  local at, answer
  for i = #lines, 1, -1 do
    local l = lines[i]
    local a = l:match("[Aa]nswer is%s*:?%s*(.-)%s*$") or l:match("^%W*[Aa]nswer%s*:%s*(.-)%s*$")
    if a and a ~= "" then
      at, answer = i, a
      break
    end
    if l:match("^%s*%(?%u%)?%.?%s*$") then
      at, answer = i, l
      break
    end
  end
  if not at then
    for i = #lines, 1, -1 do
      if lines[i]:match("%S") then
        at, answer = i, lines[i]
        break
      end
    end
  end
  if not at then return "", "", "" end
  local cot = table.concat(lines, "\n", 1, at - 1):gsub("^%s+", ""):gsub("%s+$", "")
  local statement = lines[at]:gsub("^%s+", ""):gsub("%s+$", "")
  return cot, statement, answer
end

-- The option an answer names: its letter ("(B)", "B.", "B) library", "B"), else
-- the one option whose text it holds.
local function answer_letter(answer, opts)
  local a = answer:gsub("^%s+", "")
  local l = a:match("^%((%w)%)") or a:match("^(%w)[%)%.:]") or a:match("^(%w)%s") or a:match("^(%w)$")
  if l and opts.text[l:upper()] then return l:upper() end
  local said, found = " " .. words(a) .. " ", nil
  for _, letter in ipairs(opts.letters) do
    local t = words(opts.text[letter])
    if t ~= "" and said:find(" " .. t .. " ", 1, true) then
      if found then return nil end -- two options named: no answer
      found = letter
    end
  end
  return found
end

local CHECKERS = {
  -- by option letter or option text (multiple choice); exact words otherwise
  choice = function(answer, gold, opts)
    if not opts then return words(answer) == words(gold), words(answer) end
    local got = answer_letter(answer, opts)
    return got ~= nil and got == gold_letter(gold, opts), got
  end,
  exact = function(answer, gold) return words(answer) == words(gold), words(answer) end,
  number = function(answer, gold)
    local n = tonumber((answer:gsub(",", "")):match("[-+]?%d+%.?%d*"))
    return n ~= nil and n == tonumber(tostring(gold)), n
  end,
  contains = function(answer, gold)
    return (" " .. words(answer) .. " "):find(" " .. words(gold) .. " ", 1, true) ~= nil, words(answer)
  end,
}

-- ---- attempts and the teacher ----

local function attempt_requests(rec, p)
  local opts = options_of(rec.choices)
  local prompt = question_block(rec, opts) .. "\n\n" .. (opts and ATTEMPT_SUFFIX_MC or ATTEMPT_SUFFIX)
  local reqs = {}
  for j = 1, p.attempts do
    -- The sample index keeps the k samples apart in the cache and in flight;
    -- the seed (seeded=true) makes them distinct requests to the server too.
    reqs[j] = { messages = { { role = "user", content = prompt } }, temperature = p.attempt_temperature,
                max_tokens = p.max_tokens, sample = j, seed = p.seeded and j or nil,
                model = p.attempt_model ~= "" and p.attempt_model or nil }
  end
  return reqs
end

-- The gold answer as the prompts state it: "(B) cupboard", or the answer itself.
local function truth_of(rec, opts)
  local l = opts and gold_letter(rec.answer, opts)
  if not l then return tostring(rec.answer) end
  return string.format("(%s) %s", l, opts.text[l])
end

-- checker=judge: the teacher says whether each final answer statement gives
-- the gold answer (all asked at once; "yes"/"no"). Returns a list of booleans.
local function judged(rec, statements, teacher)
  local opts = options_of(rec.choices)
  local reqs = {}
  for i, st in ipairs(statements) do
    reqs[i] = { messages = { { role = "user", content = "Question: " .. question_block(rec, opts) ..
      "\nGold answer: " .. truth_of(rec, opts) .. "\nCandidate's final answer: " .. st ..
      "\n\nDoes the candidate's final answer give the same answer as the gold answer? Reply with only yes or no." } },
      temperature = 0, max_tokens = 5 }
  end
  local out = {}
  for i, r in ipairs(teacher:chat_many(reqs)) do out[i] = (r.text or ""):lower():match("^%W*yes") ~= nil end
  return out
end

-- {sample, cot, statement, correct, got} per attempt. teacher: the judge (checker=judge).
local function check_attempts(rec, replies, p, teacher)
  local opts = options_of(rec.choices)
  local out, ask = {}, {}
  for j, r in ipairs(replies) do
    local text = (r.text or ""):gsub("^%s+", ""):gsub("%s+$", "")
    local cot, statement, answer = split_reply(text)
    local a = { sample = j, cot = cot, statement = statement, correct = false }
    if statement ~= "" and r.finish_reason ~= "length" then
      if p.checker == "judge" then
        a.got = answer
        ask[#ask + 1] = a
      else
        a.correct, a.got = CHECKERS[p.checker](answer, rec.answer, opts)
      end
    end
    out[j] = a
  end
  if #ask > 0 then
    local statements = {}
    for i, a in ipairs(ask) do statements[i] = a.statement end
    for i, yes in ipairs(judged(rec, statements, teacher)) do ask[i].correct = yes end
  end
  return out
end

local function attempt_text(a)
  if a.cot == "" then return a.statement end
  return a.cot .. "\n" .. a.statement
end

local function teacher_explanation(rec, ctx)
  local opts = options_of(rec.choices)
  local p = ctx.params
  local truth = truth_of(rec, opts)
  local l = opts and gold_letter(rec.answer, opts)
  local form = l and string.format("\"So the answer is (%s).\"", l) or "\"So the answer is: ANSWER.\""
  local r = ctx.teacher:chat {
    messages = { { role = "user", content = question_block(rec, opts) .. "\n\nThe solution to the question is " ..
      truth .. ". Give a comprehensive step-by-step explanation of why, and end with a last line of the form " ..
      form } },
    temperature = p.teacher_temperature, max_tokens = p.max_tokens,
  }
  local a = check_attempts(rec, { r }, p, ctx.teacher)[1]
  if not a.correct then
    return nil, string.format("the teacher's explanation ends with %q, not the gold answer %s", a.statement, truth)
  end
  return a
end

-- ---- the example ----

local function user_turn(rec, ctx)
  local block = question_block(rec, options_of(rec.choices))
  local order = { "task", "cot", "correction" }
  ctx.rng:shuffle(order)
  local parts = {}
  for _, k in ipairs(order) do
    if k == "task" then
      parts[#parts + 1] = ctx.rng:choice(state.lists.task_prompts) .. "\n\n" .. block
    else
      parts[#parts + 1] = ctx.rng:choice(state.lists[k == "cot" and "cot_prompts" or "correction_prompts"])
    end
  end
  return table.concat(parts, "\n\n")
end

local function attempt_meta(attempts)
  local list = lc.json.array {}
  for j, a in ipairs(attempts) do
    list[j] = { sample = a.sample, answer = a.got ~= nil and tostring(a.got) or lc.null, correct = a.correct }
  end
  return list
end

-- A good case: the attempt and a positive verification; good_masking says what is trained.
local function good_case(a, ctx)
  local train_attempt = ctx.params.good_masking == "all"
  return {
    lc.part(attempt_text(a), train_attempt), lc.part("\n\n", train_attempt),
    lc.part(ctx.rng:choice(state.lists.positive), true),
  }
end

-- A bad case: the wrong attempts (no loss), each followed by a negative
-- verification (trained), then the teacher's explanation and answer (trained).
local function bad_case(chain, explanation, ctx)
  local parts = {}
  for i, a in ipairs(chain) do
    parts[#parts + 1] = lc.part(attempt_text(a), false)
    if i == 1 then parts[#parts + 1] = lc.part("\n\n", false) end
    local nv = ctx.rng:choice(state.lists.negative)
    parts[#parts + 1] = lc.part(i < #chain and nv .. "\n\n" or nv, true)
  end
  local final = explanation.statement
  if explanation.cot ~= "" then final = explanation.cot .. "\n" .. final end
  parts[#parts + 1] = lc.part("\n\n" .. final, true)
  return parts
end

-- ---- setup: checks, and the accuracy that balancing needs ----

local function attempt_teacher(t, p)
  if p.attempt_teacher == "" then return t.teacher end
  return t.teachers[p.attempt_teacher]
end

local function plan(run)
  local p = run.params
  if not run.teacher_configured then
    error("pam needs a teacher for the bad cases' explanations: run with --model MODEL (and OPENAI_API_KEY / " ..
      "--base-url)", 0)
  end
  if p.attempt_teacher ~= "" then
    if not pcall(function() return run.teachers[p.attempt_teacher] end) then
      error(string.format("the attempts come from the teacher named %q, which is not configured: run with " ..
        "--teacher %s=MODEL[@BASE_URL], or with -p attempt_teacher= (and -p attempt_model=MODEL) to use the " ..
        "default teacher", p.attempt_teacher, p.attempt_teacher), 0)
    end
  end
  -- The paraphrase lists: the files given, else the built-in ones (plain copies: rng:choice takes a list).
  local builtin = { task_prompts = TASK_PROMPTS, cot_prompts = COT_PROMPTS, correction_prompts = CORRECTION_PROMPTS,
                    positive = POSITIVE, negative = NEGATIVE }
  state.lists = {}
  for name, default in pairs(builtin) do
    local list = {}
    for i, line in ipairs(p[name] or default) do list[i] = line end
    if #list == 0 then error(name .. ": the file holds no line", 0) end
    state.lists[name] = list
  end
  state.keep = p.good_keep
  state.sampled = {}
  if p.balance then
    for _, path in ipairs(run.inputs) do
      if path == "-" then error("balance reads the inputs in setup and again for the items: give a file, not stdin", 0) end
    end
    -- The attempt model's accuracy on the first balance_sample questions sets
    -- the share of good cases kept, so that about as many good as bad cases
    -- remain. Their replies are kept for the items, so nothing is paid twice.
    local reqs, keys, n = {}, {}, 0
    for rec, file, line in run:records() do
      if n >= p.balance_sample then break end
      n = n + 1
      keys[n] = { rec = rec, key = file .. ":" .. line, first = #reqs + 1 }
      for _, r in ipairs(attempt_requests(rec, p)) do reqs[#reqs + 1] = r end
    end
    local replies = attempt_teacher(run, p):chat_many(reqs)
    local right, total = 0, 0
    for _, k in ipairs(keys) do
      local mine = {}
      for j = 1, p.attempts do mine[j] = replies[k.first + j - 1] end
      state.sampled[k.key] = mine
      for _, a in ipairs(check_attempts(k.rec, mine, p, run.teacher)) do
        total = total + 1
        if a.correct then right = right + 1 end
      end
    end
    local accuracy = total > 0 and right / total or 0
    state.keep = accuracy > 0.5 and (1 - accuracy) / accuracy or 1.0
    run:report("balance", { questions = n, attempts = total, correct = right, accuracy = accuracy,
                            good_keep = state.keep })
    run:log(string.format("balance: the attempt model was right on %d of %d attempts (%.1f%%): good cases are " ..
      "kept with probability %.3f", right, total, accuracy * 100, state.keep))
  end
end

return lc.recipe {
  name = "pam",
  version = "1.0.0",
  summary = "Self-correction data with partial answer masking (PAM): the loss starts at the verification",
  cite = "Han et al., Small Language Model Can Self-correct, AAAI-24, arXiv 2401.07301",
  description = [[
Intrinsic self-correction data (DESIGN §1.2). Each record {question, choices?, answer}
is answered `attempts` times by the attempt model (the teacher named attempt_teacher,
--teacher attempt=MODEL[@URL]; or the default teacher with attempt_model) with chain of
thought at attempt_temperature; each attempt is checked against the gold answer by
`checker` (choice: option letter or option text; exact, number, contains; judge: the
teacher is asked whether the final answer gives the gold one). A right
attempt makes a good case: attempt, positive verification. A wrong one makes a bad
case: attempt, negative verification, the teacher's step-by-step explanation given the
truth, and the right answer; with rounds > 1, up to `rounds` distinct wrong attempts of
the question come first, each with its negative verification. The whole answer is ONE
assistant turn: in a bad case the attempts carry no loss and the loss starts at the
first verification (PAM); in a good case good_masking says whether the attempt is
trained. The user turn joins a task prompt (with the question), a CoT prompt and a
self-correction prompt, drawn from paraphrase lists in an order drawn from the item's
RNG; each list is replaceable with -p NAME=FILE (one a line). good_keep, or balance
(which measures the attempt model's accuracy in setup), thins the good cases.
meta.pam records the case, the attempt used and every attempt's answer and correctness.]],
  format = "axolotl",
  params = {
    attempts = lc.int(4, "first attempts sampled per question (k)", { min = 1 }),
    attempt_teacher = lc.string("attempt", "the teacher that makes the attempts (--teacher NAME=MODEL[@URL]); " ..
      "empty: the default teacher"),
    attempt_model = lc.string("", "model of the attempts (empty: the attempt teacher's own)"),
    attempt_temperature = lc.number(0.8, "sampling temperature of the attempts", { min = 0 }),
    seeded = lc.bool(true, "send seed = the sample index with each attempt, so the k samples are distinct requests"),
    teacher_temperature = lc.number(0.0, "the teacher's temperature for the explanations", { min = 0 }),
    max_tokens = lc.int(512, "tokens per attempt or explanation, at most", { min = 1 }),
    checker = lc.enum({ "choice", "exact", "number", "contains", "judge" }, "choice",
      "how an answer is checked against the gold one: choice (option letter or text), exact, number, contains, " ..
      "or judge (the teacher is asked)"),
    rounds = lc.int(1, "wrong attempts in a bad case before the correction, at most", { min = 1 }),
    good_masking = lc.enum({ "all", "verification" }, "all",
      "good cases: train the attempt and the verification (all) or the verification only"),
    good_keep = lc.number(1.0, "probability of keeping each good case", { min = 0, max = 1 }),
    balance = lc.bool(false, "measure the attempt model's accuracy on the first balance_sample questions and " ..
      "keep good cases so that about as many good as bad cases remain (overrides good_keep)"),
    balance_sample = lc.int(50, "questions whose attempts measure the accuracy for balance", { min = 1 }),
    task_prompts = lc.file("task prompts, one a line (default: 8 built in)", { lines = true }),
    cot_prompts = lc.file("chain-of-thought prompts, one a line (default: 8 built in)", { lines = true }),
    correction_prompts = lc.file("self-correction prompts, one a line (default: 12 built in)", { lines = true }),
    positive = lc.file("positive verifications, one a line (default: the paper's and 2 more)", { lines = true }),
    negative = lc.file("negative verifications, one a line (default: the paper's and 2 more)", { lines = true }),
  },
  input = { question = "string", answer = "any", choices = "any?", id = "any?" },
  examples = {
    { question = "Where would you put a plate after washing it?", answer = "B",
      choices = { A = "oven", B = "cupboard", C = "floor" } },
  },

  setup = plan,

  map = function(rec, ctx)
    local p = ctx.params
    local opts = options_of(rec.choices)
    if opts and p.checker == "choice" and not gold_letter(rec.answer, opts) then
      error("answer: " .. tostring(rec.answer) .. " is neither an option letter nor an option's text", 0)
    end
    local replies = state.sampled[ctx.file .. ":" .. ctx.line]
      or attempt_teacher(ctx, p):chat_many(attempt_requests(rec, p))
    local attempts = check_attempts(rec, replies, p, ctx.teacher)
    -- One case per distinct attempt text (identical samples would repeat an example).
    local seen, cases, wrong = {}, {}, {}
    for _, a in ipairs(attempts) do
      local t = attempt_text(a)
      if not seen[t] then
        seen[t] = true
        cases[#cases + 1] = a
        if not a.correct then wrong[#wrong + 1] = a end
      end
    end
    local kept = {}
    for _, a in ipairs(cases) do
      if not a.correct or state.keep >= 1 or ctx.rng:float() < state.keep then kept[#kept + 1] = a end
    end
    if #kept == 0 then
      return lc.skip(string.format("no case kept: %d distinct attempts, all right, none drawn at good_keep=%.3f",
        #cases, state.keep))
    end
    local explanation
    if #wrong > 0 then
      local why
      explanation, why = teacher_explanation(rec, ctx)
      if not explanation then return lc.skip(why) end
    end
    local block_meta = attempt_meta(attempts)
    local out = {}
    for _, a in ipairs(kept) do
      local ex = lc.example()
      ex:user(user_turn(rec, ctx), false)
      local meta = { attempt = a.sample, attempts = block_meta, distinct = #cases }
      if a.correct then
        meta.case = "good"
        ex:assistant(good_case(a, ctx))
      else
        -- This attempt first, then the question's next distinct wrong attempts.
        local chain, start = { a }, 0
        for i, w in ipairs(wrong) do
          if w == a then start = i end
        end
        for i = 1, #wrong - 1 do
          if #chain >= p.rounds then break end
          chain[#chain + 1] = wrong[(start + i - 1) % #wrong + 1]
        end
        meta.case, meta.rounds = "bad", #chain
        ex:assistant(bad_case(chain, explanation, ctx))
      end
      ex:meta().pam = meta
      out[#out + 1] = ex
    end
    return out
  end,
}
