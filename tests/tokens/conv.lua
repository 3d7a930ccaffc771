-- Builds an example from a record {messages = [{role, content | parts, train}]}
-- where parts = [{text, train}] make a partly trained message (PAM's shape);
-- the record's id, when it has one, goes to the example's meta.
local lc = require "lacuna"

return lc.recipe {
  name = "conv", version = "1.0.0",
  input = { messages = "array" },
  map = function(rec)
    local ex = lc.example(rec.id and { meta = { id = rec.id } } or nil)
    for _, m in ipairs(rec.messages) do
      if m.parts then
        local parts = {}
        for i, p in ipairs(m.parts) do parts[i] = lc.part(p.text, p.train) end
        ex:message(m.role, parts)
      else
        ex:message(m.role, m.content, m.train)
      end
    end
    return ex
  end,
}
