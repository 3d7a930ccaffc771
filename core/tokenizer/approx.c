/* The approximate token counter (lacuna.tokenizer.approximate): one pass over
 * the bytes, no vocabulary. Calibrated against Llama 3 on the conformance
 * corpora (tests/bench/run_approx.sh measures it): a run of ASCII letters is
 * one token plus one per 9 letters, digits go by three, a newline run is one
 * token, extra spaces one per 8, other ASCII punctuation 0.6 each, a CJK
 * ideograph 1.25, kana and Hangul 0.9, any other character one token per two
 * UTF-8 bytes.
 *
 * lacuna_approx_prefix gives the counts of growing prefixes of one text in a
 * single pass (context assembly asks for many): the same sum, added in the
 * same order, as counting each prefix on its own. */
#include <math.h>

#include "approx.h"
#include "tokenizer.h"

static int is_alpha(unsigned char c) { return (unsigned char)((c | 0x20) - 'a') < 26; }
static int is_digit(unsigned char c) { return (unsigned char)(c - '0') < 10; }

/* The run starting at s[i] (i < n): its end in *end and its tokens. Inlined:
 * it is the counter's whole loop body. */
__attribute__((always_inline)) static inline double run(const unsigned char *s, size_t n, size_t i,
                                                        size_t *end) {
  unsigned char c = s[i];
  size_t j = i + 1;
  double t = 0;
  if (is_alpha(c)) {
    while (j < n && is_alpha(s[j])) j++;
    t = 1 + (double)((j - i) / 9);
  } else if (is_digit(c)) {
    while (j < n && is_digit(s[j])) j++;
    t = (double)((j - i + 2) / 3);
  } else if (c == '\n') {
    while (j < n && s[j] == '\n') j++;
    t = 1;
  } else if (c == ' ') {
    while (j < n && s[j] == ' ') j++;
    t = (double)(j - i - 1) / 8;
  } else if (c < 0x80) {
    if (c > ' ' && c != 0x7F) t = 0.6;
  } else if (c >= 0xE0 && c < 0xF0 && i + 2 < n) {
    unsigned cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
    j = i + 3;
    if (cp >= 0x4E00 && cp <= 0x9FFF)
      t = 1.25;
    else if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0xAC00 && cp <= 0xD7AF))
      t = 0.9;
    else
      t = 1.5;
  } else {
    while (j < n && (s[j] & 0xC0) == 0x80) j++;
    t = (double)(j - i) / 2;
  }
  *end = j;
  return t;
}

size_t lacuna_tokens_approx(const char *text, size_t n) {
  const unsigned char *s = (const unsigned char *)text;
  double t = 0;
  for (size_t i = 0, j; i < n; i = j) t += run(s, n, i, &j);
  return (size_t)floor(t + 0.5);
}

void lacuna_approx_scan_init(lacuna_approx_scan *a, const char *s, size_t n) {
  a->s = s;
  a->n = n;
  a->at = 0;
  a->sum = 0;
}

size_t lacuna_approx_prefix(lacuna_approx_scan *a, size_t p) {
  const unsigned char *s = (const unsigned char *)a->s;
  size_t j;
  if (p > a->n) p = a->n;
  /* Whole runs that end by p count as they do in any prefix reaching p. */
  while (a->at < p) {
    double t = run(s, a->n, a->at, &j);
    if (j > p) break;
    a->sum += t;
    a->at = j;
  }
  double t = a->sum;
  if (a->at < p) t += run(s, p, a->at, &j); /* the run p cuts, as counting s[0..p) sees it */
  return (size_t)floor(t + 0.5);
}
