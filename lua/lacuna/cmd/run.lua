-- lacuna run RECIPE -i INPUT... -o OUT [options]: the recipe over JSONL inputs.
-- Its option groups are shared by check and info (the same parser as before).
local core = require "lacuna.core"
local usage = require "lacuna.usage"
local runner = require "lacuna.runner"
local formats = require "lacuna.formats"

local defaults = runner.defaults

local function teacher_spec(spec, o)
  local name, model, url = spec:match("^([%w_%-]+)=([^@]+)@(.+)$")
  if not name then name, model = spec:match("^([%w_%-]+)=(.+)$") end
  if not name then usage.error("--teacher expects NAME=MODEL or NAME=MODEL@BASE_URL, got '%s'", spec) end
  o.teachers = o.teachers or {}
  o.teachers[name] = { model = model, base_url = url }
end

-- --price MODEL=IN/OUT[/BATCH] or --price [MODEL:]in=X,out=Y[,batch=F]:
-- dollars per 1M input/output tokens; BATCH (F) is the Batch API's share of
-- the online price (default 0.5). Without MODEL the price is every model's.
local function price_spec(spec, o)
  local model, pin, pout, pbatch
  local m, rest = spec:match("^(.-):?(in=.*)$")
  if rest then
    model = m ~= "" and m or "*"
    for k, v in rest:gmatch("([%a_]+)=([^,]*)") do
      if k == "in" then pin = v elseif k == "out" then pout = v elseif k == "batch" then pbatch = v
      else usage.error("--price: unknown field '%s' (in, out, batch)", k) end
    end
  else
    model, pin, pout, pbatch = spec:match("^(.+)=([%d%.]+)/([%d%.]+)/?([%d%.]*)$")
    if pbatch == "" then pbatch = nil end
  end
  if not model or not tonumber(pin) or not tonumber(pout) or (pbatch and not tonumber(pbatch)) then
    usage.error("--price expects MODEL=IN/OUT[/BATCH] or [MODEL:]in=X,out=Y[,batch=F] in dollars per 1M tokens, got '%s'",
      spec)
  end
  o.prices = o.prices or {}
  o.prices[model] = { input = tonumber(pin), output = tonumber(pout), batch = pbatch and tonumber(pbatch) or nil }
end

local M = {
  name = "run",
  summary = "Run a recipe over JSONL inputs.",
  usage = { "lacuna run RECIPE -i INPUT... -o OUT [options]" },
  operands = { { key = "recipe", name = "RECIPE" } },
  extra_hint = " (inputs go after -i)",
}

