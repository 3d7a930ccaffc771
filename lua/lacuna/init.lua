-- `require "lacuna"`: the friendly API over the raw C primitives in
-- lacuna.core (xmake's split: speed in C, policy here).
local core = require "lacuna.core"
local params = require "lacuna.params"
local recipe = require "lacuna.recipe"
-- Caller mistakes are raised at the recipe's line, not lacuna's (core/caller.c).
local raise, entry = core.caller.error, core.caller.entry

local lc = {
  core = core,
  version = core.version,
  json = core.json,
  jsonl = core.jsonl,
  null = core.json.null,
  hash = core.hash,
  sha256 = core.hash.sha256,
}

-- Recipes
lc.recipe = recipe.declare
lc.int, lc.number, lc.string, lc.bool = params.int, params.number, params.string, params.bool
lc.enum, lc.list = params.enum, params.list
lc.kind = params.kind

-- The outcome of a work item that produces nothing on purpose.
local Skip = {}
Skip.__index = Skip
Skip.__tostring = function(s) return "skip: " .. s.reason end
-- (Behind a C frame: `return lc.skip(x)` is a tail call, and a mistake in it
-- must still name the recipe's line.)
lc.skip = entry(function(reason)
  if type(reason) ~= "string" or reason == "" then raise("lc.skip needs a reason (a non-empty string)") end
  return setmetatable({ reason = reason }, Skip)
end)
function lc.is_skip(v) return getmetatable(v) == Skip end

-- Examples and formats
local example = require "lacuna.example"
lc.example = example.new
lc.part = example.part
lc.is_example = example.is_example
lc.formats = require "lacuna.formats"
lc.tokenizer = require "lacuna.tokenizer"
-- Type I QA without a teacher: rule-made cloze questions (kind "extractive-cloze").
lc.extractive = require "lacuna.extractive"
lc.text = require "lacuna.text"

-- Deterministic random streams
function lc.rng(seed, stream) return core.rng.new(seed or 0, stream or 0) end

return lc
