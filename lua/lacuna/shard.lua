-- Shards of a run (--shard i/n): shard i of n takes a contiguous range of the
-- plan's work items, so that concatenating the shards' outputs in shard order
-- gives the single run's bytes (lacuna merge). Each item keeps its global
-- index, file:line and RNG stream: what it makes does not depend on the shard.
local usage = require "lacuna.usage"

local M = {}

-- {index =, count =} from "i/n" (0 <= i < n), or a usage error.
function M.parse(text, what)
  local i, n = tostring(text):match("^(%d+)/(%d+)$")
  i, n = tonumber(i), tonumber(n)
  if not i or n < 1 or i >= n then
    usage.error("%s expects i/n with 0 <= i < n (e.g. 0/4), got '%s'", what or "--shard", tostring(text))
  end
  return { index = math.tointeger(i), count = math.tointeger(n) }
end

local function env_int(env, name)
  local v = env(name)
  if v == nil or v == "" then return nil end
  local n = math.tointeger(tonumber(v))
  if not n then usage.error("$%s is not an integer: '%s'", name, v) end
  return n
end

-- The shard a run takes when --shard is not given: a Slurm job array (the
-- task's position in its range: (SLURM_ARRAY_TASK_ID - _MIN) / _STEP of
-- SLURM_ARRAY_TASK_COUNT; an uneven list like --array=1,2,5 is refused) or a
-- Kubernetes Indexed Job (JOB_COMPLETION_INDEX of --shard-count, else
-- $LACUNA_SHARD_COUNT). Returns the shard and where it came from, or nil.
function M.from_env(shard_count, env)
  env = env or os.getenv
  local id, count = env_int(env, "SLURM_ARRAY_TASK_ID"), env_int(env, "SLURM_ARRAY_TASK_COUNT")
  if id and count then
    -- (--array=1-16 or 0-30:2: the task's position in the array)
    local min = env_int(env, "SLURM_ARRAY_TASK_MIN") or 0
    local step = env_int(env, "SLURM_ARRAY_TASK_STEP") or 1
    local pos = (id - min) // math.max(step, 1)
    if (id - min) % math.max(step, 1) ~= 0 or pos < 0 or pos >= count then
      usage.error("the Slurm array task %d is not position 0..%d of a range with step %d (SLURM_ARRAY_TASK_MIN, "
        .. "_STEP, _COUNT): submit the array as --array=0-%d, or give --shard i/n", id, count - 1, step, count - 1)
    end
    return M.parse(string.format("%d/%d", pos, count), "SLURM_ARRAY_TASK_ID"), "SLURM_ARRAY_TASK_ID"
  end
  local index = env_int(env, "JOB_COMPLETION_INDEX")
  if index then
    count = shard_count or env_int(env, "LACUNA_SHARD_COUNT")
    if not count then
      usage.error("JOB_COMPLETION_INDEX is set: give the number of shards with --shard-count N " ..
        "(the Indexed Job's completions) or $LACUNA_SHARD_COUNT")
    end
    return M.parse(string.format("%d/%d", index, count), "JOB_COMPLETION_INDEX/--shard-count"),
      "JOB_COMPLETION_INDEX"
  end
  if shard_count then usage.error("--shard-count needs JOB_COMPLETION_INDEX (or use --shard i/n)") end
  return nil
end

-- Items first..last (1-based, inclusive; last < first when the shard is
-- empty) of total items for shard index of count: the same split everywhere.
function M.range(total, index, count)
  local first = total * index // count + 1
  local last = total * (index + 1) // count
  return first, last
end

-- A shard counts the items before it takes its range, so it reads its inputs
-- twice: stdin cannot be one.
function M.check_inputs(inputs, what)
  for _, path in ipairs(inputs or {}) do
    if path == "-" then usage.error("%s reads the inputs twice (to count the items): give a file, not '-'", what) end
  end
end

return M
