/* Fuzz target: the JSONL reader (lacuna.core.jsonl), plain and gzip. The
 * input is the file: it is put in a memfd and read through /proc/self/fd, so
 * the reader's own open, gzip detection, buffering and line splitting run.
 * Every line comes back as a record or as false, "FILE:LINE: message", line;
 * line numbers only grow; the reader ends with nil. A small max_line (chosen
 * by the input's first byte) drives the long-line path. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_lua.h"

static const char driver[] =
    "local jsonl = require('lacuna.core').jsonl\n"
    "return function(s, path)\n"
    "  local max_line = #s > 0 and (s:byte(1) % 4 == 0) and (s:byte(1) // 4 + 1) or nil\n"
    "  local rd, err = jsonl.open(path, max_line and { max_line = max_line } or nil)\n"
    "  if not rd then error('open failed: ' .. tostring(err)) end\n"
    "  local raw = #s > 1 and s:byte(2) % 2 == 0\n"
    "  local last = 0\n"
    "  while true do\n"
    "    local v, a, b\n"
    "    if raw then v, a, b = rd:next_raw() else v, a, b = rd:next() end\n"
    "    if v == nil then\n"
    "      assert(a == nil, 'nil with a message: ' .. tostring(a))\n"
    "      rd:close()\n"
    "      return\n"
    "    end\n"
    "    local line = v == false and b or a\n"
    "    if v == false then\n"
    "      assert(type(a) == 'string' and a:find(':' .. b .. ': ', 1, true), 'bad message: ' .. "
    "tostring(a))\n"
    "    end\n"
    "    assert(math.type(line) == 'integer' and line > last, 'line numbers must grow')\n"
    "    last = line\n"
    "    local consumed, raw_read = rd:bytes_read()\n"
    "    assert(consumed >= 0 and raw_read <= #s, 'bytes_read beyond the file')\n"
    "  end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = memfd_create("fuzz_jsonl", MFD_CLOEXEC);
  if (fd < 0) abort();
  size_t off = 0;
  while (off < size) {
    ssize_t k = write(fd, data + off, size - off);
    if (k <= 0) abort();
    off += (size_t)k;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  fuzz_lua_run(driver, data, size, path);
  close(fd);
  return 0;
}
