-- Builds IN2-style contexts with a real tokenizer (Llama 3, Qwen3, Llama 2)
-- for test_llama3.sh: a pool of 128-token segments from the conformance corpora
-- (one document per record), then contexts with 1 to 3 needles (segments of
-- other documents, some with whitespace at an edge) at targets from 1K to 32K
-- tokens, joined with "\n", " ", "" or "\n\n".
-- Writes the texts NUL-separated (hf_dump.mjs's corpus format) and one JSON
-- line per context with our counts and needle offsets.
--   lua5.4 llama3_contexts.lua MODEL_DIR CORPUS_DIR OUT.txt OUT.jsonl
local lc = require "lacuna"
local model, corpus, out_txt, out_json = arg[1], arg[2], arg[3], arg[4]
local tok = assert(lc.tokenizer.load(model))
local pool = lc.text.pool { capacity = 100000, seed = 11, tokenizer = tok }

local doc = 0
for _, name in ipairs { "english", "code", "cjk" } do
  local f = assert(io.open(corpus .. "/" .. name .. ".txt", "rb"))
  local all = f:read("a")
  f:close()
  for record in (all .. "\0"):gmatch("([^%z]*)%z") do
    doc = doc + 1
    assert(pool:add_document(record, doc, 128))
  end
end
io.stderr:write(("pool: %d segments from %d documents\n"):format(#pool, doc))

local g = lc.rng(2024)
local texts, lines = {}, {}
for i = 1, 48 do
  local target = 1000 + (i - 1) * 660 -- 1,000 .. 32,020
  local needles, exclude = {}, {}
  for k = 1, 1 + (i % 3) do
    local s, _, d = pool:get(g:int(#pool))
    -- whitespace at a needle's edge merges with the join's in most tokenizers
    if (i + k) % 5 == 0 then s = " " .. s elseif (i + k) % 7 == 0 then s = s .. "\n " end
    needles[k], exclude[k] = s, d
  end
  local sep = ({ "\n", " ", "", "\n\n" })[i % 4 + 1]
  local c = assert(pool:context(g, { target = target, needles = needles, exclude = exclude, sep = sep }))
  texts[i] = c.text
  local ns = {}
  for k, n in ipairs(c.needles) do
    assert(c.text:sub(n.byte_start + 1, n.byte_end) == needles[k], "needle span")
    ns[k] = { byte_start = n.byte_start, token = n.token, tokens = n.tokens, depth = n.depth }
  end
  lines[i] = lc.json.encode { target = target, tokens = c.tokens, needles = ns }
end
local f = assert(io.open(out_txt, "wb"))
f:write(table.concat(texts, "\0"))
f:close()
f = assert(io.open(out_json, "wb"))
f:write(table.concat(lines, "\n"), "\n")
f:close()
