-- The outputs of a run (DESIGN §3.3): the targets checked before the first
-- record is read, the writers, the sink that records every item, the
-- manifest, and the commit that publishes the set as one.
--
-- The set is OUT, OUT.skipped.jsonl, OUT.failed.jsonl and OUT.manifest.json.
-- Everything is written to PATH.tmp.PID and synced; the manifest, which
-- names every file of the set with its line count, size and CRC-32, is the
-- commit point. Commit removes the old manifest, renames the data files, then
-- renames the new manifest into place: a set whose manifest is missing, or
-- does not match its files, is uncommitted, and rerunning the command writes
-- it again. OUT.lock (an flock held for the whole run) keeps a second run off
-- the same set; a run removes the temporary files that dead runs left.
local core = require "lacuna.core"
local usage = require "lacuna.usage"

local json, jsonl, sys = core.json, core.jsonl, core.sys
local encode = json.encode

local M = {}

local function stderr(s) io.stderr:write(s, "\n") end

-- Keys in a fixed order in the JSON text.
local function ordered(t, order) return setmetatable(t, { __jsonorder = order }) end
M.ordered = ordered

function M.side_path(out, suffix)
  local base = out:gsub("%.jsonl%.gz$", ""):gsub("%.jsonl$", ""):gsub("%.json$", "")
  return base .. suffix
end

-- OUT's manifest (OUT.manifest.json) decoded, its path and its text; or nil
-- and the path when it is missing or not a JSON object.
function M.read_manifest(out)
  local mpath = M.side_path(out, ".manifest.json")
  local f = io.open(mpath, "rb")
  if not f then return nil, mpath end
  local text = f:read("a")
  f:close()
  local ok, m = pcall(json.decode, text)
  if not ok or type(m) ~= "table" then return nil, mpath end
  return m, mpath, text
end

local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end
local function basename(path) return path:match("([^/]*)$") end

-- ------------------------------------------------------------ validation

-- Raises a usage error unless every param can be written to the manifest:
-- `-p x=1e999` and invalid UTF-8 are refused before any record is read.
function M.check_params(values)
  local names = {}
  for k in pairs(values) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local v = values[k]
    if type(v) == "number" and (v ~= v or v == math.huge or v == -math.huge) then
      usage.error("param %s: %s is not a finite number", k, tostring(v))
    end
    local ok, err = pcall(encode, v)
    if not ok then
      usage.error("param %s cannot be recorded in the manifest: %s", k, (tostring(err):gsub("^json%.encode: ", "")))
    end
  end
end

