-- lacuna merge OUT SHARD_OUT...: joins the outputs of a run's shards.
local merge = require "lacuna.merge"
local usage = require "lacuna.usage"

local M = {
  name = "merge",
  summary = "Join the outputs of a run's shards (--shard i/n) in item order.",
  usage = { "lacuna merge OUT SHARD_OUT...   e.g. lacuna merge out.jsonl out.shard-*.jsonl" },
  operands = { { key = "out", name = "OUT" }, { key = "shards", name = "SHARD_OUT", rest = true } },
  notes = function()
    return "Every shard 0..n-1 of the same run (recipe, params, seed, format, inputs) must be given, each "
      .. "complete: OUT is then byte for byte the output of the run without --shard, with its skipped and "
      .. "failed files; OUT's manifest sums the counts and keeps each shard's report under merged_shards."
  end,
  groups = {
    { title = "merge options", { "-q", "--quiet", key = "quiet", kind = "flag", doc = "no summary on stderr" } },
  },
}

function M.main(o)
  if not o.out then usage.error("merge: where to? (lacuna merge OUT SHARD_OUT...)") end
  require("lacuna.core").sys.catch_signals()
  local counts, n = merge.merge(o.out, o.shards or {})
  if not counts then return 130 end
  if not o.quiet then
    io.stderr:write(string.format("lacuna merge: %d shards: %d ok (%d examples) + %d skipped + %d failed -> %s\n",
      n, counts.ok or 0, counts.examples or 0, counts.skipped or 0, counts.failed or 0, o.out))
  end
  return ((counts.failed or 0) > 0 or (counts.failed_examples or 0) > 0) and 1 or 0
end

return M
