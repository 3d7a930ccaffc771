/* The hand-coded Llama 3 / Qwen split (core/tokenizer/scan.c) against PCRE2
 * running the same pattern (tk_find_matches): the same matches for every code
 * point in contexts that exercise each alternative, and for random strings of
 * awkward chars (contractions in both cases and with U+017F, every kind of
 * White_Space, \r\n runs, digits of several scripts, marks, emoji, code points
 * Unicode 15 added, unassigned ones), with and without the Unicode 15 classes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tokenizer/internal.h"

static const char *const PATTERNS[2] = {tk_scan_llama3_pattern, tk_scan_qwen_pattern};

static tk_scratch *S;
static tk_regex re[2];
static tk_scan *scan[2];
static long compared, mismatches;

static void compare_text(int which, const char *s, size_t n, int unicode15) {
  char err[256];
  tk_err e = {err, sizeof err};
  tk_match *a, *b;
  size_t na, nb;
  S->unicode15 = unicode15;
  int ra = tk_find_matches(&re[which], S, s, n, &a, &na, &e);
  int rb = tk_scan_matches(scan[which], S, s, n, &b, &nb, &e);
  compared++;
  int same = ra == 0 && rb == 0 && na == nb;
  for (size_t i = 0; same && i < na; i++) /* field by field: the struct has padding */
    same = a[i].s == b[i].s && a[i].e == b[i].e && a[i].m == b[i].m;
  if (same) {
    tk_arena_reset(&S->A);
    return;
  }
  if (mismatches++ < 10) {
    fprintf(stderr, "pattern %d, unicode15 %d: scan differs from PCRE2 on \"", which, unicode15);
    for (size_t i = 0; i < n; i++) fprintf(stderr, "\\x%02X", (unsigned char)s[i]);
    fprintf(stderr, "\"\n  PCRE2:");
    for (size_t i = 0; ra == 0 && i < na; i++)
      fprintf(stderr, " [%u,%u)%s", a[i].s, a[i].e, a[i].m ? "" : "-");
    fprintf(stderr, "\n  scan: ");
    for (size_t i = 0; rb == 0 && i < nb; i++)
      fprintf(stderr, " [%u,%u)%s", b[i].s, b[i].e, b[i].m ? "" : "-");
    fprintf(stderr, "\n");
  }
  tk_arena_reset(&S->A);
}

static void compare(const uint32_t *cps, size_t ncp, int both_tables) {
  char s[512];
  size_t n = 0;
  int added = 0;
  for (size_t i = 0; i < ncp && n + 4 <= sizeof s; i++) {
    n += (size_t)tk_utf8_enc(cps[i], s + n);
    added |= tk_is_added_cp(cps[i]);
  }
  for (int w = 0; w < 2; w++) {
    compare_text(w, s, n, added); /* the tables the encoder picks for this text */
    if (both_tables) compare_text(w, s, n, !added);
  }
}

static const uint32_t AWKWARD[] = {
    'a',    'Z',     's',     'S',     't',     'T',     'r',    'R',    'e',      'E',     'v',     'V',
    'm',    'M',     'l',     'L',     'd',     'D',     'k',    '\'',   '\'',     '\'',    ' ',     ' ',
    ' ',    '\t',    '\n',    '\n',    '\r',    0x0B,    0x0C,   0x1C,   0x1F,     '0',     '7',     '9',
    '.',    ',',     '!',     '-',     '_',     '"',     '(',    0x017F, 0x212A,   0x0085,  0x00A0,  0x1680,
    0x180E, 0x2000,  0x200A,  0x200B,  0x2028,  0x2029,  0x202F, 0x205F, 0x3000,   0xFEFF,  0x4E2D,  0x6587,
    0x0627, 0x0644,  0x0663,  0x00B2,  0x216B,  0x2460,  0x0301, 0x0308, 0x093F,   0x1F600, 0x1F468, 0x200D,
    0xFE0F, 0x1F3FB, 0x1E030, 0x11F04, 0x11F50, 0x0378,  0xE000, 0xFFFD, 0x10FFFF, 0x00E9,  0x00DF,  0x01C5,
    0x02B0, 0x3005,  0x0E01,  0x0E31,  0x1D7CE, 0x10107, 0x00AD, 0x061C, 0x2066,
};
#define NAWK (sizeof AWKWARD / sizeof *AWKWARD)

int main(void) {
  S = tk_scratch_new();
  CHECK(S != NULL);
  if (!S) return CHECK_DONE();
  char err[256];
  tk_err e = {err, sizeof err};
  for (int w = 0; w < 2; w++) {
    CHECK(tk_regex_compile(&re[w], PATTERNS[w], strlen(PATTERNS[w]), 0, &e) == 0);
    CHECK(tk_scan_new(&scan[w], PATTERNS[w], strlen(PATTERNS[w]), &e) == 0);
    CHECK(scan[w] != NULL);
  }
  tk_scan *other = NULL;
  CHECK(tk_scan_new(&other, "\\s+", 3, &e) == 0 && other == NULL); /* not a pattern it knows */
  if (!scan[0] || !scan[1]) return CHECK_DONE();

  /* every scalar value, where each alternative could take it or stop at it */
  for (uint32_t c = 0; c <= 0x10FFFF; c++) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    const uint32_t ctx[] = {'\'', c, 'x', c, c, ' ', c, '1', c, '\n', c, ' ', ' ', c, '.', c, ' ', c};
    compare(ctx, sizeof ctx / sizeof *ctx, 0);
  }
  /* random strings of awkward chars, reproducible */
  uint64_t x = 0x2545F4914F6CDD1Dull;
  for (int t = 0; t < 200000; t++) {
    uint32_t cps[20];
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    size_t n = 1 + (size_t)(x % 20);
    for (size_t i = 0; i < n; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      cps[i] = AWKWARD[x % NAWK];
    }
    compare(cps, n, 1);
  }
  compare(NULL, 0, 1); /* the empty text */
  CHECK(compared > 2000000);
  CHECK(mismatches == 0);
  for (int w = 0; w < 2; w++) {
    tk_regex_free(&re[w]);
    tk_scan_free(scan[w]);
  }
  tk_scratch_free(S);
  return CHECK_DONE();
}
