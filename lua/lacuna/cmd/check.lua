-- lacuna check RECIPE [-i INPUT] [options]: validate a recipe and run it on 3 records.
local usage = require "lacuna.usage"
local runner = require "lacuna.runner"
local run = require "lacuna.cmd.run"

local M = run.with_run_options {
  name = "check",
  summary = "Validate a recipe and run it on 3 records (its own examples without -i).",
  usage = { "lacuna check RECIPE [-i INPUT] [options]" },
}

function M.main(o)
  if not o.recipe then usage.error("check: which recipe? (lacuna check RECIPE [-i INPUT])") end
  return (runner.check(o))
end

return M
