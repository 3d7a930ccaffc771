-- One teacher call per item; the answer becomes the assistant turn. With
-- `samples` > 1 the item fans out k samples of the same prompt at once.
local lc = require "lacuna"

return lc.recipe {
  name = "ask", version = "1.0.0",
  params = {
    samples = lc.int(1, "samples per question (fan-out)", { min = 1 }),
    max_tokens = lc.int(0, "max_tokens for the teacher (0: unset)", { min = 0 }),
  },
  input = { question = "string" },
  map = function(item, ctx)
    local req = { messages = { { role = "user", content = item.question } }, temperature = 0.7 }
    if ctx.params.max_tokens > 0 then req.max_tokens = ctx.params.max_tokens end
    local results
    if ctx.params.samples == 1 then
      results = { ctx.teacher:chat(req) }
    else
      local reqs = {}
      for i = 1, ctx.params.samples do
        local r = {}
        for k, v in pairs(req) do r[k] = v end
        r.sample = i
        reqs[i] = r
      end
      results = ctx.teacher:chat_many(reqs)
    end
    local out = {}
    for i, r in ipairs(results) do
      local ex = lc.example():user(item.question):assistant(r.text)
      ex:meta().finish_reason = r.finish_reason
      ex:meta().sample = i
      out[i] = ex
    end
    return out
  end,
}
