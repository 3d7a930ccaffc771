-- lacuna cache stats|export|import|import-batch [FILE] [--cache DB]
local usage = require "lacuna.usage"

local M = {
  name = "cache",
  summary = "Inspect, export and load the teacher's response cache.",
  usage = {
    "lacuna cache stats [--cache DB]",
    "lacuna cache export FILE [--cache DB]         responses as JSONL, to reproduce without a teacher",
    "lacuna cache import FILE [--cache DB]",
    "lacuna cache import-batch FILE [--cache DB]   load an OpenAI Batch API output file",
    "lacuna cache merge DEST SRC...                join caches (one per machine) into DEST",
  },
  operands = { { key = "sub", name = "SUBCOMMAND" }, { key = "file", name = "FILE" },
    { key = "more", name = "SRC", rest = true } },
  groups = {
    { title = "cache options",
      { "--cache", arg = "DB", key = "cache", doc = "the cache file (default .lacuna/cache.db)" } },
  },
}

function M.main(o)
  local cache = require "lacuna.cache"
  local db = o.cache or ".lacuna/cache.db"
  if o.sub == "stats" then return cache.cmd_stats(db, io.stdout) end
  if o.sub == "merge" then
    return require("lacuna.merge_cache").run(o.file, o.more,
      function(fmt, ...) io.stderr:write(string.format(fmt, ...), "\n") end)
  end
  if o.more then usage.error("lacuna cache %s: unexpected argument '%s'", o.sub, o.more[1]) end
  local subs = { export = cache.cmd_export, import = cache.cmd_import, ["import-batch"] = cache.cmd_import_batch }
  local fn = subs[o.sub or ""]
  if not fn then usage.error("lacuna cache: expected stats, export, import, import-batch or merge") end
  if not o.file then usage.error("lacuna cache %s: which file?", o.sub) end
  return fn(db, o.file)
end

return M
