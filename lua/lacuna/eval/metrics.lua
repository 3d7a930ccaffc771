-- FILM's probe metrics (microsoft/FILM, VaLProbing/plot.py), with Python's
-- str.lower() and str.split() (core/pycase.c) so that the scores are the ones
-- FILM's code computes:
--   document  recall of the gold sentence's words: |set(gold) & set(pred)| / |set(gold)|,
--             both lowercased and split on white space;
--   code      the gold function name, dots stripped at its ends, occurs in the
--             prediction (case-sensitive);
--   database  the gold label or the gold description, dots stripped and
--             lowercased, occurs in the lowercased prediction.
-- A multi-value probe (several gold answers) scores the mean of its answers'
-- scores.
local pycase = require("lacuna.core").pycase

local M = {}

M.KINDS = { document = true, code = true, database = true }

-- Python's s.strip(chars) for a set of single-byte chars (here ".").
local function strip_dots(s) return (s:gsub("^%.+", ""):gsub("%.+$", "")) end

local function word_set(s)
  local set, n = {}, 0
  for _, w in ipairs(pycase.split(pycase.lower(s))) do
    if not set[w] then
      set[w] = true
      n = n + 1
    end
  end
  return set, n
end

local function contains(hay, needle) return hay:find(needle, 1, true) ~= nil end

-- The score in [0, 1] of prediction for one gold answer {completion, label, description}.
local function score_one(kind, gold, pred)
  if kind == "document" then
    local g, n = word_set(gold.completion)
    if n == 0 then error("document probe with an empty gold sentence", 0) end
    local p = word_set(pred)
    local hit = 0
    for w in pairs(g) do
      if p[w] then hit = hit + 1 end
    end
    return hit / n
  elseif kind == "code" then
    return contains(pred, strip_dots(gold.completion)) and 1 or 0
  elseif kind == "database" then
    local lp = pycase.lower(pred)
    if contains(lp, pycase.lower(strip_dots(gold.label))) or contains(lp, pycase.lower(strip_dots(gold.description))) then
      return 1
    end
    return 0
  end
  error("unknown probe kind '" .. tostring(kind) .. "'", 0)
end

-- score(kind, probe, prediction) -> number in [0, 1]. probe holds completion
-- (and label, description for database), or answers = {gold, ...}.
function M.score(kind, probe, pred)
  if type(pred) ~= "string" then pred = "" end
  if kind == "database" and (type(probe.label) ~= "string" or type(probe.description) ~= "string")
    and not probe.answers then
    error("database probe without label and description", 0)
  end
  if probe.answers then
    local sum = 0
    for _, g in ipairs(probe.answers) do sum = sum + score_one(kind, g, pred) end
    return sum / #probe.answers
  end
  return score_one(kind, probe, pred)
end

return M
