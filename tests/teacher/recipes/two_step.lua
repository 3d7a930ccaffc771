-- Two dependent teacher calls per item (attempt, then a judge that sees the
-- attempt), with named teachers: the shape of PAM and of any multi-step
-- recipe. Under --batch-export each step takes one export/import cycle.
local lc = require "lacuna"

return lc.recipe {
  name = "two_step", version = "1.0.0",
  input = { question = "string" },
  map = function(item, ctx)
    local attempt = ctx.teachers.attempt:chat { messages = { { role = "user", content = item.question } } }
    local judged = ctx.teachers.judge:chat {
      messages = { { role = "user", content = "Judge this answer: " .. attempt.text } },
    }
    local ex = lc.example():user(item.question)
    ex:assistant { lc.part(attempt.text, false), lc.part(" " .. judged.text, true) }
    ex:meta().models = attempt.model .. "+" .. judged.model
    return ex
  end,
}
