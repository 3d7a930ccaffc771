-- Shards (lua/lacuna/shard.lua, plan.shard_source): --shard i/n parsing, the
-- split of the items, the defaults from Slurm and Kubernetes, and that the
-- shards' items, in shard order, are the unsharded run's items with the same
-- record, file:line, stream and global index, for every kind of plan.
local t = require "testlib"
require "lacuna"
local shard = require "lacuna.shard"
local plan = require "lacuna.plan"
local usage = require "lacuna.usage"

local FIX = "../fixtures/plan/"

t.test("parse i/n", function()
  t.eq(shard.parse("0/1").index, 0)
  t.eq(shard.parse("3/4").count, 4)
  t.eq(shard.parse("01/02").index, 1)
  for _, bad in ipairs({ "4/4", "3/3", "1/0", "-1/2", "1", "a/b", "1/2/3", "", " 1/2", "1/2 ", "1 /2", "+1/2", "0x1/2",
    "1/99999999999999999999", "0/1000000001" }) do
    local ok, err = pcall(shard.parse, bad)
    t.truthy(not ok and usage.is(err), "refused: " .. bad)
  end
end)

t.test("ranges cover 1..total once, contiguous, sizes within one", function()
  for _, total in ipairs({ 0, 1, 3, 7, 100, 303 }) do
    for n = 1, 9 do
      local next_item, min, max = 1, math.huge, 0
      for i = 0, n - 1 do
        local first, last = shard.range(total, i, n)
        t.eq(first, next_item, ("total %d, shard %d/%d starts"):format(total, i, n))
        next_item = last + 1
        min, max = math.min(min, last - first + 1), math.max(max, last - first + 1)
      end
      t.eq(next_item, total + 1, "the last shard ends at total")
      t.truthy(max - min <= 1, "balanced")
    end
  end
end)

