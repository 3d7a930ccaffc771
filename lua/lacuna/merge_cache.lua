-- lacuna cache merge DEST SRC...: the entries of other caches (one per machine
-- or per shard) added to DEST. SQLite on a network file system is not safe to
-- share, so each machine keeps its own cache and they are joined afterwards.
-- An entry already in DEST stays as it is; a source entry whose response
-- differs from DEST's (a teacher sampled at temperature > 0 answered the same
-- request twice, on two machines) is counted as a conflict and reported.
local core = require "lacuna.core"

local ccache = core.cache

local M = {}

-- Returns the exit code: 0 merged, 1 some entries conflicted or could not be
-- copied, 2 a cache could not be opened. say(fmt, ...) prints to stderr.
function M.run(dest, sources, say)
  if not dest or not sources or #sources == 0 then
    say("usage: lacuna cache merge DEST SRC...")
    return 2
  end
  -- Every source must open before DEST is created: a mistyped source leaves
  -- no empty cache behind.
  for _, src in ipairs(sources) do
    local s, serr = ccache.open(src, { readonly = true })
    if not s then
      say("lacuna: cache %s", serr)
      return 2
    end
    s:close()
  end
  local d, err = ccache.open(dest)
  if not d then
    say("lacuna: cache %s", err)
    return 2
  end
  local code = 0
  for _, src in ipairs(sources) do
    local s, serr = ccache.open(src, { readonly = true })
    if not s then
      say("lacuna: cache %s", serr)
      d:close()
      return 2
    end
    local added, present, conflicts, failed = 0, 0, 0, 0
    local n, ierr = s:each(function(row)
      local ok, inserted = d:put(row.key, { model = row.model, body = row.body, request = row.request,
        prompt_tokens = row.prompt_tokens, completion_tokens = row.completion_tokens })
      if not ok then
        failed = failed + 1
        if failed <= 5 then say("%s: key %s: %s", src, row.key, tostring(inserted)) end
      elseif inserted then
        added = added + 1
      elseif d:get(row.key) == row.body then
        present = present + 1
      else
        conflicts = conflicts + 1
        if conflicts <= 5 then
          say("%s: key %s: another response than %s's is cached for this request; %s's is kept", src, row.key,
            dest, dest)
        end
      end
    end)
    s:close()
    if not n then
      say("lacuna: %s: %s", src, tostring(ierr))
      code = 2
      break
    end
    say("merged %s into %s: %d added, %d already present, %d conflicting, %d failed", src, dest, added, present,
      conflicts, failed)
    if conflicts > 0 or failed > 0 then code = math.max(code, 1) end
  end
  d:close()
  return code
end

return M
