/* C-level tests of core/crc32.c: lacuna_crc32 gives zlib's crc32 for every
 * length (under and over the 64-byte folding threshold, with and without a
 * tail), every alignment, and when a stream is fed in pieces. */
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#include "check.h"
#include "crc32.h"

int main(void) {
  size_t size = 70000;
  unsigned char *buf = malloc(size);
  uint32_t x = 12345;
  for (size_t i = 0; i < size; i++) {
    x = x * 1103515245u + 12345u;
    buf[i] = (unsigned char)(x >> 16);
  }
  int bad = 0;
  for (size_t len = 0; len <= 1100; len++) {
    for (size_t off = 0; off < 16; off += 5) {
      uint32_t seed = (uint32_t)(len * 2654435761u);
      if (lacuna_crc32(seed, buf + off, len) != (uint32_t)crc32(seed, buf + off, (uInt)len)) bad++;
    }
  }
  CHECK(bad == 0);
  CHECK(lacuna_crc32(0, buf, size) == (uint32_t)crc32(0, buf, (uInt)size));
  CHECK(lacuna_crc32(0, buf, 0) == 0);
  /* "123456789" is the CRC-32 check value's input */
  CHECK(lacuna_crc32(0, "123456789", 9) == 0xCBF43926u);
  const char *digits = "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
  CHECK(lacuna_crc32(0, digits, 80) == (uint32_t)crc32(0, (const Bytef *)digits, 80));
  /* a stream in pieces of varied sizes: the same as in one call */
  uint32_t whole = (uint32_t)crc32(0, buf, (uInt)size), pieces = 0;
  size_t at = 0, step = 1;
  while (at < size) {
    size_t n = step < size - at ? step : size - at;
    pieces = lacuna_crc32(pieces, buf + at, n);
    at += n;
    step = step * 3 % 997 + 1;
  }
  CHECK(pieces == whole);
  free(buf);
  return CHECK_DONE();
}
