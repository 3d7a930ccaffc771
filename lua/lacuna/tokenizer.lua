-- Tokenizers: the exact Hugging Face tokenizer.json one (C, lacuna.core.tokenizer)
-- and an approximate counter for runs without a tokenizer. Both answer
-- `:count(text)` and say which they are in `.approximate`.
--
--   local tok = assert(lc.tokenizer.load("models/llama3"))   -- dir or tokenizer.json
--   local ids, bytes, chars = tok:encode(text, { offsets = true })
--   -- bytes[i] = {start, end}: 0-based, end exclusive (HF offsets), so
--   -- text:sub(start + 1, end) is the token's text; chars[i] counts code points.
local raise = require("lacuna.core").caller.error -- mistakes named at the recipe's line
local core = require "lacuna.core"

local M = {}

local Tokenizer = {}
Tokenizer.__index = Tokenizer
Tokenizer.__name = "lacuna.tokenizer"

--- Loads tokenizer.json (a file, or a directory holding one). nil, message on failure.
function M.load(path)
  if type(path) ~= "string" then raise("lacuna.tokenizer.load: path must be a string") end
  local raw, err = core.tokenizer.load(path)
  if not raw then return nil, err end
  return setmetatable({ raw = raw, path = path, approximate = false }, Tokenizer)
end

--- The same from the JSON text itself.
function M.from_json(json)
  if type(json) ~= "string" then raise("lacuna.tokenizer.from_json: json must be a string") end
  local raw, err = core.tokenizer.load_json(json)
  if not raw then return nil, err end
  return setmetatable({ raw = raw, approximate = false }, Tokenizer)
end

local function check_opts(opts, fname)
  if opts ~= nil and type(opts) ~= "table" then
    raise(fname .. ": options must be a table")
  end
  return opts or {}
end

--- ids [, byte_offsets, char_offsets]. opts.add_special_tokens defaults to true
--- (HF's default); opts.offsets = true also returns the offsets.
function Tokenizer:encode(text, opts)
  if type(text) ~= "string" then raise("tokenizer:encode: text must be a string") end
  opts = check_opts(opts, "tokenizer:encode")
  local add = opts.add_special_tokens
  if add == nil then add = true end
  return self.raw:encode(text, add, opts.offsets and true or false)
end

--- Number of tokens of text; special tokens are not added unless
--- opts.add_special_tokens is true.
function Tokenizer:count(text, opts)
  if type(text) ~= "string" then raise("tokenizer:count: text must be a string") end
  opts = check_opts(opts, "tokenizer:count")
  return self.raw:count(text, opts.add_special_tokens and true or false)
end

function Tokenizer:decode(ids, opts)
  if type(ids) ~= "table" then raise("tokenizer:decode: ids must be a table") end
  opts = check_opts(opts, "tokenizer:decode")
  return self.raw:decode(ids, opts.skip_special_tokens and true or false)
end

function Tokenizer:token_to_id(s) return self.raw:token_to_id(s) end
function Tokenizer:id_to_token(i) return self.raw:id_to_token(i) end
function Tokenizer:vocab_size() return self.raw:vocab_size() end
function Tokenizer:close() self.raw:close() end

-- ---- the approximate counter ----------------------------------------------------

local Approx = {}
Approx.__index = Approx
Approx.__name = "lacuna.tokenizer.approximate"

--- An estimate without a tokenizer (C, core/tokenizer/approx.c): within a few
--- percent of Llama 3's counts on English, CJK and code, and several times
--- faster than exact counting (tests/bench/run_approx.sh). Reports
--- approximate = true; never use it where exactness matters.
function M.approximate(opts)
  if opts ~= nil and type(opts) ~= "table" then raise("lacuna.tokenizer.approximate: opts must be a table") end
  return setmetatable({ approximate = true }, Approx)
end

local approx_count = core.tokenizer.approx_count

function Approx:count(text)
  if type(text) ~= "string" then raise("approximate:count: text must be a string") end
  return approx_count(text)
end

return M
