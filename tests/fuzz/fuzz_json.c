/* Fuzz target: lacuna.core.json. Any input either decodes or is refused with
 * a "byte N" message; a decoded value encodes (or, holding a number beyond a
 * double, is refused as infinity), and that text decodes and encodes again
 * to the same bytes (the canonical form is a fixed point). */
#include "fuzz_lua.h"

static const char driver[] =
    "local json = require('lacuna.core').json\n"
    "return function(s)\n"
    "  local depth = #s > 0 and (s:byte(1) % 8 == 0) and 4 or nil\n"
    "  local v, err = json.decode(s, depth and { max_depth = depth } or nil)\n"
    "  if v == nil then\n"
    "    assert(type(err) == 'string' and err ~= '', 'decode failed without a message')\n"
    "    return\n"
    "  end\n"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_lua_run(driver, data, size, NULL);
}
