-- The recipe declaration: `lc.recipe{...}` checks the table a recipe file
-- returns, so that a mistake in a recipe is reported when it is loaded, not
-- half-way through a corpus.
local params = require "lacuna.params"
local json = require("lacuna.core").json
-- Caller mistakes are raised at the recipe's line, not lacuna's (core/caller.c).
local caller = require("lacuna.core").caller
local raise = caller.error

local M = {}
local Recipe = {}
Recipe.__index = Recipe
M.Recipe = Recipe

local known_fields = {
  name = "string", version = "string", summary = "string", cite = "string",
  description = "string", params = "table", input = "table", format = "string",
  setup = "function", map = "function", finish = "function", examples = "table",
  license = "string", author = "string", requires = "string",
}

-- "0.4.1" -> {0, 4, 1}, or nil.
local function version_parts(v)
  if not v:match("^%d+[%.%d]*$") or v:find("..", 1, true) or v:sub(-1) == "." then return nil end
  local parts = {}
  for n in v:gmatch("%d+") do parts[#parts + 1] = tonumber(n) end
  return parts
end

local function version_less(a, b)
  for i = 1, math.max(#a, #b) do
    local x, y = a[i] or 0, b[i] or 0
    if x ~= y then return x < y end
  end
  return false
end

-- requires = ">=0.4" (or "0.4", the same): the oldest lacuna the recipe runs on.
local function check_requires(name, spec)
  local want = version_parts(spec:match("^%s*>=%s*(.-)%s*$") or spec:match("^%s*(.-)%s*$"))
  if not want then
    raise(string.format("recipe field 'requires' must look like '>=0.4' (the oldest lacuna version the" ..
      " recipe runs on), got '%s'", spec))
  end
  local have = version_parts((require("lacuna.core").version:match("^[%d%.]+")))
  if have and version_less(have, want) then
    raise(string.format("recipe '%s' requires lacuna %s, but this is lacuna %s: upgrade lacuna to run it",
      name, spec:match("^%s*(.-)%s*$"), require("lacuna.core").version))
  end
end

local field_types = {
  string = true, number = true, integer = true, boolean = true, table = true,
  array = true, object = true, any = true,
}

-- "string", "string?" or {type="string", optional=true, doc="..."}
local function parse_field(name, spec)
  local f = {}
  if type(spec) == "string" then
    f.type, f.optional = spec:match("^(%a+)(%??)$")
    f.optional = f.optional == "?"
  elseif type(spec) == "table" then
    f.type, f.optional, f.doc = spec.type, spec.optional and true or false, spec.doc
  end
  if not f.type or not field_types[f.type] then
    raise(string.format("recipe input field '%s': type must be one of string, number, integer, " ..
      "boolean, table, array, object, any (optionally ending in '?'), got %s", name, tostring(spec)))
  end
  f.name = name
  return f
end

function M.declare(decl)
  if type(decl) ~= "table" then raise("lacuna.recipe expects a table") end
  for k, v in pairs(decl) do
    local want = known_fields[k]
    if not want then raise("recipe: unknown field '" .. tostring(k) .. "'") end
    if type(v) ~= want then
      raise(string.format("recipe field '%s' must be a %s, got %s", k, want, type(v)))
    end
  end
  for _, k in ipairs({ "name", "version", "map" }) do
    if decl[k] == nil then raise("recipe: field '" .. k .. "' is required") end
  end
  if not decl.name:match("^[%w_%-%.]+$") then
    raise("recipe name '" .. decl.name .. "' may only use letters, digits, '_', '-', '.'")
  end
  if decl.requires then check_requires(decl.name, decl.requires) end
  local r = setmetatable({}, Recipe)
  for k, v in pairs(decl) do r[k] = v end
  r.params = {}
  for k, p in pairs(decl.params or {}) do
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then
      raise("recipe param name '" .. tostring(k) .. "' is not an identifier")
    end
    if not params.is_param(p) then
      raise("recipe param '" .. k .. "' must be declared with lc.int/number/string/bool/enum/list")
    end
    r.params[k] = p
  end
  r.fields = {}
  for k, spec in pairs(decl.input or {}) do
    r.fields[#r.fields + 1] = parse_field(k, spec)
  end
  table.sort(r.fields, function(a, b) return a.name < b.name end)
  -- (for check_input's pass over the record's own keys)
  r.fields_by_name, r.required_fields = {}, {}
  for _, f in ipairs(r.fields) do
    r.fields_by_name[f.name] = f
    if not f.optional then r.required_fields[#r.required_fields + 1] = f end
  end
  return r
end

-- A recipe file ends in `return lc.recipe{...}`, a tail call: the C frame
-- keeps the recipe's line for its mistakes.
M.declare = caller.entry(M.declare)

function M.is_recipe(v) return getmetatable(v) == Recipe end

-- A table is an array when json.encode would write it as one (json.is_array):
-- a decoded [] is an array and a decoded {} an object, even when empty.
local OBJECT_MT = getmetatable(json.object({}))

local function type_ok(ftype, v)
  local t = type(v)
  if ftype == "any" then return true end
  if ftype == "integer" then return math.type(v) == "integer" end
  if ftype == "array" or ftype == "object" then
    if t ~= "table" then return false end
    return (ftype == "array") == json.is_array(v)
  end
  return t == ftype
end

local function describe(v)
  if type(v) == "table" then return json.is_array(v) and "array" or "object" end
  if math.type(v) == "integer" then return "integer" end
  return type(v)
end

-- Checks one input record against the declared fields; returns nil or a
-- message naming the field ("field 'answer': missing (expected string)").
function Recipe:check_input(record, null)
  if getmetatable(record) == OBJECT_MT and self.fields_by_name then
    -- A decoded record (an object), checked by its own keys, usually far
    -- fewer than the declared fields: when all is well, that is the answer;
    -- otherwise the pass below names the first fault in field order.
    local ok = true
    for _, f in ipairs(self.required_fields) do
      local v = record[f.name]
      if v == nil or v == null then
        ok = false
        break
      end
    end
    if ok then
      local by_name = self.fields_by_name
      for k, v in next, record do
        local f = by_name[k]
        if f and v ~= null and not type_ok(f.type, v) then
          ok = false
          break
        end
      end
      if ok then return nil end
    end
  end
  if type(record) ~= "table" or json.is_array(record) then
    return "record: expected a JSON object, got " .. describe(record)
  end
  for _, f in ipairs(self.fields) do
    local v = record[f.name]
    if v == nil or v == null then
      if not f.optional then
        return string.format("field '%s': missing (expected %s)", f.name, f.type)
      end
    elseif not type_ok(f.type, v) then
      return string.format("field '%s': expected %s, got %s", f.name, f.type, describe(v))
    end
  end
end

return M
