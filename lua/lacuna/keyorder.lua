-- One fixed order for a table's keys (type name, then value; other values by
-- their text), for output that must not follow pairs' order: string hashes
-- are seeded per process, so pairs' order changes from run to run.
local M = {}

function M.less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

-- The keys of t, sorted by M.less.
function M.keys(t)
  local keys = {}
  for k in next, t do keys[#keys + 1] = k end
  table.sort(keys, M.less)
  return keys
end

return M
