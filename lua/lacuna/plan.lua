-- The plan of a run (DESIGN §3.2): what its work items are. By default one
-- item per input record; a recipe's setup(run) may instead return
--   run:items(n)             n synthetic items: map gets 1..n
--   run:groups{by = "doc"}   adjacent records sharing a field's value: map gets the list
--   run:groups{size = 8}     consecutive records, 8 at a time: map gets the list
--   { item, item, ... }      a list built in setup: map gets each element
-- setup runs as a scheduled task (it may call the teacher, fan-out and cache
-- included) under the recipe's instruction budget. Each item's RNG stream
-- derives from (seed, item key): the item's position in the plan, or for
-- groups by a field, the field's value.
local core = require "lacuna.core"
local usage = require "lacuna.usage"

local jsonl, sched, json = core.jsonl, core.sched, core.json
local raise = core.caller.error

local M = {}

-- Plans made by run:items / run:groups, recognised when setup returns them.
local plans = setmetatable({}, { __mode = "k" })
local PLAN = { __metatable = "lacuna.plan", __tostring = function() return "lacuna.plan" end,
               __newindex = function() error("cannot modify a plan from a recipe", 2) end,
               __index = function(_, k) error("a plan has no field '" .. tostring(k) .. "'; return it from setup", 2) end }

local function new_plan(spec)
  local p = core.sandbox.proxy(PLAN, spec)
  plans[p] = spec
  return p
end

function M.items(n)
  local given = n
  n = math.tointeger(n)
  if type(given) ~= "number" or not n then
    raise("run:items(n): n must be an integer, got " .. (type(given) == "number" and tostring(given) or type(given)))
  end
  if n < 0 then raise("run:items(n): n must be >= 0, got " .. n) end
  return new_plan { kind = "items", n = n }
end

function M.groups(opts)
  if type(opts) ~= "table" then raise("run:groups{by = FIELD} or run:groups{size = N}: expected a table") end
  for k in pairs(opts) do
    if k ~= "by" and k ~= "size" then raise("run:groups: unknown option '" .. tostring(k) .. "' (by or size)") end
  end
  local by, size = opts.by, opts.size
  if (by == nil) == (size == nil) then raise("run:groups: give exactly one of by = FIELD or size = N") end
  if by ~= nil and (type(by) ~= "string" or by == "") then raise("run:groups: by must be a field name") end
  if size ~= nil and (math.type(size) ~= "integer" or size < 1) then
    raise("run:groups: size must be an integer >= 1")
  end
  return new_plan { kind = "groups", by = by, size = size }
end

