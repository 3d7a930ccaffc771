-- `lacuna inspect --where COND`: which output lines to show, by their fields.
-- A small language, no code run:
--   COND   := PATH OP VALUE | PATH | !PATH
--   PATH   := a dotted path from the line's top: meta.case, meta.in2.depth,
--             messages.1.role (list elements are 1-based)
--   OP     := =  !=  <  <=  >  >=  ~ (VALUE occurs in the field's text)
--   VALUE  := text; a|b|c matches any of them (with = and != and ~)
-- PATH alone holds when the field exists and is not null or false; !PATH when
-- it does not. = and != compare numbers as numbers, true/false/null as JSON
-- literals and everything else as text (a table as its JSON). < <= > >= need
-- a number on both sides. Several --where must all hold. The HTML page
-- (inspect_html.lua) filters with the same language in the browser.
local json = require("lacuna.core").json
local usage = require "lacuna.usage"

local M = {}

local OPS = { "!=", "<=", ">=", "=", "<", ">", "~" }

-- Parses one condition; raises a usage error naming what is wrong.
function M.parse(text)
  if type(text) ~= "string" or text:match("^%s*$") then usage.error("--where: empty condition") end
  local s = text:match("^%s*(.-)%s*$")
  local negate = false
  local best
  for _, op in ipairs(OPS) do
    local a = s:find(op, 1, true)
    if a and (not best or a < best.at or (a == best.at and #op > #best.op)) then best = { at = a, op = op } end
  end
  local path, op, value
  if best then
    path, op, value = s:sub(1, best.at - 1), best.op, s:sub(best.at + #best.op)
    path = path:match("^%s*(.-)%s*$")
    value = value:match("^%s*(.-)%s*$")
  else
    path = s
    if path:sub(1, 1) == "!" then negate, path = true, path:sub(2):match("^%s*(.-)$") end
  end
  if not path:match("^[%w_%-]+[%w_%-%.]*$") or path:find("..", 1, true) or path:sub(-1) == "." then
    usage.error("--where %s: '%s' is not a field path (like meta.case or meta.in2.depth)", text, path)
  end
  local keys = {}
  for k in path:gmatch("[^%.]+") do keys[#keys + 1] = k end
  local cond = { text = text, keys = keys, op = op, negate = negate }
  if op == "<" or op == "<=" or op == ">" or op == ">=" then
    cond.number = tonumber(value)
    if not cond.number then usage.error("--where %s: %s needs a number, got '%s'", text, op, value) end
  elseif op then
    cond.values = {}
    for v in (value .. "|"):gmatch("([^|]*)|") do cond.values[#cond.values + 1] = v end
  end
  return cond
end

-- The field at keys in obj (numbers index lists, 1-based), or nil.
function M.get(obj, keys)
  local v = obj
  for _, k in ipairs(keys) do
    if type(v) ~= "table" then return nil end
    local n = math.tointeger(tonumber(k))
    local got = v[k]
    if got == nil and n then got = v[n] end
    v = got
  end
  return v
end

local function text_of(v)
  if type(v) == "string" then return v end
  if v == json.null then return "null" end
  if type(v) == "table" then
    local ok, t = pcall(json.encode, v)
    return ok and t or ""
  end
  return tostring(v)
end

local function equal(v, want)
  if type(v) == "number" and tonumber(want) then return v == tonumber(want) end
  return text_of(v) == want
end

-- Whether obj satisfies cond.
function M.test(cond, obj)
  local v = M.get(obj, cond.keys)
  local op = cond.op
  if not op then
    local present = v ~= nil and v ~= json.null and v ~= false
    return present ~= cond.negate
  end
  if cond.number then
    if type(v) ~= "number" then return false end
    if op == "<" then return v < cond.number end
    if op == "<=" then return v <= cond.number end
    if op == ">" then return v > cond.number end
    return v >= cond.number
  end
  if v == nil then return op == "!=" end
  local any = false
  for _, want in ipairs(cond.values) do
    if op == "~" then
      if text_of(v):find(want, 1, true) then any = true end
    elseif equal(v, want) then
      any = true
    end
  end
  if op == "!=" then return not any end
  return any
end

-- A predicate over decoded lines from a list of condition texts (all must hold).
function M.compile(texts)
  local conds = {}
  for i, t in ipairs(texts or {}) do conds[i] = M.parse(t) end
  return function(obj)
    for _, c in ipairs(conds) do
      if not M.test(c, obj) then return false end
    end
    return true
  end
end

return M
