-- A small test runner for the Lua-level tests. A test file does
--   local t = require "testlib"
--   t.test("name", function() t.eq(got, want) end)
--   return t.done()
-- and is run by a stock lua5.4 with lacuna.so on package.cpath (see
-- tests/CMakeLists.txt), so every Lua test also proves `require "lacuna"`.
local M = {}
local passed, failed = 0, 0

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function deep_eq(a, b, path)
  if type(a) ~= type(b) then
    return false, path .. ": type " .. type(a) .. " ~= " .. type(b)
  end
  if type(a) ~= "table" then
    if a == b and math.type(a) == math.type(b) then return true end
    return false, path .. ": " .. show(a) .. " ~= " .. show(b)
  end
  for k, v in pairs(a) do
    local ok, why = deep_eq(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. "." .. tostring(k) .. ": missing on the left" end
  end
  return true
end
M.deep_eq = deep_eq

function M.eq(got, want, msg)
  local ok, why = deep_eq(got, want, "value")
  if not ok then error((msg and (msg .. ": ") or "") .. why, 2) end
end

function M.truthy(v, msg)
  if not v then error(msg or "expected a true value", 2) end
end

-- Calls fn and requires it to raise an error whose text contains `pattern`
-- (a plain substring). Returns the message.
function M.raises(fn, pattern)
  local ok, err = pcall(fn)
  if ok then error("expected an error containing '" .. pattern .. "'", 2) end
  err = tostring(err)
  if not err:find(pattern, 1, true) then
    error("error '" .. err .. "' does not contain '" .. pattern .. "'", 2)
  end
  return err
end

-- Requires a `nil, message` return whose message contains `pattern`.
function M.fails(pattern, v, msg)
  if v ~= nil and v ~= false then error("expected nil, message; got " .. show(v), 2) end
  msg = tostring(msg)
  if not msg:find(pattern, 1, true) then
    error("message '" .. msg .. "' does not contain '" .. pattern .. "'", 2)
  end
  return msg
end

function M.test(name, fn)
  local ok, err = xpcall(fn, debug.traceback)
  if ok then
    passed = passed + 1
  else
    failed = failed + 1
    io.stderr:write("FAIL ", name, "\n", tostring(err), "\n")
  end
end

-- A fresh temporary directory for files a test writes.
function M.tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p '" .. p .. "'"))
  return p
end

function M.readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.writefile(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

function M.done()
  print(string.format("%d passed, %d failed", passed, failed))
  os.exit(failed == 0 and 0 or 1, true)
end

return M
