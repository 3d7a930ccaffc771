-- Long-context text for IN2-style data (DESIGN §1.3): sentences, ~N-token
-- segments, a segment pool in C memory, and contexts of a target token length
-- with needles at chosen or uniform depths. A thin layer over lacuna.core.text:
-- it accepts lc.tokenizer objects (exact) or lc.tokenizer.approximate() / nil
-- (the approximate counter).
--
--   local pool = lc.text.pool { capacity = 1e6, seed = 7, tokenizer = tok }
--   pool:add_document(doc_text, doc_id, 128)            -- segments, reservoir
--   local c = assert(pool:context(ctx.rng, { target = 8192,
--       needles = { seg_text }, exclude = { doc_id } }))
--   -- c.text, c.tokens, c.needles[1].byte_start/.byte_end/.token/.tokens/.depth
--   local buf = lc.text.buffer()                        -- reused from context to context
--   pool:context(ctx.rng, opts, buf)                    -- the text stays in C memory:
--   buf:write(file); buf:sub(i, j); buf:tostring(); #buf  -- no Lua string unless asked
--
-- Pieces are joined with "\n" by default (opts.sep): segments from unrelated
-- documents read as separate lines. Byte spans are 0-based, end exclusive
-- (text:sub(byte_start + 1, byte_end) is the needle); token indices 0-based.
-- A needle's depth is the share of the context's non-needle tokens before it.
local raise = require("lacuna.core").caller.error -- mistakes named at the recipe's line
local core = require "lacuna.core"
local raw = core.text

local M = {}

-- The tokenizer userdata for the C side; nil selects the approximate counter.
local function counter(tok, fname)
  if tok == nil then return nil end
  -- run.tokenizer / ctx.tokenizer (lua/lacuna/run_view.lua): the object it holds.
  local held = (require "lacuna.run_view").tokenizer_target(tok)
  if held then tok = held end
  if type(tok) == "table" then
    if tok.approximate then return nil end
    if tok.raw then return tok.raw end
  elseif type(tok) == "userdata" then
    return tok
  end
  raise(fname .. ": tokenizer must be an lc.tokenizer, its approximate counter, or nil")
end

--- The sentences of text (strings, without surrounding whitespace).
function M.sentences(text) return raw.sentences(text) end

--- Segments of at most max_tokens tokens: {text...}, {tokens...} | nil, message.
function M.segment(text, max_tokens, tokenizer)
  return raw.segment(text, max_tokens, counter(tokenizer, "lacuna.text.segment"))
end

--- Token count of text under the same counter the pool uses (no special tokens).
function M.count(text, tokenizer) return raw.count(text, counter(tokenizer, "lacuna.text.count")) end

--- 0-based token index of the token holding each byte offset.
function M.token_index(text, offsets, tokenizer)
  return raw.token_index(text, offsets, counter(tokenizer, "lacuna.text.token_index"))
end

--- A reusable text buffer in C memory for pool:context(rng, opts, buffer): the
--- context's text is built into it (the result then has no .text) and read back
--- with buf:tostring(), buf:sub(i [, j]) (as string.sub), #buf, or written with
--- buf:write(file). The next context built into it replaces the text.
function M.buffer() return raw.buffer() end

--- A pool: opts.capacity (segments kept, reservoir-sampled beyond it), opts.seed
--- (integer) or opts.rng (an lc.rng, whose next draws seed the pool), opts.tokenizer.
function M.pool(opts)
  if type(opts) ~= "table" then raise("lacuna.text.pool: options must be a table") end
  local cap = opts.capacity
  if math.type(cap) ~= "integer" then
    if type(cap) == "number" and cap == math.floor(cap) then cap = math.tointeger(cap) end
    if math.type(cap) ~= "integer" then raise("lacuna.text.pool: capacity must be an integer") end
  end
  local seed = opts.rng or opts.seed or 0
  return raw.pool(cap, seed, counter(opts.tokenizer, "lacuna.text.pool"))
end

-- Behind a C frame, so a recipe's `return lc.<fn>(bad)` (a tail call) keeps
-- the recipe's line for the error (core/caller.c).
local entry = require("lacuna.core").caller.entry
for k, f in pairs(M) do
  if type(f) == "function" then M[k] = entry(f) end
end

return M
