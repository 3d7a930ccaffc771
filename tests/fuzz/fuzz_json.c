/* Fuzz target: lacuna.core.json. Any input either decodes or is refused with
 * a "byte N" message; the direct pass and the cJSON path (core/json.c) give
 * the same value or the same message; a decoded value encodes (or, holding a
 * number beyond a double, is refused as infinity), and that text decodes and
 * encodes again to the same bytes (the canonical form is a fixed point). */
#include "fuzz_lua.h"

#include "json.h"

static const char driver[] =
    "local json = require('lacuna.core').json\n"
    "local function same(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then return math.type(a) == math.type(b) and (a == b or (a ~= a and b ~= b)) "
    "end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  if getmetatable(a) ~= getmetatable(b) then return false end\n"
    "  for k, x in pairs(a) do if not same(x, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "return function(s)\n"
    "  local depth = #s > 0 and (s:byte(1) % 8 == 0) and 4 or nil\n"
    "  local opts = depth and { max_depth = depth } or nil\n"
    "  json_direct(false)\n"
    "  local v0, err0 = json.decode(s, opts)\n"
    "  json_direct(true)\n"
    "  local v, err = json.decode(s, opts)\n"
    "  assert(err == err0, 'the paths disagree: ' .. tostring(err) .. ' vs ' .. tostring(err0))\n"
    "  if v == nil then\n"
    "    assert(type(err) == 'string' and err ~= '', 'decode failed without a message')\n"
    "    return\n"
    "  end\n"
    "  assert(same(v, v0), 'the direct pass and the cJSON path give different values')\n"
    "  -- 1e999 decodes to infinity (as in Python), which encode refuses by name\n"
    "  local ok, text = pcall(json.encode, v)\n"
    "  if not ok then\n"
    "    assert(tostring(text):find('cannot encode infinity', 1, true), text)\n"
    "    return\n"
    "  end\n"
    "  local again, err2 = json.decode(text)\n"
    "  assert(again ~= nil, 'encode gave text decode refuses: ' .. text .. ' (' .. tostring(err2) .. ')')\n"
    "  local text2 = json.encode(again)\n"
    "  assert(text2 == text, 'not a fixed point: ' .. text .. ' vs ' .. text2)\n"
    "end\n";

/* json_direct(on): the decoder's direct pass on or off (lacuna_json_direct). */
static int set_direct(lua_State *L) {
  lacuna_json_direct = lua_toboolean(L, 1);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int registered;
  if (!registered) {
    int ref;
    lua_register(fuzz_state(driver, &ref), "json_direct", set_direct);
    registered = 1;
  }
  lacuna_json_direct = 1;
  return fuzz_lua_run(driver, data, size, NULL);
}
