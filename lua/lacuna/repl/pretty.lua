-- The REPL's printer: values as Lua-like text a person reads. Tables are
-- laid out on one line when short, else one field per line, keys sorted
-- (list elements first, in order); nesting deeper than opts.depth and tables
-- longer than opts.items are cut with a count of what was left out; a table
-- met again inside itself prints as <cycle>. Examples print as conversations
-- (lua/lacuna/inspect_term.lua) when they are the value itself or the
-- elements of a list, and as <example: N messages> inside other tables.
local core = require "lacuna.core"
local conv = require "lacuna.inspect_conv"
local term = require "lacuna.inspect_term"
local keyorder = require "lacuna.keyorder"

local M = {}

M.DEPTH, M.ITEMS, M.WIDTH = 4, 40, 80

local is_example, null = core.example.is, core.json.null

local ESCAPES = { ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r", ['"'] = '\\"', ["\\"] = "\\\\" }

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or string.format("\\%03d", c:byte())
  end) .. '"'
end

local function key_text(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return k end
  if type(k) == "string" then return "[" .. quote(k) .. "]" end
  return "[" .. tostring(k) .. "]"
end

local function scalar(v)
  local t = type(v)
  if t == "string" then return quote(v) end
  if v == null then return "null" end
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    local s = string.format("%.14g", v)
    return s:find("[^%d%-]") and s or s .. ".0" -- 2.0 stays a float
  end
  if is_example(v) then return string.format("<example: %d messages>", v:count()) end
  return tostring(v)
end

-- Keys of t: 1..n first (the list part), then the others sorted by type and text.
local function ordered_keys(t)
  local n = rawlen(t)
  local keys, rest = {}, {}
  for i = 1, n do keys[i] = i end
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then rest[#rest + 1] = k end
  end
  table.sort(rest, keyorder.less)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  return keys, n
end

local function render(v, opts, depth, seen, indent)
  if type(v) ~= "table" then return scalar(v) end
  local mt = getmetatable(v)
  if type(mt) == "table" and rawget(mt, "__tostring") then return tostring(v) end
  if seen[v] then return "<cycle>" end
  local keys, n = ordered_keys(v)
  if #keys == 0 then return "{}" end
  if depth >= opts.depth then return string.format("{...%d}", #keys) end
  seen[v] = true
  local items = {}
  local inner = indent .. "  "
  for i, k in ipairs(keys) do
    if i > opts.items then
      items[#items + 1] = string.format("...%d more", #keys - opts.items)
      break
    end
    local text = render(rawget(v, k), opts, depth + 1, seen, inner)
    items[#items + 1] = (math.type(k) == "integer" and k <= n) and text or (key_text(k) .. " = " .. text)
  end
  seen[v] = nil
  local one = "{ " .. table.concat(items, ", ") .. " }"
  if #one + #indent <= opts.width and not one:find("\n", 1, true) then return one end
  return "{\n" .. inner .. table.concat(items, ",\n" .. inner) .. "\n" .. indent .. "}"
end

-- The text of one value. opts: depth, items, width, color (examples).
function M.value(v, opts)
  opts = opts or {}
  local o = { depth = opts.depth or M.DEPTH, items = opts.items or M.ITEMS, width = opts.width or M.WIDTH }
  if is_example(v) then return (term.render(conv.from_example(v), { color = opts.color }):gsub("\n$", "")) end
  if type(v) == "table" and getmetatable(v) == nil and #v > 0 and is_example(v[1]) then
    local all = true
    for _, e in ipairs(v) do
      if not is_example(e) then all = false end
    end
    if all then
      local out = {}
      for i, e in ipairs(v) do
        out[i] = term.render(conv.from_example(e), { color = opts.color, title = "example " .. i .. " of " .. #v })
      end
      return (table.concat(out, "\n"):gsub("\n$", ""))
    end
  end
  return render(v, o, 0, {}, "")
end

-- The text of the values of one evaluation (t is table.pack'd), separated by
-- tabs on one line when they are short, as lua.c prints them.
function M.values(t, opts)
  local parts = {}
  for i = 1, t.n do parts[i] = M.value(t[i], opts) end
  return table.concat(parts, t.n > 1 and "\t" or "")
end

return M
