-- Where a recipe's source comes from, and the modules it may `require`.
--
-- A recipe may require Lua modules that sit beside it: `require "prompts"`
-- loads prompts.lua from the recipe's folder, `require "lib.judge"` loads
-- lib/judge.lua. Names are letters, digits and '_' joined by '.', so a
-- module can never name a file outside the recipe's folder (no '..', no
-- absolute path). A module runs in the recipe's own environment (the same
-- sandbox: no package, io or os), once; what it returns is what require
-- returns; a module that requires itself through others is an error that
-- names the cycle.
--
-- A bundle carries a recipe and its modules as one file, so that a pinned
-- URL covers all of them:
--   {"lacuna_bundle": 1, "main": "recipe.lua",
--    "files": {"recipe.lua": "...source...", "prompts.lua": "..."}}
-- (`lacuna bundle RECIPE -o FILE` writes one.) A plain .lua file is a bundle
-- of one file.
local core = require "lacuna.core"
local usage = require "lacuna.usage"

local json, sha256 = core.json, core.hash.sha256

local M = {}

M.FORMAT = 1

-- Whether name is a module name a recipe may require.
function M.valid_name(name)
  if type(name) ~= "string" or name == "" then return false end
  for seg in (name .. "."):gmatch("([^.]*)%.") do
    if not seg:match("^[%w_]+$") then return false end
  end
  return true
end

-- The file of module name, relative to the recipe's folder.
function M.module_path(name) return (name:gsub("%.", "/")) .. ".lua" end

-- A relative path a bundle may hold: segments of [%w_.-], no '..', ending .lua.
local function valid_bundle_path(p)
  if type(p) ~= "string" or p:sub(1, 1) == "/" or not p:match("%.lua$") then return false end
  for seg in p:gmatch("[^/]+") do
    if seg == "." or seg == ".." or not seg:match("^[%w_.%-]+$") then return false end
  end
  return not p:find("//", 1, true)
end

-- Decodes bundle text; returns {main=, files={path=text}} or nil, why.
function M.decode(text)
  local b, err = json.decode(text)
  if type(b) ~= "table" or b.lacuna_bundle == nil then return nil, err or "not a lacuna bundle" end
  if b.lacuna_bundle ~= M.FORMAT then
    return nil, "bundle format " .. tostring(b.lacuna_bundle) .. " is not supported (this lacuna reads " ..
      M.FORMAT .. ")"
  end
  if type(b.files) ~= "table" or json.is_array(b.files) then return nil, "field 'files': not an object" end
  for p, src in pairs(b.files) do
    if not valid_bundle_path(p) then
      return nil, "field 'files': '" .. tostring(p) .. "' is not a relative .lua path"
    end
    if type(src) ~= "string" then return nil, "field 'files': '" .. p .. "' is not a string" end
  end
  if type(b.main) ~= "string" or not b.files[b.main] then
    return nil, "field 'main': missing or not one of the bundle's files"
  end
  return { main = b.main, files = b.files }
end

-- Whether text looks like a bundle rather than Lua source.
function M.is_bundle_text(text) return text:match("^%s*{") ~= nil end

