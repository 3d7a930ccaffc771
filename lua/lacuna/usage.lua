-- Configuration and usage errors: raised as objects so that the CLI can print
-- them as `lacuna: message` (exit 2) without a Lua traceback, while a real bug
-- still arrives with one.
local M = {}

local UsageError = {}
UsageError.__index = UsageError
UsageError.__tostring = function(e) return e.msg end

function M.error(fmt, ...)
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or fmt
  error(setmetatable({ msg = msg }, UsageError), 0)
end

function M.is(e) return getmetatable(e) == UsageError end

-- Converts any error value into text.
function M.text(e)
  if M.is(e) then return e.msg end
  return tostring(e)
end

return M
