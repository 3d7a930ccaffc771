-- `lacuna pack OUT` and `lacuna reproduce FILE`: a dataset as one file that
-- regenerates it byte for byte, with no teacher and no API key.
--
-- A pack is gzip-compressed JSONL (lines in this order):
--   1. the header: {"lacuna_pack": 1, "lacuna_version", "recipe": {"path",
--      "main", "chunkname", "module_prefix", "files": {path: source}} (files
--      keyed as in a bundle: main, and each module relative to main's folder;
--      the names Lua gave the chunks in the run), "manifest":
--      the run's OUT.manifest.json, "inputs": [{"path", "sha256", "bytes",
--      "embedded"}], "cache_entries": N}
--   2. each embedded input, in pieces that end at a line end:
--      {"input": i, "text": "..."} (or "hex" for bytes that are not UTF-8)
--   3. each cache entry the run read, by key:
--      {"key", "model", "request", "body", "prompt_tokens", "completion_tokens"}
--      (request and body as the cache stores them; the cache never holds the
--      API key or any header, so neither does a pack)
--
-- pack finds "exactly the entries the run used" by running the recipe again
-- from the cache alone (--cache-only, recording every key it reads) into a
-- scratch folder, and writes the pack only when that rerun gives the same
-- bytes as OUT: a pack that would not reproduce is never written.
-- reproduce loads the entries into a scratch cache and runs --cache-only:
-- a missing entry fails its item (and so the comparison), never calls out.
local core = require "lacuna.core"
local usage = require "lacuna.usage"
local output = require "lacuna.output"
local runner = require "lacuna.runner"
local bundle = require "lacuna.bundle"

local json, jsonl, sys, hash = core.json, core.jsonl, core.sys, core.hash

local M = {}

M.FORMAT = 1
local CHUNK = 1 << 20
local OUTPUT_KINDS = { "examples", "skipped", "failed" }
-- A base URL that nothing listens on: reproduction never calls the teacher.
local NO_TEACHER = "http://127.0.0.1:9/v1"

local function stderr(s) io.stderr:write(s, "\n") end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

-- A scratch folder, removed by the returned function (files one level deep).
local function scratch_dir()
  local base = os.tmpname()
  os.remove(base)
  local dir = base .. ".lacuna"
  local ok, err = sys.mkdirs(dir)
  if not ok then usage.error("cannot make a scratch folder: %s", err) end
  return dir, function()
    for _, name in ipairs(sys.list_dir(dir) or {}) do os.remove(dir .. "/" .. name) end
    os.remove(dir)
  end
end

local function read_manifest(out)
  local mpath = output.side_path(out, ".manifest.json")
  local text = read_file(mpath)
  if not text then usage.error("pack: %s has no manifest (%s): pack a finished run's -o FILE", out, mpath) end
  local m = json.decode(text)
  if type(m) ~= "table" or type(m.outputs) ~= "table" or type(m.recipe) ~= "table" then
    usage.error("pack: %s is not a lacuna manifest", mpath)
  end
  local ok, why = output.committed({ manifest = mpath, out = out, skipped = output.side_path(out, ".skipped.jsonl"),
    failed = output.side_path(out, ".failed.jsonl") })
  if not ok then usage.error("pack: the output set of %s is incomplete: %s", out, why) end
  return m, mpath
end

