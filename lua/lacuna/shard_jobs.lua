-- lacuna run --jobs N: the run as N shard processes of this executable on one
-- machine (core/spawn.c), sharing one cache (SQLite WAL on a local disk lets
-- several processes write it), merged into OUT when every shard is done.
-- The shards' outputs live in OUT.jobs/ until the merge, so that a rerun
-- after a crash reruns them from the cache. Ctrl-C or SIGTERM reaches the
-- parent, which passes it on to the shards once and waits for them.
--
-- Inside a shard i/n of its own (--shard, a Slurm array task, an Indexed
-- Job) the N processes take shards i*N+j of n*N, j = 0..N-1: together the
-- same items as shard i/n (shard.first is exact), merged into OUT as shard
-- i/n, so that `lacuna merge` joins the array's outputs as usual.
local core = require "lacuna.core"
local usage = require "lacuna.usage"
local output = require "lacuna.output"
local merge = require "lacuna.merge"
local shard = require "lacuna.shard"

local sys, spawn = core.sys, core.spawn

local M = {}

-- More processes than any machine has cores: a typo (--jobs 100000) must not
-- fork that many.
M.MAX_JOBS = 1024

-- This process's arguments after the program name (Linux: /proc/self/cmdline).
local function own_args()
  local f = io.open("/proc/self/cmdline", "rb")
  if not f then usage.error("--jobs: cannot read /proc/self/cmdline (--jobs needs Linux)") end
  local text = f:read("a")
  f:close()
  local args = {}
  for a in text:gmatch("([^%z]*)%z") do args[#args + 1] = a end
  table.remove(args, 1)
  return args
end

-- The flags that take a value, from the command's option groups.
local function value_flags(cmd)
  local takes = {}
  for _, g in ipairs(cmd.groups) do
    for _, opt in ipairs(g) do
      for _, flag in ipairs(opt) do
        if opt.kind ~= "flag" then takes[flag] = true end
      end
    end
  end
  return takes
end

-- args without the flags in drop (each with its value), then extra.
local function rewrite(args, cmd, drop, extra)
  local takes = value_flags(cmd)
  local out, i = {}, 1
  while i <= #args do
    local a = args[i]
    local flag, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
    flag = flag or a
    local width = (takes[flag] and inline == nil) and 2 or 1
    if not drop[flag] then
      for j = i, i + width - 1 do out[#out + 1] = args[j] end
    end
    i = i + width
  end
  for _, a in ipairs(extra) do out[#out + 1] = a end
  return out
end

-- Waits for every pid in running (pid -> shard); returns codes by shard and
-- the signal that interrupted the wait, if any (passed on to the children).
local function wait_all(running)
  local codes, left, forwarded = {}, 0, nil
  for _ in pairs(running) do left = left + 1 end
  while left > 0 do
    local pid, code = spawn.wait(0.5)
    local sig = sys.interrupted()
    if sig and not forwarded then
      forwarded = sig
      for p in pairs(running) do spawn.kill(p, sig) end
    end
    if pid and running[pid] then
      codes[running[pid]] = code
      running[pid] = nil
      left = left - 1
    elseif pid == nil and code then -- (no child left to wait for)
      break
    end
  end
  return codes, forwarded
end

-- Runs cmd (lacuna run) with options o as o.jobs shard processes and merges
-- them into o.output. Returns the exit code.
function M.run(cmd, o)
  local n = o.jobs
  if n > M.MAX_JOBS then usage.error("--jobs %d: at most %d processes (one per core is the point)", n, M.MAX_JOBS) end
  local outer = shard.resolve(o.shard, o.shard_count)
  if outer and outer.count == 1 then outer = nil end -- (--shard 0/1: the whole run)
  if outer and outer.count * n > shard.MAX_COUNT then
    usage.error("--jobs %d of shard %d/%d: more than %d shards", n, outer.index, outer.count, shard.MAX_COUNT)
  end
  -- (each process would count its own failures and spend its own budget)
  if o.max_failures then usage.error("--jobs and --max-failures: the shards would each count their own failures") end
  if o.max_cost then usage.error("--jobs and --max-cost: the shards would each spend the whole budget") end
  if not o.output or o.output == "-" then usage.error("--jobs needs -o FILE (the shards are merged into it)") end
  if o.batch_export then usage.error("--jobs and --batch-export: export the batch without --jobs") end
  local plan = output.plan(o.output, o.inputs)
  if plan.direct then usage.error("--jobs needs -o FILE, not a device or a pipe") end
  local dir = output.side_path(o.output, ".jobs")
  local okd, derr = sys.mkdirs(dir)
  if not okd then usage.error("--jobs: %s", derr) end
  local args = own_args()
  table.remove(args, 1) -- "run"
  local own = { ["--jobs"] = true, ["-o"] = true, ["--output"] = true, ["--shard"] = true, ["--shard-count"] = true }
  -- The recipe, params, format, tokenizer and inputs are checked here once,
  -- rather than failing in every shard.
  local r = require("lacuna.runner").prepare(o)
  local setup_teacher
  -- A setup runs first, alone (--limit 0): the teacher answers it gets land in
  -- the cache and every shard plans from the same ones (at temperature > 0 two
  -- shards asking at once would each get their own).
  if r.setup and not o.no_cache then
    local child = rewrite(args, cmd, { ["--jobs"] = true, ["-o"] = true, ["--output"] = true, ["--limit"] = true },
      { "-o", dir .. "/setup.jsonl", "--limit", "0", "-q" })
    table.insert(child, 1, "run")
    local pid, err = spawn.self(child, 0)
    if not pid then usage.error("--jobs: %s", err) end
    local codes, sig = wait_all({ [pid] = 0 })
    if sig then
      io.stderr:write("lacuna: interrupted during setup; nothing was merged\n")
      return 130
    end
    local c = codes[0] or 2
    if c ~= 0 and c ~= 1 then
      if c > 128 and c ~= 130 then
        io.stderr:write(string.format("lacuna: --jobs: the setup run was killed by signal %d; nothing was merged\n",
          c - 128))
      end
      return c == 130 and 130 or 2
    end
    -- (its requests go into the merged accounting: no shard made them)
    local sm = output.read_manifest(dir .. "/setup.jsonl")
    setup_teacher = sm and sm.teacher
    for _, suffix in ipairs({ ".jsonl", ".skipped.jsonl", ".failed.jsonl", ".manifest.json" }) do
      os.remove(dir .. "/setup" .. suffix)
    end
  end
  local outs, running, pgid = {}, {}, 0
  for i = 0, n - 1 do
    outs[i + 1] = string.format("%s/shard-%d-of-%d.jsonl", dir, i, n)
    -- (shard 0's progress line stands for the run's: the shards go at one pace)
    local sub = outer and string.format("%d/%d", outer.index * n + i, outer.count * n) or string.format("%d/%d", i, n)
    local child = rewrite(args, cmd, own, { "-o", outs[i + 1], "--shard", sub, i > 0 and "--no-progress" or nil })
    table.insert(child, 1, "run")
    local pid, err = spawn.self(child, pgid)
    if not pid then
      for p in pairs(running) do spawn.kill(p, spawn.SIGTERM) end
      wait_all(running)
      usage.error("--jobs: %s", err)
    end
    if pgid == 0 then pgid = pid end
    running[pid] = i
  end
  local codes, sig = wait_all(running)
  if sig or sys.interrupted() then
    io.stderr:write("lacuna: interrupted; the shards stopped, nothing was merged (rerun the same command to resume)\n")
    return 130
  end
  -- A shard that stopped (2), was interrupted (130) or was killed by another
  -- signal (128 + s): nothing is merged, and the exit code is 130 when a
  -- shard was interrupted, else 2 (the run's outputs were not written).
  local code = 0
  for i = 0, n - 1 do
    local c = codes[i] or 2
    if c ~= 0 and c ~= 1 then
      local how = (c > 128 and c ~= 130) and string.format("was killed by signal %d", c - 128)
        or string.format("exited with code %d", c)
      io.stderr:write(string.format("lacuna: --jobs: shard %d/%d %s; nothing was merged "
        .. "(rerun the same command)\n", i, n, how))
      code = (c == 130 or code == 130) and 130 or 2
    end
  end
  if code ~= 0 then return code end
  local counts = merge.merge(o.output, outs, { as_shard = outer, setup_teacher = setup_teacher })
  if not counts then return 130 end
  for _, path in ipairs(outs) do
    for _, suffix in ipairs({ "", ".skipped.jsonl", ".failed.jsonl", ".manifest.json" }) do
      os.remove(suffix == "" and path or output.side_path(path, suffix))
    end
  end
  os.remove(dir)
  if not o.quiet then
    io.stderr:write(string.format("lacuna: --jobs %d: %d ok (%d examples) + %d skipped + %d failed -> %s\n",
      n, counts.ok or 0, counts.examples or 0, counts.skipped or 0, counts.failed or 0, o.output))
  end
  -- (a shard exits 1 for failed items, and also when its recipe's finish failed)
  local some_one = false
  for i = 0, n - 1 do some_one = some_one or codes[i] == 1 end
  return (some_one or (counts.failed or 0) > 0 or (counts.failed_examples or 0) > 0) and 1 or 0
end

return M
