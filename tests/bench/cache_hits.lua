-- Cache hits alone: N ctx.teacher:chat calls answered from a filled cache, the
-- same requests teacher_bench.lua makes, without the rest of a run (reading,
-- examples, rendering, writing). Prints "HITS SECONDS RATE CPU_RATE" (calls per
-- second of wall time, and per second of the process's CPU time). With `proxy`,
-- the calls go through the teacher proxy a recipe holds (lua/lacuna/view.lua),
-- so the two runs side by side give the proxy's cost.
-- usage: LUA_CPATH=BUILD/?.so lua5.4 cache_hits.lua CACHE.db PROMPTS.jsonl N [proxy]
local lc = require "lacuna"
local teacher = require "lacuna.teacher"
local runner = require "lacuna.runner"

local db, prompts_path, n = arg[1], arg[2], math.tointeger(tonumber(arg[3] or ""))
assert(db and prompts_path and n, "usage: cache_hits.lua CACHE.db PROMPTS.jsonl N")
local prompts = {}
local reader = assert(lc.jsonl.open(prompts_path))
while #prompts < n do
  local rec = reader:next()
  if not rec then break end
  prompts[#prompts + 1] = rec.prompt
end
reader:close()

local pool = teacher.pool(runner.teacher_config { cache = db, cache_only = true })
local t = pool:teacher(nil, 1)
if arg[4] == "proxy" then
  t = require("lacuna.view").ctx({ _pool = pool, index = 1, seed = 0 }).teacher
end
-- The collector a run's items have (M.execute in lua/lacuna/runner.lua).
collectgarbage("generational")
local t0, c0 = lc.core.sched.now(), os.clock()
for i = 1, #prompts do
  local r = t:chat { model = "bench", messages = { { role = "user", content = prompts[i] } } }
  if not r.cached then error("request " .. i .. " was not served by the cache") end
end
local el, cpu = lc.core.sched.now() - t0, os.clock() - c0
pool:close()
print(string.format("%d %.3f %.0f %.0f", #prompts, el, #prompts / el, #prompts / cpu))
