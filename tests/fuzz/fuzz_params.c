/* Fuzz target: recipe parameter parsing (lua/lacuna/params.lua), the way
 * `-p KEY=VALUE` reaches it. The input is a list of overrides, one per line,
 * resolved against a declaration with every kind of param. A bad override is a
 * usage error naming the param; anything else that escapes is a bug. A
 * resolved value passes its own param's check. File params, and JSON params
 * read from @FILE, are left out: they read the file system. */
#include "fuzz_lua.h"

static const char driver[] =
    "local params = require 'lacuna.params'\n"
    "local usage = require 'lacuna.usage'\n"
    "local decl = {\n"
    "  n = params.int(4, 'an int', { min = 1, max = 64 }),\n"
    "  i = params.int(nil, 'an int without default'),\n"
    "  x = params.number(0.5, 'a number', { min = 0, max = 1 }),\n"
    "  s = params.string('hi', 'a string'),\n"
    "  b = params.bool(false, 'a bool'),\n"
    "  e = params.enum({ 'step', 'direct', 'explain' }, 'step', 'an enum'),\n"
    "  li = params.list('int', { 1, 2 }, 'a list of int'),\n"
    "  lx = params.list('number', nil, 'a list of number'),\n"
    "  lb = params.list('bool', nil, 'a list of bool'),\n"
    "  ls = params.list('string', nil, 'a list of string'),\n"
    "  j = params.json({ a = 1 }, 'a json value'),\n"
    "}\n"
    "return function(s)\n"
    "  local overrides = {}\n"
    "  for line in (s .. '\\n'):gmatch('(.-)\\n') do\n"
    "    if not line:match('^j=@') then overrides[#overrides + 1] = line end\n"
    "  end\n"
    "  local ok, values = pcall(params.resolve, 'fuzz', decl, overrides)\n"
    "  if not ok then\n"
    "    if usage.is(values) then assert(values.msg ~= '') return end\n"
    "    error(values, 0)\n"
    "  end\n"
    "  for k, v in pairs(values) do\n"
    "    local err = params.check_value(decl[k], v)\n"
    "    assert(not err, k .. ': resolved value fails its check: ' .. tostring(err))\n"
    "    local _ = decl[k]:type_text() .. decl[k]:default_text()\n"
    "  end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_lua_run(driver, data, size, NULL);
}
