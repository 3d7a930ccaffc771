-- ctx.teacher:chat_json with a schema: the reply must be an object with a
-- string `answer`; invalid replies are re-asked a bounded number of times.
local lc = require "lacuna"

return lc.recipe {
  name = "json_ask", version = "1.0.0",
  params = { model = lc.string("json-eventually", "teacher model") },
  input = { question = "string" },
  map = function(item, ctx)
    local value, res = ctx.teacher:chat_json {
      model = ctx.params.model,
      messages = { { role = "user", content = item.question .. " Reply in JSON." } },
      response_format = { type = "json_object" },
      schema = { type = "object", required = { "answer" }, properties = { answer = { type = "string" } } },
      max_reasks = 2,
    }
    local ex = lc.example():user(item.question):assistant(value.answer)
    ex:meta().model = res.model
    return ex
  end,
}
