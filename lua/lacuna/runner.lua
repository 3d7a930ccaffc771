-- Running a recipe over a corpus: load it (sandboxed unless trusted), resolve
-- its params, stream the inputs through the scheduler (one coroutine per work
-- item) and account for every item as examples, a skip or a failure, written
-- in input order.
local core = require "lacuna.core"
local usage = require "lacuna.usage"
local recipe_mod = require "lacuna.recipe"
local params_mod = require "lacuna.params"
local sandbox = require "lacuna.sandbox"
local view = require "lacuna.view"
local formats = require "lacuna.formats"
local example = require "lacuna.example"
local teacher = require "lacuna.teacher"
local output = require "lacuna.output"
local plan = require "lacuna.plan"
local run_view = require "lacuna.run_view"
local bundle = require "lacuna.bundle"

local json, jsonl, sys, sched, hash = core.json, core.jsonl, core.sys, core.sched, core.hash
local encode, null = json.encode, json.null

local M = {}

M.defaults = {
  window = 256,                     -- work items unfinished at a time (at least 16 x concurrency)
  order_items = 4096,               -- items launched and not yet written (at least 16 x window)
  order_memory_mb = 2,              -- their results kept in memory; the rest wait in a spill file
  concurrency = 16,                 -- teacher requests in flight
  max_instructions = 1000000000,    -- per work item, sandboxed recipes
  max_memory_mb = 4096,             -- whole Lua state, sandboxed recipes
}

local function stderr(s) io.stderr:write(s, "\n") end

