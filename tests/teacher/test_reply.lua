-- The reading of a 200 reply body (core/reply.c: reply.parse and
-- reply.result, used by teacher.read_reply and every teacher call): the
-- refusals a retry policy sees, and the result table a recipe gets. The
-- reading was Lua before it moved to C; that Lua version is kept here as the
-- reference, and both must agree on every body below and on many variants.
local t = require "testlib"
local lc = require "lacuna"
local teacher = require "lacuna.teacher"
local json, reply = lc.core.json, lc.core.reply
local null = json.null

local function ref_parse(body)
  local obj, err = json.decode(body)
  if obj == nil then return nil, "reply is not JSON (" .. tostring(err) .. ")" end
  if type(obj) ~= "table" then return nil, "reply is not a JSON object" end
  if type(obj.choices) ~= "table" or #obj.choices == 0 then
    local e = type(obj.error) == "table" and obj.error.message or obj.error
    if type(e) == "string" then return nil, "reply has no choices: " .. e:sub(1, 200) end
    return nil, "reply has no choices"
  end
  for i, c in ipairs(obj.choices) do
    if type(c) ~= "table" or type(c.message) ~= "table" then
      return nil, "reply choice " .. i .. " has no message"
    end
    local content = c.message.content
    if content ~= nil and content ~= null and type(content) ~= "string" then
      return nil, "reply choice " .. i .. " has a " .. type(content) .. " for content, not text"
    end
  end
  return obj
end

local function ref_result(obj, key, cached)
  local choices = {}
  for i, c in ipairs(obj.choices) do
    local content = c.message.content
    choices[i] = { text = content ~= null and content or nil, finish_reason = c.finish_reason, message = c.message }
  end
  return { text = choices[1].text, finish_reason = choices[1].finish_reason, choices = choices,
           usage = obj.usage ~= null and obj.usage or nil, model = obj.model, cached = cached, key = key,
           response = obj }
end

-- A result as plain data (its tables encoded), to compare two of them.
local function shape(r)
  local out = { text = r.text, model = json.encode(r.model), cached = r.cached, key = r.key,
                finish_reason = json.encode(r.finish_reason), usage = json.encode(r.usage),
                response = json.encode(r.response), n = #r.choices }
  for i, c in ipairs(r.choices) do
    out["choice" .. i] = json.encode({ text = c.text or null, finish_reason = c.finish_reason, message = c.message })
  end
  return out
end

local function agree(body, what)
  local a, aerr = reply.parse(body)
  local b, berr = ref_parse(body)
  t.eq(aerr, berr, what .. ": the refusal")
  t.eq(a == nil, b == nil, what .. ": accepted")
  if a then t.eq(shape(reply.result(a, "k", true)), shape(ref_result(b, "k", true)), what .. ": the result") end
end

local OK = '{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":' ..
  '{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,' ..
  '"completion_tokens":1,"total_tokens":4}}'

t.test("a good reply: the result a recipe gets", function()
  local obj = assert(reply.parse(OK))
  local r = reply.result(obj, "abc", false)
  t.eq(r.text, "hello")
  t.eq(r.finish_reason, "stop")
  t.eq(r.model, "m")
  t.eq(r.key, "abc")
  t.eq(r.cached, false)
  t.eq(r.usage.prompt_tokens, 3)
  t.eq(#r.choices, 1)
  t.eq(r.choices[1].message.role, "assistant")
  t.truthy(r.response == obj and r.choices[1].message == obj.choices[1].message, "tables shared, not copied")
  local via = assert(teacher.read_reply(200, OK))
  t.eq(via.text, "hello")
  t.eq(via.key, nil)
end)

t.test("null content and null usage become nil; several choices", function()
  local r = reply.result(assert(reply.parse(
    '{"choices":[{"message":{"content":null},"finish_reason":null},{"message":{"content":"b"}}],"usage":null}')))
  t.eq(r.text, nil)
  t.eq(r.finish_reason, null)
  t.eq(r.usage, nil)
  t.eq(r.choices[2].text, "b")
  t.eq(r.choices[2].finish_reason, nil)
end)

t.test("refusals name what is wrong", function()
  local cases = {
    { "", "reply is not JSON (" },
    { "{", "reply is not JSON (" },
    { "[1]", "reply has no choices" },
    { "3", "reply is not a JSON object" },
    { '"s"', "reply is not a JSON object" },
    { "{}", "reply has no choices" },
    { '{"choices":[]}', "reply has no choices" },
    { '{"choices":{}}', "reply has no choices" },
    { '{"choices":"x"}', "reply has no choices" },
    { '{"error":"overloaded"}', "reply has no choices: overloaded" },
    { '{"error":{"message":"bad key"}}', "reply has no choices: bad key" },
    { '{"error":{"message":7}}', "reply has no choices" },
    { '{"choices":[1]}', "reply choice 1 has no message" },
    { '{"choices":[{"message":{"content":"a"}},{"message":"x"}]}', "reply choice 2 has no message" },
    { '{"choices":[{"message":{"content":5}}]}', "reply choice 1 has a number for content, not text" },
    { '{"choices":[{"message":{"content":[{"type":"text"}]}}]}', "reply choice 1 has a table for content, not text" },
    { '{"choices":[{"message":{"content":false}}]}', "reply choice 1 has a boolean for content, not text" },
  }
  for _, c in ipairs(cases) do
    local obj, why = reply.parse(c[1])
    t.eq(obj, nil, c[1])
    t.eq(why:sub(1, #c[2]), c[2], c[1])
    agree(c[1], c[1])
  end
  local long = string.rep("é", 150)
  local _, why = reply.parse('{"error":{"message":"' .. long .. '"}}')
  t.eq(why, "reply has no choices: " .. long:sub(1, 200), "the server's message cut at 200 bytes")
end)

t.test("the C reading agrees with the Lua reference on variants of a reply", function()
  local rng = lc.core.rng.new(7, 1)
  local pieces = { '"content":"hi"', '"content":null', '"content":3', '"content":{}', '"content":[]', '',
                   '"content":"a\\u0000b"', '"content":true' }
  local choice = { '{"message":{%s},"finish_reason":"stop"}', '{"message":{%s}}', '{"message":null}', '[]', '"c"',
                   '{"message":{%s},"finish_reason":null}' }
  local tails = { ',"usage":{"prompt_tokens":1}', ',"usage":null', ',"usage":false', ',"model":"m"', '',
                  ',"error":"e"', ',"error":{"message":"m"}' }
  for i = 1, 400 do
    local n = rng:int(0, 3)
    local cs = {}
    for j = 1, n do
      cs[j] = choice[rng:int(1, #choice)]:gsub("%%s", function() return pieces[rng:int(1, #pieces)] end)
    end
    local body = '{"choices":[' .. table.concat(cs, ",") .. "]" .. tails[rng:int(1, #tails)] .. "}"
    if i % 50 == 0 then body = body:sub(1, rng:int(0, #body)) end -- cut short
    agree(body, body)
  end
end)

t.test("reply.result refuses a table that reply.parse would not give", function()
  t.raises(function() reply.result({ choices = {} }) end, "choices")
  t.raises(function() reply.result("x") end, "table")
end)

return t.done()
