/* Segmenting: greedy packing of whole sentences into segments of at most N
 * tokens, each candidate counted exactly as the text it would be (counts do
 * not add up across a join, so a sum is never trusted). A sentence longer
 * than N is packed from its words the same way; a word longer than N is cut
 * at the longest code point prefix that fits (binary search). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

static int push(lacuna_pieces *p, size_t start, size_t end, size_t tokens) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    lacuna_piece *v = realloc(p->v, cap * sizeof *v);
    if (!v) return -1;
    p->v = v;
    p->cap = cap;
  }
  p->v[p->n++] = (lacuna_piece){start, end, tokens};
  return 0;
}

void lacuna_pieces_free(lacuna_pieces *p) {
  free(p->v);
  p->v = NULL;
  p->n = p->cap = 0;
}

static int oom(lacuna_counter *c) {
  snprintf(c->err, sizeof c->err, "out of memory");
  return -1;
}

/* Cuts [a, b), a word longer than max, into prefixes that fit. */
static int split_chars(lacuna_counter *c, const char *s, size_t a, size_t b, size_t max, lacuna_pieces *out) {
  while (a < b) {
    size_t lo = lacuna_next_char(s, b, a), hi = b, best = lo, best_tokens, t;
    if (lacuna_count(c, s + a, lo - a, &best_tokens) < 0) return -1;
    while (lo < hi) { /* the longest prefix with <= max tokens; one character at least */
      size_t mid = lo + (hi - lo + 1) / 2;
      while (mid < hi && ((unsigned char)s[mid] & 0xC0) == 0x80) mid++;
      if (lacuna_count(c, s + a, mid - a, &t) < 0) return -1;
      if (t <= max) {
        best = lo = mid;
        best_tokens = t;
      } else {
        hi = mid - 1;
        while (hi > lo && ((unsigned char)s[hi] & 0xC0) == 0x80) hi--;
      }
    }
    if (push(out, a, best, best_tokens) < 0) return oom(c);
    a = best;
  }
  return 0;
}

typedef int (*next_unit_fn)(const char *s, size_t n, size_t pos, size_t *start, size_t *end);

/* Packs the units of [a, b) (sentences or words) greedily. */
static int pack(lacuna_counter *c, const char *s, size_t a, size_t b, size_t max, int level,
                lacuna_pieces *out) {
  next_unit_fn next = level == 0 ? lacuna_next_sentence : lacuna_next_word;
  size_t ua, ub, cur_a = 0, cur_b = 0, cur_t = 0, t;
  int open = 0;
  for (size_t pos = a; next(s, b, pos, &ua, &ub);) {
    if (!open) {
      if (lacuna_count(c, s + ua, ub - ua, &t) < 0) return -1;
      if (t > max) {
        int rc = level == 0 ? pack(c, s, ua, ub, max, 1, out) : split_chars(c, s, ua, ub, max, out);
        if (rc < 0) return -1;
      } else {
        open = 1;
        cur_a = ua, cur_b = ub, cur_t = t;
      }
      pos = ub;
      continue;
    }
    if (lacuna_count(c, s + cur_a, ub - cur_a, &t) < 0) return -1;
    if (t <= max) {
      cur_b = ub, cur_t = t;
      pos = ub;
    } else {
      if (push(out, cur_a, cur_b, cur_t) < 0) return oom(c);
      open = 0;
      pos = ua; /* this unit starts the next segment */
    }
  }
  if (open && push(out, cur_a, cur_b, cur_t) < 0) return oom(c);
  return 0;
}

int lacuna_segment(lacuna_counter *c, const char *s, size_t n, size_t max_tokens, lacuna_pieces *out) {
  if (max_tokens == 0) {
    snprintf(c->err, sizeof c->err, "max_tokens must be >= 1");
    return -1;
  }
  return pack(c, s, 0, n, max_tokens, 0, out);
}