-- Finds a recipe by path, or by the name of a shipped recipe.
-- Returns source text, chunk name, display path.
function M.find_recipe(ref)
  local f = io.open(ref, "rb")
  if f then
    local src = f:read("a")
    f:close()
    if src then return src, "@" .. ref, ref end
  end
  local name = ref:gsub("%.lua$", "")
  local shipped = core.shipped_recipes[name]
  if shipped then return shipped, "@recipes/" .. name .. ".lua", "recipes/" .. name .. ".lua" end
  local names = {}
  for k in pairs(core.shipped_recipes) do names[#names + 1] = k end
  table.sort(names)
  usage.error("%s: no such recipe file, and no shipped recipe of that name (shipped: %s)",
    ref, table.concat(names, ", "))
end

local function first_line(s)
  s = tostring(s)
  return s:match("^[^\n]*")
end

-- Loads and validates a recipe. o.trust lifts the sandbox; o.max_instructions
-- and o.max_memory_mb cap a sandboxed one.
function M.load(ref, o)
  o = o or {}
  -- (a URL, a bundle, a file or a shipped recipe; modules: lua/lacuna/bundle.lua)
  local source = bundle.open(ref, o, M.find_recipe)
  local src, chunkname, path = source.text, source.chunkname, source.path
  local require_module = bundle.loader(source)
  local lc = require "lacuna"
  local env
  if o.trust then
    stderr("lacuna: --trust: the sandbox is off; " .. path .. " runs with full access to files, network and the process")
    env = sandbox.trusted_env(require_module)
  else
    env = sandbox.env(lc, function(line) stderr("[recipe] " .. line) end, o, require_module)
  end
  local chunk, err = load(src, chunkname, "t", env)
  if not chunk then usage.error("%s", err) end
  local ok, declared = sched.call_limited(M.budget(o), chunk)
  if not ok then usage.error("%s", first_line(declared)) end
  if not recipe_mod.is_recipe(declared) then
    usage.error("%s: a recipe must return lacuna.recipe{...} (it returned a %s)", path, type(declared))
  end
  -- The runner's own copy: the recipe keeps the table it declared, and what
  -- it later does to it changes neither the run nor the manifest.
  local r = setmetatable({}, getmetatable(declared))
  for k, v in next, declared do r[k] = v end
  r.source_path = path
  r.sha256 = hash.sha256(src)
  r.source = source
  return r
end

function M.budget(o)
  if o.max_instructions then return o.max_instructions end
  return o.trust and 0 or M.defaults.max_instructions
end

local function apply_memory_cap(o)
  local mb = o.max_memory_mb
  if mb == nil and not o.trust then mb = M.defaults.max_memory_mb end
  if mb and mb > 0 then core.sandbox.limit_memory(mb * 1024 * 1024) end
end

-- The function each work item's coroutine runs. Returns an outcome table:
-- {examples = {json lines}, example_failures = {{index =, message =}...}?}
-- | {skip = reason} | {fail = message}. Each example is decided on its own:
-- one the format cannot represent is an example failure (recorded with the
-- item's file:line and the example's index), never the loss of the item's
-- other examples; an item none of whose examples could be written fails.
local function make_work(r, values, o, fmt, notes, pool, tok)
  local lc = require "lacuna"
  local is_skip, is_example = lc.is_skip, example.is_example
  local fopts = { meta = o.meta ~= false, split_partial = o.split_partial, notes = notes, pieces = true }
  -- line(ex) -> the example's JSON line, or nil and why it cannot be written.
  local line
  if fmt == "tokens" then
    local tokens = require "lacuna.tokens"
    fopts.tokenizer, fopts.chat_template = o.model_files.tokenizer, o.model_files.chat_template
    line = function(ex)
      local ok, obj = pcall(tokens.render, ex, fopts)
      if not ok then return nil, tostring(obj) end
      return encode(obj)
    end
  else
    line = formats.line_writer(fmt, fopts)
  end
  local seed = o.seed or 0
  local map = r.map
  local ctx_of, params_view = view.ctx, view.readonly_copy(values, "params")
  return function(w, seq)
    if w.bad then return { fail = w.bad } end
    -- (plan: a group's records are checked one by one; planned items are the recipe's own.)
    local err = w.stream == nil and r:check_input(w.record, null)
    if w.records then
      for i, rec in ipairs(w.record) do
        err = r:check_input(rec, null)
        if err then err = "record " .. i .. " of the group: " .. err break end
      end
    end
    if err then return { fail = string.format("%s:%d: %s", w.file, w.line, err), input_error = true } end
    -- A proxy (lua/lacuna/view.lua): the recipe reads it, never changes it.
    local ctx = ctx_of {
      params = params_view, index = w.index or seq, seed = seed, stream = w.stream, tokenizer = tok,
      file = w.file, line = w.line, recipe = r.name, _pool = pool,
    }
    local res = map(w.record, ctx)
    if res == nil then return { skip = "map returned nothing" } end
    if is_skip(res) then return { skip = res.reason } end
    local list
    if is_example(res) then
      -- (one example, the common case: written without the list checks below)
      local text = line(res)
      if text then return { examples = { text } } end
      list = { res }
    elseif type(res) == "table" and (getmetatable(res) == nil or json.is_array(res)) then
      list = res
    else
      error("map returned a " .. type(res) ..
        "; expected an example, a list of examples or lc.skip(reason)", 0)
    end
    -- every key must be 1..n: a hole or another key would drop examples unseen
    local n = 0
    for k in pairs(list) do
      n = n + 1
      if math.type(k) ~= "integer" or k < 1 then
        error("map returned a list with the key " .. tostring(k) .. "; expected examples at 1, 2, ...", 0)
      end
    end
    if n ~= #list then
      for i = 1, n do
        if list[i] == nil then error("map returned a list with a hole: element " .. i .. " is nil", 0) end
      end
    end
    if n == 0 then return { skip = "map returned no examples" } end
    local lines, failures = {}, nil
    for i, ex in ipairs(list) do
      if not is_example(ex) then
        error("map returned a list whose element " .. i .. " is a " .. type(ex) .. ", not an example", 0)
      end
      local text, why = line(ex)
      if text then
        lines[#lines + 1] = text
      else
        failures = failures or {}
        failures[#failures + 1] = { index = i, message = string.format("%s:%d: example %d of %d: %s",
          w.file, w.line, i, #list, why) }
      end
    end
    if #lines == 0 then
      -- Nothing of the item can be written: the item fails, with the first
      -- reason (all of them when they differ would be noise).
      local msg = failures[1].message
      if #list == 1 then msg = msg:gsub(" example 1 of 1:", "", 1) end
      return { fail = msg }
    end
    return { examples = lines, example_failures = failures }
  end
end

-- The order buffer: output goes out in input order, so an item finished
-- while an earlier one is still retrying waits for its turn. Its result waits
-- here, not in a window slot, so that new items keep starting and the
-- requests in flight stay at --concurrency. Results are kept in memory up to
-- `budget` bytes; beyond that an item's example lines go to an anonymous
-- temporary file (deleted by the system even on kill -9) and come back when
-- the item's turn comes. Only lines are spilled: skips and failures are rare
-- and small, and keep their input record for the failure files. An item whose
-- turn has come (every earlier one written) is written as soon as it returns:
-- it never goes through the file, so one huge line is not copied twice more.
local OrderBuffer = {}
OrderBuffer.__index = OrderBuffer
local ITEM_OVERHEAD = 256 -- bytes of Lua tables an in-memory result costs beyond its lines

local function order_buffer(budget)
  return setmetatable({ budget = budget, held = 0, spilled = 0, spill_bytes = 0, peak_held = 0, taken = 0 },
    OrderBuffer)
end

-- Called when item seq's outcome is ready (in its task): returns what the
-- scheduler keeps until the item's turn, the outcome itself or the offset of
-- its lines in the spill file.
function OrderBuffer:keep(w, outcome, seq)
  local lines = outcome.examples
  if not lines then return outcome end
  local size = ITEM_OVERHEAD
  for i = 1, #lines do size = size + #lines[i] end
  if self.held + size <= self.budget or outcome.example_failures or seq == self.taken + 1 then
    self.held = self.held + size
    if self.held > self.peak_held then self.peak_held = self.held end
    outcome.held = size
    return outcome
  end
  if not self.file then
    local f, err = io.tmpfile()
    if not f then error("the order buffer's spill file: " .. tostring(err), 0) end
    self.file, self.size = f, 0
  end
  local f = self.file
  local at = self.size
  local text
  if #lines == 1 then
    text = tostring(lines[1]) -- (a RenderedLine becomes its string here)
  else
    local texts = {}
    for i = 1, #lines do texts[i] = tostring(lines[i]) end
    text = table.concat(texts, "\n")
  end
  local head = string.format("%d %d\n", #lines, #text)
  assert(f:seek("set", at))
  local ok, err = f:write(head, text)
  if not ok then error("the order buffer's spill file: " .. tostring(err), 0) end
  self.size = at + #head + #text
  self.spilled = self.spilled + 1
  self.spill_bytes = self.spill_bytes + #text
  w.record = nil -- (examples never need the input record)
  return at
end

-- The outcome kept by keep, when item seq's turn has come (ok: its task
-- finished without an error, so kept is what keep returned).
function OrderBuffer:take(seq, ok, kept)
  self.taken = seq
  if not ok then return kept end
  if math.type(kept) ~= "integer" then
    if type(kept) == "table" and kept.held then self.held = self.held - kept.held end
    return kept
  end
  local f = self.file
  assert(f:seek("set", kept))
  local n, len = f:read("n", "n")
  f:read(1) -- the newline after the header
  local text = len > 0 and f:read(len) or ""
  if not text or #text ~= len then error("the order buffer's spill file was cut short", 0) end
  if n == 1 then return { examples = { text } } end
  local lines, from = {}, 1
  for _ = 1, n - 1 do
    local nl = text:find("\n", from, true)
    lines[#lines + 1] = text:sub(from, nl - 1)
    from = nl + 1
  end
  lines[#lines + 1] = text:sub(from)
  return { examples = lines }
end

function OrderBuffer:close()
  if self.file then self.file:close() end
  self.file = nil
end

-- The text of a failed setup or finish: the message, prefixed with the
-- recipe's innermost line when it has no position (a teacher's failure, the
-- instruction budget), then the head of the traceback without lacuna's own
-- frames (the recipe's are the ones to read).
local function phase_failure(r, msg, trace)
  local at, pos = "", r.source_path .. ":"
  -- (error(msg, 0) in the recipe itself is a message meant as it is)
  local own = trace and trace:match("^stack traceback:\n%s*%[C%]: in function 'error'\n%s*([^\n]*)")
  own = own and own:sub(1, #pos) == pos
  if trace and not own and msg:sub(1, #pos) ~= pos then
    for frame in trace:gmatch("[^\n]+") do
      local where = frame:match("^%s*(.-:%d+):")
      if where and where:sub(1, #pos) == pos then
        at = where .. ": "
        break
      end
    end
  end
  -- (finish's traceback goes on below the call that ran it: cut there)
  trace = trace and trace:gsub("\n[^\n]*in field 'call_limited'.*$", "")
  local head = trace and output.traceback_head(trace:gsub("\n[^\n]*lua/lacuna/[^\n]*", ""), 8)
  head = head and ("\n" .. head:gsub("\t", "  ")):gsub("\n", "\n  ") or ""
  return at .. first_line(msg) .. head
end

-- Runs recipe r over the inputs, sending each outcome to sink in input order:
-- sink.examples(w, lines), sink.skip(w, reason), sink.fail(w, message, traceback),
-- sink.deferred(w) (the item waits for the batch file), and after
-- sink.examples, sink.example_fail(w, index, message) for each example of the
-- item the format could not write.
-- plan: the recipe's setup(run) runs first, as a scheduled task that may call
-- the teacher (lua/lacuna/plan.lua); run is M.new_run's; its result decides
-- the work items. Returns {read = items, records = input records read or nil,
-- planned = true when setup planned the items, ...}.
function M.execute(r, values, o, sink, pool, run)
  assert(run, "execute needs the run made by M.new_run")
  local spec = { kind = "records" }
  if r.setup then
    run.state.pool, run.state.phase = pool, "setup"
    local ok, got, interrupted, trace = plan.run_setup(r, run.view, M.budget(o))
    run.state.pool, run.state.phase = nil, nil
    if interrupted then return { read = 0, processed = 0, interrupted = true, setup_interrupted = true, notes = {} } end
    if not ok and teacher.is_deferred(got) and (o.batch or o.estimate_of) then
      -- (run --batch, --estimate: setup's requests are the first step; the items wait for their answers.)
      return { read = 0, processed = 0, notes = {}, deferred_setup = true }
    end
    if not ok and teacher.is_deferred(got) then
      -- (--batch-export: setup's requests are in the batch file; its plan is made on the rerun.)
      usage.error("%s: setup's teacher requests were written to %s in OpenAI Batch API format; submit it," ..
        " load its output with `lacuna cache import-batch FILE`, then rerun the same command to plan and" ..
        " run the items", r.source_path, tostring(o.batch_export))
    end
    if not ok then
      -- (exit 2: nothing planned, nothing written; the head of the traceback says where)
      local msg = usage.is(got) and got.msg or output.text(got)
      usage.error("%s: setup failed: %s", r.source_path, phase_failure(r, msg, not usage.is(got) and trace))
    end
    spec = got
    if spec.kind == "records" and run.state.planned then
      usage.error("%s: setup made a plan (run:items or run:groups) but returned nothing: write `return run:items(...)`",
        r.source_path)
    end
    if spec.kind == "records" and #(o.inputs or {}) == 0 then
      usage.error("%s: setup returned no plan, so the items are the input records, and there is no input" ..
        " (-i FILE): give one, or return run:items(n), run:groups{...} or a list", r.source_path)
    end
    if spec.kind == "groups" and #(o.inputs or {}) == 0 then
      usage.error("%s: setup returned run:groups{...}, which groups the input records, and there is no input" ..
        " (-i FILE)", r.source_path)
    end
    if run.state.stdin_read and (spec.kind == "records" or spec.kind == "groups") then
      usage.error("%s: setup read the records with run:records() and its plan reads them again: %s",
        r.source_path, plan.STDIN_ONCE)
    end
  end
  run.state.phase = nil -- (the items: run:report and run:records refuse until finish)
  -- Items make many short-lived tables: Lua 5.4's generational collector
  -- spends much less time on them than the incremental one.
  local previous_gc = collectgarbage("generational")
  local fmt = o.format
  local notes = {}
  local state = { read = 0, pending = {}, stop = false, pool = pool }
  local item_work = make_work(r, values, o, fmt, notes, pool, run.state.tokenizer)
  local buffer = order_buffer(M.order_memory(o))
  local function work(w, seq)
    return buffer:keep(w, item_work(w, seq), seq)
  end
  local ok_run, n, interrupted = pcall(sched.run, {
    window = M.window(o),
    order = M.order_items(o),
    admit = pool and function() return pool:wants_items() end,
    budget = M.budget(o),
    next = plan.source(spec, o.inputs or {}, state, o),
    work = work,
    done = function(seq, ok, outcome, trace)
      local w = state.pending[seq]
      state.pending[seq] = nil
      outcome = buffer:take(seq, ok, outcome)
      if not ok and teacher.is_deferred(outcome) then
        sink.deferred(w)
      elseif not ok then
        sink.fail(w, string.format("%s:%d: %s", w.file, w.line, output.text(outcome)), trace)
      elseif outcome.fail then
        sink.fail(w, outcome.fail, nil)
      elseif outcome.skip then
        sink.skip(w, outcome.skip)
      else
        sink.examples(w, outcome.examples)
        for _, f in ipairs(outcome.example_failures or {}) do sink.example_fail(w, f.index, f.message) end
      end
      if sink.should_stop and sink.should_stop() then state.stop = true end
      if sink.progress then sink.progress(state) end
    end,
  })
  buffer:close()
  if not ok_run then error(n, 0) end
  collectgarbage(previous_gc)
  local planned = spec.kind ~= "records"
  return { read = state.read, processed = n, interrupted = interrupted, notes = notes,
           order_buffer = output.ordered({ spilled_items = buffer.spilled, spilled_bytes = buffer.spill_bytes,
             peak_memory_bytes = buffer.peak_held }, { "spilled_items", "spilled_bytes", "peak_memory_bytes" }),
           stopped = state.stop, planned = planned, records = planned and spec.kind == "groups" and state.records or nil,
           plan_size = spec.n or (spec.list and #spec.list) or nil, shard = state.shard }
end

-- The run object of setup and finish (lua/lacuna/run_view.lua): {view =
-- the recipe's proxy, state = lacuna's side}. The tokenizer is --tokenizer's
-- model (loaded once), or the approximate counter.
function M.new_run(r, values, o, inputs)
  local tok
  if o.model_files then
    tok = o.model_files.tokenizer
  elseif o.tokenizer then
    tok = require("lacuna.options").tokenizer(o.tokenizer)
  end
  -- teacher_configured: the default teacher has a model (--model), so that a
  -- setup can stop before the run rather than fail every item.
  local view, st = run_view.new(r, { params = values, seed = o.seed or 0, recipe = r.name,
    inputs = inputs or {}, format = o.format, teacher_configured = o.model ~= nil }, tok)
  st.read_opts = plan.read_opts(o)
  return { view = view, state = st }
end

-- "10 planned" / "10 planned (40 records read)" / "10 read": the left side of
-- the closing count line.
function M.count_head(counts)
  if counts.planned then
    return string.format("%d planned%s", counts.planned,
      counts.read and string.format(" (%d records read)", counts.read) or "")
  end
  return string.format("%d read", counts.read)
end

-- Unfinished items at most: enough to keep --concurrency requests busy
-- while many items sleep between retries. Fewer start while the teacher has
-- requests queued (Pool:wants_items), so a healthy run keeps few.
function M.window(o)
  return o.window or math.max(M.defaults.window, 16 * (o.concurrency or M.defaults.concurrency))
end

-- Items launched and not yet written: the window plus the finished items
-- waiting for an earlier one (--order-items, at least the window).
function M.order_items(o)
  local w = M.window(o)
  local n = o.order_items or math.max(M.defaults.order_items, 16 * w)
  return math.min(math.max(n, w), 1 << 22)
end

-- Bytes of finished results kept in memory while they wait (--order-memory MB).
function M.order_memory(o)
  return math.floor((o.order_memory_mb or M.defaults.order_memory_mb) * 1024 * 1024)
end

-- The teacher pool's configuration from the run options and the environment.
function M.teacher_config(o)
  return {
    base_url = o.base_url or os.getenv("OPENAI_BASE_URL"),
    api_key_env = o.api_key_env,
    model = o.model,
    teachers = o.teachers,
    concurrency = o.concurrency or M.defaults.concurrency,
    rpm = o.rpm, tpm = o.tpm, timeout = o.timeout, max_retries = o.max_retries,
    backoff_base = o.retry_base,
    cache = o.cache or ".lacuna/cache.db",
    cache_mode = o.no_cache and "off" or (o.cache_only and "only" or "rw"),
    batch_export = o.batch_export,
    batch_failed = o.batch_failed, estimate = o.estimate_of, -- (run --batch, --estimate)
    used_keys = o.used_keys, -- (lacuna pack: the cache entries the run reads)
    prices = o.prices, max_cost = o.max_cost,
    open_cache = function(path, readonly)
      local dir = path:match("^(.*)/[^/]*$")
      if dir and dir ~= "" and not readonly then sys.mkdirs(dir) end
      return (require "lacuna.cache").open(path, { readonly = readonly })
    end,
  }
end

-- The progress line on stderr: one updating line on a terminal, otherwise a
-- line every few seconds. The share done and the ETA count against the items
-- the run will take: --limit when it is smaller than the input.
local function progress_printer(o, counts, pool, inputs)
  local tty = sys.isatty(2)
  local every = o.progress_interval or (tty and 0.25 or 5)
  local t0 = sys.clock()
  local last = t0
  local limit = o.limit
  -- Progress through the input, by bytes: items read so far over the bytes
  -- they took estimate the total number of items.
  local total_bytes, gz = 0, false
  for _, path in ipairs(inputs or {}) do
    local st = sys.stat(path)
    if not st then total_bytes = nil break end
    total_bytes = total_bytes + st.size
    if path:sub(-3) == ".gz" then gz = true end
  end
  local function estimated_items(state)
    -- (--shard: the shard knows its range.)
    if state and state.shard then return state.shard.last - state.shard.first + 1 end
    if not (total_bytes and total_bytes > 0 and state and state.reader and state.read > 0 and #inputs == 1) then
      return nil
    end
    local consumed, raw = state.reader:bytes_read()
    local frac_read = math.min(1, (gz and raw or consumed) / total_bytes)
    return frac_read > 0 and state.read / frac_read or nil
  end
  local function line(state, final)
    local now = sys.clock()
    if not final and now - last < every then return end
    last = now
    local done = counts.ok + counts.skipped + counts.failed + (counts.deferred or 0)
    local el = now - t0
    local rate = el > 0 and done / el or 0
    local parts = { string.format("%d done", done) }
    local total = estimated_items(state)
    if limit then total = total and math.min(total, limit) or limit end
    if total and total > 0 then
      local frac = math.min(1, done / total)
      parts[1] = string.format("%d done (%.0f%%)", done, frac * 100)
      if frac > 0 and frac < 1 then parts[#parts + 1] = string.format("ETA %ds", math.floor(el / frac - el)) end
    end
    parts[#parts + 1] = string.format("%.1f/s", rate)
    if counts.failed > 0 then parts[#parts + 1] = counts.failed .. " failed" end
    local rep = pool and pool:report()
    if rep and rep.used then
      parts[#parts + 1] = string.format("%d in flight", rep.inflight)
      parts[#parts + 1] = string.format("%d requests", rep.requests)
      parts[#parts + 1] = M.retries_text(rep)
      parts[#parts + 1] = string.format("%d cache hits", rep.cache_hits)
      parts[#parts + 1] = string.format("%d tokens", rep.prompt_tokens + rep.completion_tokens)
      if rep.cost then parts[#parts + 1] = string.format("$%.4f", rep.cost) end
    end
    local text = "lacuna: " .. table.concat(parts, ", ")
    if tty then
      io.stderr:write("\r\27[K", text, final and "\n" or "")
    elseif not final then
      io.stderr:write(text, "\n")
    end
    io.stderr:flush()
  end
  return line
end

M.side_path = output.side_path

-- Prepares a run from options; raises usage errors. Returns recipe, params, format.
function M.prepare(o)
  local r = M.load(o.recipe, o)
  o.source = r.source -- (lacuna pack: the recipe and the modules it loaded)
  local values = params_mod.resolve(r.name, r.params, o.params)
  for k, v in pairs(o.param_values or {}) do -- (lacuna reproduce: a manifest's values)
    local p = r.params[k]
    if not p then usage.error("param '%s' is not a param of recipe %s", k, r.name) end
    if p.kind == "number" and type(v) == "number" then v = v + 0.0 end
    local err = params_mod.check_value(p, v)
    if err then usage.error("param '%s' (%s): %s", k, p:type_text(), err) end
    values[k] = v
  end
  local fmt = o.format or r.format or formats.default
  local known = fmt == "tokens"
  for _, name in ipairs(formats.names) do
    if name == fmt then known = true end
  end
  if not known then
    usage.error("unknown format '%s' (formats: %s, tokens)", fmt, table.concat(formats.names, ", "))
  end
  o.format = fmt
  if fmt == "tokens" then
    if not o.tokenizer then usage.error("--format tokens needs --tokenizer DIR (a model's tokenizer.json and tokenizer_config.json)") end
    local files, err = (require "lacuna.tokens").load(o.tokenizer, o.chat_template)
    if not files then usage.error("%s", err) end
    o.model_files = files
  end
  for _, path in ipairs(o.inputs or {}) do
    -- (not stdin: opening it reads its first bytes, which closing would lose)
    if path ~= "-" then
      local rd, err = jsonl.open(path)
      if not rd then usage.error("%s", err) end
      rd:close()
    end
  end
  return r, values
end

-- setup(run), finish(run, summary): the recipe gets read-only proxies of the
-- run's context and of the summary, so nothing it does changes the counts,
-- the exit code or the manifest.
local function call_phase(r, o, name, run, summary)
  local fn = r[name]
  if not fn then return true end
  local ok, err = sched.call_limited(M.budget(o), fn, run, summary and view.summary(summary))
  if not ok then return false, err end
  return true
end

local function ms(seconds) return math.floor(seconds * 1000 + 0.5) / 1000 end

local MANIFEST_ORDER = { "lacuna_version", "runtime", "recipe", "params", "seed", "format", "format_notes",
  "inputs", "outputs", "counts", "shard", "stopped_early", "report", "teacher", "estimate", "batch", "trusted", "limits",
  "order_buffer", "wall_seconds", "cpu_seconds", "finished_at", "reproduce" }

-- The options that change the output bytes beyond params, seed and format,
-- so that `lacuna pack`/`reproduce` can run the recipe again (never the
-- base URL, the key or its variable).
local function reproduce_options(o)
  local teachers
  for name, t in pairs(o.teachers or {}) do
    teachers = teachers or {}
    teachers[name] = t.model
  end
  local r = output.ordered({ model = o.model, teachers = teachers, limit = o.limit,
    split_partial = o.split_partial or nil, max_failures = o.max_failures, max_cost = o.max_cost },
    { "model", "teachers", "limit", "meta", "split_partial", "max_failures", "max_cost" })
  -- (only --no-meta is recorded; `x == false and false or nil` would be nil)
  if o.meta == false then r.meta = false end
  return r
end

-- The versions of Lua and the libraries this build runs with (lacuna version
-- prints the same), so that a dataset says which build made it.
function M.runtime()
  local v, keys = core.versions.versions(), {}
  v.lacuna = nil -- lacuna_version
  for i, lib in ipairs(require("lacuna.cmd.version").libraries) do keys[i] = lib[1] end
  return output.ordered(v, keys)
end

-- The manifest's fields known before the run: checked to encode before the
-- first record is read.
local function manifest_head(r, values, o)
  return output.ordered({
    lacuna_version = core.version,
    runtime = M.runtime(),
    recipe = output.ordered({ name = r.name, version = r.version, sha256 = r.sha256, path = r.source_path,
      requires = r.requires, modules = r.source and bundle.module_hashes(r.source) },
      { "name", "version", "sha256", "path", "requires", "modules" }),
    params = next(values) and values or json.object({}),
    seed = o.seed or 0,
    format = o.format,
    inputs = json.array(o.inputs),
    trusted = o.trust and true or false,
    limits = output.ordered({ max_instructions = M.budget(o), window = M.window(o), order_items = M.order_items(o),
      order_memory_mb = o.order_memory_mb or M.defaults.order_memory_mb },
      { "max_instructions", "window", "order_items", "order_memory_mb" }),
    reproduce = reproduce_options(o),
  }, MANIFEST_ORDER)
end

-- The closing lines on stderr. info: out, failed and manifest paths (nil
-- when writing to stdout or a device), stopped, failed_examples, format, notes.
local function summary_lines(counts, wall, rep, info)
  stderr(string.format(
    "lacuna: %s = %d ok (%d examples) + %d skipped + %d failed in %.2fs -> %s",
    M.count_head(counts), counts.ok, counts.examples, counts.skipped, counts.failed, wall, info.out))
  if info.failed_examples > 0 then
    stderr(string.format("lacuna: %d examples of ok items could not be written in format %s (recorded in %s)",
      info.failed_examples, info.format, info.failed or "the messages above"))
  end
  if rep.used then
    stderr(string.format("lacuna: teacher: %d requests, %s, %d cache hits, %d prompt + %d completion tokens%s",
      rep.requests, M.retries_text(rep), rep.cache_hits, rep.prompt_tokens, rep.completion_tokens,
      rep.cost and string.format(", $%.4f", rep.cost) or ""))
  end
  if counts.failed > 0 and info.failed then stderr("lacuna: failures are in " .. info.failed) end
  local sn = info.notes.straddling_tokens
  if sn then
    stderr(string.format("lacuna: %d tokens in %d examples straddle a mask boundary and stay masked "
      .. "(e.g. %s)%s", sn.tokens, sn.examples, sn.samples[1],
      info.manifest and "; format_notes in " .. info.manifest .. " lists more" or ""))
  end
  if info.stopped then stderr("lacuna: stopped early: " .. info.stopped .. "; everything done so far is kept") end
end

local function interrupted_exit(out, counts, in_setup)
  out:abort()
  stderr(string.format("lacuna: interrupted %s; nothing was written%s",
    in_setup and "in setup, before any item" or string.format("after %d of the items read", counts.planned or counts.read),
    out.direct and " but the examples already sent" or " (the previous outputs, if any, are unchanged)"))
  return 130, counts
end

-- The run once its outputs are open: setup, the items, finish, the commit.
-- The items of a run through the output's sink, with the progress line.
-- Returns execute's result and the pool's report.
local function run_items(r, values, o, out, counts, run)
  local shown_failures = 0
  local max_failures = o.max_failures
  local pool = teacher.pool(M.teacher_config(o))
  local progress = (not o.quiet and o.progress ~= false) and progress_printer(o, counts, pool, o.inputs) or nil
  local sink = out:sink(counts, function(message)
    if shown_failures < 5 and not sys.interrupted() and not out.direct then
      stderr("lacuna: " .. first_line(message))
      shown_failures = shown_failures + 1
    end
  end)
  sink.progress = progress
  sink.should_stop = function() return max_failures and counts.failed > max_failures end

  local ok_exec, res = pcall(M.execute, r, values, o, sink, pool, run)
  if not ok_exec then
    pcall(pool.close, pool)
    error(res, 0)
  end
  if progress and not o.quiet then progress(nil, true) end
  local ok_close, close_err = pcall(pool.close, pool)
  if not ok_close then usage.error("%s", output.text(close_err)) end
  counts.read = res.read
  if res.planned then counts.planned, counts.read = res.read, res.records end
  local rep = pool:report()
  if res.deferred_setup then counts.deferred = math.max(1, rep.deferred) end
  if type(res.stopped) ~= "string" and res.stopped then
    res.stopped = string.format("more than %d failures (--max-failures)", max_failures)
  end
  res.stopped = res.stopped or rep.stop_reason
  return res, rep
end

-- A batch-export run stops before the commit: the requests are in the batch
-- file, and the data is made by the rerun after `lacuna cache import-batch`.
local function deferred_exit(out, counts, rep, o)
  out:abort()
  if o.batch then
    if not o.quiet then
      stderr(string.format("lacuna: batch step: %d requests of %d items go to the Batch API", rep.deferred,
        counts.deferred))
    end
    return 3, counts
  end
  stderr(string.format("lacuna: %d requests of %d items written to %s in OpenAI Batch API format;" ..
    " submit it, load its output with `lacuna cache import-batch FILE`, then rerun the same command" ..
    " (without --batch-export) to finish from the cache", rep.deferred, counts.deferred, rep.batch_export))
  stderr(string.format("lacuna: %s = %d ok + %d skipped + %d failed + %d waiting for the batch",
    M.count_head(counts), counts.ok, counts.skipped, counts.failed, counts.deferred))
  return 3, counts
end

-- The run once its outputs are open: setup, the items, finish, the commit.
local function run_opened(r, values, o, out, t0, cpu0)
  local counts = { read = 0, ok = 0, examples = 0, skipped = 0, failed = 0, deferred = 0, failed_examples = 0 }
  -- (plan: setup runs inside M.execute, as a scheduled task.)
  local run = M.new_run(r, values, o, o.inputs)
  local res, rep = run_items(r, values, o, out, counts, run)
  if res.interrupted or sys.interrupted() then return interrupted_exit(out, counts, res.setup_interrupted) end
  if counts.deferred > 0 then return deferred_exit(out, counts, rep, o) end
  counts.deferred = nil
  -- In the manifest only when some example could not be written.
  local failed_examples = counts.failed_examples
  if failed_examples == 0 then counts.failed_examples = nil end

  local summary = { counts = counts, output = out.plan.out }
  run.state.phase = "finish"
  local fin_ok, fin_err = call_phase(r, o, "finish", run.view, summary)
  run.state.phase = nil
  if sys.interrupted() then return interrupted_exit(out, counts) end

  local stopped = res.stopped
  local wall = sys.clock() - t0
  local committed = out:commit(function(files)
    local m = manifest_head(r, values, o)
    m.format_notes = next(res.notes) and res.notes or nil
    m.outputs = output.ordered(files, { "examples", "skipped", "failed" })
    m.counts = output.ordered(counts, { "planned", "read", "ok", "examples", "skipped", "failed", "failed_examples" })
    local input_bytes, model_files
    if res.shard then input_bytes, model_files = require("lacuna.shard").identity(o) end
    m.shard = res.shard and output.ordered({ index = o.shard.index, count = o.shard.count,
      first_item = res.shard.first, last_item = res.shard.last, total_items = res.shard.total,
      input_bytes = input_bytes, model_files_sha256 = model_files },
      { "index", "count", "first_item", "last_item", "total_items", "input_bytes", "model_files_sha256" })
    m.stopped_early = stopped
    m.report = run_view.report(run.state)
    m.teacher = M.teacher_manifest(rep)
    -- (--estimate's figures beside the actuals; run --batch's lifecycle)
    m.estimate = o.estimate_file and (require "lacuna.estimate").load(o.estimate_file) or nil
    m.batch = o.batch_summary
    m.order_buffer = res.order_buffer -- finished items that waited for an earlier one
    m.wall_seconds = ms(wall)
    m.cpu_seconds = ms(sys.cputime() - cpu0)
    m.finished_at = sys.utc_iso8601()
    return m
  end)
  if not committed then return interrupted_exit(out, counts) end

  if not o.quiet then
    summary_lines(counts, wall, rep, {
      out = out.direct and out.paths.out or out.plan.out, failed = not out.direct and out.paths.failed or nil,
      manifest = not out.direct and out.paths.manifest or nil, stopped = stopped,
      failed_examples = failed_examples, format = o.format, notes = res.notes })
  end
  if not fin_ok then
    -- (call_limited's message carries its traceback after the first line)
    local text = output.text(fin_err)
    stderr("lacuna: " .. r.source_path .. ": finish failed: " ..
      phase_failure(r, first_line(text), text:match("\n(stack traceback:.*)$")))
    return 1, counts
  end
  return (counts.failed > 0 or failed_examples > 0 or stopped) and 1 or 0, counts
end

-- The whole `lacuna run`: returns exit code and a counts table. Everything
-- a run could refuse (recipe, params, inputs, output paths, the lock) is
-- checked before the first record is read.
function M.run(o)
  local t0, cpu0 = sys.clock(), sys.cputime()
  local out
  local ok, code, counts = pcall(function()
    apply_memory_cap(o)
    local r, values = M.prepare(o)
    -- (plan: a recipe with setup may plan its items without inputs.)
    if (not o.inputs or #o.inputs == 0) and not r.setup then usage.error("run: no input (-i FILE)") end
    o.inputs = o.inputs or {}
    output.check_params(values)
    output.check_manifest(manifest_head(r, values, o))
    out = output.open(output.plan(o.output, o.inputs))
    return run_opened(r, values, o, out, t0, cpu0)
  end)
  if ok then return code, counts end
  if out then out:abort() end
  -- A Ctrl-C while loading the recipe or the tokenizer surfaces as their error.
  if sys.interrupted() then
    stderr("lacuna: interrupted; nothing was written")
    return 130, { read = 0, ok = 0, examples = 0, skipped = 0, failed = 0 }
  end
  error(code, 0)
end

-- Retries by cause, in a fixed order: 429, 5xx, timeout, reset, bad_body.
function M.retry_causes(rep)
  local out = {}
  for _, k in ipairs(teacher.RETRY_CAUSES) do out[k] = rep.retry_causes[k] or 0 end
  return output.ordered(out, teacher.RETRY_CAUSES)
end

-- "3 retries (429: 1, reset: 2)": the causes that occurred.
function M.retries_text(rep)
  local parts = {}
  for _, k in ipairs(teacher.RETRY_CAUSES) do
    local n = rep.retry_causes[k] or 0
    if n > 0 then parts[#parts + 1] = string.format("%s: %d", k == "bad_body" and "bad body" or k, n) end
  end
  return string.format("%d retries%s", rep.retries, #parts > 0 and " (" .. table.concat(parts, ", ") .. ")" or "")
end

-- The teacher's part of the manifest from pool:report() (nil when no
-- teacher was called).
function M.teacher_manifest(rep)
  if not rep.used then return nil end
  local models = {}
  for model, u in pairs(rep.models) do
    models[model] = output.ordered({ requests = u.requests, cached = u.cached, prompt_tokens = u.prompt_tokens,
      completion_tokens = u.completion_tokens, cost_usd = u.cost },
      { "requests", "cached", "prompt_tokens", "completion_tokens", "cost_usd" })
  end
  local paced = rep.paced
  return output.ordered({
    models = models,
    requests = rep.requests, retries = rep.retries, cache_hits = rep.cache_hits,
    retries_by_cause = M.retry_causes(rep),
    coalesced = rep.coalesced > 0 and rep.coalesced or nil, -- calls that shared a reply in flight
    rate_limited = rep.rate_limited, failures = rep.failures,
    -- waits before sending that the server's x-ratelimit-* headers asked for
    paced = paced.headers and output.ordered({ waits = paced.waits, seconds = ms(paced.seconds) },
      { "waits", "seconds" }) or nil,
    prompt_tokens = rep.prompt_tokens, completion_tokens = rep.completion_tokens,
    cost_usd = rep.cost, prices = rep.prices, max_cost = rep.max_cost,
    cache = rep.cache, cache_mode = rep.cache_mode, concurrency = rep.concurrency,
  }, { "models", "requests", "retries", "retries_by_cause", "cache_hits", "coalesced", "rate_limited", "paced",
       "failures",
       "prompt_tokens", "completion_tokens", "cost_usd", "prices", "max_cost", "cache",
       "cache_mode", "concurrency" })
end

-- `lacuna check`: validates the recipe and runs it on the first records (the
-- inputs, or the recipe's own `examples`), printing each outcome. pool: a
-- teacher pool of the caller's (the REPL's :run and :cost), kept open;
-- without it check makes and closes its own.
function M.check(o, out, pool)
  out = out or io.stdout
  apply_memory_cap(o)
  local r, values = M.prepare(o)
  local n = o.limit or 3
  local inputs = o.inputs
  local tmp
  if (not inputs or #inputs == 0) and r.setup and not r.examples then
    inputs = {} -- (plan: setup plans the items; the first n of them are checked)
  elseif not inputs or #inputs == 0 then
    if not r.examples or #r.examples == 0 then
      usage.error("check: give an input (-i FILE) or declare `examples` in the recipe")
    end
    tmp = os.tmpname()
    local f = assert(io.open(tmp, "wb"))
    for _, rec in ipairs(r.examples) do f:write(encode(rec), "\n") end
    f:close()
    inputs = { tmp }
  end
  local counts = { read = 0, ok = 0, examples = 0, skipped = 0, failed = 0 }
  local co = {}
  for k, v in pairs(o) do co[k] = v end
  co.inputs, co.limit = inputs, n
  local own_pool = not pool
  pool = pool or teacher.pool(M.teacher_config(co))
  local ok_exec, res = pcall(M.execute, r, values, co, {
    deferred = function(w)
      counts.deferred = (counts.deferred or 0) + 1
      out:write(string.format("# deferred %s:%d: waiting for the batch file\n", w.file, w.line))
    end,
    examples = function(w, lines)
      counts.ok = counts.ok + 1
      counts.examples = counts.examples + #lines
      for _, l in ipairs(lines) do out:write(tostring(l), "\n") end
    end,
    skip = function(w, reason)
      counts.skipped = counts.skipped + 1
      out:write(string.format("# skip %s:%d: %s\n", w.file == tmp and "examples" or w.file, w.line,
        output.text(reason)))
    end,
    example_fail = function(_, _, message)
      counts.failed_examples = (counts.failed_examples or 0) + 1
      out:write("# FAIL " .. message .. "\n")
    end,
    fail = function(w, message, trace)
      counts.failed = counts.failed + 1
      out:write("# FAIL " .. output.text(message) .. "\n")
      if trace then out:write((output.traceback_head(trace, 8):gsub("\n", "\n#   ")), "\n") end
    end,
  }, pool, M.new_run(r, values, co, inputs))
  if own_pool then pool:close() end
  if tmp then os.remove(tmp) end
  if not ok_exec then error(res, 0) end
  counts.read = res.read
  if res.planned then
    counts.planned, counts.plan_size = res.read, res.plan_size -- (plan_size: the REPL's :cost scales to it)
    out:write(string.format("# planned items: the first %d%s checked%s\n", res.read,
      res.plan_size and string.format(" of %d", res.plan_size) or "",
      res.records and string.format(" (%d records read)", res.records) or ""))
  end
  out:write(string.format("# %s %s: %d checked = %d ok (%d examples) + %d skipped + %d failed%s\n",
    r.name, r.version, counts.read, counts.ok, counts.examples, counts.skipped, counts.failed,
    counts.failed_examples and string.format("; %d examples could not be written", counts.failed_examples) or ""))
  return (counts.failed > 0 or (counts.failed_examples or 0) > 0) and 1 or 0, counts
end

return M
