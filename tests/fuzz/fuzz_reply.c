/* Fuzz target: the teacher's reading of an HTTP reply body
 * (lua/lacuna/teacher.lua, read_reply; a 200 body is checked and turned into
 * the result by core/reply.c). The input's first byte picks the
 * status (200, 429 or 500), the rest is the body. A 200 body gives a result
 * whose text is a string (or absent) and whose choices are tables, or is
 * refused with a reason (finish_reason and usage stay as the server sent
 * them: the accounting reads usage defensively); an error body always gives
 * a message. */
#include "fuzz_lua.h"

static const char driver[] =
    "local teacher = require 'lacuna.teacher'\n"
    "local statuses = { 200, 429, 500 }\n"
    "return function(s)\n"
    "  local status = statuses[(s:byte(1) or 0) % 3 + 1]\n"
    "  local body = s:sub(2)\n"
    "  local r, why, quota = teacher.read_reply(status, body)\n"
    "  if status ~= 200 then\n"
    "    assert(r == nil and type(why) == 'string' and why ~= '', 'error body: no message')\n"
    "    assert(type(quota) == 'boolean', 'quota is a boolean')\n"
    "    return\n"
    "  end\n"
    "  if not r then assert(type(why) == 'string', 'refused reply: no reason') return end\n"
    "  assert(r.text == nil or type(r.text) == 'string', 'reply text is ' .. type(r.text))\n"
    "  assert(#r.choices >= 1, 'a result has choices')\n"
    "  for _, c in ipairs(r.choices) do\n"
    "    assert(c.text == nil or type(c.text) == 'string', 'choice text is ' .. type(c.text))\n"
    "  end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_lua_run(driver, data, size, NULL);
}
