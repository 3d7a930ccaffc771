-- The approximate counter against exact Llama 3 counts (run_approx.sh):
--   lua5.4 approx_bench.lua MODEL_DIR CORPUS_DIR REPS
-- per corpus (english, cjk, code): exact and approximate totals, their ratio,
-- and the median throughput of both (MB/s, one count call per record).
local lc = require "lacuna"
local tok = assert(lc.tokenizer.load(arg[1]))
local approx = lc.tokenizer.approximate()
local dir, reps = arg[2], tonumber(arg[3] or "3")
local clock = os.clock

local function median(v)
  table.sort(v)
  return v[(#v + 1) // 2]
end

print("| corpus | MB | exact tokens | approx tokens | approx / exact | exact MB/s | approx MB/s | speed-up |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
local worst, slowest = 0, math.huge
for _, name in ipairs { "english", "cjk", "code" } do
  local f = assert(io.open(dir .. "/" .. name .. ".txt", "rb"))
  local data = f:read("a")
  f:close()
  local recs, bytes = {}, 0
  for r in (data .. "\0"):gmatch("([^%z]*)%z") do
    recs[#recs + 1] = r
    bytes = bytes + #r
  end
  local function run(counter)
    local times, total = {}, 0
    for k = 1, reps do
      local t0, n = clock(), 0
      for i = 1, #recs do n = n + counter:count(recs[i]) end
      times[k] = clock() - t0
      total = n
    end
    return total, bytes / 1e6 / median(times)
  end
  local exact, emb = run(tok)
  local est, amb = run(approx)
  local ratio = est / exact
  worst = math.max(worst, math.abs(ratio - 1))
  slowest = math.min(slowest, amb / emb)
  print(string.format("| %s | %.2f | %d | %d | %.3f | %.1f | %.1f | %.1fx |", name, bytes / 1e6, exact, est, ratio,
    emb, amb, amb / emb))
end
print(string.format("\nworst count error %.1f%% (goal <= 10%%), smallest speed-up %.1fx (goal >= 5x)", worst * 100,
  slowest))
os.exit(worst <= 0.10 and slowest >= 5 and 0 or 1)
