#!/usr/bin/env bash
# A blocking request (made outside any task while a run is in progress) drains
# the shared curl multi handle: a task's finished transfer must reach its task
# rather than be freed ("work item waits for an event nobody will deliver").
source "$(dirname "$0")/lib.sh"

start_server --latency-ms 300
cat >"$TMP/drain.lua" <<'LUA'
local lc = require "lacuna"
local http, sched = lc.core.http, lc.core.sched
local url = arg[1] .. "/chat/completions"
local headers = { "Content-Type: application/json" }
local function body(text)
  return lc.json.encode { model = "m", messages = lc.json.array { { role = "user", content = text } } }
end
local client = http.client {}
local launched, got = 0, {}
sched.run {
  window = 4,
  next = function()
    launched = launched + 1
    if launched == 2 then
      -- Item 1's request is in flight; this one blocks until its own reply,
      -- which comes after item 1's.
      local status = client:post(url, headers, body("blocking"))
      got.blocking = status
      return nil
    end
    return {}
  end,
  work = function()
    local status, reply = client:post(url, headers, body("item"))
    return status .. " " .. lc.json.decode(reply).choices[1].message.content:sub(1, 13)
  end,
  done = function(seq, ok, value) got[seq] = ok and value or ("failed: " .. tostring(value)) end,
}
print(got.blocking, got[1])
LUA
# The stock lua5.4 loads lacuna.so: under the sanitizers it needs their runtimes first.
out=$(LD_PRELOAD=${LACUNA_PRELOAD:-} ASAN_OPTIONS=detect_leaks=0 lua5.4 "$TMP/drain.lua" "$BASE_URL" 2>&1)
expect_eq "$out" "$(printf '200\t200 reply to item')" "the item gets its reply after a blocking call drained it"

finish
