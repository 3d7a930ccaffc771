-- Typed recipe parameters: declared with defaults and docs, overridden from the
-- command line as `-p key=value` strings, each checked with a clear error.
local usage = require "lacuna.usage"
-- Caller mistakes are raised at the recipe's line, not lacuna's (core/caller.c).
local caller = require("lacuna.core").caller
local raise = caller.error

local M = {}
local Param = {}
Param.__index = Param
M.Param = Param

-- The type of a value as error messages name it: "integer" for an integer,
-- otherwise type(v). Shared by lacuna's own checks and recipes (lc.kind).
function M.kind(v)
  if math.type(v) == "integer" then return "integer" end
  return type(v)
end

local function is_int_text(s) return s:match("^%s*[-+]?%d+%s*$") ~= nil end

local parsers = {}

function parsers.int(p, s)
  if not is_int_text(s) then return nil, "'" .. s .. "' is not an integer" end
  local v = math.tointeger(tonumber(s))
  if not v then return nil, "'" .. s .. "' is out of the integer range" end
  return v
end

function parsers.number(p, s)
  local v = tonumber(s)
  if not v or v ~= v then return nil, "'" .. s .. "' is not a number" end
  return v + 0.0
end

function parsers.string(p, s) return s end

local truth = { ["true"] = true, yes = true, on = true, ["1"] = true,
                ["false"] = false, no = false, off = false, ["0"] = false }
function parsers.bool(p, s)
  local v = truth[s:lower()]
  if v == nil then return nil, "'" .. s .. "' is not a boolean (true/false, yes/no, 1/0)" end
  return v
end

function parsers.enum(p, s)
  for _, c in ipairs(p.choices) do
    if c == s then return s end
  end
  return nil, "'" .. s .. "' is not one of " .. table.concat(p.choices, ", ")
end

