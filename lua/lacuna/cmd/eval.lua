-- lacuna eval PROBES -o PRED [options]: sends VAL probes (recipes/val_probe.lua's
-- output, or FILM's own VaLProbing files) to a model endpoint through the
-- teacher machinery (concurrent, cached, resumable), scores each answer with
-- FILM's metrics (lua/lacuna/eval/metrics.lua), writes one line per probe and
-- prints each kind's average over spans of 50 positions and the max - min gap
-- (lua/lacuna/eval/curve.lua); --svg draws the curves and the grids.
local core = require "lacuna.core"
local usage = require "lacuna.usage"
local runner = require "lacuna.runner"
local teacher = require "lacuna.teacher"
local metrics = require "lacuna.eval.metrics"
local curve = require "lacuna.eval.curve"

local json, jsonl, sched, sys = core.json, core.jsonl, core.sched, core.sys

local M = {
  name = "eval",
  summary = "Send probes (val_probe's output or FILM's VaLProbing files) to a model and score them with FILM's " ..
    "metrics: per-span averages, the average and the max-min gap, per-probe predictions.",
  usage = { "lacuna eval PROBES.jsonl -o PRED.jsonl --model MODEL [options]" },
  operands = { { key = "probes", name = "PROBES" } },
}

-- run's teacher options, less --teacher (eval asks one model, the default teacher).
local teacher_group = { title = "model endpoint (OpenAI-compatible chat completions, through the teacher's pool)" }
for _, g in ipairs(require("lacuna.cmd.run").groups) do
  if g.title:match("^teacher") then
    for _, opt in ipairs(g) do
      if opt[1] ~= "--teacher" then teacher_group[#teacher_group + 1] = opt end
    end
  end
end

M.groups = {
  {
    title = "eval options",
    { "-o", "--output", arg = "FILE", key = "output",
      doc = "predictions: one JSON line per probe ({samples, score, kind, set_id, position_id, ...}); beside it " ..
        "FILE.summary.json (FILE's .jsonl suffix replaced)" },
    { "--kind", arg = "KIND", key = "kind",
      doc = "document, code or database: the kind of FILM's own probe lines (default: from the line's fields or " ..
        "the file name)" },
    { "--max-tokens", arg = "N", key = "max_tokens", kind = "int", min = 1,
      doc = "the answer's length limit (default 128, FILM's)" },
    { "--temperature", arg = "T", key = "temperature", kind = "number", min = 0, doc = "sampling temperature (default 0)" },
    { "--spans", arg = "film|all", key = "spans",
      doc = "film (default): average positions start..start+48 of each span of 50, as FILM's plot.py does; " ..
        "all: all 50" },
    { "--limit", arg = "N", key = "limit", kind = "int", min = 0, doc = "only the first N probes" },
    { "--skip-list", arg = "FILE", key = "skip_list",
      doc = "a JSON list of 0-based probe line indices not to send or score (FILM's *_skip_list.json)" },
    { "--json", key = "json", kind = "flag", doc = "print the summary as JSON instead of text" },
    { "--svg", arg = "FILE", key = "svg", doc = "draw the position curves and the length x depth grids into FILE" },
    { "-q", "--quiet", key = "quiet", kind = "flag", doc = "no progress or counts on stderr" },
    { "--no-progress", key = "progress", kind = "flag", value = false, doc = "no progress line" },
  },
  teacher_group,
}

M.notes = function()
  return "One failed request fails its probe only: its line has \"error\" and no score, and the exit code is 1.\n" ..
    "A rerun of the same command answers the probes already done from the cache (--cache)."
end

-- The kind of FILM's own probe line: from its fields, else the file name.
local function film_kind(obj, path, given)
  if given then return given end
  if obj.label ~= nil and obj.description ~= nil then return "database" end
  for _, k in ipairs({ "document", "code", "database" }) do
    if path:find(k, 1, true) then return k end
  end
end

-- messages, probe | nil, why for one probe line.
local function read_probe(obj, path, o)
  if type(obj) ~= "table" then return nil, "not a JSON object" end
  local meta = type(obj.meta) == "table" and obj.meta.probe
  local msgs = {}
  local function add(list)
    for _, m in ipairs(list) do
      if type(m) ~= "table" or type(m.role) ~= "string" or type(m.content) ~= "string" then
        return nil, "a message without a string role and content"
      end
      msgs[#msgs + 1] = { role = m.role, content = m.content }
    end
    return true
  end
  local ok, why
  if type(obj.prompt) == "string" then
    msgs[1] = { role = "user", content = obj.prompt }
  elseif type(obj.prompt) == "table" then
    ok, why = add(obj.prompt)
  elseif type(obj.messages) == "table" then
    local list = {}
    for i, m in ipairs(obj.messages) do list[i] = m end
    while #list > 0 and type(list[#list]) == "table" and list[#list].role == "assistant" do list[#list] = nil end
    ok, why = add(list)
  else
    return nil, "no prompt: expected prompt (a string or messages) or messages"
  end
  if why then return nil, why end
  if #msgs == 0 then return nil, "no prompt message" end
  local probe
  if type(meta) == "table" then
    probe = meta
  else
    local kind = film_kind(obj, path, o.kind)
    if not kind then return nil, "unknown probe kind: give --kind document|code|database" end
    probe = { kind = kind, family = "film", completion = obj.completion, label = obj.label,
              description = obj.description, set_id = obj.set_id, position_id = obj.position_id }
  end
  if not metrics.KINDS[probe.kind] then return nil, "unknown probe kind '" .. tostring(probe.kind) .. "'" end
  if probe.kind == "database" and not probe.answers and
    (type(probe.label) ~= "string" or type(probe.description) ~= "string") then
    return nil, "a database probe needs label and description"
  end
  if probe.kind ~= "database" and not probe.answers and type(probe.completion) ~= "string" then
    return nil, "the probe has no gold completion"
  end
  local family = probe.family or (probe.grid and "grid" or "film")
  if family == "film" and (math.type(probe.set_id) ~= "integer" or math.type(probe.position_id) ~= "integer") then
    return nil, "a FILM probe needs integer set_id and position_id"
  end
  probe.family = family
  return msgs, probe
end

-- What a skipped line's output shows of it (its kind and place), best effort.
local function read_probe_meta(obj, path, o)
  local _, probe = read_probe(obj, path, o)
  return type(probe) == "table" and probe or {}
end

local LINE_ORDER = { "probe", "kind", "family", "set_id", "position_id", "depth", "grid", "samples", "score", "error",
  "skipped", "cached" }

local function line_of(seq, probe, fields)
  local line = { probe = seq, kind = probe.kind, family = probe.family, set_id = probe.set_id,
                 position_id = probe.position_id, depth = probe.depth, grid = probe.grid }
  for k, v in pairs(fields) do line[k] = v end
  return setmetatable(line, { __jsonorder = LINE_ORDER })
end

local function summary_path(out)
  return (out:gsub("%.jsonl$", "")) .. ".summary.json"
end

local function text_summary(s)
  local out = {}
  for _, kind in ipairs({ "document", "code", "database" }) do
    local c = s.curves[kind]
    if c then
      out[#out + 1] = string.format("%-9s %d probes, %d sets, %d positions: avg %s, max-min gap %s", kind, c.probes,
        c.sets, c.positions, c.avg and string.format("%.4f", c.avg) or "n/a",
        c.gap and string.format("%.4f", c.gap) or "n/a")
      local parts = {}
      for _, sp in ipairs(c.spans) do parts[#parts + 1] = sp.mean and string.format("%.3f", sp.mean) or "-" end
      out[#out + 1] = "  spans of 50: " .. table.concat(parts, " ")
    end
  end
  for _, kind in ipairs({ "document", "code", "database" }) do
    local g = s.grids[kind]
    if g then
      local needles = {}
      for nd in pairs(g) do needles[#needles + 1] = nd end
      table.sort(needles)
      for _, nd in ipairs(needles) do
        local t = g[nd]
        out[#out + 1] = string.format("%-9s grid, %s needle: avg %.4f", kind, nd, t.avg)
        local head = { "  depth \\ tokens" }
        for _, l in ipairs(t.lengths) do head[#head + 1] = string.format("%7d", l) end
        out[#out + 1] = table.concat(head, " ")
        for j, d in ipairs(t.depths) do
          local row = { string.format("  %14.2f", d) }
          for i = 1, #t.lengths do
            local c = t.cells[i][j]
            row[#row + 1] = c.mean and string.format("%7.3f", c.mean) or "      -"
          end
          out[#out + 1] = table.concat(row, " ")
        end
      end
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- The JSON form of a summary: spans as lists, nil means as null.
local function json_summary(s)
  local function arr(t) return json.array(t) end
  local curves = json.object {}
  for kind, c in pairs(s.curves) do
    local spans = {}
    for i, sp in ipairs(c.spans) do
      spans[i] = setmetatable({ from = sp.from, to = sp.to, mean = sp.mean or json.null, std = sp.std or json.null,
        n = sp.n }, { __jsonorder = { "from", "to", "mean", "std", "n" } })
    end
    curves[kind] = setmetatable({ avg = c.avg or json.null, gap = c.gap or json.null, probes = c.probes, sets = c.sets,
      positions = c.positions, spans = arr(spans) },
      { __jsonorder = { "avg", "gap", "probes", "sets", "positions", "spans" } })
  end
  local grids = json.object {}
  for kind, g in pairs(s.grids) do
    grids[kind] = json.object {}
    for nd, t in pairs(g) do
      local cells = {}
      for i, row in ipairs(t.cells) do
        local r = {}
        for j, c in ipairs(row) do r[j] = c.mean or json.null end
        cells[i] = arr(r)
      end
      grids[kind][nd] = setmetatable({ avg = t.avg, lengths = arr(t.lengths), depths = arr(t.depths),
        scores = arr(cells) }, { __jsonorder = { "avg", "lengths", "depths", "scores" } })
    end
  end
  return setmetatable({ probes = s.probes, scored = s.scored, skipped = s.skipped, failed = s.failed, spans = s.spans,
    curves = curves, grids = grids, teacher = s.teacher },
    { __jsonorder = { "probes", "scored", "skipped", "failed", "spans", "curves", "grids", "teacher" } })
end

function M.main(o)
  if not o.probes then usage.error("eval: which probes? (lacuna eval PROBES.jsonl -o PRED.jsonl --model MODEL)") end
  if not o.output then usage.error("eval: where to? (-o PRED.jsonl)") end
  if o.kind and not metrics.KINDS[o.kind] then usage.error("--kind must be document, code or database") end
  if o.spans and o.spans ~= "film" and o.spans ~= "all" then usage.error("--spans must be film or all") end
  if o.output == o.probes then usage.error("eval: -o must not be the probes file") end
  core.sys.catch_signals()
  local rd, err = jsonl.open(o.probes)
  if not rd then usage.error("%s", err) end
  local w, werr = jsonl.writer(o.output)
  if not w then
    rd:close()
    usage.error("-o: %s", werr)
  end
  local skip = {}
  if o.skip_list then
    local f, ferr = io.open(o.skip_list, "rb")
    local list = f and json.decode(f:read("a") or "")
    if f then f:close() end
    if type(list) ~= "table" or not json.is_array(list) then
      rd:close()
      w:abort()
      usage.error("--skip-list %s: %s", o.skip_list, ferr or "expected a JSON list of probe indices")
    end
    for _, k in ipairs(list) do
      if math.type(k) ~= "integer" then
        rd:close()
        w:abort()
        usage.error("--skip-list %s: %s is not a probe index", o.skip_list, tostring(k))
      end
      skip[k] = true
    end
  end
  local t0 = sys.clock()
  local pool = teacher.pool(runner.teacher_config(o))
  local chat = pool:teacher(nil, nil)
  if not pool:endpoint(nil).model then
    rd:close()
    w:abort()
    usage.error("eval: no model (--model MODEL, and OPENAI_BASE_URL or --base-url for the endpoint)")
  end
  local max_tokens, temperature = o.max_tokens or 128, o.temperature or 0
  local seq, pending = 0, {}
  local scored = {}
  local counts = { probes = 0, scored = 0, skipped = 0, failed = 0, deferred = 0 }
  local first_errors, write_err = {}, nil
  -- A progress line on stderr: updating in place on a terminal, else every 5 s.
  local tty = sys.isatty(2)
  local every, last = tty and 0.25 or 5, sys.clock()
  local function progress(final)
    if o.quiet or o.progress == false then return end
    local now = sys.clock()
    if not final and now - last < every then return end
    last = now
    local el = now - t0
    local text = string.format("lacuna: eval: %d done, %.1f probes/s, %d failed, %d in flight", counts.probes,
      el > 0 and counts.probes / el or 0, counts.failed, pool:report().inflight)
    if tty then
      io.stderr:write("\r\27[K", text, final and "\n" or "")
    elseif not final then
      io.stderr:write(text, "\n")
    end
  end
  local ok_run, n, interrupted = pcall(sched.run, {
    window = runner.window(o),
    budget = 0,
    next = function()
      if (o.limit and seq >= o.limit) or sys.interrupted() or pool:stopped() then return nil end
      local v, a = rd:next()
      if v == nil then
        if a then error(a, 0) end
        return nil
      end
      seq = seq + 1
      local item
      if skip[seq - 1] then
        item = { skipped = true, probe = v and read_probe_meta(v, o.probes, o) or {} }
      elseif v == false then
        item = { bad = a, probe = {} }
      else
        local msgs, probe = read_probe(v, o.probes, o)
        if msgs then
          item = { messages = msgs, probe = probe }
        else
          item = { bad = string.format("%s:%d: %s", o.probes, a, probe), probe = {} }
        end
      end
      pending[seq] = item.probe
      return item
    end,
    work = function(item)
      if item.skipped then return { skipped = true } end
      if item.bad then error(item.bad, 0) end
      local r = chat:chat { messages = item.messages, temperature = temperature, max_tokens = max_tokens }
      local text = r.text or ""
      return { text = text, score = metrics.score(item.probe.kind, item.probe, text), cached = r.cached }
    end,
    done = function(i, ok, res)
      local probe = pending[i]
      pending[i] = nil
      counts.probes = counts.probes + 1
      local fields
      if not ok and teacher.is_deferred(res) then
        counts.deferred = counts.deferred + 1 -- (--batch-export: the request is in the batch file)
        return
      end
      if ok and res.skipped then
        counts.skipped = counts.skipped + 1
        fields = { skipped = true }
      elseif ok then
        counts.scored = counts.scored + 1
        fields = { samples = json.array { res.text }, score = res.score, cached = res.cached or nil }
        scored[#scored + 1] = { kind = probe.kind, family = probe.family, set_id = probe.set_id,
          position_id = probe.position_id, positions = probe.positions, grid = probe.grid, score = res.score }
      else
        counts.failed = counts.failed + 1
        local msg = tostring(res)
        if #first_errors < 5 then first_errors[#first_errors + 1] = string.format("probe %d: %s", i, msg) end
        fields = { error = msg }
      end
      if not write_err then
        local wok, e = w:write(line_of(i, probe, fields))
        if not wok then write_err = e end
      end
      progress(false)
    end,
  })
  rd:close()
  pcall(pool.close, pool)
  progress(true)
  if not ok_run then
    w:abort()
    error(n, 0)
  end
  if interrupted or sys.interrupted() then
    w:abort()
    io.stderr:write(string.format("lacuna: eval interrupted after %d probes; nothing was written (a rerun " ..
      "answers them from the cache)\n", counts.probes))
    return 130
  end
  if write_err then
    w:abort()
    usage.error("-o: %s", write_err)
  end
  if counts.deferred > 0 then
    w:abort()
    io.stderr:write(string.format("lacuna: eval: %d requests written to %s in OpenAI Batch API format; submit it, " ..
      "load its output with `lacuna cache import-batch FILE`, then rerun without --batch-export\n", counts.deferred,
      tostring(o.batch_export)))
    return 3
  end
  local film, grid = {}, {}
  for _, r in ipairs(scored) do
    if r.family == "grid" and type(r.grid) == "table" then grid[#grid + 1] = r else film[#film + 1] = r end
  end
  local rep = pool:report()
  local summary = { probes = counts.probes, scored = counts.scored, skipped = counts.skipped, failed = counts.failed,
    spans = o.spans or "film",
    curves = curve.film(film, { spans = o.spans }), grids = curve.grid(grid),
    teacher = runner.teacher_manifest(rep) }
  local cok, cerr = w:commit()
  if not cok then usage.error("-o: %s", cerr) end
  local sw, serr = jsonl.writer(summary_path(o.output))
  if not sw then usage.error("%s", serr) end
  sw:write(json_summary(summary))
  cok, cerr = sw:commit()
  if not cok then usage.error("%s", cerr) end
  if o.svg then
    local f, ferr = io.open(o.svg, "wb")
    if not f then usage.error("--svg: %s", ferr) end
    f:write(require("lacuna.eval.svg").render(summary, "lacuna eval " .. o.probes))
    f:close()
  end
  local wall = sys.clock() - t0
  if not o.quiet then
    for _, e in ipairs(first_errors) do io.stderr:write("lacuna: ", e, "\n") end
    io.stderr:write(string.format("lacuna: eval: %d probes = %d scored + %s%d failed in %.2fs (%.1f probes/s) -> %s\n",
      counts.probes, counts.scored, counts.skipped > 0 and string.format("%d skipped (--skip-list) + ", counts.skipped)
      or "", counts.failed, wall, wall > 0 and counts.probes / wall or 0, o.output))
    if rep.used then
      io.stderr:write(string.format("lacuna: teacher: %d requests (%d retries), %d cache hits\n", rep.requests,
        rep.retries, rep.cache_hits))
    end
  end
  io.stdout:write(o.json and (json.encode(json_summary(summary)) .. "\n") or text_summary(summary))
  return counts.failed > 0 and 1 or 0
end

return M
