-- `lacuna run https://host/recipe.lua#sha256=HEX`: a recipe from a URL runs
-- only when its bytes match the pin. The verified file is kept under its
-- hash in the lacuna folder (.lacuna/recipes/HEX, beside the teacher cache),
-- so a second run needs no network and a changed file on the server can
-- never change what a pinned URL runs.
local core = require "lacuna.core"
local usage = require "lacuna.usage"

local sha256, sys = core.hash.sha256, core.sys

local M = {}

-- The folder fetched recipes are kept in: beside the teacher cache's default.
function M.store_dir()
  local dir = core.cache.default_path:match("^(.*)/[^/]*$") or "."
  return dir .. "/recipes"
end

-- url#sha256=HEX -> url, hex; raises a usage error without a valid pin.
function M.split_pin(ref)
  local url, frag = ref:match("^([^#]*)#(.*)$")
  if not url then
    usage.error("%s: a recipe from a URL must be pinned: append #sha256=HEX, the SHA-256 of the file you" ..
      " reviewed (`sha256sum recipe.lua`; `lacuna bundle` prints it for a recipe with modules)", ref)
  end
  local hex = frag:match("^sha256=(%x+)$")
  if not hex or #hex ~= 64 then
    usage.error("%s: the pin must be #sha256= followed by 64 hex digits, got '#%s'", url, frag)
  end
  return url, hex:lower()
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Writes text to path through a temporary file and a rename, so a reader
-- never sees half a file.
local function write_atomic(path, text)
  local tmp = path .. ".tmp." .. sys.pid()
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  local cok, cerr = f:close()
  if not ok or not cok then
    os.remove(tmp)
    return nil, werr or cerr
  end
  local rok, rerr = sys.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, rerr
  end
  return true
end

-- The verified text of a pinned recipe URL: from the store when it holds the
-- hash, otherwise fetched, checked and stored. Raises a usage error on a
-- missing pin, a failed download or a mismatch.
function M.recipe(ref, o)
  local url, want = M.split_pin(ref)
  local dir = (o and o.recipe_store) or M.store_dir()
  local kept = dir .. "/" .. want
  local text = read_file(kept)
  if text and sha256(text) == want then return text end
  local err
  text, err = core.fetch.get(url, { timeout = (o and o.fetch_timeout) or 60 })
  if not text then usage.error("cannot fetch the recipe: %s", err) end
  local got = sha256(text)
  if got ~= want then
    usage.error("%s: sha256 mismatch: the pin says %s but the file has %s; it is not the recipe that was" ..
      " reviewed, so it is not run", url, want, got)
  end
  local mk_ok, mk_err = sys.mkdirs(dir)
  local ok, werr = mk_ok, mk_err
  if ok then ok, werr = write_atomic(kept, text) end
  if not ok then io.stderr:write("lacuna: note: the recipe could not be kept in ", dir, ": ", tostring(werr), "\n") end
  return text
end

return M
