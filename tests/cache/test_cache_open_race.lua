-- Opening a new cache from many processes at the same instant (issue 8,
-- point 7): the switch to WAL and the schema race, and SQLite answers some
-- of those lock conflicts with SQLITE_BUSY without waiting. Every open must
-- succeed: 8 processes, released together, on a fresh file, 50 times.
local t = require "testlib"
require "lacuna"

local LUA = arg[-1] or "lua5.4"
local PROCS, TRIALS = 8, 50

-- One opener: waits for the start file, opens, writes its entry, reports.
local OPENER = [[
local sha256 = require("lacuna").sha256
local cache = require "lacuna.cache"
local path, start, id = arg[1], arg[2], arg[3]
while not io.open(start, "r") do end
local c, err = cache.open(path)
if not c then io.write("FAIL ", tostring(err), "\n") os.exit(1) end
local ok, perr = c:put(sha256(id), { model = "m", body = '{"choices":[]}' })
if not ok then io.write("FAIL put ", tostring(perr), "\n") os.exit(1) end
c:close()
io.write("ok\n")
]]

t.test("8 processes open a fresh cache at once, 50 times", function()
  local dir = t.tmpdir()
  local script = dir .. "/opener.lua"
  t.writefile(script, OPENER)
  local failures = {}
  for trial = 1, TRIALS do
    local db, start = dir .. "/c" .. trial .. ".db", dir .. "/go" .. trial
    local cmd = {}
    for p = 1, PROCS do
      cmd[#cmd + 1] = string.format("'%s' '%s' '%s' '%s' %d > '%s/out%d_%d' 2>&1 &", LUA, script, db, start,
        p, dir, trial, p)
    end
    -- The openers spin until the start file appears, then all open at once.
    cmd[#cmd + 1] = "sleep 0.05; touch '" .. start .. "'; wait"
    os.execute(table.concat(cmd, "\n"))
    for p = 1, PROCS do
      local out = t.readfile(string.format("%s/out%d_%d", dir, trial, p))
      if out ~= "ok\n" then failures[#failures + 1] = string.format("trial %d, process %d: %s", trial, p, out) end
    end
    local c = assert(require("lacuna.cache").open(db, { readonly = true }))
    local entries = c:stats().entries
    c:close()
    if entries ~= PROCS then failures[#failures + 1] = string.format("trial %d: %d entries", trial, entries) end
  end
  t.eq(table.concat(failures, "\n"), "")
  os.execute("rm -rf '" .. dir .. "'")
end)

return t.done()
