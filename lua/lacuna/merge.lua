-- lacuna merge: the shards of one run (--shard i/n) joined into the single
-- run's outputs. Shard i holds a contiguous range of the items (lua/lacuna/
-- shard.lua), so the examples, skipped and failed files are the shards' files
-- concatenated in shard order. The shards must all be there, complete and of
-- the same run: same recipe (sha256), params, seed, format, inputs and
-- options, the same number of shards and items.
local core = require "lacuna.core"
local usage = require "lacuna.usage"
local output = require "lacuna.output"
local shard_split = require "lacuna.shard"

local json, jsonl, sys = core.json, core.jsonl, core.sys
local ordered = output.ordered

local M = {}

-- The manifest fields that say which run a shard belongs to.
-- (lacuna_version: another build may write other bytes for the same item)
local SAME_RUN = { "lacuna_version", "recipe", "params", "seed", "format", "inputs", "trusted", "reproduce" }

-- Holds out's lock (OUT.lock, as a run writing it does) until the merge
-- ends, so that a shard still running, or rerun meanwhile, cannot change
-- its files between the check and the copy. A lock that cannot be created
-- (a read-only directory) is not needed: no run can write there either.
local function hold_lock(out, locks)
  local path = output.side_path(out, ".lock")
  if locks[path] then return end -- (a shard given twice: refused as such later)
  local lock, _, holder = sys.lock(path)
  if lock then
    locks[#locks + 1] = lock
    locks[path] = true
  elseif holder and holder > 0 and holder ~= sys.pid() then -- (own: the same shard by another path)
    usage.error("merge: %s is being written by a lacuna run (pid %d): wait for it to finish", out, holder)
  end
end

local function read_manifest(out)
  local path = output.side_path(out, ".manifest.json")
  local f = io.open(path, "rb")
  if not f then usage.error("merge: %s has no manifest (%s): is it the output of a finished lacuna run?", out, path) end
  local text = f:read("a")
  f:close()
  local m = json.decode(text or "")
  if type(m) ~= "table" then usage.error("merge: %s is not a lacuna manifest", path) end
  local committed, why = output.committed({ out = out, skipped = output.side_path(out, ".skipped.jsonl"),
    failed = output.side_path(out, ".failed.jsonl"), manifest = path })
  if not committed then usage.error("merge: %s is incomplete (%s): rerun its shard", out, why) end
  return m
end

-- nil when two decoded JSON values are equal (key order aside), else the
-- path of a difference under name ("reproduce.meta", "params.policy").
local function differ(a, b, name)
  if type(a) ~= "table" or type(b) ~= "table" then
    if a == b then return nil end
    return name
  end
  for k, v in pairs(a) do
    local d = differ(v, b[k], name .. "." .. tostring(k))
    if d then return d end
  end
  for k in pairs(b) do
    if a[k] == nil then return name .. "." .. tostring(k) end
  end
  return nil
end

-- outs without the side files of another output in the list, so that a
-- glob (out.shard-*.jsonl) that also matches out.shard-3.skipped.jsonl works.
local SIDES = { ".skipped.jsonl", ".failed.jsonl", ".manifest.json", ".lock" }
function M.outputs_only(outs)
  local given, kept = {}, {}
  for _, out in ipairs(outs) do given[out] = true end
  for _, out in ipairs(outs) do
    local side = false
    for _, suffix in ipairs(SIDES) do
      local base = out:sub(1, #out - #suffix)
      if out:sub(-#suffix) == suffix and (given[base .. ".jsonl"] or given[base .. ".jsonl.gz"] or given[base]) then
        side = true
      end
    end
    if not side then kept[#kept + 1] = out end
  end
  return kept
end

local function is_int(v) return math.type(v) == "integer" end

-- Raises unless a manifest's shard field is a shard's: integers, index < count,
-- and the range that the split gives that index of that many items.
local function check_shard_field(out, sh)
  local fields_ok = is_int(sh.index) and is_int(sh.count) and is_int(sh.first_item) and is_int(sh.last_item)
    and is_int(sh.total_items) and sh.count >= 1 and sh.index >= 0 and sh.index < sh.count and sh.total_items >= 0
  if not fields_ok then
    usage.error("merge: %s: its manifest's shard (index, count, first_item, last_item, total_items) is malformed", out)
  end
  local first, last = shard_split.range(sh.total_items, sh.index, sh.count)
  if sh.first_item ~= first or sh.last_item ~= last then
    usage.error("merge: %s: shard %d/%d of %d items holds items %d..%d, not %d..%d: the manifest was altered",
      out, sh.index, sh.count, sh.total_items, sh.first_item, sh.last_item, first, last)
  end
end

-- Loads and checks the shards; returns them sorted by index, each {out=, m=};
-- with a table locks, holds each shard's lock in it.
-- want = {lo =, hi =} asks for shards lo..hi only (--jobs inside a shard of
-- its own); by default every shard 0..n-1.
function M.check(outs, want, locks)
  outs = M.outputs_only(outs)
  if #outs == 0 then usage.error("merge: which shards? (lacuna merge OUT SHARD_OUT...)") end
  local shards, by_index = {}, {}
  local ref
  for _, out in ipairs(outs) do
    if locks then hold_lock(out, locks) end
    local m = read_manifest(out)
    local sh = m.shard
    if type(sh) ~= "table" then
      usage.error("merge: %s is not a shard (its run had no --shard i/n)", out)
    end
    check_shard_field(out, sh)
    ref = ref or { out = out, m = m }
    for _, k in ipairs(SAME_RUN) do
      local d = differ(ref.m[k], m[k], k)
      if d then usage.error("merge: %s and %s are not shards of the same run: their %s differ", ref.out, out, d) end
    end
    if sh.count ~= ref.m.shard.count or sh.total_items ~= ref.m.shard.total_items then
      usage.error("merge: %s is shard %d/%d of %d items, %s is shard %d/%d of %d items: not the same run",
        ref.out, ref.m.shard.index, ref.m.shard.count, ref.m.shard.total_items, out, sh.index, sh.count,
        sh.total_items)
    end
    for _, k in ipairs({ "input_bytes", "model_files_sha256" }) do
      local d = differ(ref.m.shard[k], sh[k], k)
      if d then
        usage.error("merge: %s and %s are not shards of the same run: their %s differ (%s)", ref.out, out, d,
          k == "input_bytes" and "an input changed between their runs" or "another tokenizer or chat template")
      end
    end
    if by_index[sh.index] then
      usage.error("merge: %s and %s are both shard %d/%d", by_index[sh.index].out, out, sh.index, sh.count)
    end
    if m.stopped_early then
      usage.error("merge: shard %d/%d (%s) stopped early (%s): its items are not all done, so it cannot be merged; "
        .. "rerun it without that limit", sh.index, sh.count, out, tostring(m.stopped_early))
    end
    local c = type(m.counts) == "table" and m.counts or {}
    local function num(v) return is_int(v) and v or 0 end
    local done = num(c.ok) + num(c.skipped) + num(c.failed)
    local want_items = sh.last_item - sh.first_item + 1
    if done ~= want_items then
      usage.error("merge: shard %d/%d (%s) accounts for %d of its %d items: rerun it to complete it",
        sh.index, sh.count, out, done, want_items)
    end
    by_index[sh.index] = { out = out, m = m }
  end
  local n = ref.m.shard.count
  local lo, hi = want and want.lo or 0, want and want.hi or n - 1
  local missing = {}
  for i = lo, hi do
    if by_index[i] then shards[#shards + 1] = by_index[i] else missing[#missing + 1] = tostring(i) end
  end
  if #missing > 0 then
    usage.error("merge: shard%s %s of %d missing (give every shard's output)", #missing > 1 and "s" or "",
      table.concat(missing, ", "), n)
  end
  if #shards ~= #outs then
    for i, s in pairs(by_index) do
      if i < lo or i > hi then usage.error("merge: %s is shard %d/%d, not one of %d..%d", s.out, i, n, lo, hi) end
    end
  end
  local next_item = shards[1].m.shard.first_item
  for _, s in ipairs(shards) do
    if s.m.shard.first_item ~= next_item then
      usage.error("merge: shard %d/%d (%s) starts at item %d, expected %d", s.m.shard.index, n, s.out,
        s.m.shard.first_item, next_item)
    end
    next_item = s.m.shard.last_item + 1
  end
  return shards
end

-- Copies the lines of file at path into the output's file k.
local function append(out, k, path)
  local rd, err = jsonl.open(path)
  if not rd then usage.error("merge: %s", err) end
  while true do
    local line, e = rd:next_raw()
    if line == nil then break end
    if line == false then
      rd:close()
      usage.error("merge: %s", e)
    end
    out:write(k, line)
  end
  rd:close()
end

local SHARD_KEYS = { "index", "count", "first_item", "last_item", "total_items", "input_bytes", "model_files_sha256" }
local RECIPE_KEYS = { "name", "version", "sha256", "path", "requires", "modules" }

local COUNT_KEYS = { "planned", "read", "ok", "examples", "skipped", "failed", "failed_examples" }
local TEACHER_SUMS = { "requests", "retries", "cache_hits", "coalesced", "rate_limited", "failures",
  "prompt_tokens", "completion_tokens", "cost_usd" }

local function sum_fields(into, from, keys)
  for _, k in ipairs(keys) do
    if type(from[k]) == "number" then into[k] = (into[k] or 0) + from[k] end
  end
end

local RETRY_CAUSES = { "429", "5xx", "timeout", "reset", "bad_body" }

-- The merged teacher accounting: sums of the shards' (per model and per retry
-- cause too), and of extra (the --jobs setup run's, whose requests no shard
-- made); nil when nothing called the teacher.
local function teacher_sum(shards, extra)
  local t, models, causes, any = {}, {}, nil, false
  local sources = {}
  for _, s in ipairs(shards) do sources[#sources + 1] = s.m.teacher end
  if extra then sources[#sources + 1] = extra end
  for _, st in ipairs(sources) do
    if type(st) == "table" then
      any = true
      sum_fields(t, st, TEACHER_SUMS)
      for model, u in pairs(type(st.models) == "table" and st.models or {}) do
        models[model] = models[model] or {}
        sum_fields(models[model], u, { "requests", "cached", "prompt_tokens", "completion_tokens", "cost_usd" })
      end
      if type(st.retries_by_cause) == "table" then
        causes = causes or {}
        sum_fields(causes, st.retries_by_cause, RETRY_CAUSES)
      end
      t.cache, t.cache_mode = t.cache or st.cache, t.cache_mode or st.cache_mode
    end
  end
  if not any then return nil end
  for model, u in pairs(models) do
    models[model] = ordered(u, { "requests", "cached", "prompt_tokens", "completion_tokens", "cost_usd" })
  end
  t.models = models
  t.retries_by_cause = causes and ordered(causes, RETRY_CAUSES)
  return ordered(t, { "models", "requests", "retries", "retries_by_cause", "cache_hits", "coalesced", "rate_limited",
    "failures", "prompt_tokens", "completion_tokens", "cost_usd", "cache", "cache_mode" })
end

local ORDER = { "lacuna_version", "recipe", "params", "seed", "format", "inputs", "outputs", "counts", "shard",
  "merged_shards", "teacher", "trusted", "limits", "wall_seconds", "cpu_seconds", "finished_at", "reproduce" }

-- Writes the merged set at out_path from the shard outputs; returns the
-- counts. The merged manifest sums the counts and the teacher's accounting;
-- what only a shard can say (its recipe report, format notes, times) is kept
-- per shard in merged_shards, in shard order. opts.as_shard = {index=,
-- count=}: outs are the shards index*N .. index*N+N-1 of count*N (N = #outs)
-- and the merged set is written as shard index/count of the run.
-- opts.setup_teacher: the teacher accounting of a setup run before the shards.
function M.merge(out_path, outs, opts)
  local as = opts and opts.as_shard
  local per = as and #M.outputs_only(outs)
  local locks = {}
  local shards = M.check(outs, as and { lo = as.index * per, hi = as.index * per + per - 1 }, locks)
  local inputs = {}
  for _, s in ipairs(shards) do
    for _, suffix in ipairs({ "", ".skipped.jsonl", ".failed.jsonl", ".manifest.json" }) do
      inputs[#inputs + 1] = suffix == "" and s.out or output.side_path(s.out, suffix)
    end
  end
  local plan = output.plan(out_path, inputs)
  if plan.direct then usage.error("merge: OUT must be a file (the merged set has side files and a manifest)") end
  local out = output.open(plan)
  local ok, err = pcall(function()
    for _, s in ipairs(shards) do
      append(out, "out", s.out)
      append(out, "skipped", output.side_path(s.out, ".skipped.jsonl"))
      append(out, "failed", output.side_path(s.out, ".failed.jsonl"))
    end
  end)
  if not ok then
    out:abort()
    error(err, 0)
  end
  local counts, per_shard, wall, cpu = {}, {}, 0, 0
  for _, s in ipairs(shards) do
    local m = s.m
    sum_fields(counts, m.counts or {}, COUNT_KEYS)
    wall = math.max(wall, m.wall_seconds or 0)
    cpu = cpu + (m.cpu_seconds or 0)
    per_shard[#per_shard + 1] = ordered({ shard = ordered(m.shard, SHARD_KEYS), output = s.out,
      counts = ordered(m.counts, COUNT_KEYS), merged_shards = m.merged_shards,
      report = m.report, format_notes = m.format_notes, teacher = m.teacher, wall_seconds = m.wall_seconds,
      cpu_seconds = m.cpu_seconds, finished_at = m.finished_at },
      { "shard", "output", "counts", "merged_shards", "report", "format_notes", "teacher", "wall_seconds", "cpu_seconds",
        "finished_at" })
  end
  local ref = shards[1].m
  local merged_shard = as and ordered({ index = as.index, count = as.count,
    first_item = ref.shard.first_item, last_item = shards[#shards].m.shard.last_item,
    total_items = ref.shard.total_items, input_bytes = ref.shard.input_bytes,
    model_files_sha256 = ref.shard.model_files_sha256 }, SHARD_KEYS) or nil
  local committed = out:commit(function(files)
    return ordered({
      lacuna_version = ref.lacuna_version, recipe = ordered(ref.recipe, RECIPE_KEYS), params = ref.params,
      seed = ref.seed,
      format = ref.format, inputs = ref.inputs, outputs = ordered(files, { "examples", "skipped", "failed" }),
      counts = ordered(counts, COUNT_KEYS), shard = merged_shard, merged_shards = json.array(per_shard),
      teacher = teacher_sum(shards, opts and opts.setup_teacher),
      trusted = ref.trusted, limits = ref.limits, wall_seconds = wall, cpu_seconds = cpu,
      finished_at = sys.utc_iso8601(), reproduce = ref.reproduce,
    }, ORDER)
  end)
  for _, lock in ipairs(locks) do lock:release() end
  if not committed then
    io.stderr:write("lacuna merge: interrupted; nothing was written\n")
    return nil
  end
  return counts, #shards
end

return M
