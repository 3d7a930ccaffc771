-- Shards of a run (--shard i/n): shard i of n takes a contiguous range of the
-- plan's work items, so that concatenating the shards' outputs in shard order
-- gives the single run's bytes (lacuna merge). Each item keeps its global
-- index, file:line and RNG stream: what it makes does not depend on the shard.
local core = require "lacuna.core"
local usage = require "lacuna.usage"

local M = {}

-- The most shards a run splits into: far beyond any cluster's array size, and
-- small enough that M.first's (total % count) * index cannot overflow.
M.MAX_COUNT = 1000000000

-- {index =, count =} from "i/n" (0 <= i < n <= M.MAX_COUNT), or a usage error.
function M.parse(text, what)
  local i, n = tostring(text):match("^(%d+)/(%d+)$")
  i, n = tonumber(i), tonumber(n)
  if not i or n < 1 or i >= n or n > M.MAX_COUNT then
    usage.error("%s expects i/n with 0 <= i < n <= %d (e.g. 0/4), got '%s'", what or "--shard", M.MAX_COUNT,
      tostring(text))
  end
  return { index = math.tointeger(i), count = math.tointeger(n) }
end

-- A variable's integer value (digits, an optional minus sign; spaces around
-- them), nil when unset or empty, or a usage error.
local function env_int(env, name)
  local v = env(name)
  if v == nil or v == "" then return nil end
  local digits = v:match("^%s*(%-?%d+)%s*$")
  local n = digits and #digits <= 12 and math.tointeger(tonumber(digits))
  if not n then usage.error("$%s is not an integer: '%s'", name, v) end
  return n
end

-- The shard of a Slurm array task: its position in the array's range. Slurm
-- sets SLURM_ARRAY_TASK_ID, _COUNT, _MIN, _MAX and _STEP in every task
-- (--array=1-16 gives IDs 1..16, MIN 1, MAX 16, COUNT 16; --array=0-15:2 has
-- STEP 2); older releases lack _COUNT, which _MIN, _MAX and _STEP then give.
-- An uneven list like --array=1,2,5 has no position to take: refused.
local function slurm_shard(env, id)
  local count = env_int(env, "SLURM_ARRAY_TASK_COUNT")
  local min, max = env_int(env, "SLURM_ARRAY_TASK_MIN"), env_int(env, "SLURM_ARRAY_TASK_MAX")
  local step = env_int(env, "SLURM_ARRAY_TASK_STEP") or 1
  if step < 1 then usage.error("$SLURM_ARRAY_TASK_STEP must be >= 1, got %d", step) end
  if not count and min and max and max >= min then count = (max - min) // step + 1 end
  if not count then
    usage.error("SLURM_ARRAY_TASK_ID is set (%d) but not SLURM_ARRAY_TASK_COUNT (nor _MIN and _MAX): "
      .. "give the shard with --shard i/n", id)
  end
  if count < 1 then usage.error("$SLURM_ARRAY_TASK_COUNT must be >= 1, got %d", count) end
  min = min or 0
  local uneven = max and max ~= min + step * (count - 1)
  local pos = (id - min) // step
  if uneven or (id - min) % step ~= 0 or pos < 0 or pos >= count then
    usage.error("the Slurm array task %d is not position 0..%d of an even range (SLURM_ARRAY_TASK_MIN %d, "
      .. "_MAX %s, _STEP %d, _COUNT %d): submit the array as --array=0-%d (or 1-%d), or give --shard i/n",
      id, count - 1, min, max and tostring(max) or "unset", step, count, count - 1, count)
  end
  return M.parse(string.format("%d/%d", pos, count), "SLURM_ARRAY_TASK_ID")
end

-- The shard a run takes when --shard is not given: a Slurm job array task
-- (slurm_shard) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX of
-- --shard-count, else $LACUNA_SHARD_COUNT). Returns the shard and where it
-- came from, or nil. A half-set Slurm array (a count but no task ID) is
-- refused rather than run whole in every task.
function M.from_env(shard_count, env)
  env = env or os.getenv
  local id = env_int(env, "SLURM_ARRAY_TASK_ID")
  if id then return slurm_shard(env, id), "SLURM_ARRAY_TASK_ID" end
  if env_int(env, "SLURM_ARRAY_TASK_COUNT") then
    usage.error("SLURM_ARRAY_TASK_COUNT is set but not SLURM_ARRAY_TASK_ID: give the shard with --shard i/n")
  end
  local index = env_int(env, "JOB_COMPLETION_INDEX")
  if index then
    local count = shard_count or env_int(env, "LACUNA_SHARD_COUNT")
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

-- The shard a run takes: --shard i/n (a --shard-count beside it must say the
-- same n), else from_env's.
function M.resolve(flag, shard_count, env)
  if flag then
    if shard_count and shard_count ~= flag.count then
      usage.error("--shard %d/%d and --shard-count %d disagree: give one of them", flag.index, flag.count, shard_count)
    end
    return flag
  end
  return M.from_env(shard_count, env)
end

-- Items first..last (1-based, inclusive; last < first when the shard is
-- empty) of total items for shard index of count: the same split everywhere.
function M.range(total, index, count)
  return M.first(total, index, count), M.first(total, index + 1, count) - 1
end

-- total * index // count + 1 without the product (it could pass 2^63).
function M.first(total, index, count)
  return (total // count) * index + (total % count) * index // count + 1
end

-- What else must be the same in every shard of a run, beyond the manifest's
-- recipe, params, seed, format, inputs and options: the inputs' sizes (an
-- input rewritten between two shards' runs, same path and line count, would
-- mix two datasets; a size costs no read) and, for --format tokens, the
-- SHA-256 of the tokenizer's files (another --tokenizer would mix token ids).
-- Recorded in the shard's manifest; lacuna merge compares them.
function M.identity(o)
  local sys, sha256_file = core.sys, core.hash.sha256_file
  local sizes = {}
  for i, path in ipairs(o.inputs or {}) do
    local st = sys.stat(path)
    sizes[i] = st and st.size or -1
  end
  local files
  if o.format == "tokens" and o.tokenizer then
    local parts = {}
    local st = sys.stat(o.tokenizer)
    local dir = st and st.dir and o.tokenizer or nil
    local names = dir and { dir .. "/tokenizer.json", dir .. "/tokenizer_config.json", dir .. "/chat_template.jinja" }
      or { o.tokenizer }
    if o.chat_template then names[#names + 1] = o.chat_template end
    for _, path in ipairs(names) do
      local h = sys.stat(path) and sha256_file(path)
      if h then parts[#parts + 1] = h end
    end
    files = core.hash.sha256(table.concat(parts, "\n"))
  end
  return core.json.array(sizes), files
end

-- A shard counts the items before it takes its range, so it reads its inputs
-- twice: stdin cannot be one.
function M.check_inputs(inputs, what)
  for _, path in ipairs(inputs or {}) do
    if path == "-" then usage.error("%s reads the inputs twice (to count the items): give a file, not '-'", what) end
  end
end

return M
