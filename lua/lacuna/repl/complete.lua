-- Tab completion for the REPL (core/lineedit.c calls it on Tab): the word
-- before the cursor, `name`, `a.b.na` or `obj:me`, completed from the
-- session's names and Lua's globals, a table's fields, or the methods its
-- metatable's __index table holds (a string's: the string library); a word
-- starting with ':' at the start of the line completes a REPL command.
-- Nothing is called: fields are read with rawget, so completing never runs
-- code of the user's or a recipe's.
local M = {}

local function keys_of(t, out, seen, methods_only)
  if type(t) ~= "table" then return end
  for k, v in next, t do
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and not seen[k] and
        (not methods_only or type(v) == "function") then
      seen[k] = true
      out[#out + 1] = k
    end
  end
end

-- The table whose keys complete the last part of the path.
local function resolve(env, parts)
  local v = env
  for i, name in ipairs(parts) do
    local got = type(v) == "table" and rawget(v, name)
    if got == nil and i == 1 then got = rawget(_G, name) end
    if got == nil then return nil end
    v = got
  end
  return v
end

-- Candidates for word (a list of whole words); commands: the REPL's command names.
function M.candidates(env, word, line, commands)
  if line:match("^%s*:") and word:sub(1, 1) == ":" then
    local out = {}
    for _, name in ipairs(commands) do
      if (":" .. name):sub(1, #word) == word then out[#out + 1] = ":" .. name end
    end
    table.sort(out)
    return out
  end
  local head, sep, partial = word:match("^(.-)([%.:]?)([%a_]?[%w_]*)$")
  local parts = {}
  if sep ~= "" then
    for name in head:gmatch("[^%.]+") do parts[#parts + 1] = name end
    if #parts == 0 or head:find("[^%w_%.]") then return {} end
  end
  local names, seen = {}, {}
  if sep == "" then
    keys_of(env, names, seen)
    keys_of(_G, names, seen)
  else
    local v = resolve(env, parts)
    if sep == ":" then
      local mt = getmetatable(v)
      local index = type(mt) == "table" and rawget(mt, "__index")
      keys_of(index, names, seen, true)
      keys_of(v, names, seen, true)
    else
      keys_of(v, names, seen)
    end
  end
  local out = {}
  for _, k in ipairs(names) do
    if k:sub(1, #partial) == partial then out[#out + 1] = head .. sep .. k end
  end
  table.sort(out)
  return out
end

return M
