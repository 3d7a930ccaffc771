/* Prefix counts under the approximate counter (approx.c), in one pass: what
 * context assembly needs when it looks for the longest prefix of a text that
 * fits a budget, or the token position of each sentence end. */
#ifndef LACUNA_APPROX_H
#define LACUNA_APPROX_H

#include <stddef.h>

typedef struct {
  const char *s;
  size_t n;
  size_t at;  /* the start of the first run not yet summed */
  double sum; /* the runs before it, added in order */
} lacuna_approx_scan;

void lacuna_approx_scan_init(lacuna_approx_scan *a, const char *s, size_t n);
/* lacuna_tokens_approx(s, p), for p at or after the previous call's p (p
 * beyond n counts as n). */
size_t lacuna_approx_prefix(lacuna_approx_scan *a, size_t p);

#endif
