/* UTF-8: the one validator and encoder every area uses (JSON, examples,
 * the tokenizer). */
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "utf8.h"

int lacuna_utf8_check(const char *s, size_t n, size_t *bad_pos) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    /* Skip ASCII sixteen bytes at a time (SSE2, which every x86-64 has) or
     * eight, and in mixed text straight to the next non-ASCII byte. */
#ifdef __SSE2__
    if (n - i >= 16) {
      int mask = _mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + i)));
      if (!mask) {
        i += 16;
        continue;
      }
      i += (size_t)__builtin_ctz((unsigned)mask);
    }
#endif
    if (n - i >= 8) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      if (!(w & UINT64_C(0x8080808080808080))) {
        i += 8;
        continue;
      }
    }
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    /* A run of non-ASCII characters (a word of Cyrillic or CJK) is taken
     * character by character here, without the ASCII tests in between. */
    do {
      /* Lead byte decides the length and the range of the second byte, which
       * is what rules out overlongs, surrogates and > U+10FFFF (Unicode
       * Table 3-7). */
      unsigned c = p[i];
      size_t len;
      unsigned lo = 0x80, hi = 0xBF;
      if (c >= 0xC2 && c <= 0xDF)
        len = 2;
      else if (c == 0xE0)
        len = 3, lo = 0xA0;
      else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        len = 3;
      else if (c == 0xED)
        len = 3, hi = 0x9F;
      else if (c == 0xF0)
        len = 4, lo = 0x90;
      else if (c >= 0xF1 && c <= 0xF3)
        len = 4;
      else if (c == 0xF4)
        len = 4, hi = 0x8F;
      else
        goto bad;
      if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) goto bad;
      for (size_t k = 2; k < len; k++)
        if ((p[i + k] & 0xC0) != 0x80) goto bad;
      i += len;
    } while (i < n && p[i] >= 0x80);
  }
  return 1;
bad:
  if (bad_pos) *bad_pos = i;
  return 0;
}

int lacuna_utf8_encode(uint32_t cp, char *o) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

int lacuna_hex_digit(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

size_t lacuna_utf8_count(const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
  return k;
}
