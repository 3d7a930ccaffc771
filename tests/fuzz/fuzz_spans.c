/* Fuzz target: span operations on Examples (core/example.c) and their
 * rendering (core/render.c). The input is a small program: each byte picks an
 * operation (add a message, append a part, set spans, pop) and the next bytes
 * its arguments and text. A caller mistake (bad UTF-8, a span off a character
 * boundary, out of order) is refused with an error and leaves the example as
 * it was; after every operation the resolved runs tile each message's content
 * in order, maximal, with character offsets that match the text, and every
 * trainer format renders the example or says why it cannot. */
#include "fuzz_lua.h"

static const char driver[] =
    "local core = require('lacuna.core')\n"
    "local example, json = core.example, core.json\n"
    "local formats = require 'lacuna.formats'\n"
    "local roles = { 'system', 'user', 'assistant', 'tool' }\n"
    "local function check(ex)\n"
    "  for i = 1, ex:count() do\n"
    "    local m = ex:message(i)\n"
    "    local content = m.content\n"
    "    local pos, last = 0, nil\n"
    "    for _, r in ipairs(ex:segments(i)) do\n"
    "      assert(r.b == pos and r.e > r.b, 'runs must tile the content')\n"
    "      assert(last == nil or last ~= r.train, 'runs must be maximal')\n"
    "      assert(r.cb == utf8.len(content, 1, r.b) and r.ce == utf8.len(content, 1, r.e), 'char offsets')\n"
    "      pos, last = r.e, r.train\n"
    "    end\n"
    "    assert(pos == #content, 'runs must cover the content')\n"
    "  end\n"
    "  for _, name in ipairs(formats.names) do\n"
    "    local line = formats.line(name, ex, { split_partial = #formats.names % 2 == 0 })\n"
    "    if line then assert(json.decode(line), name .. ': rendered line is not JSON') end\n"
    "  end\n"
    "end\n"
    "return function(s)\n"
    "  local ex = example.new()\n"
    "  local p = 1\n"
    "  local function byte() local b = s:byte(p) or 0; p = p + 1; return b end\n"
    "  local function text() local n = byte() % 16; local t = s:sub(p, p + n - 1); p = p + n; return t end\n"
    "  local function flag() local b = byte() % 3; if b == 0 then return nil end return b == 1 end\n"
    "  while p <= #s do\n"
    "    local op = byte() % 5\n"
    "    local n = ex:count()\n"
    "    if op == 0 or n == 0 then\n"
    "      pcall(ex.add_message, ex, roles[byte() % 4 + 1], text(), flag())\n"
    "    elseif op == 1 then\n"
    "      pcall(ex.append_part, ex, byte() % n + 1, text(), flag())\n"
    "    elseif op == 2 then\n"
    "      local i = byte() % n + 1\n"
    "      local spans = {}\n"
    "      for k = 1, byte() % 4 do spans[k] = { byte() % 20, byte() % 20, flag() } end\n"
    "      local before = ex:segments(i)\n"
    "      local ok = pcall(ex.set_spans, ex, i, spans)\n"
    "      if not ok then\n"
    "        local after = ex:segments(i)\n"
    "        assert(#after == #before, 'a refused set_spans changed the mask')\n"
    "      end\n"
    "    elseif op == 3 then\n"
    "      ex:pop()\n"
    "    else\n"
    "      local i = byte() % n + 1\n"
    "      pcall(ex.char_offset, ex, i, byte() % 24)\n"
    "      ex:snapshot()\n"
    "    end\n"
    "    check(ex)\n"
    "  end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_lua_run(driver, data, size, NULL);
}