-- Where a run writes, checked before the first record is read. Returns a
-- plan {out=, direct=, paths={out=, skipped=, failed=, manifest=, lock=}}:
-- direct (stdout as `-o -`, a character device, a FIFO) writes the examples
-- straight to the target, with no temporary file and no side files. Refuses
-- an empty path, a directory, any other non-regular file and an output that
-- is one of the inputs (same device and inode).
function M.plan(out, inputs)
  if out == nil then usage.error("run: no output (-o FILE, or -o - for stdout)") end
  if out == "" then usage.error("-o: the output path is empty") end
  if out == "-" then return { out = out, direct = true, paths = { out = "-" } } end
  local inputs_st = {}
  for _, path in ipairs(inputs or {}) do
    local st = path ~= "-" and sys.stat(path)
    if st then inputs_st[#inputs_st + 1] = { path = path, st = st } end
  end
  local function same_as_input(path, st)
    for _, i in ipairs(inputs_st) do
      if i.st.dev == st.dev and i.st.ino == st.ino then
        if path == out then usage.error("-o %s: is the input %s; refusing to overwrite an input", out, i.path) end
        usage.error("-o %s: its %s is the input %s; refusing to overwrite an input", out, path, i.path)
      end
    end
  end
  local st = sys.stat(out)
  if st then
    same_as_input(out, st)
    if st.type == "dir" then usage.error("-o %s: is a directory (give a file name)", out) end
    if st.type == "char" or st.type == "fifo" then
      return { out = out, direct = true, paths = { out = out } }
    end
    if st.type ~= "file" then usage.error("-o %s: not a regular file (a %s)", out, st.type) end
  end
  local paths = {
    out = out,
    skipped = M.side_path(out, ".skipped.jsonl"),
    failed = M.side_path(out, ".failed.jsonl"),
    manifest = M.side_path(out, ".manifest.json"),
    lock = M.side_path(out, ".lock"),
  }
  for _, k in ipairs({ "skipped", "failed", "manifest", "lock" }) do
    local sst = sys.stat(paths[k])
    if sst then
      same_as_input(paths[k], sst)
      if sst.type ~= "file" then usage.error("-o %s: %s is not a regular file (a %s)", out, paths[k], sst.type) end
    end
  end
  local dir = dirname(out)
  if dir ~= "." and dir ~= "" then
    local dst = sys.stat(dir)
    if dst and not dst.dir then usage.error("-o %s: %s is not a directory", out, dir) end
    if not dst then
      local okd, derr = sys.mkdirs(dir)
      if not okd then usage.error("-o %s: %s", out, derr) end
    end
  end
  return { out = out, direct = false, paths = paths }
end

-- Whether the set at paths is committed: its manifest exists and gives the
-- sizes of the files found. Returns true, or false and why.
function M.committed(paths)
  local f = io.open(paths.manifest, "rb")
  if not f then return false, "no manifest" end
  local text = f:read("a")
  f:close()
  local m = json.decode(text or "")
  if type(m) ~= "table" or type(m.outputs) ~= "table" then return false, "the manifest is not readable" end
  for k, path in pairs({ examples = paths.out, skipped = paths.skipped, failed = paths.failed }) do
    local entry = m.outputs[k]
    -- An older lacuna's manifest gives paths only: nothing to check against.
    if type(entry) == "string" then return true end
    if type(entry) ~= "table" then return false, "the manifest names no " .. k .. " file" end
    local st = sys.stat(path)
    if not st then return false, path .. " is missing" end
    if st.size ~= entry.bytes then return false, path .. " does not match the manifest" end
  end
  return true
end

-- Removes the temporary files (NAME.tmp.PID) that dead runs left beside the
-- set. Runs under the lock, so no live run is writing them.
local function remove_stale_temps(paths)
  local dir = dirname(paths.out)
  local names = sys.list_dir(dir)
  if not names then return 0 end
  local mine = tostring(sys.pid())
  local prefixes = {}
  for _, k in ipairs({ "out", "skipped", "failed", "manifest" }) do prefixes[basename(paths[k]) .. ".tmp"] = true end
  local removed = 0
  for _, name in ipairs(names) do
    local stem, pid = name:match("^(.-%.tmp)%.(%d+)$")
    if not stem then stem = name end -- the manifest's temp name of older versions: NAME.tmp
    if prefixes[stem] and pid ~= mine then
      if os.remove(dir .. "/" .. name) then removed = removed + 1 end
    end
  end
  return removed
end

-- ------------------------------------------------------------ records that must encode

local MAX_DEPTH = 100

-- A copy of v that json.encode accepts, with a note for each change:
-- non-finite numbers become "NaN"/"Infinity"/"-Infinity", invalid UTF-8
-- bytes become the text \xHH, values JSON has no form for (functions,
-- userdata, coroutines, cycles) become a "<...>" marker.
-- s with each byte that is not part of a valid UTF-8 sequence written as \xHH.
local function escape_invalid_utf8(s)
  local parts, i, n = {}, 1, #s
  while i <= n do
    local len = utf8.len(s, i, i) and #utf8.char(utf8.codepoint(s, i)) or nil
    if len then
      parts[#parts + 1] = s:sub(i, i + len - 1)
      i = i + len
    else
      parts[#parts + 1] = string.format("\\x%02X", s:byte(i))
      i = i + 1
    end
  end
  return table.concat(parts)
end

local function sanitize(v, path, notes, seen, depth)
  local t = type(v)
  if t == "string" then
    if utf8.len(v) then return v end
    notes[#notes + 1] = path .. ": invalid UTF-8 bytes written as \\xHH"
    return escape_invalid_utf8(v)
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      local s = v ~= v and "NaN" or (v > 0 and "Infinity" or "-Infinity")
      notes[#notes + 1] = path .. ": non-finite number written as the string \"" .. s .. "\""
      return s
    end
    return v
  elseif t == "boolean" or v == nil or v == json.null then
    return v
  elseif t == "table" then
    if seen[v] then
      notes[#notes + 1] = path .. ": a table that contains itself"
      return "<cycle>"
    end
    if depth > MAX_DEPTH then
      notes[#notes + 1] = path .. ": nested too deeply"
      return "<too deep>"
    end
    seen[v] = true
    local out = {}
    -- Raw reads only: a record the recipe changed may carry metamethods,
    -- and this runs outside its instruction budget.
    if json.is_array(v) then
      for i = 1, rawlen(v) do out[i] = sanitize(rawget(v, i), path .. "[" .. i .. "]", notes, seen, depth + 1) end
      out = json.array(out)
    else
      for k, val in next, v do
        local key = k
        if type(k) ~= "string" then
          key = (type(k) == "number" or type(k) == "boolean") and tostring(k) or ("<" .. type(k) .. ">")
          notes[#notes + 1] = path .. ": a " .. type(k) .. " key written as the string \"" .. key .. "\""
        end
        key = sanitize(key, path .. "." .. key, notes, seen, depth + 1)
        out[key] = sanitize(val, path .. "." .. key, notes, seen, depth + 1)
      end
      local mt = core.sandbox.raw_metatable(v)
      local order = type(mt) == "table" and rawget(mt, "__jsonorder")
      out = next(out) == nil and json.object(out) or (order and ordered(out, order) or out)
    end
    seen[v] = nil
    return out
  end
  notes[#notes + 1] = path .. ": a " .. t .. " cannot be written as JSON"
  return "<" .. t .. ">"
end

-- Text of any error value; a __tostring that raises gives a description. A
-- recipe's __tostring runs under an instruction budget, interruptible (it
-- could loop: this runs outside the item's own budget). A table or userdata
-- without __tostring is described by its JSON or its type, never by its
-- address (which differs from run to run).
local TOSTRING_BUDGET = 10000000
function M.text(v)
  if type(v) == "string" then return v end
  local mt = getmetatable(v)
  if (type(v) == "table" or type(v) == "userdata" or type(v) == "function" or type(v) == "thread")
      and not (type(mt) == "table" and mt.__tostring) then
    local ok, j = core.sched.call_limited(TOSTRING_BUDGET, json.encode, v)
    if ok and type(j) == "string" and #j <= 1000 then return "error value " .. j end
    return "(an error value of type " .. type(v) .. ")"
  end
  local ok, s = core.sched.call_limited(TOSTRING_BUDGET, tostring, v)
  if ok and type(s) == "string" then return s end
  return "(an error " .. type(v) .. " whose __tostring failed: " .. tostring(s):match("^[^\n]*") .. ")"
end

-- The first n lines of a traceback.
function M.traceback_head(trace, n)
  if not trace then return nil end
  local lines = {}
  for line in tostring(trace):gmatch("[^\n]+") do
    lines[#lines + 1] = line
    if #lines >= n then break end
  end
  return table.concat(lines, "\n")
end

-- JSON text of a record, or nil and the encoder's message.
local function try_encode(rec)
  local ok, text = pcall(encode, rec)
  if ok then return text end
  return nil, (M.text(text):gsub("^json%.encode: ", ""))
end

-- JSON text of a failure record that always encodes.
local function failure_text(rec)
  local text = try_encode(rec)
  if text then return text end
  local notes = rec.sanitized and { table.unpack(rec.sanitized) } or {}
  rec.sanitized = nil
  local clean = sanitize(rec, "record", notes, {}, 0)
  clean.sanitized = json.array(notes)
  clean = ordered(clean, { "file", "line", "example", "error", "traceback", "item", "sanitized" })
  text = try_encode(clean)
  if text then return text end
  -- Unreachable by construction; kept so that a record is never lost.
  return encode(ordered({ file = sanitize(rec.file, "file", {}, {}, 0), line = rec.line,
    error = "the failure record could not be encoded" }, { "file", "line", "error" }))
end

-- ------------------------------------------------------------ the output set

local Output = {}
Output.__index = Output

-- An error writing the outputs: the run stops and commits nothing.
local function write_error(self, err)
  self:abort()
  usage.error("cannot write the outputs: %s; nothing was committed%s", tostring(err),
    self.direct and "" or " (the previous outputs, if any, are unchanged)")
end

-- Opens the outputs of a plan: takes the lock, removes what dead runs left,
-- opens the writers. Raises usage errors.
function M.open(plan)
  local self = setmetatable({ plan = plan, paths = plan.paths, direct = plan.direct, writers = {} }, Output)
  if plan.direct then
    local w, err = jsonl.writer(plan.out, { direct = true, gzip = false })
    if not w then usage.error("-o %s: %s", plan.out, err) end
    self.writers.out = w
    return self
  end
  local lock, lerr, holder = sys.lock(self.paths.lock)
  if not lock then
    if holder and holder > 0 then
      usage.error("-o %s: another lacuna run (pid %d) is writing this output; wait for it or use another -o",
        plan.out, holder)
    end
    usage.error("-o %s: %s", plan.out, lerr)
  end
  self.lock = lock
  local removed = remove_stale_temps(self.paths)
  if removed > 0 then
    stderr(string.format("lacuna: removed %d temporary file%s of an interrupted run of %s", removed,
      removed == 1 and "" or "s", plan.out))
  end
  local committed, why = M.committed(self.paths)
  if not committed and (why ~= "no manifest" or sys.stat(self.paths.out) or sys.stat(self.paths.skipped)
      or sys.stat(self.paths.failed)) then
    stderr(string.format("lacuna: %s: the previous run did not commit its outputs (%s); this run writes them again",
      plan.out, why))
  end
  for _, k in ipairs({ "out", "skipped", "failed" }) do
    local w, err = jsonl.writer(self.paths[k])
    if not w then
      self:abort()
      usage.error("-o %s: %s", plan.out, err)
    end
    self.writers[k] = w
  end
  return self
end

function Output:write(k, text)
  local ok, err = self.writers[k]:write(text)
  if not ok then write_error(self, err) end
end

-- The sink given to runner.execute: records each item, in input order.
-- counts: {ok=, examples=, skipped=, failed=, deferred=, failed_examples=}; on_fail(message)
-- is told of each failure (the runner shows the first few).
function Output:sink(counts, on_fail)
  local direct = self.direct
  local out = self.writers.out
  local sink = {}
  function sink.deferred() counts.deferred = counts.deferred + 1 end
  function sink.examples(_, lines)
    counts.ok = counts.ok + 1
    counts.examples = counts.examples + #lines
    for i = 1, #lines do
      local ok, err = out:write(lines[i])
      if not ok then write_error(self, err) end
    end
  end
  -- One failure record, counted under counter: a failed item, or an example
  -- the format cannot write (extra.example set). Fields left nil are omitted.
  local function record_failure(counter, w, message, extra)
    counts[counter] = counts[counter] + 1
    message = M.text(message)
    if on_fail then on_fail(message) end
    if direct then
      stderr("lacuna: failed: " .. message)
      return
    end
    self:write("failed", failure_text(ordered({
      file = w.file, line = w.line, example = extra.example, error = message, traceback = extra.traceback,
      item = w.record, sanitized = extra.sanitized,
    }, { "file", "line", "example", "error", "traceback", "item", "sanitized" })))
  end
  -- notes: what was changed to make the record writable (see sanitize).
  function sink.fail(w, message, trace, notes)
    record_failure("failed", w, message, {
      traceback = M.traceback_head(trace, 8),
      sanitized = notes and #notes > 0 and json.array(notes) or nil,
    })
  end
  -- An example the format cannot write, in an item whose other examples
  -- were written: the item counts as ok; the example is recorded beside the
  -- failed items, with its index, and counted in failed_examples.
  function sink.example_fail(w, index, message)
    record_failure("failed_examples", w, message, { example = index })
  end
  function sink.skip(w, reason)
    local text, err = try_encode(ordered({ file = w.file, line = w.line, reason = reason, item = w.record },
      { "file", "line", "reason", "item" }))
    if not text then
      -- A skip that cannot be recorded as it is becomes a failure of the item.
      local notes = {}
      local why = sanitize(M.text(reason), "reason", notes, {}, 0)
      return sink.fail(w, string.format("%s:%s: the skip could not be recorded (%s); its reason: %s", w.file,
        tostring(w.line), err, why), nil, notes)
    end
    counts.skipped = counts.skipped + 1
    if direct then
      stderr("lacuna: skipped " .. w.file .. ":" .. tostring(w.line) .. ": " .. M.text(reason))
      return
    end
    self:write("skipped", text)
  end
  return sink
end

-- Raises a usage error unless the manifest (without its file entries) can
-- be encoded: checked before the first record.
function M.check_manifest(fields)
  local ok, err = try_encode(fields)
  if not ok then usage.error("the manifest cannot be written: %s", err) end
end

-- Publishes the set. make_manifest(files) returns the manifest table, given
-- files = {examples=, skipped=, failed=} entries {path=, lines=, bytes=,
-- crc32=}. Returns true, or raises a usage error having committed nothing
-- (the previous set unchanged) or, if it failed between the renames, having
-- left no manifest (the set reads as uncommitted until a rerun). Returns
-- false, having committed nothing, when Ctrl-C or SIGTERM came before the
-- renames began (sealing large files takes a while); one that comes during
-- the renames lets them finish.
function Output:commit(make_manifest)
  local w = self.writers
  if self.direct then
    local ok, err = w.out:commit()
    if not ok then write_error(self, err) end
    return true
  end
  local files = {}
  for _, k in ipairs({ "skipped", "failed", "out" }) do
    local ok, err = w[k]:seal()
    if not ok then write_error(self, err) end
    local st = w[k]:stats()
    files[k == "out" and "examples" or k] = ordered({ path = self.paths[k], lines = st.lines, bytes = st.size,
      crc32 = st.crc32 }, { "path", "lines", "bytes", "crc32" })
  end
  local text, eerr = try_encode(make_manifest(files))
  if not text then write_error(self, "the manifest cannot be encoded: " .. eerr) end
  local mw, merr = jsonl.writer(self.paths.manifest, { gzip = false })
  if not mw then write_error(self, merr) end
  w.manifest = mw
  local okw, werr = mw:write(text)
  if okw then okw, werr = mw:seal() end
  if not okw then write_error(self, werr) end
  if sys.interrupted() then return false end
  -- From here the set is uncommitted until the new manifest is in place.
  local okr, rerr = os.remove(self.paths.manifest)
  if not okr and sys.stat(self.paths.manifest) then write_error(self, rerr) end
  if okr then
    local oks, serr = sys.sync_dir(self.paths.manifest)
    if not oks then write_error(self, serr) end
  end
  for _, k in ipairs({ "skipped", "failed", "out", "manifest" }) do
    local ok, err = w[k]:commit()
    if not ok then
      self:abort()
      usage.error("cannot commit the outputs: %s; %s has no manifest, so the set is incomplete:" ..
        " rerun the same command to write it again", err, self.plan.out)
    end
  end
  self:release()
  return true
end

function Output:release()
  if self.lock then
    self.lock:release()
    self.lock = nil
  end
end

-- Removes every temporary file and releases the lock; the previous set, if
-- any, stays as it was.
function Output:abort()
  for _, w in pairs(self.writers) do w:abort() end
  self:release()
end

return M