-- Bundle text of main (its path relative to the bundle) and files {path=text}.
function M.encode(main, files)
  local names = {}
  for p in pairs(files) do names[#names + 1] = p end
  table.sort(names)
  local ordered = setmetatable({}, { __jsonorder = names })
  for _, p in ipairs(names) do ordered[p] = files[p] end
  return json.encode(setmetatable({ lacuna_bundle = M.FORMAT, main = main, files = ordered },
    { __jsonorder = { "lacuna_bundle", "main", "files" } }))
end

local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end

-- A source: {text=, chunkname=, path= (display), read(rel) -> text | nil,
-- where(rel) -> display path, main= (path of the main file in a bundle),
-- used = {rel = text} (filled by the loader)}.
local function file_source(text, chunkname, path, dir)
  return {
    text = text, chunkname = chunkname, path = path, main = path:match("([^/]*)$"), used = {},
    read = function(rel)
      if not dir then return nil end
      local f = io.open(dir .. "/" .. rel, "rb")
      if not f then return nil end
      local s = f:read("a")
      f:close()
      return s
    end,
    where = function(rel) return dir and (dir == "." and rel or (dir .. "/" .. rel)) or rel end,
  }
end

-- A source over a decoded bundle; label names it in messages (a URL or path).
function M.bundle_source(b, label)
  local base = b.main:match("^(.*)/[^/]*$")
  local function rel_to_bundle(rel) return base and (base .. "/" .. rel) or rel end
  return {
    text = b.files[b.main], chunkname = "@" .. label .. ":" .. b.main, path = label, main = b.main, used = {},
    read = function(rel) return b.files[rel_to_bundle(rel)] end,
    where = function(rel) return label .. ":" .. rel_to_bundle(rel) end,
  }
end

-- A source over a pack's recipe: files {path = text} keyed as in a bundle
-- (main and the modules relative to it), with the original run's chunk
-- names (chunkname for the recipe, prefix .. rel for a module), so that even
-- a traceback in a failure record reads the same.
function M.virtual_source(path, files, main, chunkname, prefix)
  local base = main:match("^(.*)/[^/]*$")
  return {
    text = files[main], chunkname = chunkname, path = path, main = main, used = {},
    read = function(rel) return files[base and (base .. "/" .. rel) or rel] end,
    where = function(rel) return prefix .. rel end,
  }
end

-- The source of ref: a URL (pinned; lua/lacuna/fetch.lua), a bundle file,
-- a .lua file (modules from its folder) or a shipped recipe's name
-- (find_recipe: the runner's lookup). o.recipe_pack (a pack's recipe:
-- {main=, chunkname=, module_prefix=, files=}) takes precedence, standing in for ref.
function M.open(ref, o, find_recipe)
  local pk = o.recipe_pack
  if pk then return M.virtual_source(ref, pk.files, pk.main, pk.chunkname, pk.module_prefix) end
  if ref:match("^https?://") then
    local text = (require "lacuna.fetch").recipe(ref, o)
    if M.is_bundle_text(text) then
      local b, err = M.decode(text)
      if not b then usage.error("%s: %s", ref, err) end
      return M.bundle_source(b, ref)
    end
    return file_source(text, "@" .. ref, ref, nil)
  end
  local text, chunkname, path = find_recipe(ref)
  if M.is_bundle_text(text) then
    local b, err = M.decode(text)
    if not b then usage.error("%s: %s", path, err) end
    return M.bundle_source(b, path)
  end
  local shipped = chunkname ~= "@" .. ref
  return file_source(text, chunkname, path, not shipped and dirname(path) or nil)
end

-- The require of a recipe's environment over source: require(name, env)
-- returns the module's value, or nil and a message for a name that is not
-- allowed or not found. Loaded modules are recorded in source.used. Items
-- run as coroutines, so the chain of modules being loaded is kept per
-- coroutine: a module met again in its own chain is a cycle; one still
-- loading in another item means a module's top level waited (on the
-- teacher), which is refused rather than handing out half a module.
function M.loader(source)
  local loaded, loading = {}, {} -- loading: name -> the coroutine loading it
  local chains = setmetatable({}, { __mode = "k" })
  local main = {}
  return function(name, env)
    if not M.valid_name(name) then
      return nil, "module name '" .. tostring(name) .. "' is not allowed: a recipe requires the modules" ..
        " beside it by names of letters, digits and '_' joined by '.' (lib.judge is lib/judge.lua)"
    end
    if loaded[name] ~= nil then return loaded[name] end
    local co = coroutine.running() or main
    local chain = chains[co]
    if not chain then
      chain = {}
      chains[co] = chain
    end
    if loading[name] == co then
      local names, from = {}, nil
      for i, n in ipairs(chain) do
        if n == name then from = i end
        if from then names[#names + 1] = n end
      end
      names[#names + 1] = name
      return nil, "module cycle: " .. table.concat(names, " -> ")
    elseif loading[name] then
      return nil, "module '" .. name .. "' is still loading in another item: a module's top level must not" ..
        " wait for the teacher (call it from map)"
    end
    local rel = M.module_path(name)
    local text = source.read(rel)
    if not text then
      return nil, "module '" .. name .. "' is not available to sandboxed recipes: it is not lacuna and there is" ..
        " no " .. source.where(rel) .. " beside the recipe (run with --trust to lift the sandbox)"
    end
    local chunk, err = load(text, "@" .. source.where(rel), "t", env)
    if not chunk then error(err, 0) end
    source.used[rel] = text
    chain[#chain + 1] = name
    loading[name] = co
    local ok, value = pcall(chunk, name, source.where(rel)) -- (as Lua 5.4's require passes them)
    loading[name] = nil
    chain[#chain] = nil
    if not ok then error(value, 0) end
    if value == nil then value = true end
    loaded[name] = value
    return value
  end
end

-- The modules a loaded recipe used, as {rel = sha256} (nil when none).
function M.module_hashes(source)
  local out
  for rel, text in pairs(source.used) do
    out = out or {}
    out[rel] = sha256(text)
  end
  return out
end

-- The bundle {main=, files=} of a loaded recipe: its text and the modules it used.
function M.of_source(source)
  local files = { [source.main] = source.text }
  for rel, text in pairs(source.used) do
    local base = source.main:match("^(.*)/[^/]*$")
    files[base and (base .. "/" .. rel) or rel] = text
  end
  return { main = source.main, files = files }
end

return M
