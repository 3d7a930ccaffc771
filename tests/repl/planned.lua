-- A planned teacher recipe for :cost (tests/repl/test_repl_pipe.sh): setup
-- plans `n` items; each asks the teacher twice, the second time with no
-- max_tokens.
local lc = require "lacuna"
return lc.recipe {
  name = "planned", version = "1.0.0",
  params = { n = lc.int(10, "items to plan") },
  setup = function(run) return run:items(run.params.n) end,
  map = function(i, ctx)
    local a = ctx.teacher:chat { messages = { { role = "user", content = "item " .. i } }, max_tokens = 100 }
    ctx.teacher:chat { messages = { { role = "user", content = "again " .. i .. a.text } } }
    return lc.example():user("item " .. i):assistant(a.text)
  end,
}
