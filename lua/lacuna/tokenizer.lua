-- Tokenizers: the exact Hugging Face tokenizer.json one (C, lacuna.core.tokenizer)
-- and an approximate counter for runs without a tokenizer. Both answer
-- `:count(text)` and say which they are in `.approximate`.
--
--   local tok = assert(lc.tokenizer.load("models/llama3"))   -- dir or tokenizer.json
--   local ids, bytes, chars = tok:encode(text, { offsets = true })
--   -- bytes[i] = {start, end}: 0-based, end exclusive (HF offsets), so
--   -- text:sub(start + 1, end) is the token's text; chars[i] counts code points.
local core = require "lacuna.core"

local M = {}

local Tokenizer = {}
Tokenizer.__index = Tokenizer
Tokenizer.__name = "lacuna.tokenizer"

--- Loads tokenizer.json (a file, or a directory holding one). nil, message on failure.
function M.load(path)
  if type(path) ~= "string" then error("lacuna.tokenizer.load: path must be a string", 2) end
  local raw, err = core.tokenizer.load(path)
  if not raw then return nil, err end
  return setmetatable({ raw = raw, path = path, approximate = false }, Tokenizer)
end

--- The same from the JSON text itself.
function M.from_json(json)
  if type(json) ~= "string" then error("lacuna.tokenizer.from_json: json must be a string", 2) end
  local raw, err = core.tokenizer.load_json(json)
  if not raw then return nil, err end
  return setmetatable({ raw = raw, approximate = false }, Tokenizer)
end

local function check_opts(opts, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(fname .. ": options must be a table", 3)
  end
  return opts or {}
end

--- ids [, byte_offsets, char_offsets]. opts.add_special_tokens defaults to true
--- (HF's default); opts.offsets = true also returns the offsets.
function Tokenizer:encode(text, opts)
  if type(text) ~= "string" then error("tokenizer:encode: text must be a string", 2) end
  opts = check_opts(opts, "tokenizer:encode")
  local add = opts.add_special_tokens
  if add == nil then add = true end
  return self.raw:encode(text, add, opts.offsets and true or false)
end

--- Number of tokens of text; special tokens are not added unless
--- opts.add_special_tokens is true.
function Tokenizer:count(text, opts)
  if type(text) ~= "string" then error("tokenizer:count: text must be a string", 2) end
  opts = check_opts(opts, "tokenizer:count")
  return self.raw:count(text, opts.add_special_tokens and true or false)
end

function Tokenizer:decode(ids, opts)
  if type(ids) ~= "table" then error("tokenizer:decode: ids must be a table", 2) end
  opts = check_opts(opts, "tokenizer:decode")
  return self.raw:decode(ids, opts.skip_special_tokens and true or false)
end

function Tokenizer:token_to_id(s) return self.raw:token_to_id(s) end
function Tokenizer:id_to_token(i) return self.raw:id_to_token(i) end
function Tokenizer:vocab_size() return self.raw:vocab_size() end
function Tokenizer:close() self.raw:close() end

-- ---- the approximate counter ----------------------------------------------------

local function is_cjk(c)
  return (c >= 0x3040 and c <= 0x30FF) or (c >= 0x3400 and c <= 0x4DBF)
      or (c >= 0x4E00 and c <= 0x9FFF) or (c >= 0xAC00 and c <= 0xD7AF)
      or (c >= 0xF900 and c <= 0xFAFF) or (c >= 0xFF00 and c <= 0xFFEF)
      or (c >= 0x20000 and c <= 0x2FFFF)
end

local Approx = {}
Approx.__index = Approx
Approx.__name = "lacuna.tokenizer.approximate"

--- An estimate: one token per CJK character, one per `chars_per_token` (default 4)
--- other characters. Reports approximate = true; never use it where exactness matters.
function M.approximate(opts)
  opts = opts or {}
  local cpt = opts.chars_per_token or 4
  if type(cpt) ~= "number" or cpt <= 0 then
    error("lacuna.tokenizer.approximate: chars_per_token must be a positive number", 2)
  end
  return setmetatable({ approximate = true, chars_per_token = cpt }, Approx)
end

function Approx:count(text)
  if type(text) ~= "string" then error("approximate:count: text must be a string", 2) end
  local cjk, other = 0, 0
  -- invalid UTF-8 bytes count as one character each
  local i, n = 1, #text
  while i <= n do
    local ok, c = pcall(utf8.codepoint, text, i)
    if ok then
      if is_cjk(c) then cjk = cjk + 1 else other = other + 1 end
      i = utf8.offset(text, 2, i) or (n + 1)
    else
      other = other + 1
      i = i + 1
    end
  end
  return cjk + math.ceil(other / self.chars_per_token)
end

return M