-- What to load for the manifest's recipe path here: the file, or the shipped
-- recipe a path like recipes/NAME.lua stands for when no such file exists.
local function recipe_ref(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return path
  end
  local name = path:match("^recipes/([%w_%-]+)%.lua$")
  if name and core.shipped_recipes[name] then return name end
  return path
end

-- The run options that make the manifest's dataset again (runner.run's o).
local function rerun_options(m, extra)
  local rep = m.reproduce
  if type(rep) ~= "table" then
    usage.error("the manifest has no 'reproduce' options (written by lacuna %s); run the recipe again with" ..
      " this lacuna to make a set that can be packed", tostring(m.lacuna_version))
  end
  if m.format == "tokens" then
    usage.error("a --format tokens run cannot be packed yet: the pack would need the tokenizer's files")
  end
  local teachers
  for name, model in pairs(rep.teachers or {}) do
    teachers = teachers or {}
    teachers[name] = { model = model }
  end
  local o = {
    recipe = recipe_ref(m.recipe.path), params = {}, param_values = m.params, seed = m.seed, format = m.format,
    inputs = m.inputs, model = rep.model, teachers = teachers, limit = rep.limit, meta = rep.meta,
    split_partial = rep.split_partial, max_failures = rep.max_failures, max_cost = rep.max_cost,
    cache_only = true, base_url = NO_TEACHER, progress = false,
    -- (a budget that ran out fails the same item at the same instruction)
    max_instructions = type(m.limits) == "table" and math.tointeger(m.limits.max_instructions) or nil,
  }
  -- A run stopped early (--max-failures, --max-cost) read a number of items
  -- that depended on timing; every one of them is in its outputs, so the
  -- rerun takes exactly that many and no stop rule (cached replies cost nothing).
  if m.stopped_early and type(m.counts) == "table" then
    o.limit = math.tointeger(m.counts.planned or m.counts.read)
    o.max_failures, o.max_cost = nil, nil
  end
  for k, v in pairs(extra) do o[k] = v end
  if json.is_array(o.param_values) then o.param_values = {} end
  return o
end

local function output_paths(out)
  return { examples = out, skipped = output.side_path(out, ".skipped.jsonl"),
           failed = output.side_path(out, ".failed.jsonl") }
end

-- The first output file of got that differs from want's, or nil.
local function first_difference(got, want)
  local a, b = output_paths(got), output_paths(want)
  for _, k in ipairs(OUTPUT_KINDS) do
    if hash.sha256_file(a[k]) ~= hash.sha256_file(b[k]) then return b[k] end
  end
end

-- ------------------------------------------------------------------ pack

local function is_utf8(s) return utf8.len(s) ~= nil end

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local function unhex(s) return (s:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)) end

-- Writes input i (path) to w in pieces ending at a line end.
local function write_input(w, i, path)
  local f, err = io.open(path, "rb")
  if not f then usage.error("pack: input %s", err) end
  while true do
    local piece = f:read(CHUNK)
    if not piece then break end
    local rest = f:read("L")
    if rest then piece = piece .. rest end
    local rec = is_utf8(piece) and { input = i, text = piece } or { input = i, hex = hex(piece) }
    local ok, werr = w:write(setmetatable(rec, { __jsonorder = { "input", "text", "hex" } }))
    if not ok then f:close() usage.error("pack: %s", werr) end
  end
  f:close()
end

local ENTRY_ORDER = { __jsonorder = { "key", "model", "request", "body", "prompt_tokens", "completion_tokens" } }

