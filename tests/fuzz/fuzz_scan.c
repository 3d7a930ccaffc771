/* Fuzz target: the hand-coded Llama 3 / Qwen split (core/tokenizer/scan.c)
 * against PCRE2 running the same patterns (tk_find_matches). The input is any
 * bytes, repaired to valid UTF-8 as the encoder repairs its text; both
 * matchers must give the same matches for both patterns, with the Unicode 15
 * classes and without. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/internal.h"

static const char *const PATTERNS[2] = {tk_scan_llama3_pattern, tk_scan_qwen_pattern};

static tk_scratch *S;
static tk_regex re[2];
static tk_scan *scan[2];

static void setup(void) {
  char err[256];
  tk_err e = {err, sizeof err};
  S = tk_scratch_new();
  if (!S) abort();
  for (int w = 0; w < 2; w++)
    if (tk_regex_compile(&re[w], PATTERNS[w], strlen(PATTERNS[w]), 0, &e) < 0 ||
        tk_scan_new(&scan[w], PATTERNS[w], strlen(PATTERNS[w]), &e) < 0 || !scan[w])
      abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!S) setup();
  size_t n;
  int oom;
  char *fixed = tk_utf8_lossy((const char *)data, size, &n, &oom);
  if (oom) return 0;
  const char *s = fixed ? fixed : (const char *)data;
  char err[256];
  tk_err e = {err, sizeof err};
  for (int w = 0; w < 2; w++)
    for (int u15 = 0; u15 < 2; u15++) {
      tk_match *a, *b;
      size_t na, nb;
      S->unicode15 = u15;
      if (tk_find_matches(&re[w], S, s, n, &a, &na, &e) < 0) abort();
      if (tk_scan_matches(scan[w], S, s, n, &b, &nb, &e) < 0) abort();
      if (na != nb) abort();
      for (size_t i = 0; i < na; i++) /* field by field: the struct has padding */
        if (a[i].s != b[i].s || a[i].e != b[i].e || a[i].m != b[i].m) abort();
      tk_arena_reset(&S->A);
    }
  free(fixed);
  return 0;
}
