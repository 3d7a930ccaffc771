-- lacuna side of tests/bench/run_text.sh.
--   lua5.4 text_bench.lua pool SEGMENTS CORPUS
--     builds a pool of SEGMENTS 128-token segments (approximate counter) and
--     prints {"build_s", "segments", "text_bytes", "record_bytes", ...} as JSON;
--   lua5.4 text_bench.lua contexts SEGMENTS CORPUS N M OUT [REPS]
--     the same pool, then N contexts of 32,768 tokens (one needle each, its
--     document excluded) written to OUT, then the first M of them again with
--     the plain-Lua reference (text_ref.lua) over a copy of the pool in Lua
--     tables, counting with lacuna's counter and with the counter in Lua;
--     prints median CPU seconds of REPS runs and whether all made the same
--     bytes (what each side does: the comment above the timed runs below);
--   lua5.4 text_bench.lua side SEGMENTS CORPUS N buf|str
--     the same pool, then N contexts into a buffer or as strings, the C side
--     alone (for perf record and valgrind --tool=callgrind: the instructions
--     of a context are the difference between two N, divided by it);
--   lua5.4 text_bench.lua exact MODEL CORPUS N
--     a pool segmented with the tokenizer at MODEL (one pass over the
--     corpus), then N exact 32,768-token contexts; prints CPU seconds.
-- CORPUS: FILM's document_sentences.jsonl (10 sentences to a document), or
-- "generated" for a built-in generator. Documents are reused with their
-- sentences rotated, under new ids, until SEGMENTS segments were offered.
local lc = require "lacuna"
local ref = require "text_ref"
local mode, nseg, corpus = arg[1], tonumber(arg[2]), arg[3]
if mode == "exact" then nseg = 10000000 end
local clock = os.clock