-- pack{out=, file=, no_inputs=, trust=}: returns the exit code.
function M.pack(a)
  local out = a.out
  local m = read_manifest(out)
  local file = a.file or output.side_path(out, ".pack.jsonl.gz")
  if m.trusted and not a.trust then
    usage.error("pack: %s was made with --trust; packing runs the recipe again, so pass --trust to pack it", out)
  end
  for _, path in ipairs(m.inputs or {}) do
    if path == "-" then usage.error("pack: %s was made from standard input, which cannot be read again", out) end
  end
  local t = m.teacher
  if t and t.cache_mode == "off" then
    usage.error("pack: %s was made with --no-cache: the teacher's responses were not kept, so they cannot be" ..
      " packed", out)
  end
  local dir, cleanup = scratch_dir()
  local used = {}
  local o = rerun_options(m, { output = dir .. "/out.jsonl", used_keys = used, quiet = true, trust = m.trusted,
    cache = t and t.cache or nil, no_cache = t == nil })
  stderr("lacuna: pack: running " .. m.recipe.path .. " again from the cache alone, to find the entries it reads")
  local ok, code = pcall(runner.run, o)
  if not ok then
    cleanup()
    usage.error("pack: running %s again from the cache failed: %s (run pack in the folder the run was made" ..
      " in: the manifest's paths are relative to it)", m.recipe.path, usage.text(code))
  end
  local differs = first_difference(dir .. "/out.jsonl", out)
  cleanup()
  if hash.sha256(o.source.text) ~= m.recipe.sha256 then
    usage.error("pack: %s changed since the run (sha256 %s; the manifest says %s): make the set again with" ..
      " this recipe, or put the recipe back", m.recipe.path, hash.sha256(o.source.text), tostring(m.recipe.sha256))
  end
  if differs then
    usage.error("pack: running %s again from the cache (%s) does not give the same %s: the recipe, its" ..
      " modules, the inputs or the cache changed since the run (or an entry is missing); make the set again" ..
      " before packing it", m.recipe.path, t and t.cache or "no teacher", differs)
  end
  local keys = {}
  for k in pairs(used) do keys[#keys + 1] = k end
  table.sort(keys)

  local src = bundle.of_source(o.source)
  local files = {}
  for rel, text in pairs(src.files) do files[rel] = text end
  local inputs = {}
  for i, path in ipairs(m.inputs or {}) do
    local st = sys.stat(path)
    local sum, herr = hash.sha256_file(path)
    if not sum then usage.error("pack: %s", herr) end
    inputs[i] = setmetatable({ path = path, sha256 = sum, bytes = st and st.size, embedded = not a.no_inputs },
      { __jsonorder = { "path", "sha256", "bytes", "embedded" } })
  end
  local w, werr = jsonl.writer(file, { gzip = true })
  if not w then usage.error("pack: %s", werr) end
  local function write(v)
    local wok, e = w:write(v)
    if not wok then
      w:abort()
      usage.error("pack: %s", e)
    end
  end
  write(setmetatable({
    lacuna_pack = M.FORMAT, lacuna_version = core.version,
    recipe = setmetatable({ path = m.recipe.path, main = src.main, chunkname = o.source.chunkname,
      module_prefix = o.source.where(""), files = files },
      { __jsonorder = { "path", "main", "chunkname", "module_prefix", "files" } }),
    manifest = m, inputs = json.array(inputs), cache_entries = #keys,
  }, { __jsonorder = { "lacuna_pack", "lacuna_version", "recipe", "manifest", "inputs", "cache_entries" } }))
  if not a.no_inputs then
    for i, path in ipairs(m.inputs or {}) do write_input(w, i, path) end
  end
  if #keys > 0 then
    local want = {}
    for _, k in ipairs(keys) do want[k] = true end
    local c, cerr = (require "lacuna.cache").open(t.cache, { readonly = true })
    if not c then w:abort() usage.error("pack: cache %s", cerr) end
    local found = 0
    local n, ierr = c:each(function(row)
      if not want[row.key] then return end
      found = found + 1
      local wok, e = w:write(setmetatable({ key = row.key, model = row.model, request = row.request or json.null,
        body = row.body, prompt_tokens = row.prompt_tokens, completion_tokens = row.completion_tokens }, ENTRY_ORDER))
      if not wok then werr = e return false end
    end)
    c:close()
    if not n or werr then w:abort() usage.error("pack: %s", werr or ierr) end
    if found ~= #keys then
      w:abort()
      usage.error("pack: %d of the run's cache entries vanished from %s", #keys - found, t.cache)
    end
  end
  local cok, cerr = w:commit()
  if not cok then usage.error("pack: %s", cerr) end
  local nfiles = 0
  for _ in pairs(files) do nfiles = nfiles + 1 end
  local st = sys.stat(file)
  stderr(string.format("lacuna: packed %s: recipe %s (%d file%s), %d input%s%s, %d cache entr%s -> %s (%d bytes)",
    out, m.recipe.path, nfiles, nfiles == 1 and "" or "s", #inputs, #inputs == 1 and "" or "s",
    a.no_inputs and " (not embedded)" or "", #keys, #keys == 1 and "y" or "ies", file, st and st.size or 0))
  return 0
end

-- ------------------------------------------------------------- reproduce

-- Reads a pack: returns header, an iterator over the rest of its lines.
local function open_pack(file)
  local rd, err = jsonl.open(file)
  if not rd then usage.error("reproduce: %s", err) end
  local h, msg = rd:next()
  if type(h) ~= "table" or h.lacuna_pack == nil then
    rd:close()
    usage.error("reproduce: %s is not a lacuna pack%s", file, h == false and (": " .. tostring(msg)) or "")
  end
  if h.lacuna_pack ~= M.FORMAT then
    rd:close()
    usage.error("reproduce: %s is pack format %s; this lacuna %s reads format %d", file, tostring(h.lacuna_pack),
      core.version, M.FORMAT)
  end
  if type(h.recipe) ~= "table" or type(h.recipe.path) ~= "string" or type(h.recipe.files) ~= "table"
    or type(h.manifest) ~= "table" or type(h.inputs) ~= "table" then
    rd:close()
    usage.error("reproduce: %s: the pack's header is incomplete", file)
  end
  return h, function()
    local v, a, line = rd:next()
    if v == nil then rd:close() return nil end
    if v == false then rd:close() usage.error("reproduce: %s", a) end
    return v, line or a
  end, rd
end

-- An input path a pack may create: relative, no '..'.
local function safe_relative(path)
  if path:sub(1, 1) == "/" or path == "-" then return false end
  for seg in path:gmatch("[^/]+") do
    if seg == ".." then return false end
  end
  return true
end

-- reproduce{file=, out=, trust=}: returns the exit code.
function M.reproduce(a)
  local h, next_line = open_pack(a.file)
  local m = h.manifest
  if m.trusted and not a.trust then
    usage.error("reproduce: the recipe of %s ran with --trust (no sandbox); read it, then pass --trust to" ..
      " reproduce it, or nothing runs", a.file)
  end
  local pr = h.recipe
  if type(pr.main) ~= "string" or type(pr.chunkname) ~= "string" or type(pr.module_prefix) ~= "string" then
    usage.error("reproduce: %s: the pack's recipe is incomplete", a.file)
  end
  local main = pr.files[pr.main]
  if type(main) ~= "string" or hash.sha256(main) ~= m.recipe.sha256 then
    usage.error("reproduce: %s: the pack's recipe is missing or is not the one its manifest names (sha256 %s)",
      a.file, tostring(m.recipe.sha256))
  end
  local out = a.out or (type(m.outputs.examples) == "table" and m.outputs.examples.path)
  if type(out) ~= "string" then usage.error("reproduce: where to? (-o OUT)") end
  if not a.out and not safe_relative(out) then
    usage.error("reproduce: the packed run wrote %s, which is not a path inside this folder; say where with" ..
      " -o OUT", out)
  end
  -- The inputs at the paths the run read them from, so that every record
  -- (file:line in skips and failures) comes out the same.
  local writers, pending = {}, {}
  for i, input in ipairs(h.inputs) do
    local path = input.path
    local sum = hash.sha256_file(path)
    if sum == input.sha256 then
      -- already there, the same bytes
    elseif sum then
      usage.error("reproduce: %s exists and is not the input the dataset was made from (sha256 %s, the pack" ..
        " has %s); run reproduce in another folder", path, sum, input.sha256)
    elseif not input.embedded then
      usage.error("reproduce: the pack does not carry its input %s (packed with --no-inputs): put that file" ..
        " (sha256 %s) at that path and run again", path, input.sha256)
    elseif not safe_relative(path) then
      usage.error("reproduce: the input %s is not a relative path; put the file (sha256 %s) there and run again",
        path, input.sha256)
    else
      pending[i] = path
    end
  end
  local dir, cleanup = scratch_dir()
  local cache_path = dir .. "/cache.db"
  local c, cerr = (require "lacuna.cache").open(cache_path)
  if not c then cleanup() usage.error("reproduce: %s", cerr) end
  local ok, err = pcall(function()
    local entries = 0
    for v, where in next_line do
      if v.input then
        local path = pending[v.input]
        if path then
          local f = writers[v.input]
          if not f then
            local pdir = path:match("^(.*)/[^/]*$")
            if pdir then sys.mkdirs(pdir) end
            local ferr
            f, ferr = io.open(path .. ".tmp", "wb")
            if not f then error(ferr, 0) end
            writers[v.input] = f
          end
          f:write(v.text or unhex(v.hex or ""))
        end
      elseif type(v.key) == "string" and type(v.body) == "string" then
        local pok, perr = c:put(v.key, { model = v.model, request = v.request ~= json.null and v.request or nil,
          body = v.body, prompt_tokens = v.prompt_tokens or 0, completion_tokens = v.completion_tokens or 0 })
        if not pok then error(perr, 0) end
        entries = entries + 1
      else
        error(string.format("%s:%s: not an input piece or a cache entry", a.file, tostring(where)), 0)
      end
    end
    if entries ~= (h.cache_entries or 0) then
      error(string.format("the pack is truncated: %d of its %d cache entries", entries, h.cache_entries or 0), 0)
    end
    for i, f in pairs(writers) do
      f:close()
      writers[i] = nil
      local path = pending[i]
      if hash.sha256_file(path .. ".tmp") ~= h.inputs[i].sha256 then
        os.remove(path .. ".tmp")
        error("the pack's copy of " .. path .. " does not match its sha256", 0)
      end
      local rok, rerr = sys.rename(path .. ".tmp", path)
      if not rok then error(rerr, 0) end
      stderr("lacuna: restored the input " .. path)
    end
    for i, path in pairs(pending) do
      if not sys.stat(path) then error("the pack is truncated: the input " .. path .. " is missing", 0) end
      pending[i] = nil
    end
  end)
  c:close()
  for _, f in pairs(writers) do f:close() end
  if not ok then
    cleanup()
    usage.error("reproduce: %s: %s", a.file, err)
  end
  local o = rerun_options(m, { output = out, recipe = h.recipe.path, recipe_pack = h.recipe, cache = cache_path,
    trust = m.trusted })
  local rok, code = pcall(runner.run, o)
  cleanup()
  if not rok then error(code, 0) end
  -- (interrupted: nothing was committed, and an older set there proves nothing)
  if code ~= 0 and code ~= 1 then return code end
  -- The comparison: what the run's manifest says of each file.
  local got = read_file(output.side_path(out, ".manifest.json"))
  local gm = got and json.decode(got)
  local same = type(gm) == "table" and type(gm.outputs) == "table"
  for _, k in ipairs(OUTPUT_KINDS) do
    local x, y = same and gm.outputs[k], m.outputs[k]
    if not (type(x) == "table" and type(y) == "table" and x.lines == y.lines and x.bytes == y.bytes
      and x.crc32 == y.crc32) then
      local gx = type(x) == "table" and x or {}
      stderr(string.format("lacuna: reproduce: %s differs from the packed dataset's (%s lines, %s bytes; the" ..
        " pack says %s lines, %s bytes)%s", k, tostring(gx.lines), tostring(gx.bytes),
        tostring(y and y.lines), tostring(y and y.bytes),
        code ~= 0 and "; failures above (a missing cache entry fails its item rather than call the teacher)" or ""))
      return 1
    end
  end
  stderr(string.format("lacuna: reproduced %s byte-identical to the packed dataset (%d examples, crc32 %s)", out,
    m.outputs.examples.lines, tostring(m.outputs.examples.crc32)))
  return 0
end

return M
