-- Sends requests that repeat across items and inside one chat_many, for the
-- single-flight test: every item asks about its topic, and a chat_many asks
-- about the topic twice and about "shared" (the same for every item).
local lc = require "lacuna"

local function ask(text) return { messages = { { role = "user", content = text } }, temperature = 1 } end

return lc.recipe {
  name = "dup_ask", version = "1.0.0",
  input = { topic = "string" },
  map = function(item, ctx)
    local one = ctx.teacher:chat(ask("tell me about " .. item.topic))
    local many = ctx.teacher:chat_many { ask("more on " .. item.topic), ask("more on " .. item.topic), ask("shared") }
    return lc.example { meta = { topic = item.topic } }
      :user(item.topic)
      :assistant(table.concat({ one.text, many[1].text, many[2].text, many[3].text }, "\n"))
  end,
}
