-- Benchmark recipe: one teacher request per item, nothing else, so the run
-- measures the teacher transport (and the cache, with --cache-only).
local lc = require "lacuna"

return lc.recipe {
  name = "teacher_bench", version = "1.0.0",
  input = { prompt = "string" },
  map = function(item, ctx)
    local r = ctx.teacher:chat { model = "bench", messages = { { role = "user", content = item.prompt } } }
    return lc.example():user(item.prompt):assistant(r.text)
  end,
}
