-- The friendly Example API over core.example (C). An Example is a list of chat
-- messages whose content carries a train/ignore mask; builders return the
-- example so calls chain:
--
--   local ex = example.new{ meta = { id = 7 } }
--     :system(generic_instruction)
--     :user(question)
--     :assistant{ example.part(attempt, false), example.part(verification, true) }
--
-- A message's flag (true/false/nil) applies to its whole text; nil means the
-- role default (assistant trained, everything else not). Parts carry their own
-- flag (nil: the message's). Explicit byte spans (ex:spans) leave uncovered text
-- untrained.
local core = require("lacuna.core").example

local M = {}

local methods = core.methods
-- The raw getter is kept: ex:message(i) with an integer still reads message i.
local raw_message = rawget(methods, "raw_message") or methods.message
methods.raw_message = raw_message

local PART = {}
PART.__index = PART
PART.__name = "lacuna.Part"

-- A piece of a message's text with its own train flag (nil: the message's).
function M.part(text, train)
  if type(text) ~= "string" then
    error("bad argument #1 to 'part' (string expected, got " .. type(text) .. ")", 2)
  end
  if train ~= nil and type(train) ~= "boolean" then
    error("bad argument #2 to 'part' (boolean or nil expected, got " .. type(train) .. ")", 2)
  end
  return setmetatable({ text, train = train }, PART)
end

-- Reads a list of parts into {text, train} pairs, raising (at the caller's
-- caller) on anything else, before the example is touched.
local function read_parts(parts, fname)
  local out = {}
  for k, p in ipairs(parts) do
    local text, train
    if type(p) == "string" then
      text = p
    elseif type(p) == "table" then
      text = p[1]
      if text == nil then text = p.text end
      train = p.train
    end
    if type(text) ~= "string" then
      error(string.format("%s: part %d must be a string or {text, train = bool}, got %s",
        fname, k, type(p) == "table" and "a table without text" or type(p)), 4)
    end
    if train ~= nil and type(train) ~= "boolean" then
      error(string.format("%s: part %d: train must be a boolean or nil, got %s",
        fname, k, type(train)), 4)
    end
    out[k] = { text, train }
  end
  if #out == 0 and next(parts) ~= nil then
    error(fname .. ": parts must be a list", 4)
  end
  return out
end

local function add(ex, fname, role, body, train)
  if train ~= nil and type(train) ~= "boolean" then
    error(string.format("%s: train must be a boolean or nil, got %s", fname, type(train)), 3)
  end
  if type(body) == "string" then
    ex:add_message(role, body, train)
  elseif type(body) == "table" then
    -- One part given alone (M.part(...) or {text, train = b}) is a list of one.
    if getmetatable(body) == PART or body.train ~= nil or body.text ~= nil then
      body = { body }
    end
    local parts = read_parts(body, fname)
    local i = ex:add_message(role, "", train)
    for _, p in ipairs(parts) do ex:append_part(i, p[1], p[2]) end
  else
    error(string.format("%s: text must be a string or a list of parts, got %s",
      fname, type(body)), 3)
  end
  return ex
end

function methods:system(body, train) return add(self, "system", "system", body, train) end
function methods:user(body, train) return add(self, "user", "user", body, train) end
function methods:assistant(body, train) return add(self, "assistant", "assistant", body, train) end

-- ex:message(role, text_or_parts [, train]) adds a message with any role;
-- ex:message(i) returns message i as a table (see core.example).
function methods:message(role, body, train)
  if math.type(role) == "integer" then return raw_message(self, role) end
  if type(role) ~= "string" then
    error("message: role must be a string (or an index to read a message), got " .. type(role), 2)
  end
  return add(self, "message", role, body, train)
end

-- Adds a message whose mask is given as 0-based, end-exclusive byte spans
-- {{b, e, train}, ...}; a rejected span list adds nothing.
function methods:spans(role, text, spans)
  if type(text) ~= "string" then
    error("spans: text must be a string, got " .. type(text), 2)
  end
  local i = self:add_message(role, text)
  local ok, err = pcall(self.set_spans, self, i, spans)
  if not ok then
    self:pop()
    error(err, 2)
  end
  return self
end

function M.is_example(v)
  return core.is(v)
end

function M.new(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'new' (table or nil expected, got " .. type(opts) .. ")", 2)
  end
  local ex = core.new()
  if opts and opts.meta ~= nil then
    if type(opts.meta) ~= "table" then
      error("new: meta must be a table, got " .. type(opts.meta), 2)
    end
    local meta = ex:meta()
    for k, v in pairs(opts.meta) do meta[k] = v end
  end
  return ex
end

-- example(opts) is example.new(opts).
return setmetatable(M, { __call = function(_, opts) return M.new(opts) end })