-- The plan setup returned: nil (one item per record), a plan or a list.
-- Raises a usage error for anything else.
local ARRAY_MT = getmetatable(json.array {})
function M.resolve(ret, path)
  if ret == nil then return { kind = "records" } end
  local spec = plans[ret]
  if spec then return spec end
  if type(ret) == "userdata" then
    -- A read-only view of lacuna's (a list param, run.inputs): its own
    -- copy is the list; the items stay read-only views.
    local mt = debug.getmetatable(ret)
    if mt and mt.__pairs and type(mt.__index) == "table" then ret = mt.__index end
  end
  local mt = type(ret) == "table" and getmetatable(ret)
  if type(ret) == "table" and (mt == nil or mt == ARRAY_MT) then
    local n, count = #ret, 0
    for k in next, ret do
      if math.type(k) ~= "integer" or k < 1 or k > n then
        usage.error("%s: setup returned a table that is not a list (key %s); return a list of items," ..
          " run:items(n) or run:groups{...}", path, tostring(k))
      end
      count = count + 1
    end
    if count ~= n then -- (# found a border past a hole: an item would be nil)
      for i = 1, n do
        if ret[i] == nil then
          usage.error("%s: setup returned a list with a hole: item %d of %d is nil", path, i, n)
        end
      end
    end
    return { kind = "list", list = ret }
  end
  usage.error("%s: setup returned a %s; return nothing (one item per record), a list of items," ..
    " run:items(n) or run:groups{...}", path, type(ret))
end

-- A number for an item key: integers are themselves, anything else the first
-- 60 bits of the SHA-256 of its JSON text.
function M.stream(key)
  if math.type(key) == "integer" then return key end
  local text = type(key) == "string" and key or json.encode(key)
  return math.tointeger(tonumber(core.hash.sha256(text):sub(1, 15), 16))
end

-- The reader options of a run's options: --max-line-bytes bounds the
-- longest input line (and so the read buffer); a longer line is a failure.
M.DEFAULT_MAX_LINE = 512 * 1024 * 1024
function M.read_opts(o)
  return { max_line = o.max_line_bytes or M.DEFAULT_MAX_LINE }
end

-- Streams the records of the input files: each call returns
-- record, file, line, or false, "file:line: message", file, line for a
-- malformed line, or nil at the end. Raises a usage error when a file cannot be read.
function M.reader(inputs, read_opts)
  local idx, rd, path = 0, nil, nil
  local closed = false
  local function close()
    if rd then rd:close() end
    rd, closed = nil, true
  end
  local function next_record(method)
    if closed then return nil end
    while true do
      if not rd then
        idx = idx + 1
        path = inputs[idx]
        if not path then
          closed = true
          return nil
        end
        local err
        rd, err = jsonl.open(path, read_opts)
        if not rd then usage.error("%s", err) end
      end
      local v, a, b = rd[method or "next"](rd)
      if v == nil then
        rd:close()
        rd = nil
        if a then usage.error("%s", a) end
      elseif v == false then
        return false, a, path, b
      else
        return v, path, a
      end
    end
  end
  -- (--shard: an item before the shard's range is passed over undecoded;
  -- any line the reader returns, even a malformed one, is an item.)
  local function skip_record()
    local v, a, b = next_record("next_raw")
    if v == nil then return nil end
    if v == false then return false, a, path, b end
    return true, path, b
  end
  return function() return next_record() end, close, function() return rd end, skip_record
end

-- for record, file, line in run:records() do ... end in setup: every declared
-- input record, checked against the recipe's input declaration. A malformed
-- line or a record that does not match raises "file:line: message".
-- stdin (-i -) can be read once: st.stdin_read records that a pass has
-- begun, so that a second pass, or a plan that reads the records again,
-- fails instead of finding nothing.
M.STDIN_ONCE = "stdin (-i -) can be read only once: write the input to a file and give its name," ..
  " or plan the items from what the first pass over run:records() kept"
function M.records(r, inputs, read_opts, st)
  for _, path in ipairs(inputs) do
    if path == "-" and st then
      if st.stdin_read then raise("run:records(): " .. M.STDIN_ONCE) end
      st.stdin_read = true
    end
  end
  local next_record, close = M.reader(inputs, read_opts)
  return function()
    -- (an iterator kept for map would hand records out in completion order)
    if st and not st.phase then raise("run:records(): the iterator works in setup and finish only") end
    local v, a, b = next_record()
    if v == nil then return nil end
    if v == false then
      close()
      error(a, 0)
    end
    local err = r:check_input(v, json.null)
    if err then
      close()
      error(string.format("%s:%d: %s", a, b, err), 0)
    end
    return v, a, b
  end, nil, nil, setmetatable({}, { __close = close })
end

-- Runs setup(run_view) as the one task of a scheduled run, so that it may
-- call the teacher. Returns ok, the plan spec or the error value, interrupted,
-- and on an error its traceback.
function M.run_setup(r, run_view, budget)
  local result, err, done_ok, trace
  local given = false
  local _, interrupted = sched.run {
    window = 1,
    budget = budget,
    next = function()
      if given then return nil end
      given = true
      return true
    end,
    work = function() return r.setup(run_view) end,
    done = function(_, ok, value, tb)
      done_ok = ok
      if ok then result = value else err, trace = value, tb end
    end,
  }
  if interrupted then return false, "interrupted", true end
  if not done_ok then return false, err, false, trace end
  return true, M.resolve(result, r.source_path)
end

-- The work items of a plan, one per call, in the contract of the runner's
-- source: {record=, file=, line=, stream=} (record may be a group's list or
-- a planned item; records = true marks a group to check record by record),
-- or {bad = "file:line: message", file=, line=}. state.read counts items,
-- state.records the input records read; state.pending[seq] holds each item.
function M.source(spec, inputs, state, o)
  if o.shard then return M.shard_source(spec, inputs, state, o) end
  local limit = o.limit
  local function stopped()
    if state.stop or (limit and state.read >= limit) then return true end
    local stop_reason = state.pool and state.pool:stopped()
    if stop_reason then
      state.stop = stop_reason
      return true
    end
  end
  local function push(w)
    state.read = state.read + 1
    state.pending[state.read] = w
    return w
  end
  state.records = 0
  if spec.kind == "items" then
    return function()
      if stopped() or state.read >= spec.n then return nil end
      local i = state.read + 1
      return push { record = i, file = "item", line = i, stream = i }
    end
  elseif spec.kind == "list" then
    local list = spec.list
    return function()
      if stopped() or state.read >= #list then return nil end
      local i = state.read + 1
      return push { record = list[i], file = "item", line = i, stream = i }
    end
  end
  local next_record, _, current, skip_record = M.reader(inputs, M.read_opts(o))
  local function read_one()
    local v, a, b, c
    if state.skipping and spec.kind == "records" then v, a, b, c = skip_record() else v, a, b, c = next_record() end
    state.reader = current() or state.reader
    if v == nil then return nil end
    state.records = state.records + 1
    if v == false then return { bad = a, file = b, line = c } end
    return { record = v, file = a, line = b }
  end
  if spec.kind == "records" then
    return function()
      if stopped() then return nil end
      local w = read_one()
      if not w then return nil end
      return push(w)
    end
  end
  -- Groups. A malformed line inside a group fails the group it falls in.
  local by, size = spec.by, spec.size
  local ahead -- a record read past the end of the previous group
  -- Values of `by` whose group has ended, each with where it ended (file
  -- number * 2^32 + line), kept as the key's stream (its 60-bit hash; the
  -- key itself when an integer) and that place, packed 16 bytes an entry into
  -- one string per bucket: no key string is kept, and the collector has
  -- nothing to walk (a table entry per group made 1M groups take 2x the
  -- memory and 5x the time of groups by count).
  local ENTRY, BUCKET_MASK = 16, 0xffff
  local closed_buckets, file_number, file_names = {}, {}, {}
  local function closed_at(h)
    local b = closed_buckets[(h & BUCKET_MASK) + 1]
    if not b then return nil end
    local packed, from = string.pack("<i8", h), 1
    while true do
      local at = b:find(packed, from, true)
      if not at then return nil end
      if (at - 1) % ENTRY == 0 then return (string.unpack("<i8", b, at + 8)) end
      from = at + 1
    end
  end
  local function close_key(h, at)
    local i = (h & BUCKET_MASK) + 1
    closed_buckets[i] = (closed_buckets[i] or "") .. string.pack("<i8i8", h, at)
  end
  local function where(file, line)
    local n = file_number[file]
    if not n then
      n = #file_names + 1
      file_names[n], file_number[file] = file, n
    end
    return n << 32 | line
  end
  local function place(at) return string.format("%s:%d", file_names[at >> 32], at & 0xffffffff) end
  local groups = 0
  return function()
    if stopped() then return nil end
    local first = ahead or read_one()
    ahead = nil
    if not first then return nil end
    groups = groups + 1
    local list, bad = { first.record }, first.bad
    local key, stream = groups, groups
    if by then
      if not bad then
        key = first.record[by]
        local kt = type(key)
        if kt ~= "string" and math.type(key) ~= "integer" then
          bad = string.format("%s:%d: field '%s' must be a string or an integer to group by, got %s",
            first.file, first.line, by, key == nil and "nothing" or kt)
          key = groups
        else
          stream = M.stream(key)
          local ended = closed_at(stream)
          if ended then
            bad = string.format("%s:%d: records with %s = %s are not adjacent (a group of them ended at %s);" ..
              " run:groups{by = ...} groups adjacent records", first.file, first.line, by, json.encode(key),
              place(ended))
            key, stream = groups, groups
          end
        end
      end
      if not bad then
        local last = first
        while true do
          local w = read_one()
          if not w then break end
          if w.bad or w.record[by] ~= key then
            ahead = w
            break
          end
          list[#list + 1] = w.record
          last = w
        end
        close_key(stream, where(last.file, last.line))
      end
    else
      while #list < size do
        local w = read_one()
        if not w then break end
        if w.bad then
          bad = bad or w.bad
        else
          list[#list + 1] = w.record
        end
      end
    end
    return push { record = list, records = true, bad = bad, file = first.file, line = first.line,
                  stream = stream }
  end
end

-- The number of work items of a plan (before --limit): a pass over the
-- inputs, undecoded for one item per record.
function M.count(spec, inputs, o)
  if spec.kind == "items" then return spec.n end
  if spec.kind == "list" then return #spec.list end
  local scratch = { read = 0, pending = {}, skipping = true }
  local next_item = M.source(spec, inputs, scratch, o or {})
  while next_item() do scratch.pending[scratch.read] = nil end
  return scratch.read
end

-- The source of shard o.shard: the plan's items first..last of the whole
-- run's (lacuna.shard.range), each with its global index (w.index), file:line
-- and stream. state.shard gets {first =, last =, total =}.
function M.shard_source(spec, inputs, state, o)
  local shard = require "lacuna.shard"
  -- (the inner sources read as the run does, --max-line-bytes included)
  local plain = {}
  for k, v in pairs(o) do plain[k] = v end
  plain.shard, plain.limit = nil, nil
  local total = M.count(spec, inputs, plain)
  if o.limit then total = math.min(total, o.limit) end
  local first, last = shard.range(total, o.shard.index, o.shard.count)
  state.shard = { first = first, last = last, total = total }
  state.records = 0
  local inner = { read = 0, pending = {}, skipping = true }
  local next_item = M.source(spec, inputs, inner, plain)
  local records_before = 0
  return function()
    if state.stop then return nil end
    local stop_reason = state.pool and state.pool:stopped()
    if stop_reason then
      state.stop = stop_reason
      return nil
    end
    while inner.read < first - 1 do
      if not next_item() then return nil end
      inner.pending[inner.read] = nil
    end
    if inner.skipping then
      inner.skipping = false
      records_before = inner.records
    end
    if inner.read >= last then return nil end
    local w = next_item()
    if not w then return nil end
    inner.pending[inner.read] = nil
    w.index = inner.read
    state.read = state.read + 1
    state.pending[state.read] = w
    state.reader = inner.reader
    state.records = inner.records - records_before
    return w
  end
end

return M