t.test("the split of huge counts does not overflow", function()
  local big = shard.MAX_COUNT
  local first, last = shard.range(1 << 40, big - 1, big)
  t.eq(last, 1 << 40, "the last shard ends at total")
  t.eq(first, (1 << 40) - (1 << 40) // big, "and starts total/n before")
  t.eq(shard.first(12, big - 1, big), 12, "12 items in 10^9 shards: the last one holds item 12")
  -- (sub-shards i*N+j of n*N cover exactly shard i/n: --jobs inside a shard)
  for _, total in ipairs({ 0, 1, 5, 202, 1001 }) do
    for n = 1, 5 do
      for jobs = 1, 4 do
        for i = 0, n - 1 do
          local f, l = shard.range(total, i, n)
          t.eq(shard.first(total, i * jobs, n * jobs), f, "sub-shards start where the shard starts")
          t.eq(shard.first(total, i * jobs + jobs, n * jobs) - 1, l, "and end where it ends")
        end
      end
    end
  end
end)

local function env(vars) return function(k) return vars[k] end end

t.test("defaults from Slurm job arrays and Kubernetes Indexed Jobs", function()
  t.eq(shard.from_env(nil, env {}), nil)
  local s, from = shard.from_env(nil, env { SLURM_ARRAY_TASK_ID = "2", SLURM_ARRAY_TASK_COUNT = "4" })
  t.eq(s.index, 2)
  t.eq(s.count, 4)
  t.eq(from, "SLURM_ARRAY_TASK_ID")
  s = shard.from_env(nil, env { SLURM_ARRAY_TASK_ID = "10", SLURM_ARRAY_TASK_MIN = "7", SLURM_ARRAY_TASK_COUNT = "4" })
  t.eq(s.index, 3)
  s = shard.from_env(nil, env { SLURM_ARRAY_TASK_ID = "5", SLURM_ARRAY_TASK_MIN = "1", SLURM_ARRAY_TASK_STEP = "2",
    SLURM_ARRAY_TASK_COUNT = "4" })
  t.eq(s.index, 2, "--array=1-7:2, task 5")
  t.raises(function()
    shard.from_env(nil, env { SLURM_ARRAY_TASK_ID = "5", SLURM_ARRAY_TASK_MIN = "1", SLURM_ARRAY_TASK_COUNT = "3" })
  end, "--array=0-2")
  s = shard.from_env(5, env { JOB_COMPLETION_INDEX = "4" })
  t.eq(s.index, 4)
  t.eq(s.count, 5)
  s = shard.from_env(nil, env { JOB_COMPLETION_INDEX = "0", LACUNA_SHARD_COUNT = "2" })
  t.eq(s.count, 2)
  t.raises(function() shard.from_env(nil, env { JOB_COMPLETION_INDEX = "1" }) end, "--shard-count")
  t.raises(function() shard.from_env(2, env { JOB_COMPLETION_INDEX = "2" }) end, "0 <= i < n")
  t.raises(function() shard.from_env(3, env {}) end, "JOB_COMPLETION_INDEX")
  t.raises(function() shard.from_env(nil, env { SLURM_ARRAY_TASK_ID = "x", SLURM_ARRAY_TASK_COUNT = "2" }) end,
    "not an integer")
end)

-- What Slurm sets in a task of sbatch --array=SPEC.
local function slurm(id, min, max, step, count)
  return env { SLURM_ARRAY_TASK_ID = tostring(id), SLURM_ARRAY_TASK_MIN = tostring(min),
    SLURM_ARRAY_TASK_MAX = tostring(max), SLURM_ARRAY_TASK_STEP = tostring(step),
    SLURM_ARRAY_TASK_COUNT = count and tostring(count) }
end

t.test("real Slurm arrays: every task of --array=1-16, 0-15:2, 3-9:3 takes its own position", function()
  for _, spec in ipairs({ { 1, 16, 1 }, { 0, 15, 1 }, { 0, 14, 2 }, { 3, 9, 3 }, { 5, 5, 1 } }) do
    local min, max, step = spec[1], spec[2], spec[3]
    local count = (max - min) // step + 1
    local seen = {}
    for id = min, max, step do
      for _, with_count in ipairs({ true, false }) do -- (Slurm before _COUNT existed)
        local s = shard.from_env(nil, slurm(id, min, max, step, with_count and count or nil))
        t.eq(s.count, count, ("--array=%d-%d:%d task %d: count"):format(min, max, step, id))
        seen[s.index] = (seen[s.index] or 0) + 1
      end
    end
    for i = 0, count - 1 do t.eq(seen[i], 2, ("--array=%d-%d:%d: position %d taken once"):format(min, max, step, i)) end
  end
end)

t.test("Slurm variables that do not describe an even array are refused", function()
  local function refused(e, what, why)
    local ok, err = pcall(shard.from_env, nil, e)
    t.truthy(not ok and usage.is(err), "refused: " .. what)
    if why then t.truthy(tostring(err):find(why, 1, true), what .. ": says " .. why .. " in " .. tostring(err)) end
  end
  refused(env { SLURM_ARRAY_TASK_ID = "1" }, "an ID alone", "SLURM_ARRAY_TASK_COUNT")
  refused(env { SLURM_ARRAY_TASK_COUNT = "4" }, "a count alone", "SLURM_ARRAY_TASK_ID")
  refused(slurm(2, 1, 5, 1, 3), "--array=1,2,5 task 2 (uneven)", "--array=0-2")
  refused(slurm(5, 1, 5, 1, 3), "--array=1,2,5 task 5 (uneven)", "--array=0-2")
  refused(slurm(2, 0, 6, 0, 4), "step 0", "STEP")
  refused(slurm(2, 0, 6, -2, 4), "negative step", "STEP")
  refused(env { SLURM_ARRAY_TASK_ID = "1", SLURM_ARRAY_TASK_COUNT = "0" }, "count 0", "COUNT")
  refused(env { SLURM_ARRAY_TASK_ID = "1e0", SLURM_ARRAY_TASK_COUNT = "2" }, "1e0", "not an integer")
  refused(env { SLURM_ARRAY_TASK_ID = "0x1", SLURM_ARRAY_TASK_COUNT = "2" }, "0x1", "not an integer")
  refused(env { SLURM_ARRAY_TASK_ID = "1.0", SLURM_ARRAY_TASK_COUNT = "2" }, "1.0", "not an integer")
  refused(env { SLURM_ARRAY_TASK_ID = "-1", SLURM_ARRAY_TASK_COUNT = "2" }, "-1", "not position")
  refused(env { JOB_COMPLETION_INDEX = "x", LACUNA_SHARD_COUNT = "2" }, "index x", "not an integer")
  refused(env { JOB_COMPLETION_INDEX = "0", LACUNA_SHARD_COUNT = "0" }, "count 0", "0 <= i < n")
  t.eq(shard.from_env(nil, env { SLURM_ARRAY_TASK_ID = " 3 ", SLURM_ARRAY_TASK_COUNT = "4\n" }).index, 3,
    "spaces around a value")
end)

t.test("--shard wins over the environment; --shard-count must agree with it", function()
  local flag = shard.parse("1/4")
  local s = shard.resolve(flag, nil, env { SLURM_ARRAY_TASK_ID = "0", SLURM_ARRAY_TASK_COUNT = "2" })
  t.eq(s.index, 1)
  t.eq(s.count, 4)
  t.eq(shard.resolve(flag, 4, env {}).count, 4, "--shard-count equal to n")
  t.raises(function() shard.resolve(flag, 3, env {}) end, "disagree")
  t.eq(shard.resolve(nil, nil, env {}), nil, "no shard")
end)

local drain = require "plan_drain"

local function same_item(a, b, what)
  t.eq(require("lacuna.core").json.encode(a.record), require("lacuna.core").json.encode(b.record), what .. " record")
  t.eq(a.file, b.file, what .. " file")
  t.eq(a.line, b.line, what .. " line")
  t.eq(a.stream, b.stream, what .. " stream")
  t.eq(a.bad, b.bad, what .. " bad")
end

local SPECS = {
  { name = "records", spec = { kind = "records" } },
  { name = "items", spec = { kind = "items", n = 11 } },
  { name = "list", spec = { kind = "list", list = { "a", "b", "c", "d", "e" } } },
  { name = "groups by", spec = { kind = "groups", by = "doc" } },
  { name = "groups of 2", spec = { kind = "groups", size = 2 } },
}

t.test("the shards' items in order are the single run's, for every kind of plan", function()
  for _, input in ipairs({ "docs.jsonl", "bad_docs.jsonl" }) do
    for _, case in ipairs(SPECS) do
      for _, limit in ipairs({ false, 3 }) do
        local o = { limit = limit or nil }
        local whole, wstate = drain(case.spec, { FIX .. input }, o)
        for n = 1, 5 do
          local joined, records, index = {}, 0, 0
          for i = 0, n - 1 do
            local items, state = drain(case.spec, { FIX .. input },
              { limit = o.limit, shard = { index = i, count = n } })
            for _, w in ipairs(items) do
              joined[#joined + 1] = w
              index = index + 1
              t.eq(w.index, index, "global index")
            end
            records = records + (state.records or 0)
            local first, last = shard.range(#whole, i, n)
            t.eq(state.shard.first, first)
            t.eq(state.shard.last, last)
            t.eq(state.shard.total, #whole)
          end
          local what = ("%s %s limit %s in %d shards"):format(input, case.name, tostring(limit), n)
          t.eq(#joined, #whole, what .. ": item count")
          for k = 1, math.min(#joined, #whole) do same_item(joined[k], whole[k], what .. " item " .. k) end
          if case.spec.kind == "records" or (case.spec.kind == "groups" and not limit) then
            t.eq(records, wstate.records, what .. ": records read add up")
          end
        end
      end
    end
  end
end)

t.test("the count pass does not decode records outside the shard", function()
  t.eq(plan.count({ kind = "records" }, { FIX .. "bad_docs.jsonl" }), 4)
  t.eq(plan.count({ kind = "groups", by = "doc" }, { FIX .. "docs.jsonl" }), 4)
  t.eq(plan.count({ kind = "items", n = 9 }, {}), 9)
end)

t.done()
