/* One counting interface over the exact tokenizer and the approximate
 * counter, and the byte -> token index map over an exact encoding. */
#include <stdio.h>

#include "text.h"

void lacuna_counter_init(lacuna_counter *c, const lacuna_tokenizer *tok) {
  c->tok = tok;
  lacuna_encoding_init(&c->enc);
  c->err[0] = '\0';
}

void lacuna_counter_free(lacuna_counter *c) { lacuna_encoding_free(&c->enc); }

int lacuna_count(lacuna_counter *c, const char *s, size_t n, size_t *tokens) {
  if (!c->tok) {
    *tokens = lacuna_tokens_approx(s, n);
    return 0;
  }
  if (lacuna_tokenizer_encode(c->tok, s, n, 0, &c->enc, c->err, sizeof c->err) < 0) return -1;
  *tokens = c->enc.n;
  return 0;
}

size_t lacuna_token_at(const lacuna_encoding *e, size_t b) {
  size_t lo = 0, hi = e->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (e->byte_end[mid] <= b)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}
