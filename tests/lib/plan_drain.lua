-- Every work item a plan yields, as the runner sees it, and the state the
-- runner would keep (shared by tests/plan and tests/shard).
local plan = require "lacuna.plan"

return function(spec, inputs, o)
  local state = { read = 0, pending = {}, stop = false }
  local src = plan.source(spec, inputs, state, o or {})
  local out = {}
  while true do
    local w = src()
    if not w then break end
    out[#out + 1] = w
  end
  return out, state
end
