-- jsonl: the streaming reader (CRLF, BOM, blank lines, malformed lines with
-- FILE:LINE, bad UTF-8, gzip, a 100 MB line, stdin) and the atomic writer.
local t = require "testlib"
local lacuna = require "lacuna"
local json, jsonl = lacuna.core.json, lacuna.core.jsonl

local FIX = (os.getenv("LACUNA_FIXTURES") or "../fixtures") .. "/jsonl/"
local LUA = arg[-1] or "lua5.4"

-- Reads every record: a list of {value | false, lineno, message}.
local function all(r, raw)
  local out = {}
  while true do
    local v, a, b
    if raw then v, a, b = r:next_raw() else v, a, b = r:next() end
    if v == nil then break end
    if v == false then
      out[#out + 1] = { false, b, a }
    else
      out[#out + 1] = { v, a }
    end
  end
  return out
end

local function ls(dir)
  local p = io.popen("ls -A '" .. dir .. "'")
  local names = {}
  for n in p:lines() do names[#names + 1] = n end
  p:close()
  table.sort(names)
  return names
end

t.test("CRLF line ends and a last line without newline", function()
  local r = assert(jsonl.open(FIX .. "crlf.jsonl"))
  local recs = all(r)
  t.eq(#recs, 3)
  t.eq(recs[1][1].a, 1); t.eq(recs[1][2], 1)
  t.eq(recs[2][1].a, 2); t.eq(recs[2][2], 2)
  t.eq(recs[3][1].a, 3); t.eq(recs[3][2], 4)
  t.eq(r:lines_read(), 4)
  t.eq(r:bytes_read(), #t.readfile(FIX .. "crlf.jsonl"))
  t.eq(r:next(), nil) -- stays at the end
  r:close()
  local raw = all(assert(jsonl.open(FIX .. "crlf.jsonl")), true)
  t.eq(raw[1][1], '{"a":1}')
  t.eq(raw[3][1], '{"a":3}')
end)

t.test("a UTF-8 BOM at the start of the file", function()
  local recs = all(assert(jsonl.open(FIX .. "bom.jsonl")))
  t.eq(#recs, 2)
  t.eq(recs[1][1].a, 1)
  t.eq(recs[1][2], 1)
  local raw = all(assert(jsonl.open(FIX .. "bom.jsonl")), true)
  t.eq(raw[1][1], '{"a":1}')
end)

t.test("blank lines are skipped but counted", function()
  local r = assert(jsonl.open(FIX .. "blank.jsonl"))
  local recs = all(r)
  t.eq(#recs, 3)
  t.eq({ recs[1][2], recs[2][2], recs[3][2] }, { 2, 5, 8 })
  t.eq({ recs[1][1].n, recs[2][1].n, recs[3][1].n }, { 1, 2, 3 })
  t.eq(r:lines_read(), 9)
end)

t.test("a malformed line is reported with FILE:LINE and reading goes on", function()
  local path = FIX .. "malformed.jsonl"
  local recs = all(assert(jsonl.open(path)))
  t.eq(#recs, 5)
  t.eq(recs[1][1].n, 1)
  t.eq(recs[2][1], false)
  t.eq(recs[2][2], 2)
  t.eq(recs[2][3], path .. ":2: byte 8: unexpected '}'")
  t.eq(recs[3][1].n, 3)
  t.eq(recs[3][2], 3)
  t.eq(recs[4][3], path .. ":4: byte 5: unexpected end of input")
  t.eq(recs[5][1].n, 5)
end)

t.test("a line holding false is a failure with a message, not a record false", function()
  -- (found by tests/fuzz: it came back as false, 2, which read as a failure whose message is 2)
  local dir = t.tmpdir()
  local p = dir .. "/false.jsonl"
  t.writefile(p, '{"n":1}\nfalse\ntrue\n')
  local recs = all(assert(jsonl.open(p)))
  t.eq(#recs, 3)
  t.eq({ recs[2][1], recs[2][2], recs[2][3] }, { false, 2, p .. ":2: the line is the JSON value false, not a record" })
  t.eq({ recs[3][1], recs[3][2] }, { true, 3 })
  os.execute("rm -rf '" .. dir .. "'")
end)

t.test("invalid UTF-8 names the line and the byte", function()
  local path = FIX .. "bad_utf8.jsonl"
  local recs = all(assert(jsonl.open(path)))
  t.eq(#recs, 4)
  t.eq(recs[2][1].s, "ok é")
  t.eq(recs[3][1], false)
  t.eq(recs[3][3], path .. ":3: invalid UTF-8 at byte 11")
  t.eq(recs[4][1].n, 4)
end)

t.test("decoded values follow json.decode (markers, null, integers)", function()
  local dir = t.tmpdir()
  local p = dir .. "/v.jsonl"
  t.writefile(p, '{"a":[],"b":{},"c":null,"i":9007199254740993,"f":1.0}\n')
  local v = assert(jsonl.open(p)):next()
  t.eq(json.encode(v), '{"a":[],"b":{},"c":null,"f":1.0,"i":9007199254740993}')
  t.eq(math.type(v.i), "integer")
  -- the nesting limit comes from the options
  t.writefile(p, "[[[1]]]\n[[1]]\n")
  local recs = all(assert(jsonl.open(p, { max_depth = 2 })))
  t.eq(recs[1][3], p .. ":1: nesting deeper than 2 at byte 3")
  t.eq(recs[2][1][1][1], 1)
  os.execute("rm -rf '" .. dir .. "'")
end)

t.test("gzip input, written by the writer and by gzip(1)", function()
  local dir = t.tmpdir()
  local gz = dir .. "/a.jsonl.gz"
  local w = assert(jsonl.writer(gz))
  for i = 1, 1000 do assert(w:write { i = i, s = "line " .. i }) end
  t.eq(w:count(), 1000)
  assert(w:commit())
  t.eq(t.readfile(gz):sub(1, 2), "\31\139") -- gzip magic
  local r = assert(jsonl.open(gz))
  local recs = all(r)
  t.eq(#recs, 1000)
  t.eq(recs[1000][1].s, "line 1000")
  t.eq(recs[1000][2], 1000)
  local total, raw = r:bytes_read()
  t.truthy(total > raw, "decompressed count exceeds the compressed offset")
  -- gzip(1) output, and opts.gzip on a name without .gz
  local plain = dir .. "/b.jsonl"
  t.writefile(plain, '{"x":1}\n\n{"x":2}\n')
  assert(os.execute("gzip -k '" .. plain .. "'"))
  recs = all(assert(jsonl.open(plain .. ".gz")))
  t.eq({ recs[1][2], recs[2][2], recs[2][1].x }, { 1, 3, 2 })
  local w2 = assert(jsonl.writer(dir .. "/c.out", { gzip = true }))
  w2:write { y = 1 }
  assert(w2:commit())
  t.eq(t.readfile(dir .. "/c.out"):sub(1, 2), "\31\139")
  t.eq(assert(jsonl.open(dir .. "/c.out")):next().y, 1)
  -- a truncated .gz is an I/O error naming the file once and the line at
  -- which the stream broke, then the end
  local data = t.readfile(gz)
  local cut = dir .. "/cut.jsonl.gz"
  t.writefile(cut, data:sub(1, #data // 2))
  local rc = assert(jsonl.open(cut))
  local n, err = 0, nil
  while true do
    local v, msg = rc:next()
    if v == nil then break end
    if v == false then err = msg else n = n + 1 end
  end
  t.eq(err, cut .. ":" .. (n + 1) .. ": the compressed stream ends early (truncated file)")
  t.truthy(n > 0 and n < 1000, "read some records before the cut")
  t.eq(rc:next(), nil)
  os.execute("rm -rf '" .. dir .. "'")
end)

-- Reads a whole file: the records' count and the failures' messages.
local function drain(path)
  local r = assert(jsonl.open(path))
  local n, errs = 0, {}
  while true do
    local v, msg = r:next()
    if v == nil then break end
    if v == false then errs[#errs + 1] = msg else n = n + 1 end
  end
  t.eq(r:next(), nil)
  return n, errs
end

t.test("corrupt .gz: every decompressed line is delivered, then one failure", function()
  local dir = t.tmpdir()
  local plain = dir .. "/p.jsonl"
  local f = assert(io.open(plain, "wb"))
  for i = 1, 5000 do f:write('{"i":', i, "}\n") end
  f:close()
  assert(os.execute("gzip -k '" .. plain .. "'"))
  local data = t.readfile(plain .. ".gz")
  -- a flipped CRC byte (the trailer's first) and a wrong length (its last)
  local crc = dir .. "/crc.jsonl.gz"
  t.writefile(crc, data:sub(1, -9) .. string.char(data:byte(-8) ~ 0xff) .. data:sub(-7))
  local n, errs = drain(crc)
  t.eq(n, 5000)
  t.eq(errs, { crc .. ":5001: the compressed stream is corrupt (CRC mismatch)" })
  local len = dir .. "/len.jsonl.gz"
  t.writefile(len, data:sub(1, -2) .. string.char(data:byte(-1) ~ 0x01))
  n, errs = drain(len)
  t.eq(n, 5000)
  t.eq(errs, { len .. ":5001: the compressed stream is corrupt (length mismatch)" })
  -- bytes after the last member
  local tail = dir .. "/tail.jsonl.gz"
  t.writefile(tail, data .. "garbage\n")
  n, errs = drain(tail)
  t.eq(n, 5000)
  t.eq(errs, { tail .. ":5001: the compressed stream is corrupt (trailing bytes after the compressed stream)" })
  -- damage inside the deflate data: the lines before it, then one failure
  local mid = dir .. "/mid.jsonl.gz"
  t.writefile(mid, data:sub(1, #data // 2) .. string.rep("\255", 16) .. data:sub(#data // 2 + 17))
  n, errs = drain(mid)
  t.truthy(n > 1000 and n < 5000, "the lines before the damage")
  -- (the bad bytes may decode to junk, so the CRC or inflate finds them)
  t.truthy(errs[#errs]:find(mid .. ":", 1, true) == 1 and errs[#errs]:find("corrupt", 1, true), errs[#errs])
  for i = 1, #errs - 1 do -- junk lines decoded from the damage fail one by one
    t.truthy(not errs[i]:find("compressed"), errs[i])
  end
  -- a last line without '\n' is whole when only the trailer is bad
  t.writefile(plain, '{"a":1}\n{"a":2}')
  os.remove(plain .. ".gz")
  assert(os.execute("gzip -k '" .. plain .. "'"))
  data = t.readfile(plain .. ".gz")
  t.writefile(crc, data:sub(1, -9) .. string.char(data:byte(-8) ~ 0xff) .. data:sub(-7))
  n, errs = drain(crc)
  t.eq(n, 2)
  t.eq(errs, { crc .. ":3: the compressed stream is corrupt (CRC mismatch)" })
  os.execute("rm -rf '" .. dir .. "'")
end)

t.test("a .gz of several members reads as one stream", function()
  local dir = t.tmpdir()
  local parts = {}
  for m = 1, 3 do
    local p = dir .. "/m" .. m .. ".jsonl"
    local f = assert(io.open(p, "wb"))
    for i = 1, 1000 do f:write('{"m":', m, ',"i":', i, "}\n") end
    f:close()
    assert(os.execute("gzip -k '" .. p .. "'"))
    parts[#parts + 1] = t.readfile(p .. ".gz")
  end
  -- an empty member in the middle is valid too
  t.writefile(dir .. "/e.jsonl", "")
  assert(os.execute("gzip -k '" .. dir .. "/e.jsonl'"))
  local all_gz = dir .. "/all.jsonl.gz"
  t.writefile(all_gz, parts[1] .. t.readfile(dir .. "/e.jsonl.gz") .. parts[2] .. parts[3])
  local r = assert(jsonl.open(all_gz))
  local recs = all(r)
  t.eq(#recs, 3000)
  t.eq({ recs[1001][1].m, recs[1001][1].i, recs[3000][1].m, recs[3000][2] }, { 2, 1, 3, 3000 })
  local _, raw = r:bytes_read()
  t.eq(raw, #t.readfile(all_gz))
  os.execute("rm -rf '" .. dir .. "'")
end)

t.test("a 100 MB line, and max_line", function()
  local dir = t.tmpdir()
  local p = dir .. "/big.jsonl"
  local f = assert(io.open(p, "wb"))
  f:write('{"n":1}\n{"s":"')
  local chunk = string.rep("abcdefgh", 1 << 17) -- 1 MiB
  for _ = 1, 100 do f:write(chunk) end
  f:write('"}\n{"n":3}\n')
  f:close()
  local r = assert(jsonl.open(p))
  t.eq(r:next().n, 1)
  local v, ln = r:next()
  t.eq(ln, 2)
  t.eq(#v.s, 100 * 1024 * 1024)
  t.eq(v.s:sub(-8), "abcdefgh")
  v = nil
  local v3, ln3 = r:next()
  t.eq(v3.n, 3); t.eq(ln3, 3)
  r:close()
  collectgarbage()
  -- the same file with a small max_line: line 2 fails, line 3 still reads
  local recs = all(assert(jsonl.open(p, { max_line = 4096 })))
  t.eq(#recs, 3)
  t.eq(recs[2][3], p .. ":2: line longer than 4096 bytes (the max_line limit, --max-line-bytes)")
  t.eq(recs[3][1].n, 3)
  t.eq(recs[3][2], 3)
  os.remove(p)
  -- an over-long last line without a newline
  t.writefile(p, '{"n":1}\n' .. string.rep("x", 5000))
  recs = all(assert(jsonl.open(p, { max_line = 100 })))
  t.eq(#recs, 2)
  t.eq(recs[2][2], 2)
  t.truthy(recs[2][3]:find("line longer than 100 bytes", 1, true))
  os.execute("rm -rf '" .. dir .. "'")
end)

t.test("open errors and caller mistakes", function()
  t.fails("/nonexistent/x.jsonl: No such file or directory", jsonl.open("/nonexistent/x.jsonl"))
  local dir = t.tmpdir()
  t.fails(dir .. ": is a directory", jsonl.open(dir))
  t.raises(function() jsonl.open(FIX .. "crlf.jsonl", { max_line = 0 }) end, "max_line")
  t.raises(function() jsonl.open(FIX .. "crlf.jsonl", { max_depth = "x" }) end, "max_depth")
  local r = assert(jsonl.open(FIX .. "crlf.jsonl"))
  t.truthy(tostring(r):find("crlf.jsonl", 1, true))
  r:close()
  r:close() -- closing twice is harmless
  t.raises(function() r:next() end, "closed jsonl reader")
  t.eq(tostring(r), "lacuna.JsonlReader (closed)")
  do
    local r2 <close> = assert(jsonl.open(FIX .. "crlf.jsonl"))
    t.eq(r2:next().a, 1)
  end
  t.fails("No such file or directory", jsonl.writer("/nonexistent/dir/out.jsonl"))
  os.execute("rm -rf '" .. dir .. "'")
end)

t.test("stdin as '-'", function()
  local dir = t.tmpdir()
  local script = dir .. "/s.lua"
  t.writefile(script, [[
    local jsonl = require("lacuna").core.jsonl
    local r = assert(jsonl.open("-"))
    local a, la = r:next()
    local b, lb, c = r:next()
    local d, ld = r:next()
    io.write(a.k, " ", la, " ", tostring(b), " ", lb, " ", d.k, " ", ld, "\n")
  ]])
  local p = io.popen("printf '{\"k\":1}\\n{\\n{\"k\":3}\\n' | '" .. LUA .. "' '" .. script .. "'")
  local out = p:read("a")
  p:close()
  t.eq(out, "1 1 false <stdin>:2: byte 2: unexpected end of input 3 3\n")
  os.execute("rm -rf '" .. dir .. "'")
end)

t.test("writer: temporary sibling, commit renames, abort removes", function()
  local dir = t.tmpdir()
  local out = dir .. "/out.jsonl"
  t.writefile(out, "old\n")
  local w = assert(jsonl.writer(out))
  t.truthy(w:write { b = 2, a = { 1, 2 } })
  t.truthy(w:write '{"raw":true}')
  t.truthy(w:write(json.null))
  t.eq(w:count(), 3)
  local names = ls(dir)
  t.eq(#names, 2)
  t.truthy(names[2]:match("^out%.jsonl%.tmp%.%d+$"), "temp name: " .. names[2])
  t.eq(t.readfile(out), "old\n") -- untouched until commit
  t.eq(w:commit(), true)
  t.eq(ls(dir), { "out.jsonl" })
  t.eq(t.readfile(out), '{"a":[1,2],"b":2}\n{"raw":true}\nnull\n')
  t.raises(function() w:write { x = 1 } end, "committed jsonl writer")
  t.raises(function() w:commit() end, "committed jsonl writer")
  t.eq(w:abort(), false)
  t.truthy(tostring(w):find("committed", 1, true))

  -- abort: the temp goes, the target keeps its old bytes
  local w2 = assert(jsonl.writer(out))
  w2:write { x = 1 }
  t.eq(#ls(dir), 2)
  t.eq(w2:abort(), true)
  t.eq(ls(dir), { "out.jsonl" })
  t.eq(t.readfile(out), '{"a":[1,2],"b":2}\n{"raw":true}\nnull\n')
  t.raises(function() w2:write { x = 1 } end, "closed jsonl writer")

  -- __close aborts an uncommitted writer; a committed one is kept
  do
    local w3 <close> = assert(jsonl.writer(dir .. "/closed.jsonl"))
    w3:write { x = 1 }
  end
  do
    local w4 <close> = assert(jsonl.writer(dir .. "/kept.jsonl"))
    w4:write { x = 1 }
    assert(w4:commit())
  end
  t.eq(ls(dir), { "kept.jsonl", "out.jsonl" })
  -- __gc aborts too
  local w5 = assert(jsonl.writer(dir .. "/gc.jsonl"))
  w5:write { x = 1 }
  t.eq(#ls(dir), 3)
  w5 = nil
  collectgarbage(); collectgarbage()
  t.eq(ls(dir), { "kept.jsonl", "out.jsonl" })
  os.execute("rm -rf '" .. dir .. "'")
end)

t.test("writer: caller mistakes raise and name the path", function()
  local dir = t.tmpdir()
  local w = assert(jsonl.writer(dir .. "/o.jsonl"))
  t.raises(function() w:write("a\nb") end, "must not contain a newline")
  t.raises(function() w:write { messages = { { content = print } } } end,
           "cannot encode a function at messages[1].content")
  t.raises(function() w:write() end, "value expected")
  t.truthy(w:write { ok = true }) -- still usable after a refused value
  assert(w:commit())
  t.eq(t.readfile(dir .. "/o.jsonl"), '{"ok":true}\n')
  -- what the writer writes, the reader reads back
  local w2 = assert(jsonl.writer(dir .. "/rt.jsonl"))
  local docs = { { a = 1.5, b = "é\n" }, json.array(), { n = math.mininteger } }
  for _, d in ipairs(docs) do w2:write(d) end
  assert(w2:commit())
  local recs = all(assert(jsonl.open(dir .. "/rt.jsonl")))
  t.eq(#recs, 3)
  t.eq(recs[1][1].b, "é\n")
  t.eq(json.encode(recs[2][1]), "[]")
  t.eq(recs[3][1].n, math.mininteger)
  os.execute("rm -rf '" .. dir .. "'")
end)

t.test("writer: seal, stats, commit; direct writers; a failed flush is reported", function()
  local dir = t.tmpdir()
  local out = dir .. "/s.jsonl"
  local w = assert(jsonl.writer(out))
  local tmp = w:temp_path()
  t.truthy(tmp:match("/s%.jsonl%.tmp%.%d+$"), tmp)
  w:write { a = 1 }
  w:write "xyz"
  t.eq(w:stats().size, nil) -- not known before the seal
  t.eq(w:seal(), true)
  t.raises(function() w:write { b = 2 } end, "sealed jsonl writer")
  t.eq(ls(dir), { tmp:match("[^/]+$") }) -- complete, still under its temporary name
  local st = w:stats()
  t.eq({ st.lines, st.bytes, st.size, st.crc32 }, { 2, 12, 12, "456454cb" })
  t.eq(w:commit(), true)
  t.eq(t.readfile(out), '{"a":1}\nxyz\n')
  -- a sealed writer that is aborted leaves nothing
  local w2 = assert(jsonl.writer(dir .. "/gone.jsonl"))
  w2:write { x = 1 }
  assert(w2:seal())
  t.eq(w2:abort(), true)
  t.eq(ls(dir), { "s.jsonl" })
  -- a direct writer writes to the target itself, with no temporary file
  local d = assert(jsonl.writer(dir .. "/s.jsonl", { direct = true }))
  t.eq(d:temp_path(), nil)
  d:write { more = true }
  t.eq(d:commit(), true)
  t.eq(t.readfile(out), '{"a":1}\nxyz\n{"more":true}\n')
  -- every flush is checked: /dev/full fails with ENOSPC
  local full = io.open("/dev/full", "wb")
  if full then
    full:close()
    local f = assert(jsonl.writer("/dev/full", { direct = true }))
    t.truthy(f:write { x = 1 }) -- buffered
    t.fails("No space left on device", f:commit())
    t.raises(function() f:write { x = 2 } end, "closed jsonl writer")
  end
  os.execute("rm -rf '" .. dir .. "'")
end)

-- Long escaped strings of a line are unescaped over the read buffer once the
-- line has decoded (core/json.c): wherever they sit, the values are
-- json.decode's; a line the direct pass gives up on after one (\u0000 comes
-- later) still decodes from its intact text.
t.test("long escaped strings decoded in place", function()
  local esc = string.rep([[a\"b\\c\nd\u00e9\ud834\udd1e\/]], 40000) -- ~1.3 MB of JSON text
  local lines = {
    '{"a":"' .. esc .. '","b":["x","' .. esc .. '",{"c":"' .. esc .. '"}],"a2":"' .. esc .. '"}',
    '"' .. esc .. '"',
    '{"k":"' .. esc .. '","k":"short"}',
    '{"k":"' .. esc .. '","z":"\\\\u0000"}',
    '{"k":"' .. esc .. '","z":"\\u0000"}',
    '["' .. esc .. '", 1, true, null]',
  }
  local dir = t.tmpdir()
  local p = dir .. "/esc.jsonl"
  t.writefile(p, table.concat(lines, "\n") .. "\n")
  local recs = all(assert(jsonl.open(p)))
  t.eq(#recs, #lines)
  for i, line in ipairs(lines) do
    local want = json.decode(line)
    t.eq(recs[i][1], want, "line " .. i)
    t.eq(recs[i][2], i)
  end
end)

return t.done()
