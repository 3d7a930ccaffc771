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
-- untrained. Text must be valid UTF-8; it is checked once, when it is added.
--
-- Metadata: example.new{meta = t} copies t's fields into the example's own
-- table, ex:meta() (later writes to t are not seen; write to ex:meta()). It is
-- written as JSON with lacuna.json's rules: an empty Lua table is an object,
-- {}; mark a list that may be empty with json.array (lc.json.array{} or
-- lc.json.array(t)), an object with json.object.
--
-- The resolved view, for code that reads an example whole (renderers, the
-- tokens format, recipes): ex:snapshot() returns, in one call, a list with one
-- table per message
--   { index = i, role = "assistant", content = "...",
--     state = "trained" | "untrained" | "partial",
--     runs = { { b =, e =, cb =, ce =, train = }, ... } }
-- where runs is the message's resolved mask as maximal runs, byte offsets b, e
-- and character offsets cb, ce into content (0-based, end exclusive; text not
-- covered by explicit spans is an untrained run; empty content has no runs
-- and its state is the message's own flag). It is a copy: later changes to the
-- example do not change it. ex:segments(i) is message i's runs alone.
local core = require("lacuna.core").example
-- Caller mistakes are raised at the recipe's line, not lacuna's (core/caller.c);
-- the recipe-facing functions sit behind a C frame (caller.entry) so that
-- `return lc.example():user(x)`, a tail call, keeps the recipe's line too.
local caller = require("lacuna.core").caller
local raise, entry = caller.error, caller.entry

local M = {}
local type = type

local methods = core.methods
-- The raw getter is kept: ex:message(i) with an integer still reads message i.
local raw_message = rawget(methods, "raw_message") or methods.message
methods.raw_message = raw_message

local PART = {}
PART.__index = PART
PART.__name = "lacuna.Part"

-- A piece of a message's text with its own train flag (nil: the message's).
M.part = entry(function(text, train)
  if type(text) ~= "string" then
    raise("bad argument #1 to 'part' (string expected, got " .. type(text) .. ")")
  end
  if train ~= nil and type(train) ~= "boolean" then
    raise("bad argument #2 to 'part' (boolean or nil expected, got " .. type(train) .. ")")
  end
  return setmetatable({ text, train = train }, PART)
end)

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
      raise(string.format("%s: part %d must be a string or {text, train = bool}, got %s",
        fname, k, type(p) == "table" and "a table without text" or type(p)))
    end
    if train ~= nil and type(train) ~= "boolean" then
      raise(string.format("%s: part %d: train must be a boolean or nil, got %s",
        fname, k, type(train)))
    end
    out[k] = { text, train }
  end
  if #out == 0 and next(parts) ~= nil then
    raise(fname .. ": parts must be a list")
  end
  return out
end

local function append_parts(ex, i, parts)
  for _, p in ipairs(parts) do ex:append_part(i, p[1], p[2]) end
end

local function add(ex, fname, role, body, train)
  if train ~= nil and type(train) ~= "boolean" then
    raise(string.format("%s: train must be a boolean or nil, got %s", fname, type(train)))
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
    -- A part C refuses (invalid UTF-8) takes its whole message back out. The
    -- error already names the recipe's line.
    local ok, err = pcall(append_parts, ex, i, parts)
    if not ok then
      ex:pop()
      error(err, 0)
    end
  else
    raise(string.format("%s: text must be a string or a list of parts, got %s",
      fname, type(body)))
  end
  return ex
end

methods.system = entry(function(self, body, train) return add(self, "system", "system", body, train) end)
methods.user = entry(function(self, body, train) return add(self, "user", "user", body, train) end)
methods.assistant = entry(function(self, body, train)
  return add(self, "assistant", "assistant", body, train)
end)

-- ex:message(role, text_or_parts [, train]) adds a message with any role;
-- ex:message(i) returns message i as a table (see core.example).
-- (A role and a text, the common case, are added by the C entry itself:
-- core.message_entry; this function has the rest.)
methods.message = core.message_entry(function(self, role, body, train)
  if math.type(role) == "integer" then return raw_message(self, role) end
  if type(role) ~= "string" then
    raise("message: role must be a string (or an index to read a message), got " .. type(role))
  end
  return add(self, "message", role, body, train)
end)

-- Adds a message whose mask is given as 0-based, end-exclusive byte spans
-- {{b, e, train}, ...}; a rejected span list adds nothing.
methods.spans = entry(function(self, role, text, spans)
  if type(text) ~= "string" then
    raise("spans: text must be a string, got " .. type(text))
  end
  local i = self:add_message(role, text)
  local ok, err = pcall(self.set_spans, self, i, spans)
  if not ok then
    self:pop()
    raise(err)
  end
  return self
end)

function M.is_example(v)
  return core.is(v)
end

-- example.new{meta = t}: an empty example; t's fields are copied into its
-- metadata (see the top).
M.new = entry(function(opts)
  if opts ~= nil and type(opts) ~= "table" then
    raise("bad argument #1 to 'new' (table or nil expected, got " .. type(opts) .. ")")
  end
  local ex = core.new()
  if opts and opts.meta ~= nil then
    if type(opts.meta) ~= "table" then
      raise("new: meta must be a table, got " .. type(opts.meta))
    end
    local meta = ex:meta()
    for k, v in pairs(opts.meta) do meta[k] = v end
  end
  return ex
end)

-- example(opts) is example.new(opts).
return setmetatable(M, { __call = function(_, opts) return M.new(opts) end })
