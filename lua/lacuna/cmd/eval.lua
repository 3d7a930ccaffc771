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
local report = require "lacuna.eval.report"
local run = require "lacuna.eval.run"

local json, jsonl, sys = core.json, core.jsonl, core.sys

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
    { "--temperature", arg = "T", key = "temperature", kind = "number", min = 0,
      doc = "sampling temperature (default 0)" },
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

-- A JSON list of 0-based probe indices (FILM's *_skip_list.json) as a set.
local function load_skip_list(path)
  local skip = {}
  if not path then return skip end
  local f, ferr = io.open(path, "rb")
  local list = f and json.decode(f:read("a") or "")
  if f then f:close() end
  if type(list) ~= "table" or not json.is_array(list) then
    usage.error("--skip-list %s: %s", path, ferr or "expected a JSON list of probe indices")
  end
  for _, k in ipairs(list) do
    if math.type(k) ~= "integer" then usage.error("--skip-list %s: %s is not a probe index", path, tostring(k)) end
    skip[k] = true
  end
  return skip
end

local function summary_path(out)
  return (out:gsub("%.jsonl$", "")) .. ".summary.json"
end

-- The numbers of a finished run: curves of the FILM probes, tables of the grid ones.
local function summarize(o, res, rep)
  local film, grid = {}, {}
  for _, r in ipairs(res.scored) do
    if r.family == "grid" and type(r.grid) == "table" then grid[#grid + 1] = r else film[#film + 1] = r end
  end
  local c = res.counts
  return { probes = c.probes, scored = c.scored, skipped = c.skipped, failed = c.failed, spans = o.spans or "film",
    curves = curve.film(film, { spans = o.spans }), grids = curve.grid(grid), teacher = runner.teacher_manifest(rep) }
end

-- Commits the predictions and writes the summary file and the SVG.
local function write_outputs(o, w, summary)
  local cok, cerr = w:commit()
  if not cok then usage.error("-o: %s", cerr) end
  local sw, serr = jsonl.writer(summary_path(o.output))
  if not sw then usage.error("%s", serr) end
  sw:write(report.json(summary))
  cok, cerr = sw:commit()
  if not cok then usage.error("%s", cerr) end
  if o.svg then
    local f, ferr = io.open(o.svg, "wb")
    if not f then usage.error("--svg: %s", ferr) end
    f:write(require("lacuna.eval.svg").render(summary, "lacuna eval " .. o.probes))
    f:close()
  end
end

local function closing_lines(o, res, rep, wall)
  local c = res.counts
  for _, e in ipairs(res.first_errors) do io.stderr:write("lacuna: ", e, "\n") end
  io.stderr:write(string.format("lacuna: eval: %d probes = %d scored + %s%d failed in %.2fs (%.1f probes/s) -> %s\n",
    c.probes, c.scored, c.skipped > 0 and string.format("%d skipped (--skip-list) + ", c.skipped) or "", c.failed,
    wall, wall > 0 and c.probes / wall or 0, o.output))
  if rep.used then
    io.stderr:write(string.format("lacuna: teacher: %d requests (%d retries), %d cache hits\n", rep.requests,
      rep.retries, rep.cache_hits))
  end
end

function M.main(o)
  if not o.probes then usage.error("eval: which probes? (lacuna eval PROBES.jsonl -o PRED.jsonl --model MODEL)") end
  if not o.output then usage.error("eval: where to? (-o PRED.jsonl)") end
  if o.kind and not metrics.KINDS[o.kind] then usage.error("--kind must be document, code or database") end
  if o.spans and o.spans ~= "film" and o.spans ~= "all" then usage.error("--spans must be film or all") end
  if o.output == o.probes then usage.error("eval: -o must not be the probes file") end
  local skip = load_skip_list(o.skip_list)
  local pool = teacher.pool(runner.teacher_config(o))
  if not pool:endpoint(nil).model then
    usage.error("eval: no model (--model MODEL, and OPENAI_BASE_URL or --base-url for the endpoint)")
  end
  core.sys.catch_signals()
  local rd, err = jsonl.open(o.probes)
  if not rd then usage.error("%s", err) end
  local w, werr = jsonl.writer(o.output)
  if not w then
    rd:close()
    usage.error("-o: %s", werr)
  end
  local t0 = sys.clock()
  local ok, res = pcall(run.run, o, rd, w, pool, skip, t0)
  rd:close()
  pcall(pool.close, pool)
  if not ok then
    w:abort()
    error(res, 0)
  end
  if res.interrupted or sys.interrupted() then
    w:abort()
    io.stderr:write(string.format("lacuna: eval interrupted after %d probes; nothing was written (a rerun " ..
      "answers them from the cache)\n", res.counts.probes))
    return 130
  end
  if res.write_err then
    w:abort()
    usage.error("-o: %s", res.write_err)
  end
  if res.counts.deferred > 0 then
    w:abort()
    io.stderr:write(string.format("lacuna: eval: %d requests written to %s in OpenAI Batch API format; submit it, " ..
      "load its output with `lacuna cache import-batch FILE`, then rerun without --batch-export\n",
      res.counts.deferred, tostring(o.batch_export)))
    return 3
  end
  local rep = pool:report()
  local summary = summarize(o, res, rep)
  write_outputs(o, w, summary)
  if not o.quiet then closing_lines(o, res, rep, sys.clock() - t0) end
  io.stdout:write(o.json and (json.encode(report.json(summary)) .. "\n") or report.text(summary))
  return res.counts.failed > 0 and 1 or 0
end

return M
