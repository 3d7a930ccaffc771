-- Trainer formats (DESIGN §5): each renders one Example into a trainer's
-- JSON, or says exactly why the format cannot carry the example's loss mask.
-- A format never trains text the recipe masked, nor masks text it trained: an
-- example it cannot represent is an error that suggests --format axolotl.
--
--   local formats = require "lacuna.formats"
--   local obj = formats.render("openai", ex, { split_partial = true })
--   local line = formats.line("axolotl", ex, {})   -- the JSON text, or nil, why
--
-- The renderers are C (core/render.c): one pass over the example's resolved
-- view, written either as the JSON line itself (line, what `lacuna run`
-- writes) or as Lua tables (render) whose metatables carry __jsonorder, so
-- that encoding them gives the same bytes, keys in the order trainers'
-- documentation shows.
local core = require("lacuna.core").example
local table_of, line_of = require("lacuna.core").render.table, require("lacuna.core").render.line
-- Caller mistakes are raised at the recipe's line, not lacuna's (core/caller.c).
local caller = require("lacuna.core").caller
local raise = caller.error

local M = {}

M.names = { "axolotl", "openai", "sharegpt", "trl" }
M.default = "axolotl"

local ADVICE = "; use --format axolotl, which keeps per-span masks"

local known = {}
for _, n in ipairs(M.names) do known[n] = true end

local function check_name_opts(name, opts, fname)
  name = name or M.default
  if type(name) ~= "string" or not known[name] then
    raise(string.format("%s: unknown format '%s' (known: %s)", fname, tostring(name),
      table.concat(M.names, ", ")))
  end
  if opts ~= nil and type(opts) ~= "table" then
    raise(string.format("%s: opts must be a table or nil, got %s", fname, type(opts)))
  end
  return name, opts or {}
end

local function check_args(name, ex, opts, fname)
  name = name or M.default
  if type(name) ~= "string" or not known[name] then return check_name_opts(name, opts, fname) end
  if not core.is(ex) then
    raise(string.format("%s: expected an Example, got %s", fname, type(ex)))
  end
  return check_name_opts(name, opts, fname)
end

-- Adds the example's metadata to a rendered object (unless opts.meta is
-- false, or the metadata is empty). Shared with the tokens format.
function M.with_meta(obj, ex, opts)
  if opts.meta ~= false then
    local meta = ex:meta()
    if next(meta) ~= nil then obj.meta = meta end
  end
  return obj
end

local function note_into(notes, note)
  if note and notes then notes[note] = true end
end

-- Renders ex in format `name` (nil: M.default) as Lua tables. opts: meta =
-- false leaves the metadata out; split_partial (openai); notes, a table that
-- receives notes for the manifest (sharegpt: mask_history = true).
function M.render(name, ex, opts)
  name, opts = check_args(name, ex, opts, "render")
  local obj, why = table_of(ex, name, opts.split_partial)
  if not obj then
    raise(string.format("format '%s' cannot represent this example: %s%s", name, why,
      name ~= "axolotl" and ADVICE or ""))
  end
  note_into(opts.notes, why)
  return M.with_meta(obj, ex, opts)
end

-- The JSON line of ex in format `name` (the bytes encode(render(...)) gives),
-- or nil and the reason the format cannot represent it. Same opts as render.
function M.line(name, ex, opts)
  name, opts = check_args(name, ex, opts, "line")
  local text, why = line_of(ex, name, opts.split_partial, opts.meta ~= false)
  if not text then
    return nil, string.format("format '%s' cannot represent this example: %s%s", name, why,
      name ~= "axolotl" and ADVICE or "")
  end
  note_into(opts.notes, why)
  return text
end

-- line_writer(name, opts) -> function(ex) returning what line(name, ex, opts)
-- returns, with name and opts checked once: for a run, which writes every
-- example of the corpus in one format. ex must be an Example.
-- opts.pieces: a line whose long texts need escapes may come back as a
-- RenderedLine (core/render.h), which the JSONL writer writes in pieces and
-- tostring() makes a string of (`lacuna run` sets it).
function M.line_writer(name, opts)
  name, opts = check_name_opts(name, opts, "line_writer")
  local split_partial, meta, notes, pieces = opts.split_partial, opts.meta ~= false, opts.notes, opts.pieces
  local advice = name ~= "axolotl" and ADVICE or ""
  return function(ex)
    local text, why = line_of(ex, name, split_partial, meta, pieces)
    if not text then
      return nil, string.format("format '%s' cannot represent this example: %s%s", name, why, advice)
    end
    note_into(notes, why)
    return text
  end
end

-- true, or nil and the reason render would give.
function M.check_representable(name, ex, opts)
  name, opts = check_args(name, ex, opts, "check_representable")
  local obj, why = table_of(ex, name, opts.split_partial)
  if not obj then return nil, why end
  return true
end

-- Behind a C frame, so that a mistake in `return lc.formats.render(...)` (a
-- tail call) names the recipe's line.
M.render = caller.entry(M.render)
M.check_representable = caller.entry(M.check_representable)
M.line = caller.entry(M.line)

return M
