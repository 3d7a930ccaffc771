/* Fuzz target: the tokenizer.json loader and the encoder
 * (lacuna.core.tokenizer). The input is a tokenizer.json, optionally followed
 * by a NUL byte and a text to encode (else a fixed mixed-script text). A
 * file loads or is refused with a message; a loaded tokenizer encodes the
 * text or refuses it with a message; ids, offsets and labels are consistent
 * with the text, and the ids decode. */
#include "fuzz_lua.h"

static const char driver[] =
    "local tokenizer = require('lacuna.core').tokenizer\n"
    "local default_text = 'Hello, world! Ünïcödé 日本語 \\t  tabs\\n<s> 12345 don\\'t  '\n"
    "return function(s)\n"
    "  local nul = s:find('\\0', 1, true)\n"
    "  local spec, text = s, default_text\n"
    "  if nul then spec, text = s:sub(1, nul - 1), s:sub(nul + 1) end\n"
    "  local tok, err = tokenizer.load_json(spec)\n"
    "  if not tok then assert(type(err) == 'string', 'load: no message') return end\n"
    "  local ids, bo, co = tok:encode(text, true, true)\n"
    "  if not ids then assert(type(bo) == 'string', 'encode: no message') tok:close() return end\n"
    "  assert(#bo == #ids and #co == #ids, 'one offset pair per id')\n"
    "  for k = 1, #ids do\n"
    "    local b, e = bo[k][1], bo[k][2]\n"
    "    assert(0 <= b and b <= e and e <= #text, 'byte offsets outside the text')\n"
    "  end\n"
    "  local n = tok:count(text)\n"
    "  if n then assert(n == #assert(tok:encode(text, false)), 'count differs from encode') end\n"
    "  local vs = tok:vocab_size()\n"
    "  for _, id in ipairs(ids) do assert(id >= 0, 'negative id') end\n"
    "  tok:decode(ids)\n"
    "  local trained = #text >= 2 and { { 0, #text // 2 } } or {}\n"
    "  local lids, labels = tok:encode_labels(text, trained, {})\n"
    "  if lids then\n"
    "    assert(#labels == #lids, 'one label per id')\n"
    "    for k = 1, #lids do assert(labels[k] == -100 or labels[k] == lids[k], 'label is id or -100') end\n"
    "  end\n"
    "  if vs and vs > 0 then tok:id_to_token(0) end\n"
    "  tok:close()\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_lua_run(driver, data, size, NULL);
}
