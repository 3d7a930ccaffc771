-- For tests/teacher/test_pack*.sh: a teacher recipe split into a module, with
-- float, list and string params, skips, failures and per-item randomness, so
-- that a reproduction has everything to get wrong.
local lc = require "lacuna"
local prompts = require "prompts"

return lc.recipe {
  name = "pack_ask", version = "1.0.0", requires = ">=0.1",
  params = {
    temperature = lc.number(0.7, "teacher temperature"),
    tags = lc.list("string", { "a", "b" }, "tags copied into the metadata"),
    style = lc.string("plain", "prompt style"),
    samples = lc.int(1, "samples per question", { min = 1 }),
  },
  input = { question = "string" },
  map = function(rec, ctx)
    if rec.question:find("skip", 1, true) then return lc.skip("asked to skip") end
    if rec.question:find("boom", 1, true) then error("boom in map") end
    local out = {}
    for s = 1, ctx.params.samples do
      local r = ctx.teacher:chat { messages = prompts.messages(rec.question, ctx.params.style),
        temperature = ctx.params.temperature, sample = s }
      local ex = lc.example():user(rec.question):assistant(r.text)
      ex:meta().draw = ctx.rng:int(1, 1000000)
      local tags = {}
      for i, t in ipairs(ctx.params.tags) do tags[i] = t end
      ex:meta().tags = lc.json.array(tags)
      out[#out + 1] = ex
    end
    return out
  end,
}
