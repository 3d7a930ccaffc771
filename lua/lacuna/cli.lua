-- The `lacuna` command line. Exit codes: 0 every item done, 1 some items
-- failed, 2 usage or configuration error, 130 interrupted.
local core = require "lacuna.core"
local usage = require "lacuna.usage"
local runner = require "lacuna.runner"
local formats = require "lacuna.formats"

local M = {}

local HELP = [[
usage: lacuna <command> [options]

commands:
  run RECIPE -i INPUT... -o OUT [options]   run a recipe over JSONL inputs
  check RECIPE [-i INPUT] [options]         validate a recipe and run it on 3 records
  info RECIPE                               print a recipe's card (params, input, formats)
  version                                   print the version
  help                                      print this help

RECIPE is a path to a .lua file or the name of a shipped recipe (%s).

run/check options:
  -i, --input FILE        input JSONL (.jsonl or .jsonl.gz; '-' for stdin); repeatable
  -o, --output FILE       output JSONL; beside it FILE.skipped.jsonl, FILE.failed.jsonl
                          and FILE.manifest.json (FILE's .jsonl suffix is replaced)
  -p, --param KEY=VALUE   set a recipe parameter; repeatable
  -f, --format NAME       output format: %s, tokens (default: the recipe's, else axolotl)
      --tokenizer DIR     with --format tokens: the model's tokenizer.json and
                          tokenizer_config.json (its chat template)
      --chat-template P   with --format tokens: another tokenizer_config.json or .jinja
      --seed N            seed of the per-item random streams (default 0)
      --limit N           process only the first N items
      --max-failures N    stop after more than N failed items (the rest is kept)
      --window N          work items in flight and buffered for ordering
                          (default max(%d, 2 x --concurrency))
      --no-meta           leave example metadata out of the output lines
      --split-partial     openai format: split a partly trained assistant turn into
                          consecutive assistant messages instead of failing
      --trust             lift the sandbox (full Lua library, no limits)
      --max-instructions N  per-item instruction budget of a sandboxed recipe (default %d)
      --max-memory MB     memory cap of a sandboxed run (default %d)
  -q, --quiet             no progress or summary on stderr
      --no-progress       no progress line
      --progress-interval S  seconds between progress lines off a terminal (default 5)

teacher (OpenAI-compatible chat completions; recipes call ctx.teacher:chat{...}):
      --model MODEL       the default teacher's model
      --teacher NAME=MODEL[@BASE_URL]  a named teacher (ctx.teachers.NAME); repeatable
      --base-url URL      API base (default $OPENAI_BASE_URL, else https://api.openai.com/v1)
      --api-key-env VAR   environment variable holding the API key (default OPENAI_API_KEY)
      --concurrency N     requests in flight (default %d; lowered on 429 and recovered)
      --rpm N, --tpm N    requests / tokens per minute
      --timeout SECONDS   per request (default 120); --max-retries N (default 6)
      --retry-base SECONDS  first backoff bound (default 0.5; doubles, full jitter, cap 30)
      --cache DB          response cache (default .lacuna/cache.db); --no-cache; --cache-only
      --batch-export FILE write cache misses as an OpenAI Batch input file and stop (exit 3)
      --price MODEL=IN/OUT  dollars per 1M input/output tokens; repeatable
      --max-cost USD      stop cleanly once the cost reaches USD, keeping what is done

cache:
  lacuna cache stats [--cache DB]
  lacuna cache export FILE [--cache DB]         responses as JSONL, to reproduce without a teacher
  lacuna cache import FILE [--cache DB]
  lacuna cache import-batch FILE [--cache DB]   load an OpenAI Batch API output file

exit codes: 0 every item done, 1 some items failed (or stopped early), 2 usage
or configuration error, 3 requests exported for the Batch API, 130 interrupted.
]]

local function shipped_names()
  local names = {}
  for k in pairs(core.shipped_recipes) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

function M.help_text()
  return string.format(HELP, shipped_names(), table.concat(formats.names, ", "),
    runner.defaults.window, runner.defaults.max_instructions, runner.defaults.max_memory_mb,
    runner.defaults.concurrency)
end

local function num_arg(flag, v, min)
  local n = v and tonumber(v)
  if not n then usage.error("%s expects a number, got '%s'", flag, tostring(v)) end
  if min and n < min then usage.error("%s must be >= %g", flag, min) end
  return n
end

local function int_arg(flag, v, min)
  local n = v and math.tointeger(tonumber(v))
  if not n then usage.error("%s expects an integer, got '%s'", flag, tostring(v)) end
  if min and n < min then usage.error("%s must be >= %d", flag, min) end
  return n
end

-- Parses run/check options from args[i..]; returns an options table.
function M.parse_options(args, i)
  local o = { inputs = {}, params = {} }
  local function value(flag)
    i = i + 1
    local v = args[i]
    if v == nil then usage.error("%s needs a value", flag) end
    return v
  end
  while i <= #args do
    local a = args[i]
    local flag, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
    if flag then
      table.insert(args, i + 1, inline)
      a = flag
    end
    if a == "-i" or a == "--input" then o.inputs[#o.inputs + 1] = value(a)
    elseif a == "-o" or a == "--output" then o.output = value(a)
    elseif a == "-p" or a == "--param" then o.params[#o.params + 1] = value(a)
    elseif a == "-f" or a == "--format" then o.format = value(a)
    elseif a == "--seed" then o.seed = int_arg(a, value(a))
    elseif a == "--limit" then o.limit = int_arg(a, value(a), 0)
    elseif a == "--max-failures" then o.max_failures = int_arg(a, value(a), 0)
    elseif a == "--window" then o.window = int_arg(a, value(a), 1)
    elseif a == "--concurrency" then o.concurrency = int_arg(a, value(a), 1)
    elseif a == "--model" then o.model = value(a)
    elseif a == "--teacher" then
      local spec = value(a)
      local name, model, url = spec:match("^([%w_%-]+)=([^@]+)@(.+)$")
      if not name then name, model = spec:match("^([%w_%-]+)=(.+)$") end
      if not name then usage.error("--teacher expects NAME=MODEL or NAME=MODEL@BASE_URL, got '%s'", spec) end
      o.teachers = o.teachers or {}
      o.teachers[name] = { model = model, base_url = url }
    elseif a == "--base-url" then o.base_url = value(a)
    elseif a == "--api-key-env" then o.api_key_env = value(a)
    elseif a == "--rpm" then o.rpm = int_arg(a, value(a), 1)
    elseif a == "--tpm" then o.tpm = int_arg(a, value(a), 1)
    elseif a == "--timeout" then o.timeout = num_arg(a, value(a), 0.001)
    elseif a == "--max-retries" then o.max_retries = int_arg(a, value(a), 0)
    elseif a == "--retry-base" then o.retry_base = num_arg(a, value(a), 0)
    elseif a == "--cache" then o.cache = value(a)
    elseif a == "--no-cache" then o.no_cache = true
    elseif a == "--cache-only" then o.cache_only = true
    elseif a == "--batch-export" then o.batch_export = value(a)
    elseif a == "--price" then
      local spec = value(a)
      local model, pin, pout = spec:match("^(.+)=([%d%.]+)/([%d%.]+)$")
      if not model or not tonumber(pin) or not tonumber(pout) then
        usage.error("--price expects MODEL=INPUT/OUTPUT in dollars per 1M tokens, got '%s'", spec)
      end
      o.prices = o.prices or {}
      o.prices[model] = { input = tonumber(pin), output = tonumber(pout) }
    elseif a == "--max-cost" then o.max_cost = num_arg(a, value(a), 0)
    elseif a == "--no-progress" then o.progress = false
    elseif a == "--progress-interval" then o.progress_interval = num_arg(a, value(a), 0.01)
    elseif a == "--max-instructions" then o.max_instructions = int_arg(a, value(a), 0)
    elseif a == "--max-memory" then o.max_memory_mb = int_arg(a, value(a), 0)
    elseif a == "--no-meta" then o.meta = false
    elseif a == "--tokenizer" then o.tokenizer = value(a)
    elseif a == "--chat-template" then o.chat_template = value(a)
    elseif a == "--split-partial" then o.split_partial = true
    elseif a == "--trust" then o.trust = true
    elseif a == "-q" or a == "--quiet" then o.quiet = true
    elseif a:sub(1, 1) == "-" and a ~= "-" then usage.error("unknown option '%s' (see lacuna help)", a)
    elseif not o.recipe then o.recipe = a
    else usage.error("unexpected argument '%s' (inputs go after -i)", a)
    end
    i = i + 1
  end
  return o
end

local function pad(s, n) return s .. string.rep(" ", n - #s) end

function M.info(r)
  local lines = {}
  local function add(...) lines[#lines + 1] = string.format(...) end
  add("%s %s", r.name, r.version)
  if r.summary then add("  %s", r.summary) end
  if r.cite then add("  cite: %s", r.cite) end
  if r.license then add("  license: %s", r.license) end
  add("  source: %s (sha256 %s)", r.source_path, r.sha256)
  add("  default format: %s", r.format or formats.default)
  if r.description then add("\n%s", r.description) end
  local names = {}
  for k in pairs(r.params) do names[#names + 1] = k end
  table.sort(names)
  add("\nparams (-p key=value):")
  if #names == 0 then add("  (none)") end
  local w = 4
  for _, k in ipairs(names) do w = math.max(w, #k) end
  for _, f in ipairs(r.fields) do w = math.max(w, #f.name) end
  for _, k in ipairs(names) do
    local p = r.params[k]
    add("  %s  %s = %s  %s", pad(k, w), p:type_text(), p:default_text(), p.doc)
  end
  add("\ninput fields (per JSONL record):")
  if #r.fields == 0 then add("  (any JSON object)") end
  for _, f in ipairs(r.fields) do
    add("  %s  %s%s%s", pad(f.name, w), f.type, f.optional and " (optional)" or "",
      f.doc and ("  " .. f.doc) or "")
  end
  add("\nformats: %s, tokens", table.concat(formats.names, ", "))
  return table.concat(lines, "\n") .. "\n"
end

local commands = {}

function commands.version()
  io.stdout:write("lacuna ", core.version, " (", _VERSION, ")\n")
  return 0
end

function commands.help()
  io.stdout:write(M.help_text())
  return 0
end

function commands.info(args)
  local o = M.parse_options(args, 2)
  if not o.recipe then usage.error("info: which recipe? (lacuna info RECIPE)") end
  local r = runner.load(o.recipe, o)
  io.stdout:write(M.info(r))
  return 0
end

function commands.check(args)
  local o = M.parse_options(args, 2)
  if not o.recipe then usage.error("check: which recipe? (lacuna check RECIPE [-i INPUT])") end
  return (runner.check(o))
end

-- lacuna cache stats|export|import|import-batch [FILE] [--cache DB]
function commands.cache(args)
  local sub = args[2]
  local db, file = ".lacuna/cache.db", nil
  local i = 3
  while i <= #args do
    local a = args[i]
    if a == "--cache" then
      i = i + 1
      db = args[i] or usage.error("--cache needs a value")
    elseif a:sub(1, 1) == "-" then
      usage.error("unknown option '%s' for lacuna cache", a)
    elseif not file then
      file = a
    else
      usage.error("unexpected argument '%s'", a)
    end
    i = i + 1
  end
  local cache = require "lacuna.cache"
  if sub == "stats" then return cache.cmd_stats(db, io.stdout) end
  local needs = { export = cache.cmd_export, import = cache.cmd_import, ["import-batch"] = cache.cmd_import_batch }
  local fn = needs[sub or ""]
  if not fn then usage.error("lacuna cache: expected stats, export, import or import-batch") end
  if not file then usage.error("lacuna cache %s: which file?", sub) end
  return fn(db, file)
end

function commands.run(args)
  local o = M.parse_options(args, 2)
  if not o.recipe then usage.error("run: which recipe? (lacuna run RECIPE -i INPUT -o OUT)") end
  core.sys.catch_signals()
  return (runner.run(o))
end

-- Entry from core/host.c: args[0] is the program, args[1] the command.
function M.main(args)
  local cmd = args[1]
  if cmd == nil then
    io.stderr:write(M.help_text())
    return 2
  end
  if cmd == "--help" or cmd == "-h" then cmd = "help" end
  if cmd == "--version" or cmd == "-V" then cmd = "version" end
  local fn = commands[cmd]
  if not fn then
    io.stderr:write("lacuna: unknown command '", cmd, "' (see lacuna help)\n")
    return 2
  end
  local ok, res = xpcall(fn, function(e)
    if usage.is(e) then return e end
    return debug.traceback(tostring(e), 2)
  end, args)
  if ok then return res end
  io.stderr:write("lacuna: ", usage.text(res), "\n")
  return 2
end

-- Entry from lacuna_run() in the C API: o is an options table; the counts
-- are stored back into it. Usage errors propagate to the caller's err.
function M.run_options(o)
  local code, counts = runner.run(o)
  o.counts = counts
  return code
end

return M
