-- lacuna bundle RECIPE [-o FILE]: a recipe and the modules it requires as one
-- file, so that one pinned URL covers them all (lua/lacuna/bundle.lua).
local usage = require "lacuna.usage"
local runner = require "lacuna.runner"
local bundle = require "lacuna.bundle"
local core = require "lacuna.core"

local M = {
  name = "bundle",
  summary = "Write a recipe and the modules it requires as one bundle file, and print its pinned-URL suffix.",
  usage = { "lacuna bundle RECIPE [-o FILE]" },
  operands = { { key = "recipe", name = "RECIPE" } },
  groups = {
    { title = "bundle options",
      { "-o", "--output", arg = "FILE", key = "file",
        doc = "the bundle (default RECIPE with .lua replaced by .bundle.json)" },
    },
  },
  notes = function()
    return "The recipe is loaded (sandboxed) to find its modules: require them at the top of the file.\n" ..
      "Publish FILE and share URL#sha256=HEX; `lacuna run URL#sha256=HEX` runs it."
  end,
}

function M.main(o)
  if not o.recipe then usage.error("bundle: which recipe? (lacuna bundle RECIPE)") end
  local r = runner.load(o.recipe, {})
  local b = bundle.of_source(r.source)
  local text = bundle.encode(b.main, b.files)
  local file = o.file or (o.recipe:gsub("%.lua$", "") .. ".bundle.json")
  local f, err = io.open(file, "wb")
  if not f then usage.error("bundle: %s", err) end
  local ok, werr = f:write(text)
  local cok, cerr = f:close()
  if not ok or not cok then usage.error("bundle: %s: %s", file, tostring(werr or cerr)) end
  local n = 0
  for _ in pairs(b.files) do n = n + 1 end
  io.stderr:write(string.format("lacuna: bundled %s and %d module%s into %s\n", o.recipe, n - 1,
    n == 2 and "" or "s", file))
  io.stdout:write("#sha256=", core.hash.sha256(text), "\n")
  return 0
end

return M
