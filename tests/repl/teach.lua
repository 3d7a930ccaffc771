-- A small teacher recipe for the REPL tests: the prompt is built from the
-- `prefix` param, so editing it (or :set prefix) changes the request and
-- misses the cache, while an unchanged one hits it.
local lc = require "lacuna"
return lc.recipe {
  name = "teach", version = "1.0.0",
  params = { prefix = lc.string("Q: ", "put before each question") },
  input = { question = "string" },
  map = function(rec, ctx)
    local r = ctx.teacher:chat { messages = { { role = "user", content = ctx.params.prefix .. rec.question } },
                                 max_tokens = 64 }
    return lc.example { meta = { q = rec.question } }
      :user(rec.question)
      :assistant { lc.part("Let me think.", false), lc.part(" " .. r.text, true) }
  end,
}