local function load_docs()
  local sents = {}
  if corpus ~= "generated" then
    for line in io.lines(corpus) do sents[#sents + 1] = lc.json.decode(line).sentence end
  else
    local g, vocab = lc.rng(1), {}
    for w in ("time river model data paper result method stone cloud number signal theory value system light " ..
              "field water energy under bright market winter garden copper yellow forest engine"):gmatch("%S+") do
      vocab[#vocab + 1] = w
    end
    for i = 1, 20000 do
      local w = {}
      for k = 1, g:int(8, 30) do w[k] = vocab[g:int(#vocab)] end
      w[1] = w[1]:gsub("^%l", string.upper)
      sents[i] = table.concat(w, " ") .. (i % 7 == 0 and ", e.g. 3.14 units." or ".")
    end
  end
  local docs = {}
  for i = 1, #sents - 9, 10 do docs[#docs + 1] = { table.unpack(sents, i, i + 9) } end
  return docs
end

local function median(v)
  table.sort(v)
  return #v % 2 == 1 and v[(#v + 1) // 2] or (v[#v // 2] + v[#v // 2 + 1]) / 2
end

local function build_pool(docs, tok)
  local pool = lc.text.pool { capacity = nseg, seed = 1, tokenizer = tok }
  local t0, id = clock(), 0
  for pass = 0, math.huge do
    for _, d in ipairs(docs) do
      local r = pass % #d
      local parts = {}
      for k = 1, #d do parts[k] = d[(k - 1 + r) % #d + 1] end
      id = id + 1
      pool:add_document(table.concat(parts, " "), id, 128)
      if pool:stats().offered >= nseg then return pool, clock() - t0 end
    end
    if tok then return pool, clock() - t0 end -- one pass
  end
end

local TARGET = 32768
if mode == "exact" then
  local tok = assert(lc.tokenizer.load(arg[2]))
  local docs = load_docs()
  local pool, build_s = build_pool(docs, tok)
  local n, g, bytes = tonumber(arg[4]), lc.rng(42), 0
  local t0 = clock()
  for _ = 1, n do
    local s, _, d = pool:get(g:int(#pool))
    local c = assert(pool:context(g, { target = TARGET, needles = { s }, exclude = { d } }))
    bytes = bytes + #c.text
  end
  print(lc.json.encode { contexts = n, secs = clock() - t0, bytes = bytes, segments = #pool, build_s = build_s })
  return
end

local docs = load_docs()
local pool, build_s = build_pool(docs)
local st = pool:stats()
if mode == "pool" then
  print(lc.json.encode { build_s = build_s, segments = st.segments, offered = st.offered, text_bytes = st.text_bytes,
                         arena_bytes = st.arena_bytes, record_bytes = st.record_bytes })
  return
end

if mode == "side" then -- the C side alone, for profiles: N contexts into a buffer ("buf") or as strings ("str")
  local n, how, null, buf, g, pick = tonumber(arg[4]), arg[5], assert(io.open("/dev/null", "wb")), lc.text.buffer(),
    lc.rng(42), lc.rng(7)
  null:setvbuf("no")
  local needles = {}
  for i = 1, n do needles[i] = { pool:get(pick:int(#pool)) } end
  local t0 = clock()
  for i = 1, n do
    local o = { target = TARGET, needles = { needles[i][1] }, exclude = { needles[i][3] } }
    if how == "buf" then
      assert(pool:context(g, o, buf))
      buf:write(null)
    else
      null:write(assert(pool:context(g, o)).text)
    end
  end
  print(lc.json.encode { contexts = n, how = how, us = n > 0 and (clock() - t0) / n * 1e6 or 0 })
  return
end

local n, m, outpath, reps = tonumber(arg[4]), tonumber(arg[5]), arg[6], tonumber(arg[7] or 3)
-- the needles: segments drawn once, the same for both implementations
local pick = lc.rng(7)
local needles = {}
for i = 1, n do
  local s, _, d = pool:get(pick:int(#pool))
  needles[i] = { s, d }
end

-- Each side makes the same bytes and writes them to the same destination:
-- lacuna into a reused lc.text buffer, written with buf:write(f) (the text
-- stays in C memory), or with the default call, which returns the text as a
-- Lua string, written with f:write(c.text); the plain-Lua reference returns
-- a Lua string (table.concat), written with f:write(c.text). In the timed runs
-- the destination is /dev/null (every write is a write(2) of the whole text;
-- the cost of storing the bytes is the cat rows of run_text.sh); the bytes are
-- checked equal, and written to OUT, in untimed runs. One clock pair per run.
local function opts(i) return { target = TARGET, needles = { needles[i][1] }, exclude = { needles[i][2] } } end
local kept, bytes, buf = {}, 0, lc.text.buffer()
do -- untimed: OUT, the first m contexts kept, the default call checked against the buffer
  local f, g, g2 = assert(io.open(outpath, "wb")), lc.rng(42), lc.rng(42)
  for i = 1, n do
    assert(pool:context(g, opts(i), buf))
    assert(buf:write(f))
    bytes = bytes + #buf
    if i <= m then
      kept[i] = buf:tostring()
      assert(assert(pool:context(g2, opts(i))).text == kept[i], "the default call and the buffer differ")
    end
  end
  f:close()
end
local null = assert(io.open("/dev/null", "wb"))
null:setvbuf("no")
local function c_run(into)
  local g = lc.rng(42)
  local t0 = clock()
  if into then
    for i = 1, n do
      pool:context(g, opts(i), buf)
      buf:write(null)
    end
  else
    for i = 1, n do null:write(pool:context(g, opts(i)).text) end
  end
  return clock() - t0
end
local c_runs, s_runs = {}, {}
for rep = 1, reps do
  c_runs[rep] = c_run(true)
  s_runs[rep] = c_run(false)
end
local c_s, s_s = median(c_runs), median(s_runs)

-- the pool again as plain Lua tables
collectgarbage()
local before = collectgarbage("count")
local P = { text = {}, tokens = {}, doc = {}, n = #pool }
for i = 1, #pool do P.text[i], P.tokens[i], P.doc[i] = pool:get(i) end
collectgarbage()
local lua_bytes = (collectgarbage("count") - before) * 1024
local function check_ref(counter) -- untimed: the same bytes as lacuna's
  local g2, same, out_bytes = lc.rng(42), true, 0
  for i = 1, m do
    local c = ref.context(P, g2, opts(i), counter)
    out_bytes = out_bytes + #c.text
    same = same and c.text == kept[i]
  end
  return same, out_bytes
end
local function run_ref(counter)
  local g2 = lc.rng(42)
  local t0 = clock()
  for i = 1, m do null:write(ref.context(P, g2, opts(i), counter).text) end
  return clock() - t0
end
local same, lbytes = check_ref(lc.text.count)
local pure_same, pbytes = check_ref(ref.approx_count)
local lua_runs, pure_runs = {}, {}
for rep = 1, reps do
  lua_runs[rep] = run_ref(lc.text.count)
  pure_runs[rep] = run_ref(ref.approx_count)
end
null:close()
local lua_s, pure_s = median(lua_runs), median(pure_runs)
print(lc.json.encode { contexts = n, c_s = c_s, string_s = s_s, bytes = bytes, lua_contexts = m, lua_s = lua_s,
                       lua_bytes_out = lbytes, same = same, pure_s = pure_s, pure_bytes_out = pbytes,
                       pure_same = pure_same, lua_pool_bytes = lua_bytes, segments = #pool,
                       text_bytes = st.text_bytes })
