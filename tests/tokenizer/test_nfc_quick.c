/* NFC's quick path (core/tokenizer/normalize.c: only the windows around chars
 * that may change are normalized, and a text of "stable" chars is left as it
 * is) against the full algorithm over the whole text: same bytes, same
 * alignments to the original, for every code point in contexts that compose,
 * reorder and block, and for random strings of chars chosen to be awkward. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tokenizer/internal.h"

static tk_scratch *S;
static long compared, mismatches;

/* Alignments as the encoder builds them: each byte maps to its char's range. */
static void make_ns(const char *s, size_t n, tk_al *al, tk_ns *ns) {
  for (size_t i = 0; i < n;) {
    size_t l = (size_t)tk_utf8_len((unsigned char)s[i]);
    if (i + l > n) l = n - i;
    for (size_t k = 0; k < l; k++) al[i + k] = (tk_al){(uint32_t)i, (uint32_t)(i + l)};
    i += l;
  }
  *ns = (tk_ns){s, al, (uint32_t)n, 0};
}

static void compare(const uint32_t *cps, size_t ncp) {
  char s[256];
  tk_al al[256];
  size_t n = 0;
  for (size_t i = 0; i < ncp && n + 4 <= sizeof s; i++) n += (size_t)tk_utf8_enc(cps[i], s + n);
  tk_ns quick, full;
  make_ns(s, n, al, &quick);
  full = quick;
  char err[128];
  tk_err e = {err, sizeof err};
  int rq = tk_unorm(S, &quick, 0, 1, 1, &e), rf = tk_unorm(S, &full, 0, 1, 0, &e);
  compared++;
  int same = rq == 0 && rf == 0 && quick.len == full.len && memcmp(quick.p, full.p, full.len) == 0 &&
             memcmp(quick.al, full.al, full.len * sizeof *full.al) == 0;
  if (!same && mismatches++ < 10) {
    fprintf(stderr, "NFC quick path differs for");
    for (size_t i = 0; i < ncp; i++) fprintf(stderr, " U+%04X", (unsigned)cps[i]);
    fprintf(stderr, " (quick %u bytes, full %u bytes)\n", quick.len, full.len);
  }
  tk_arena_reset(&S->A);
}

/* Chars that compose, decompose, reorder or block in ways NFC cares about. */
static const uint32_t AWKWARD[] = {
    'a',
    'e',
    'A',
    ' ',
    '\n',
    0xE9,
    0xEB,
    0xC5,
    0x212B,
    0x2126,
    0x0301,
    0x0308,
    0x0323,
    0x0316,
    0x0327,
    0x0345,
    0x0344,
    0x0340,
    0x0958,
    0x0915,
    0x093C,
    0x0F73,
    0x0F71,
    0x0F72,
    0x0B47,
    0x0B3E,
    0x0B56,
    0x0B4B,
    0x1100,
    0x1161,
    0x11A8,
    0xAC00,
    0xAC01,
    0xD7A3,
    0x1E0B,
    0x1E0D,
    0x1EC7,
    0x01D6,
    0x0041,
    0x030A,
    0x05B0,
    0x064B,
    0x0650,
    0x0627,
    0x0653,
    0x0622,
    0x3099,
    0x304B,
    0x304C,
    0x309A,
    0x4E00,
    0x200D,
    0x1F468,
    0x1F469,
    0xFE0F,
    0x1F3FB,
    0x0DD9,
    0x0DCF,
    0x0DDA,
    0x1B05,
    0x1B35,
    0x1B06,
    0x0CBF,
    0x0CD5,
    0x0CC0,
    0x2ADC,
    0x0338,
    0x226E,
    0x003C,
    0xFB2C,
    0x05C1,
    0x05BC,
    0x11099,
    0x110BA,
    0x1109A,
    0x1D15E,
    0x1D165,
    0x1D16E,
    0x0E40,
    0x0E48,
    0x10FFFF,
    0xE0001,
    0x0378,
    0xFFFD,
    0x1E900,
    0x1E944,
    0x16FF0,
    0x0C48,
    /* marks that compose with nothing, of many classes: they stay unless out of order */
    0x094D,
    0x05B4,
    0x0651,
    0x0652,
    0x0E38,
    0x1DCE,
    0x0315,
    0x035C,
    0x0360,
    0x302A,
    0x0319,
    0x0F71,
    0x0F72,
    0x0E49,
    0x0670,
    0x0654,
    0x0655,
};
#define NAWK (sizeof AWKWARD / sizeof *AWKWARD)

int main(void) {
  S = tk_scratch_new();
  CHECK(S != NULL);
  if (!S) return CHECK_DONE();

  /* every scalar value, between and before chars it may compose or reorder with */
  for (uint32_t c = 0x80; c <= 0x10FFFF; c++) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    const uint32_t ctx[] = {'e', c, 0x0301, c, 0x1161, 0x0323, c, 0x11A8, 'x', c, 0x0308, 0x0316, c};
    compare(ctx, sizeof ctx / sizeof *ctx);
    const uint32_t pre[] = {c, 'a', 0x1100, c, 0xAC00, c, 0x0B47, c};
    compare(pre, sizeof pre / sizeof *pre);
    /* after and before runs of 8+ ASCII chars (skipped 8 bytes at a time) */
    /* after marks of each order, and before them */
    const uint32_t marks[] = {'a', 0x0316, c, 0x064B, 0x0E48, c, 0x0308, 'e', c, 0x05B0, 0x0301, c, 0x0315};
    compare(marks, sizeof marks / sizeof *marks);
    const uint32_t runs[] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', c, 0x0301,
                             's', 't', 'u', 'v', 'w', 'x', 'y', 'z', c};
    compare(runs, sizeof runs / sizeof *runs);
  }
  /* random strings of awkward chars, reproducible */
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int t = 0; t < 300000; t++) {
    uint32_t cps[24];
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    size_t n = 1 + (size_t)(x % 24);
    for (size_t i = 0; i < n; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      cps[i] = AWKWARD[x % NAWK];
    }
    compare(cps, n);
  }
  CHECK(compared > 4000000);
  CHECK(mismatches == 0);
  tk_scratch_free(S);
  return CHECK_DONE();
}
