/* Fuzz target: the chat-template interpreter (lua/lacuna/jinja). The input is
 * a template; it compiles or comes back as nil, message, and a compiled one
 * renders a small conversation or comes back as nil, message. An error
 * raised out of compile or render is a bug in the interpreter. */
#include "fuzz_lua.h"

static const char driver[] =
    "local jinja = require 'lacuna.jinja'\n"
    "local vars = {\n"
    "  messages = {\n"
    "    { role = 'system', content = 'Be brief.' },\n"
    "    { role = 'user', content = 'What is 2+2? <b>' },\n"
    "    { role = 'assistant', content = '4' },\n"
    "    { role = 'user', content = 'And 3+3?' },\n"
    "  },\n"
    "  add_generation_prompt = true, bos_token = '<s>', eos_token = '</s>',\n"
    "}\n"
    "return function(s)\n"
    "  local tpl, err = jinja.compile(s, { name = 'fuzz' })\n"
    "  if not tpl then assert(type(err) == 'string', 'compile: no message') return end\n"
    "  local out, rerr = tpl:render(vars)\n"
    "  assert(type(out) == 'string' or type(rerr) == 'string', 'render: neither text nor message')\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_lua_run(driver, data, size, NULL);
}
