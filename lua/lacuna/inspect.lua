-- Reading an output file for people: the lines that match --where, each as a
-- conversation (inspect_conv.lua), with the run's manifest beside them.
--
--   local sel = assert(inspect.select("out.jsonl", { where = { "meta.case=bad" }, limit = 10 }))
--   io.write(inspect.text(sel, false))
local core = require "lacuna.core"
local conv = require "lacuna.inspect_conv"
local where = require "lacuna.inspect_where"
local term = require "lacuna.inspect_term"
local output = require "lacuna.output"

local M = {}

local MAX_ERRORS = 20

-- OUT's manifest decoded, or nil; its path; its text.
M.manifest = output.read_manifest

-- The lines of path that satisfy opts.where (a list of conditions), at most
-- opts.limit of them (nil: all). Returns {path, items = {{line =, obj =,
-- conv =}...}, matched, lines, errors = {"path:line: message"...}, manifest,
-- manifest_path, manifest_text}, or nil and a message when the file cannot be read.
-- Malformed lines are named in errors and skipped.
function M.select(path, opts)
  opts = opts or {}
  local pass = where.compile(opts.where)
  local manifest, mpath, mtext = M.manifest(path)
  local notes = manifest and type(manifest.format_notes) == "table" and manifest.format_notes or {}
  local copts = { tokenizer = opts.tokenizer, mask_history = notes.mask_history == true }
  local rd, err = core.jsonl.open(path)
  if not rd then return nil, err end
  local sel = { path = path, items = {}, matched = 0, lines = 0, errors = {}, bad = 0,
                manifest = manifest, manifest_path = mpath,
                manifest_text = mtext }
  while true do
    local v, a = rd:next()
    if v == nil then
      if a then
        rd:close()
        return nil, a
      end
      break
    end
    sel.lines = sel.lines + 1
    if v == false then
      sel.bad = sel.bad + 1
      if #sel.errors < MAX_ERRORS then sel.errors[#sel.errors + 1] = a end
    elseif pass(v) then
      sel.matched = sel.matched + 1
      if not opts.limit or #sel.items < opts.limit then
        sel.items[#sel.items + 1] = { line = a, obj = v, conv = conv.from_record(v, copts) }
      end
    end
  end
  rd:close()
  return sel
end

-- The selection as terminal text.
function M.text(sel, color)
  local out = {}
  for i, it in ipairs(sel.items) do
    out[#out + 1] = term.render(it.conv, { color = color, title = string.format("%s:%d", sel.path, it.line) })
    if i < #sel.items then out[#out + 1] = "\n" end
  end
  local shown = #sel.items
  out[#out + 1] = string.format("\n%d of %d matching lines shown (%d lines in %s%s); %s\n", shown, sel.matched,
    sel.lines, sel.path, sel.bad > 0 and string.format(", %d malformed", sel.bad) or "", term.legend(color))
  return table.concat(out)
end

return M
