-- Calibration in setup (DESIGN §3.2): setup asks the teacher about each
-- strategy at once (chat_many: fan-out, through the cache), reports the
-- table, and plans one item per strategy and record; map asks again.
local lc = require "lacuna"

local function ask(text) return { messages = { { role = "user", content = text } }, temperature = 1 } end

return lc.recipe {
  name = "plan_setup", version = "1.0.0",
  params = { strategies = lc.int(8, "strategies to calibrate") },
  input = { topic = "string" },
  setup = function(run)
    local reqs = {}
    for i = 1, run.params.strategies do reqs[i] = ask("strategy " .. i) end
    local replies = run.teacher:chat_many(reqs)
    local one = run.teacher:chat(ask("which strategy?"))
    local table_ = {}
    for i, r in ipairs(replies) do table_[i] = #r.text end
    run:report("calibration", { lengths = table_, choice = one.text })
    local items = {}
    for rec in run:records() do
      for i = 1, #replies do items[#items + 1] = { topic = rec.topic, strategy = replies[i].text } end
    end
    return items
  end,
  map = function(item, ctx)
    local r = ctx.teacher:chat(ask(item.topic .. " with " .. item.strategy))
    return lc.example():user(item.topic):assistant(r.text)
  end,
}
