-- The teacher cache: the friendly API over core.cache and the implementations
-- of `lacuna cache stats|export|import|import-batch`.
--
-- Export format (one JSON object per line, so others can rebuild a dataset
-- without a teacher):
--   {"key":..., "model":..., "request":{...}|null, "response":{...},
--    "prompt_tokens":N, "completion_tokens":N}
-- request and response are JSON objects, not strings. `import` reads it back.
-- `import-batch` loads an OpenAI Batch API output file whose custom_id is the
-- cache key the teacher wrote at --batch-export time.
--
-- Every command returns an exit code (0 ok, 1 some lines failed, 2 usage or
-- configuration error) and prints its summary and per-line errors on stderr
-- (or on opts.log, anything with :write).
local core = require "lacuna.core"

local json, jsonl, ccache = core.json, core.jsonl, core.cache

local M = {}

M.default_path = ccache.default_path
M.valid_key = ccache.valid_key

-- open(path, {readonly=bool}) -> Cache | nil, message. path defaults to
-- .lacuna/cache.db (its directory is created unless readonly).
function M.open(path, opts)
  if path ~= nil and type(path) ~= "string" then
    error("cache.open: path must be a string or nil", 2)
  end
  return ccache.open(path or M.default_path, opts)
end

local function logger(opts)
  local log = opts and opts.log or io.stderr
  return function(fmt, ...)
    log:write(string.format(fmt, ...), "\n")
  end
end

local function human_bytes(n)
  local units = { "B", "KB", "MB", "GB", "TB" }
  local i = 1
  while n >= 1024 and i < #units do
    n = n / 1024
    i = i + 1
  end
  return i == 1 and string.format("%d B", n) or string.format("%.1f %s", n, units[i])
end

local function is_object(v)
  return type(v) == "table" and not json.is_array(v)
end

local function is_count(v)
  return math.type(v) == "integer" and v >= 0
end

-- ------------------------------------------------------------- stats

