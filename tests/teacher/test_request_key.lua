-- A request's cache key is sha256(encode(body) .. "\n" .. sample). A request
-- that may be sent hashes the JSON text it sends (lua/lacuna/teacher.lua,
-- prepare); a --cache-only run computes the key in C without the text
-- (cache.request_key). Both must give the same key, or a --cache-only rerun
-- would miss what the first run stored.
local t = require "testlib"
local lc = require "lacuna"
local json, hash, request_key = lc.core.json, lc.core.hash, lc.core.cache.request_key

local bodies = {
  { model = "m", messages = json.array { { role = "user", content = "hi" } } },
  { model = "m", messages = json.array { { role = "system", content = "é\n\"x\"\0" }, { role = "user", content = "" } },
    temperature = 0.7, max_tokens = 12, stop = json.array { "a", "b" }, seed = -3 },
  { model = "bench", messages = json.array { { role = "user", content = string.rep("long ", 5000) } },
    response_format = { type = "json_object" }, n = 2 },
}

t.test("the key hashed from the sent text equals cache.request_key", function()
  for i, body in ipairs(bodies) do
    for _, sample in ipairs { 0, 1, -7, math.maxinteger, math.mininteger } do
      t.eq(hash.sha256(json.encode(body) .. "\n" .. sample), request_key(body, sample),
        "body " .. i .. " sample " .. sample)
    end
  end
end)

t.test("a --cache-only pool finds what a sending pool stored", function()
  local teacher = require "lacuna.teacher"
  local dir = t.tmpdir()
  local db = dir .. "/c.sqlite"
  local cache = assert(lc.core.cache.open(db))
  local req = { model = "m", messages = { { role = "user", content = "q" } }, sample = 3 }
  -- what a sending pool's prepare computes, stored as a reply
  local body = { model = "m", messages = json.array { { role = "user", content = "q" } } }
  local text = json.encode(body)
  local reply = '{"choices":[{"message":{"role":"assistant","content":"stored"},"finish_reason":"stop"}]}'
  assert(cache:put(hash.sha256(text .. "\n3"), { model = "m", request = text, body = reply }))
  cache:close()
  local pool = teacher.pool { cache = db, cache_mode = "only", model = "m",
    open_cache = function(path, readonly) return lc.core.cache.open(path, { readonly = readonly }) end }
  local r = pool:teacher(nil, 1):chat(req)
  t.eq(r.text, "stored")
  t.eq(r.cached, true)
  os.execute("rm -rf '" .. dir .. "'")
end)

t.done()