function parsers.list(p, s)
  local out = {}
  if s == "" then return out end
  for piece in (s .. ","):gmatch("(.-),") do
    local v, err = parsers[p.of]({}, piece)
    if v == nil then return nil, "element " .. (#out + 1) .. ": " .. err end
    out[#out + 1] = v
  end
  return out
end

-- JSON and file params (lc.json, lc.file) read what the command line names:
-- `-p k=@FILE` reads FILE; lc.json also takes the JSON text inline.
-- The file is read whole, and its text goes into the manifest (and a pack)
-- as the param's value: past M.MAX_FILE_BYTES it is refused, which also ends
-- the read of an endless file (/dev/zero) instead of filling memory.
M.MAX_FILE_BYTES = 64 * 1024 * 1024
local function read_file(path)
  if path == "" then return nil, "no file name after @" end
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot read " .. tostring(err) end
  local chunks, size = {}, 0
  while true do
    local chunk, rerr = f:read(1 << 20)
    if not chunk then
      if rerr then
        f:close()
        return nil, "cannot read " .. path .. ": " .. tostring(rerr)
      end
      break
    end
    size = size + #chunk
    if size > M.MAX_FILE_BYTES then
      f:close()
      return nil, string.format("%s is larger than %d MiB, the most a param holds (its text goes into the" ..
        " manifest); give the recipe the data as an input (-i) instead", path, M.MAX_FILE_BYTES >> 20)
    end
    chunks[#chunks + 1] = chunk
  end
  f:close()
  return table.concat(chunks)
end

-- "line L, byte B" of the first invalid UTF-8 in text, or nil when it is valid.
local function bad_utf8(text)
  local _, at = utf8.len(text)
  if not _ then
    local line = 1
    for _ in text:sub(1, at - 1):gmatch("\n") do line = line + 1 end
    return string.format("line %d, byte %d: invalid UTF-8", line, at)
  end
end

-- "byte N: message" from the JSON decoder, as "line L, column C: message".
local function json_where(text, msg)
  local at, rest = msg:match("^byte (%d+): (.*)$")
  if not at then return msg end
  at = tonumber(at)
  local line, col = 1, at
  for nl in text:sub(1, at):gmatch("()\n") do
    line = line + 1
    col = at - nl
  end
  return string.format("line %d, column %d: %s", line, col, rest)
end

function parsers.json(p, s)
  local json = require("lacuna.core").json
  local text, source = s, nil
  if s:sub(1, 1) == "@" then
    source = s:sub(2)
    local err
    text, err = read_file(source)
    if not text then return nil, err end
  end
  local v, err = json.decode(text)
  if v == nil then
    if source then return nil, source .. ": " .. json_where(text, err) end
    return nil, "not JSON (" .. json_where(text, err) .. "); to read a file, write -p " .. p.name .. "=@FILE"
  end
  return v
end

function parsers.file(p, s)
  local path = s:sub(1, 1) == "@" and s:sub(2) or s
  local text, err = read_file(path)
  if not text then return nil, err end
  local bad = bad_utf8(text)
  if bad then return nil, path .. ": " .. bad .. " (a param's text must be UTF-8)" end
  if not p.lines then return text end
  local out = {}
  for line in text:gmatch("[^\n]+") do
    line = line:gsub("\r$", "")
    if line:match("%S") then out[#out + 1] = line end
  end
  return out
end

local function check_value(p, v)
  local kind = p.kind
  if kind == "int" then
    if math.type(v) ~= "integer" then return "expected an integer" end
  elseif kind == "number" then
    if type(v) ~= "number" then return "expected a number" end
  elseif kind == "string" then
    if type(v) ~= "string" then return "expected a string" end
  elseif kind == "bool" then
    if type(v) ~= "boolean" then return "expected a boolean" end
  elseif kind == "enum" then
    local _, err = parsers.enum(p, tostring(v))
    if err then return err end
  elseif kind == "json" then
    local ok, err = pcall(require("lacuna.core").json.encode, v)
    if not ok then return "not JSON data: " .. tostring(err) end
  elseif kind == "file" then
    if p.lines and type(v) ~= "table" then return "expected a list of lines" end
    if not p.lines and type(v) ~= "string" then return "expected a string (the file's text)" end
  elseif kind == "list" then
    if type(v) ~= "table" then return "expected a list" end
    for i, e in ipairs(v) do
      local err = check_value({ kind = p.of }, e)
      if err then return "element " .. i .. ": " .. err end
    end
  end
  if p.min and type(v) == "number" and v < p.min then return "must be >= " .. p.min end
  if p.max and type(v) == "number" and v > p.max then return "must be <= " .. p.max end
end

-- (lacuna reproduce checks a pack's values as the command line's are.)
M.check_value = check_value

-- The options a declaration takes, and their types; lines only for lc.file.
local option_types = { min = "number", max = "number", required = "boolean", lines = "boolean" }

-- fixed: the declaration's own fields (an enum's choices, a list's element type).
local function declare(kind, default, doc, opts, fixed)
  if doc ~= nil and type(doc) ~= "string" then raise(kind .. " param: doc must be a string") end
  if opts ~= nil and type(opts) ~= "table" then raise(kind .. " param: options must be a table") end
  local p = setmetatable({ kind = kind, default = default, doc = doc or "" }, Param)
  for k, v in pairs(opts or {}) do
    local want = option_types[k]
    if not want or (k == "lines" and kind ~= "file") then
      raise(string.format("%s param: unknown option '%s' (options: min, max, required%s)", kind, tostring(k),
        kind == "file" and ", lines" or ""))
    end
    if type(v) ~= want then raise(string.format("%s param: option %s must be a %s", kind, k, want)) end
    p[k] = v
  end
  for k, v in pairs(fixed or {}) do p[k] = v end
  if default ~= nil then
    local err = check_value(p, default)
    if err then raise("default of " .. kind .. " param: " .. err) end
  end
  return p
end

function M.int(default, doc, opts)
  local p = declare("int", default, doc, opts)
  return p
end
function M.number(default, doc, opts)
  local p = declare("number", default, doc, opts)
  -- A number param is a float however its default is written, as -p values
  -- are: lc.number(0) and -p k=0 must render, and key the cache, the same.
  if type(p.default) == "number" then p.default = p.default + 0.0 end
  return p
end
function M.string(default, doc, opts)
  local p = declare("string", default, doc, opts)
  return p
end
function M.bool(default, doc, opts)
  local p = declare("bool", default, doc, opts)
  return p
end
function M.enum(choices, default, doc, opts)
  if type(choices) ~= "table" or #choices == 0 then raise("enum needs a non-empty list of choices") end
  for i, c in ipairs(choices) do
    if type(c) ~= "string" then raise("enum choice " .. i .. " must be a string, got " .. type(c)) end
  end
  return declare("enum", default, doc, opts, { choices = { table.unpack(choices) } })
end
function M.list(of, default, doc, opts)
  if not parsers[of] or of == "list" or of == "enum" or of == "json" or of == "file" then
    raise("list elements must be int, number, string or bool")
  end
  return declare("list", default, doc, opts, { of = of })
end

-- lc.json(default, doc): any JSON value (tables, lists, numbers, strings),
-- given as `-p k='{"a": 1}'` or read from a file as `-p k=@FILE.json`.
function M.json(default, doc, opts)
  return declare("json", default, doc, opts)
end
-- lc.file(doc, {lines = true, required = true}): the text of the file given
-- as `-p k=FILE` (or `-p k=@FILE`); with lines, its non-blank lines as a list.
-- The recipe reads the file through the param, never opens it itself.
function M.file(doc, opts)
  if doc ~= nil and type(doc) ~= "string" then raise("lc.file(doc, opts): doc must be a string") end
  if opts ~= nil and type(opts) ~= "table" then raise("lc.file(doc, opts): opts must be a table") end
  return declare("file", nil, doc, opts)
end

-- The constructors sit behind a C frame, so that a mistake in
-- `return lc.int(...)` (a tail call) still names the recipe's line.
for _, k in ipairs({ "int", "number", "string", "bool", "enum", "list", "json", "file" }) do
  M[k] = caller.entry(M[k])
end

function M.is_param(v) return getmetatable(v) == Param end

-- "int", "enum(a|b)", "list of string"
function Param:type_text()
  if self.kind == "enum" then return "enum(" .. table.concat(self.choices, "|") .. ")" end
  if self.kind == "list" then return "list of " .. self.of end
  if self.kind == "file" then return self.lines and "file (lines)" or "file" end
  return self.kind
end

function Param:default_text()
  local v = self.default
  if v == nil then return self.required and "(required)" or "(none)" end
  if self.kind == "json" then return require("lacuna.core").json.encode(v) end
  if type(v) == "table" then
    local parts = {}
    for i, e in ipairs(v) do parts[i] = tostring(e) end
    return table.concat(parts, ",")
  end
  return tostring(v)
end

-- A copy of a default, so that the run never changes the declaration.
local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in next, v do c[k] = deep_copy(x) end
  return setmetatable(c, getmetatable(v))
end

-- Resolves the final parameter table from the declaration and the
-- "key=value" overrides; raises a usage error naming the recipe and key.
function M.resolve(recipe_name, decl, overrides)
  local values = {}
  for name, p in pairs(decl) do
    values[name] = deep_copy(p.default)
  end
  for _, kv in ipairs(overrides or {}) do
    local key, text = kv:match("^([^=]+)=(.*)$")
    if not key then usage.error("-p %s: expected key=value", kv) end
    local p = decl[key]
    if not p then
      local known = {}
      for k in pairs(decl) do known[#known + 1] = k end
      table.sort(known)
      usage.error("unknown param '%s' for recipe %s (known: %s)", key, recipe_name,
        #known > 0 and table.concat(known, ", ") or "none")
    end
    local v, err = parsers[p.kind](setmetatable({ name = key }, { __index = p }), text)
    if v == nil then usage.error("param '%s' (%s): %s", key, p:type_text(), err) end
    local range_err = check_value(p, v)
    if range_err then usage.error("param '%s' (%s): %s", key, p:type_text(), range_err) end
    values[key] = v
  end
  for name, p in pairs(decl) do
    if p.required and values[name] == nil then
      usage.error("param '%s' of recipe %s is required: pass -p %s=VALUE", name, recipe_name, name)
    end
  end
  return values
end

return M