-- cmd_stats(db, out): entries, sizes, per-model entries and tokens on out
-- (default io.stdout).
function M.cmd_stats(db, out, opts)
  local say = logger(opts)
  out = out or io.stdout
  db = db or M.default_path
  local c, err = ccache.open(db, { readonly = true })
  if not c then
    say("lacuna: cache %s", err)
    return 2
  end
  local s
  s, err = c:stats()
  c:close()
  if not s then
    say("lacuna: %s", err)
    return 2
  end
  local lines = {
    string.format("cache:    %s (schema %d)", s.path, s.schema),
    string.format("entries:  %d", s.entries),
    string.format("size:     %s of responses, %s on disk", human_bytes(s.bytes), human_bytes(s.file_bytes)),
  }
  local names = {}
  for m in pairs(s.models) do names[#names + 1] = m end
  table.sort(names)
  if #names > 0 then
    local w = 5
    for _, m in ipairs(names) do w = math.max(w, #m) end
    local fmt = "%-" .. w .. "s  %10s  %14s  %17s"
    lines[#lines + 1] = ""
    lines[#lines + 1] = string.format(fmt, "model", "entries", "prompt_tokens", "completion_tokens")
    local te, tp, tc = 0, 0, 0
    for _, m in ipairs(names) do
      local r = s.models[m]
      te, tp, tc = te + r.entries, tp + r.prompt_tokens, tc + r.completion_tokens
      lines[#lines + 1] = string.format(fmt, m, r.entries, r.prompt_tokens, r.completion_tokens)
    end
    if #names > 1 then
      lines[#lines + 1] = string.format(fmt, "total", te, tp, tc)
    end
  end
  out:write(table.concat(lines, "\n"), "\n")
  return 0
end

-- ------------------------------------------------------------- export

local EXPORT_ORDER = { __jsonorder = { "key", "model", "request", "response", "prompt_tokens", "completion_tokens" } }

-- cmd_export(db, file): every cached response as one JSONL line, in key
-- order. file "-" is stdout; otherwise the file appears atomically.
function M.cmd_export(db, file, opts)
  local say = logger(opts)
  db = db or M.default_path
  if type(file) ~= "string" or file == "" then
    say("usage: lacuna cache export [--cache DB] FILE")
    return 2
  end
  local c, err = ccache.open(db, { readonly = true })
  if not c then
    say("lacuna: cache %s", err)
    return 2
  end
  local w
  if file == "-" then
    w = {
      write = function(_, v) return io.stdout:write(json.encode(v), "\n") end,
      commit = function() return io.stdout:flush() end,
      abort = function() end,
    }
  else
    w, err = jsonl.writer(file)
    if not w then
      c:close()
      say("lacuna: %s", err)
      return 2
    end
  end
  local exported, failed, werr = 0, 0, nil
  local n, ierr = c:each(function(row)
    local response, e = json.decode(row.body)
    local request = json.null
    if response ~= nil and not is_object(response) then e = "not a JSON object" response = nil end
    if response ~= nil and row.request then
      request, e = json.decode(row.request)
      if request == nil then response = nil end
    end
    if response == nil then
      failed = failed + 1
      say("%s: key %s: stored %s is not valid JSON: %s", db, row.key,
        row.request and request == nil and "request" or "response", e)
      return
    end
    local ok
    ok, werr = w:write(setmetatable({
      key = row.key, model = row.model, request = request, response = response,
      prompt_tokens = row.prompt_tokens, completion_tokens = row.completion_tokens,
    }, EXPORT_ORDER))
    if not ok then return false end
    exported = exported + 1
  end)
  c:close()
  if not n or werr then
    w:abort()
    say("lacuna: export failed: %s", werr or ierr)
    return 2
  end
  local ok, cerr = w:commit()
  if not ok then
    say("lacuna: export failed: %s", cerr)
    return 2
  end
  say("exported %d response%s from %s to %s%s", exported, exported == 1 and "" or "s", db,
    file == "-" and "stdout" or file, failed > 0 and string.format(" (%d failed)", failed) or "")
  return failed > 0 and 1 or 0
end

-- ------------------------------------------------------------- import

-- Reads a JSONL file line by line, calling handle(value, where) for each
-- decoded line; handle returns "imported" | "present" | nil, message.
-- Returns the counts, or nil and a message when the file cannot be read.
local function import_lines(file, handle, say)
  local r, err = jsonl.open(file)
  if not r then return nil, err end
  local counts = { lines = 0, imported = 0, present = 0, failed = 0 }
  while true do
    local v, msg, lineno = r:next()
    if v == nil then break end
    counts.lines = counts.lines + 1
    if v == false then
      counts.failed = counts.failed + 1
      counts.malformed = (counts.malformed or 0) + 1
      say("%s", lineno and msg or ("read error: " .. msg))
      if not lineno then break end
    else
      local where = string.format("%s:%d", file == "-" and "<stdin>" or file, msg)
      local outcome, why, kind = handle(v, where)
      if outcome then
        counts[outcome] = counts[outcome] + 1
      else
        counts.failed = counts.failed + 1
        counts[kind or "invalid"] = (counts[kind or "invalid"] or 0) + 1
        say("%s: %s", where, why)
      end
    end
  end
  r:close()
  return counts
end

local function store(c, key, t)
  local ok, inserted = c:put(key, t)
  if not ok then return nil, inserted, "store" end
  return inserted and "imported" or "present"
end

local function summary(say, what, file, db, counts, extra)
  say("%s %s into %s: %d imported, %d already present, %d failed%s (%d lines)", what, file, db,
    counts.imported, counts.present, counts.failed, extra or "", counts.lines)
  return counts.failed > 0 and 1 or 0
end

local function open_rw(db, say)
  local c, err = ccache.open(db)
  if not c then say("lacuna: cache %s", err) end
  return c
end

-- One line of the export format -> put fields, or nil and "field 'x': why".
local function check_export_line(v)
  if not is_object(v) then return nil, "not a JSON object" end
  local key = v.key
  if type(key) ~= "string" then return nil, "field 'key': missing or not a string" end
  if not ccache.valid_key(key) then return nil, "field 'key': must be 64 lowercase hex digits" end
  if type(v.model) ~= "string" or v.model == "" then
    return nil, "field 'model': missing or not a non-empty string"
  end
  if not is_object(v.response) then return nil, "field 'response': missing or not a JSON object" end
  local request = v.request
  if request == json.null then request = nil end
  if request ~= nil and not is_object(request) then
    return nil, "field 'request': not a JSON object (or null)"
  end
  for _, f in ipairs { "prompt_tokens", "completion_tokens" } do
    if v[f] ~= nil and not is_count(v[f]) then
      return nil, string.format("field '%s': not a non-negative integer", f)
    end
  end
  local usage = is_object(v.response.usage) and v.response.usage or {}
  return key, {
    model = v.model,
    request = request and json.encode(request) or nil,
    body = json.encode(v.response),
    prompt_tokens = v.prompt_tokens or (is_count(usage.prompt_tokens) and usage.prompt_tokens) or 0,
    completion_tokens = v.completion_tokens or (is_count(usage.completion_tokens) and usage.completion_tokens) or 0,
  }
end

-- Runs an import command: opens the cache, feeds every line of file through
-- check (-> key, entry | nil, why, kind) into the cache, reports, and returns
-- the exit code; `describe` adds detail to the summary from the counts.
local function run_import(name, db, file, opts, check, describe)
  local say = logger(opts)
  db = db or M.default_path
  if type(file) ~= "string" or file == "" then
    say("usage: lacuna cache %s [--cache DB] FILE", name)
    return 2
  end
  local c = open_rw(db, say)
  if not c then return 2 end
  local counts, err = import_lines(file, function(v)
    local key, t, kind = check(v)
    if not key then return nil, t, kind end
    return store(c, key, t)
  end, say)
  c:close()
  if not counts then
    say("lacuna: %s", err)
    return 2
  end
  return summary(say, name, file, db, counts, describe and describe(counts) or nil)
end

-- cmd_import(db, file): loads an export file; invalid lines are reported
-- (file:line and field) and skipped, the rest goes in.
function M.cmd_import(db, file, opts)
  return run_import("import", db, file, opts, check_export_line)
end

-- ------------------------------------------------------------- import-batch

local function batch_error_text(e)
  if is_object(e) then
    local code = type(e.code) == "string" and e.code or nil
    local msg = type(e.message) == "string" and e.message or json.encode(e)
    return code and (code .. ": " .. msg) or msg
  end
  return json.encode(e)
end

-- One line of an OpenAI Batch output file -> key, put fields; or nil, why, kind
-- (kind: "errors" for a request the batch reports as failed, "http" for a
-- non-200 response, "invalid" for a line that is not what the format says).
local function check_batch_line(v)
  if not is_object(v) then return nil, "not a JSON object", "invalid" end
  local id = v.custom_id
  if type(id) ~= "string" then return nil, "field 'custom_id': missing or not a string", "invalid" end
  if not ccache.valid_key(id) then
    return nil, "field 'custom_id': not a lacuna cache key (64 lowercase hex digits): " .. id, "invalid"
  end
  local prefix = "custom_id " .. id .. ": "
  if v.error ~= nil and v.error ~= json.null then
    return nil, prefix .. "batch error: " .. batch_error_text(v.error), "errors"
  end
  local resp = v.response
  if not is_object(resp) then return nil, prefix .. "field 'response': missing or not an object", "invalid" end
  local body = resp.body
  if resp.status_code ~= 200 then
    local why = is_object(body) and body.error ~= nil and batch_error_text(body.error) or "no error message"
    return nil, string.format("%sHTTP %s: %s", prefix, tostring(resp.status_code), why), "http"
  end
  if not is_object(body) then return nil, prefix .. "field 'response.body': missing or not an object", "invalid" end
  if type(body.choices) ~= "table" or not json.is_array(body.choices) or #body.choices == 0 then
    return nil, prefix .. "field 'response.body.choices': missing or empty", "invalid"
  end
  if type(body.model) ~= "string" or body.model == "" then
    return nil, prefix .. "field 'response.body.model': missing or not a string", "invalid"
  end
  local usage = is_object(body.usage) and body.usage or {}
  for _, f in ipairs { "prompt_tokens", "completion_tokens" } do
    if usage[f] ~= nil and not is_count(usage[f]) then
      return nil, string.format("%sfield 'response.body.usage.%s': not a non-negative integer", prefix, f), "invalid"
    end
  end
  return id, {
    model = body.model,
    body = json.encode(body),
    prompt_tokens = usage.prompt_tokens or 0,
    completion_tokens = usage.completion_tokens or 0,
  }
end

-- (lacuna batch collect reads the output and error files line by line with it.)
M.batch_line = check_batch_line

-- cmd_import_batch(db, file): stores every successful response (HTTP 200
-- with choices) of a Batch API output file under its custom_id; every other
-- line is reported with its reason and counted.
function M.cmd_import_batch(db, file, opts)
  return run_import("import-batch", db, file, opts, check_batch_line, function(counts)
    if counts.failed == 0 then return "" end
    return string.format(" (%d batch errors, %d non-200, %d malformed JSON, %d invalid)",
      counts.errors or 0, counts.http or 0, counts.malformed or 0, counts.invalid or 0)
  end)
end

-- ------------------------------------------------------------- CLI glue

M.usage = [[
usage: lacuna cache stats        [--cache DB]
       lacuna cache export       [--cache DB] FILE     (FILE '-' is stdout)
       lacuna cache import       [--cache DB] FILE
       lacuna cache import-batch [--cache DB] FILE     (an OpenAI Batch output file)
DB defaults to ]] .. M.default_path

local commands = {
  stats = function(db) return M.cmd_stats(db, io.stdout) end,
  export = M.cmd_export,
  import = M.cmd_import,
  ["import-batch"] = M.cmd_import_batch,
}

-- command(args): `lacuna cache` with args = the words after "cache".
-- Returns the exit code.
function M.command(args)
  local sub, db, rest = args[1], nil, {}
  local i = 2
  while i <= #args do
    local a = args[i]
    if a == "--cache" then
      db = args[i + 1]
      if not db then
        io.stderr:write("lacuna: --cache needs a value\n", M.usage, "\n")
        return 2
      end
      i = i + 2
    elseif a:match("^%-%-cache=") then
      db = a:sub(9)
      i = i + 1
    else
      rest[#rest + 1] = a
      i = i + 1
    end
  end
  local fn = commands[sub]
  local want = sub == "stats" and 0 or 1
  if not fn or #rest ~= want then
    io.stderr:write(M.usage, "\n")
    return 2
  end
  return fn(db, rest[1])
end

return M