function M.recipe_note()
  local names = {}
  for k in pairs(core.shipped_recipes) do names[#names + 1] = k end
  table.sort(names)
  return "RECIPE is a path to a .lua file or the name of a shipped recipe (" .. table.concat(names, ", ") .. ")."
end

M.notes = M.recipe_note

M.groups = {
  {
    title = "run/check options",
    { "-i", "--input", arg = "FILE", key = "inputs", kind = "list",
      doc = "input JSONL (.jsonl or .jsonl.gz; '-' for stdin); repeatable" },
    { "-o", "--output", arg = "FILE", key = "output",
      doc = "output JSONL; beside it FILE.skipped.jsonl, FILE.failed.jsonl and FILE.manifest.json "
        .. "(FILE's .jsonl suffix is replaced); '-' writes the examples to stdout" },
    { "-p", "--param", arg = "KEY=VALUE", key = "params", kind = "list",
      doc = "set a recipe parameter; repeatable" },
    { "-f", "--format", arg = "NAME", key = "format",
      doc = function()
        return "output format: " .. table.concat(formats.names, ", ") .. ", tokens (default: the recipe's, else "
          .. formats.default .. ")"
      end },
    { "--tokenizer", arg = "DIR", key = "tokenizer",
      doc = "with --format tokens: the model's tokenizer.json and tokenizer_config.json (its chat template); "
        .. "with --estimate: counts the prompts' tokens" },
    { "--chat-template", arg = "P", key = "chat_template",
      doc = "with --format tokens: another tokenizer_config.json or .jinja" },
    { "--max-line-bytes", arg = "N", key = "max_line_bytes", kind = "int", min = 1,
      doc = function()
        local max = require("lacuna.plan").DEFAULT_MAX_LINE
        return ("longest input line accepted, in bytes (default %d = %d MiB); a longer line is a failed item")
          :format(max, max // (1024 * 1024))
      end },
    { "--seed", arg = "N", key = "seed", kind = "int", doc = "seed of the per-item random streams (default 0)" },
    { "--limit", arg = "N", key = "limit", kind = "int", min = 0, doc = "process only the first N items" },
    { "--max-failures", arg = "N", key = "max_failures", kind = "int", min = 0,
      doc = "stop after more than N failed items (the rest is kept)" },
    { "--window", arg = "N", key = "window", kind = "int", min = 1,
      doc = function()
        return ("work items unfinished at a time; fewer start while teacher requests queue "
          .. "(default max(%d, 16 x --concurrency))")
          :format(defaults.window)
      end },
    { "--order-items", arg = "N", key = "order_items", kind = "int", min = 1,
      doc = function()
        return ("finished items that may wait for an earlier one still running, so that new items keep "
          .. "starting (default max(%d, 16 x --window))"):format(defaults.order_items)
      end },
    { "--order-memory", arg = "MB", key = "order_memory_mb", kind = "number", min = 0,
      doc = function()
        return ("memory for their results; the rest wait in a temporary file (default %g)")
          :format(defaults.order_memory_mb)
      end },
    { "--shard", arg = "I/N", key = "shard", kind = "custom",
      parse = function(v, o) o.shard = require("lacuna.shard").parse(v) end,
      doc = "run shard I of N (0 <= I < N): a contiguous 1/N of the work items; join the shards' outputs "
        .. "with lacuna merge (default from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or "
        .. "JOB_COMPLETION_INDEX with --shard-count)" },
    { "--shard-count", arg = "N", key = "shard_count", kind = "int", min = 1,
      doc = "the number of shards of a Kubernetes Indexed Job (JOB_COMPLETION_INDEX is the shard; "
        .. "default $LACUNA_SHARD_COUNT)" },
    { "--jobs", arg = "N", key = "jobs", kind = "int", min = 1,
      doc = "run as N shard processes on this machine (one cache) and merge them into -o: every core busy" },
    { "--no-meta", key = "meta", kind = "flag", value = false,
      doc = "leave example metadata out of the output lines" },
    { "--split-partial", key = "split_partial", kind = "flag",
      doc = "openai format: split a partly trained assistant turn into consecutive assistant messages "
        .. "instead of failing" },
    { "--trust", key = "trust", kind = "flag", doc = "lift the sandbox (full Lua library, no limits)" },
    { "--max-instructions", arg = "N", key = "max_instructions", kind = "int", min = 0,
      doc = function()
        return ("per-item instruction budget of a sandboxed recipe (default %d)"):format(defaults.max_instructions)
      end },
    { "--max-memory", arg = "MB", key = "max_memory_mb", kind = "int", min = 0,
      doc = function() return ("memory cap of a sandboxed run (default %d)"):format(defaults.max_memory_mb) end },
    { "-q", "--quiet", key = "quiet", kind = "flag", doc = "no progress or summary on stderr" },
    { "--no-progress", key = "progress", kind = "flag", value = false, doc = "no progress line" },
    { "--progress-interval", arg = "S", key = "progress_interval", kind = "number", min = 0.01,
      doc = "seconds between progress lines off a terminal (default 5)" },
  },
  {
    title = "teacher (OpenAI-compatible chat completions; recipes call ctx.teacher:chat{...})",
    { "--model", arg = "MODEL", key = "model", doc = "the default teacher's model" },
    { "--teacher", arg = "NAME=MODEL[@BASE_URL]", kind = "custom", parse = teacher_spec,
      doc = "a named teacher (ctx.teachers.NAME); repeatable" },
    { "--base-url", arg = "URL", key = "base_url",
      doc = "API base (default $OPENAI_BASE_URL, else https://api.openai.com/v1)" },
    { "--api-key-env", arg = "VAR", key = "api_key_env",
      doc = "environment variable holding the API key (default OPENAI_API_KEY)" },
    { "--concurrency", arg = "N", key = "concurrency", kind = "int", min = 1,
      doc = function()
        return ("requests in flight (default %d; lowered on 429 and recovered)"):format(defaults.concurrency)
      end },
    { "--rpm", arg = "N", key = "rpm", kind = "int", min = 1, doc = "requests per minute" },
    { "--tpm", arg = "N", key = "tpm", kind = "int", min = 1, doc = "tokens per minute" },
    { "--timeout", arg = "SECONDS", key = "timeout", kind = "number", min = 0.001,
      doc = "per request (default 120)" },
    { "--max-retries", arg = "N", key = "max_retries", kind = "int", min = 0, doc = "retries per request (default 6)" },
    { "--retry-base", arg = "SECONDS", key = "retry_base", kind = "number", min = 0,
      doc = "first backoff bound (default 0.5; doubles, full jitter, cap 30)" },
    { "--cache", arg = "DB", key = "cache", doc = "response cache (default .lacuna/cache.db)" },
    { "--no-cache", key = "no_cache", kind = "flag", doc = "neither read nor write the response cache" },
    { "--cache-only", key = "cache_only", kind = "flag", doc = "answer from the cache only; a miss fails the item" },
    { "--batch-export", arg = "FILE", key = "batch_export",
      doc = "write cache misses as an OpenAI Batch input file and stop (exit 3)" },
    { "--batch", key = "batch", kind = "flag",
      doc = "answer the teacher requests through the Batch API: export, submit, wait, collect, one cycle per "
        .. "dependent step, then write the outputs from the cache (rerun the same command after a kill)" },
    { "--price", arg = "SPEC", kind = "custom", parse = price_spec,
      doc = "MODEL=IN/OUT[/BATCH] or [MODEL:]in=X,out=Y[,batch=F]: dollars per 1M input/output tokens, "
        .. "F the Batch API's share (default 0.5); without MODEL every model's; repeatable" },
    { "--max-cost", arg = "USD", key = "max_cost", kind = "number", min = 0,
      doc = "stop cleanly before the cost can pass USD (requests in flight count at their max_tokens), "
        .. "keeping what is done" },
    { "--estimate", key = "estimate", kind = "flag",
      doc = "plan the run and render the first step's requests without sending them: request count, prompt "
        .. "tokens, completion tokens and cost ranges (with --price); writes OUT.estimate.json" },
    { "--sample", arg = "N", key = "sample", kind = "int", min = 0,
      doc = "with --estimate: run the first N items for real to observe completion tokens and later steps" },
  },
  require("lacuna.cmd.batch").option_group,
}

-- Gives cmd (check, info) run's operand and options; returns cmd.
function M.with_run_options(cmd)
  cmd.operands, cmd.extra_hint, cmd.groups = M.operands, M.extra_hint, M.groups
  cmd.notes = cmd.notes or M.recipe_note
  return cmd
end

function M.main(o)
  if not o.recipe then usage.error("run: which recipe? (lacuna run RECIPE -i INPUT -o OUT)") end
  core.sys.catch_signals()
  if o.estimate and o.batch then usage.error("run: --estimate and --batch do not go together") end
  if o.estimate then return (require("lacuna.estimate").run(o)) end
  -- an earlier --estimate of this output goes into the manifest beside the actuals
  local est = require("lacuna.estimate").path_for(o.output)
  if est and core.sys.stat(est) then o.estimate_file = est end
  if o.batch then
    if o.jobs and o.jobs > 1 then usage.error("run: --batch and --jobs do not go together") end
    return (require("lacuna.batch_run").run(o))
  end
  local shard = require "lacuna.shard"
  if o.jobs and o.jobs > 1 then
    shard.check_inputs(o.inputs, "--jobs")
    return require("lacuna.shard_jobs").run(M, o)
  end
  o.shard = shard.resolve(o.shard, o.shard_count)
  if o.shard then shard.check_inputs(o.inputs, "--shard") end
  return (runner.run(o))
end

return M
