-- lacuna info RECIPE: the recipe's card (params, input fields, formats).
local usage = require "lacuna.usage"
local runner = require "lacuna.runner"
local formats = require "lacuna.formats"
local run = require "lacuna.cmd.run"

local M = run.with_run_options {
  name = "info",
  summary = "Print a recipe's card: params, input fields, formats.",
  usage = { "lacuna info RECIPE [options]" },
  notes = function()
    return run.recipe_note() .. "\nIt takes run's options; --trust and --max-instructions apply to loading the recipe."
  end,
}

local function pad(s, n) return s .. string.rep(" ", n - #s) end

-- The card of a loaded recipe as text.
function M.card(r)
  local lines = {}
  local function add(...) lines[#lines + 1] = string.format(...) end
  add("%s %s", r.name, r.version)
  if r.summary then add("  %s", r.summary) end
  if r.cite then add("  cite: %s", r.cite) end
  if r.license then add("  license: %s", r.license) end
  add("  source: %s (sha256 %s)", r.source_path, r.sha256)
  add("  default format: %s", r.format or formats.default)
  if r.description then add("\n%s", r.description) end
  local names = {}
  for k in pairs(r.params) do names[#names + 1] = k end
  table.sort(names)
  add("\nparams (-p key=value):")
  if #names == 0 then add("  (none)") end
  local w = 4
  for _, k in ipairs(names) do w = math.max(w, #k) end
  for _, f in ipairs(r.fields) do w = math.max(w, #f.name) end
  for _, k in ipairs(names) do
    local p = r.params[k]
    add("  %s  %s = %s  %s", pad(k, w), p:type_text(), p:default_text(), p.doc)
  end
  add("\ninput fields (per JSONL record):")
  if #r.fields == 0 then add("  (any JSON object)") end
  for _, f in ipairs(r.fields) do
    add("  %s  %s%s%s", pad(f.name, w), f.type, f.optional and " (optional)" or "",
      f.doc and ("  " .. f.doc) or "")
  end
  add("\nformats: %s, tokens", table.concat(formats.names, ", "))
  return table.concat(lines, "\n") .. "\n"
end

function M.main(o)
  if not o.recipe then usage.error("info: which recipe? (lacuna info RECIPE)") end
  io.stdout:write(M.card(runner.load(o.recipe, o)))
  return 0
end

return M
