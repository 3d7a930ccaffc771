/* Context assembly: fillers drawn from the pool (without replacement,
 * excluding the needles' documents) up to a haystack budget, the last one
 * trimmed at a word boundary, each needle put at the sentence boundary
 * nearest its depth (as RULER inserts needles between sentences), pieces
 * joined with the separator.
 *
 * Counting: with a tokenizer the assembled text is encoded, so the total and
 * the needles' token offsets are exact whatever merges happen across joins;
 * the budget is then corrected by the difference and the context rebuilt
 * until the total lies in [target - 16, target] (two or three encodes). With
 * the approximate counter the total is the sum of the pieces' counts plus one
 * separator count per join (the counter is an estimate; summing keeps the
 * assembly at memory speed). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define SLACK 16

typedef struct {
  size_t k, b;   /* before byte b of filler k (k == m: after the last filler) */
  size_t j;      /* needle index */
  size_t before; /* approximate counter: tokens of filler k's bytes before b */
} spot;

#define FEW_NEEDLES 8 /* their scratch arrays live on the stack */

typedef struct {
  lacuna_pool *p;
  lacuna_counter *c;
  lacuna_rng *g;
  lacuna_draw draw;
  size_t *fill, nfill, capfill; /* drawn slots, in order */
  size_t m;                     /* fillers used */
  size_t last_len, last_tokens; /* the used prefix of filler m - 1 */
  size_t hay, bytes;            /* tokens (joins included) and bytes of the m fillers */
  size_t sep_t;
  spot *spots;
  size_t *ends, capends; /* word ends, for trim */
  char *err;
  size_t errlen;
} build;

static int fail(build *b, const char *msg) {
  snprintf(b->err, b->errlen, "%s", msg);
  return -1;
}

static int count(build *b, const char *s, size_t n, size_t *t) {
  if (lacuna_count(b->c, s, n, t) < 0) return fail(b, b->c->err);
  return 0;
}

static size_t filler_len(const build *b, size_t k) {
  return k + 1 == b->m ? b->last_len : b->p->seg[b->fill[k]].len;
}
static size_t filler_tokens(const build *b, size_t k) {
  return k + 1 == b->m ? b->last_tokens : b->p->seg[b->fill[k]].tokens;
}
static const char *filler_text(const build *b, size_t k) { return lacuna_pool_text(b->p, b->fill[k]); }

/* render starts fetching a filler's text this many fillers before it copies
 * it (a software pipeline): the copies overlap the fetches, and the fetched
 * lines are still in cache when copied (fetching all ~350 first, while
 * planning, was ~10% slower: tests/bench/run_text.sh). */
#define PREFETCH_AHEAD 16
static inline void prefetch_text(const lacuna_pool *p, const lacuna_segment_rec *r) {
  if (r->len) /* every cache line the text touches, the last partial one included */
    for (uintptr_t a = (uintptr_t)(p->arena + r->off) & ~(uintptr_t)63,
                   z = (uintptr_t)(p->arena + r->off + r->len - 1);
         a <= z; a += 64)
      __builtin_prefetch((const void *)a);
}

/* Draws one more filler; 0, or -1 when the pool has none left. */
static int draw_one(build *b) {
  size_t slot = lacuna_draw_next(&b->draw, b->p, b->g);
  if (slot == SIZE_MAX)
    return fail(b, "the pool has too few segments outside the excluded documents to reach the target");
  if (slot == SIZE_MAX - 1) return fail(b, "out of memory");
  if (b->nfill == b->capfill) {
    size_t cap = b->capfill ? b->capfill * 2 : 64;
    size_t *v = realloc(b->fill, cap * sizeof *v);
    if (!v) return fail(b, "out of memory");
    b->fill = v;
    b->capfill = cap;
  }
  b->fill[b->nfill++] = slot;
  return 0;
}

/* Do the first k words of s (k >= 1) fit in budget? 1 yes, 0 no, -1 error. */
static int fits(build *b, const char *s, size_t k, size_t budget, size_t *t) {
  if (count(b, s, b->ends[k - 1], t) < 0) return -1;
  return *t <= budget;
}

/* The next word, ending at z, is many tokens long (a formula, a URL, CJK
 * without spaces): cut inside it at the longest code point prefix that fits. */
static int cut_word(build *b, const char *s, size_t z, size_t budget, size_t *len, size_t *tokens) {
  size_t a = *len;
  while (a < z && (s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\r')) a++;
  for (size_t l = lacuna_next_char(s, z, a), h = z; l < h;) {
    size_t mid = l + (h - l + 1) / 2, t;
    while (mid < h && ((unsigned char)s[mid] & 0xC0) == 0x80) mid++;
    if (count(b, s, mid, &t) < 0) return -1;
    if (t <= budget) {
      l = mid;
      *len = mid;
      *tokens = t;
    } else {
      h = mid - 1;
      while (h > l && ((unsigned char)s[h] & 0xC0) == 0x80) h--;
    }
  }
  return 0;
}

/* Approximate counter: the word ends in order, each prefix counted in one
 * pass (lacuna_approx_prefix), up to the first that does not fit. Counts
 * only grow with the prefix, so this is the prefix the bisection below finds. */
static void fit_words_approx(const char *s, size_t n, size_t budget, size_t *len, size_t *tokens,
                             size_t *next_end) {
  lacuna_approx_scan a;
  lacuna_approx_scan_init(&a, s, n);
  *next_end = 0;
  size_t ws, we;
  for (size_t pos = 0; lacuna_next_word(s, n, pos, &ws, &we); pos = we) {
    size_t t = lacuna_approx_prefix(&a, we);
    if (t > budget) {
      *next_end = we;
      return;
    }
    *len = we, *tokens = t;
  }
}

/* The longest word-boundary prefix of s[0..n) (full_tokens in all) with at
 * most budget tokens. */
static int trim(build *b, const char *s, size_t n, size_t full_tokens, size_t budget, size_t *len,
                size_t *tokens) {
  size_t ne = 0, ws, we, z;
  *len = 0;
  *tokens = 0;
  if (!b->c->tok) {
    fit_words_approx(s, n, budget, len, tokens, &z);
    if (z == 0 || budget - *tokens <= 4) return 0;
    return cut_word(b, s, z, budget, len, tokens);
  }
  for (size_t pos = 0; lacuna_next_word(s, n, pos, &ws, &we); pos = we) {
    if (ne == b->capends) {
      size_t cap = b->capends ? b->capends * 2 : 256;
      size_t *v = realloc(b->ends, cap * sizeof *v);
      if (!v) return fail(b, "out of memory");
      b->ends = v;
      b->capends = cap;
    }
    b->ends[ne++] = we;
  }
  /* The largest lo whose first lo words fit: guess from the filler's
   * tokens per word, gallop to bracket it, then bisect (counts grow with the
   * prefix, so this finds what a plain bisection finds, in fewer counts). */
  size_t lo = 0, hi = ne, t;
  if (ne == 0) return 0;
  size_t guess = full_tokens ? (size_t)((double)ne * (double)budget / (double)full_tokens) : ne;
  guess = guess < 1 ? 1 : guess > ne ? ne : guess;
  int rc = fits(b, s, guess, budget, &t);
  if (rc < 0) return -1;
  if (rc) {
    lo = guess, *len = b->ends[guess - 1], *tokens = t;
    for (size_t step = 1; lo < hi; step *= 2) {
      size_t c = lo + step < hi ? lo + step : hi;
      if ((rc = fits(b, s, c, budget, &t)) < 0) return -1;
      if (!rc) {
        hi = c - 1;
        break;
      }
      lo = c, *len = b->ends[c - 1], *tokens = t;
    }
  } else {
    hi = guess - 1;
    for (size_t step = 1; lo < hi; step *= 2) {
      size_t c = hi > lo + step ? hi - step : lo + 1;
      if ((rc = fits(b, s, c, budget, &t)) < 0) return -1;
      if (rc) {
        lo = c, *len = b->ends[c - 1], *tokens = t;
        break;
      }
      hi = c - 1;
    }
  }
  while (lo < hi) {
    size_t mid = lo + (hi - lo + 1) / 2;
    if ((rc = fits(b, s, mid, budget, &t)) < 0) return -1;
    if (rc) {
      lo = mid, *len = b->ends[mid - 1], *tokens = t;
    } else {
      hi = mid - 1;
    }
  }
  if (lo == ne || budget - *tokens <= 4) return 0;
  return cut_word(b, s, b->ends[lo], budget, len, tokens);
}

/* Chooses the fillers for a haystack of about goal tokens: whole segments,
 * the last one trimmed to what is left of the goal. */
static int plan_fillers(build *b, long long goal) {
  b->m = 0;
  b->hay = b->bytes = 0;
  if (goal <= 0) return 0;
  long long sum = 0;
  size_t bytes = 0;
  /* Each filler adds at most this many tokens: while what is left of the
   * goal is more than the drawn slots can fill, more are surely needed and
   * the draw may fetch its next batch early (lacuna_draw_early). */
  long long most = (long long)b->p->max_tokens + (long long)b->sep_t;
  for (size_t k = 0;; k++) {
    if (k == b->nfill) {
      size_t left = lacuna_draw_left(&b->draw);
      if (left <= DRAW_EARLY && goal - sum > (long long)left * most &&
          lacuna_draw_early(&b->draw, b->p, b->g) == SIZE_MAX - 1)
        return fail(b, "out of memory");
      if (draw_one(b) < 0) return -1;
    }
    const lacuna_segment_rec *r = &b->p->seg[b->fill[k]];
    long long join = k ? (long long)b->sep_t : 0;
    if (sum + join + (long long)r->tokens < goal) {
      sum += join + (long long)r->tokens;
      bytes += r->len;
      continue;
    }
    long long budget = goal - sum - join;
    size_t len = r->len, t = r->tokens;
    if (budget < (long long)r->tokens) {
      len = t = 0;
      if (budget > 0 &&
          trim(b, lacuna_pool_text(b->p, b->fill[k]), r->len, r->tokens, (size_t)budget, &len, &t) < 0)
        return -1;
    }
    if (len > 0) {
      b->m = k + 1;
      b->last_len = len;
      b->last_tokens = t;
      b->hay = (size_t)(sum + join) + t;
      b->bytes = bytes + len;
    } else {
      if ((b->m = k) > 0) {
        b->last_len = b->p->seg[b->fill[k - 1]].len;
        b->last_tokens = b->p->seg[b->fill[k - 1]].tokens;
      }
      b->hay = (size_t)sum;
      b->bytes = bytes;
    }
    return 0;
  }
}

/* Token position of each sentence end inside filler k; picks the spot nearest pos. */
static int place(build *b, size_t j, double pos, spot *out) {
  size_t start = 0;
  for (size_t k = 0; k < b->m; k++) {
    size_t t = filler_tokens(b, k), end = start + t;
    /* <=: a needle at depth 0 goes first, even before a filler of 0 tokens */
    if (pos <= (double)end || k + 1 == b->m) {
      const char *s = filler_text(b, k);
      size_t n = filler_len(b, k), best_b = 0, best_t = 0, ss, se;
      double best = fabs(pos - (double)start);
      if (fabs((double)end - pos) < best) best = fabs((double)end - pos), best_b = n;
      lacuna_approx_scan a; /* approximate counter: the prefixes in one pass */
      lacuna_approx_scan_init(&a, s, n);
      for (size_t at = 0; lacuna_next_sentence(s, n, at, &ss, &se) && se < n; at = se) {
        size_t pt;
        if (!b->c->tok)
          pt = lacuna_approx_prefix(&a, se);
        else if (count(b, s, se, &pt) < 0)
          return -1;
        double d = fabs((double)(start + pt) - pos);
        if (d < best) best = d, best_b = se, best_t = pt;
        if ((double)(start + pt) > pos) break;
      }
      *out = best_b == n ? (spot){k + 1, 0, j, 0} : (spot){k, best_b, j, best_t};
      return 0;
    }
    start = end + b->sep_t;
  }
  *out = (spot){b->m, 0, j, 0};
  return 0;
}

static int spot_cmp(const void *x, const void *y) {
  const spot *a = x, *c = y;
  if (a->k != c->k) return a->k < c->k ? -1 : 1;
  if (a->b != c->b) return a->b < c->b ? -1 : 1;
  return a->j < c->j ? -1 : a->j > c->j;
}

/* Room for n more bytes: render asks once for the whole text, so pieces are
 * then copied without a check each. */
static int reserve(lacuna_context *o, size_t n) {
  if (o->cap - o->len >= n) return 0;
  size_t cap = o->cap ? o->cap : 1 << 16;
  while (cap - o->len < n) cap *= 2;
  char *t = realloc(o->text, cap);
  if (!t) return -1;
  o->text = t;
  o->cap = cap;
  return 0;
}

static void put(lacuna_context *o, const char *s, size_t n) {
  if (n == 1)
    o->text[o->len] = *s; /* the usual separator */
  else
    memcpy(o->text + o->len, s, n);
  o->len += n;
}

typedef struct {
  size_t npieces, tokens; /* approximate mode: the running sum */
} emitter;

/* Appends one piece (with the separator before it) into the room render
 * reserved; needles record their span. */
static void emit(const build *b, lacuna_context *o, emitter *e, const lacuna_context_opts *opts,
                 const char *s, size_t n, size_t tokens, lacuna_needle *needle) {
  if (n == 0 && !needle) return;
  if (e->npieces++) {
    put(o, opts->sep, opts->sep_len);
    e->tokens += b->sep_t;
  }
  if (needle) {
    needle->byte_start = o->len;
    needle->byte_end = o->len + n;
    needle->token = e->tokens;
    needle->tokens = tokens;
  }
  put(o, s, n);
  e->tokens += tokens;
}

static size_t skip_space(const char *s, size_t n, size_t i) {
  while (i < n &&
         (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v'))
    i++;
  return i;
}

/* Writes the text: fillers in order, each needle at its spot. */
static int render(build *b, lacuna_needle *nd, size_t nn, const size_t *ntok, const lacuna_context_opts *opts,
                  lacuna_context *o) {
  emitter e = {0, 0};
  int exact = b->c->tok != NULL;
  o->len = 0;
  /* at most m + 2 nn pieces: fillers, needles, and a filler split by each needle */
  size_t need = (b->m + 2 * nn) * opts->sep_len + b->bytes;
  for (size_t j = 0; j < nn; j++) need += nd[j].len;
  if (reserve(o, need) < 0) return fail(b, "out of memory");
  size_t q = 0;
  size_t ahead = 0; /* fillers whose text fetch has been started */
  for (size_t k = 0; k <= b->m; k++) {
    /* Whole fillers up to the next spot or the last filler (most of them):
     * copied in a tight loop, their counts from the pool. */
    size_t stop = q < nn && b->spots[q].k < b->m ? b->spots[q].k : b->m ? b->m - 1 : 0;
    if (k < stop) {
      const lacuna_segment_rec *seg = b->p->seg;
      const char *arena = b->p->arena;
      char *dst = o->text + o->len;
      size_t tokens = e.tokens;
      for (; k < stop; k++) {
        for (; ahead < b->m && ahead < k + PREFETCH_AHEAD; ahead++) prefetch_text(b->p, &seg[b->fill[ahead]]);
        const lacuna_segment_rec *r = &seg[b->fill[k]];
        if (r->len == 0) continue;
        if (e.npieces++) {
          if (opts->sep_len == 1)
            *dst++ = *opts->sep;
          else
            memcpy(dst, opts->sep, opts->sep_len), dst += opts->sep_len;
          tokens += b->sep_t;
        }
        memcpy(dst, arena + r->off, r->len);
        dst += r->len;
        tokens += r->tokens;
      }
      o->len = (size_t)(dst - o->text);
      e.tokens = tokens;
    }
    for (; ahead < b->m && ahead < k + PREFETCH_AHEAD; ahead++)
      prefetch_text(b->p, &b->p->seg[b->fill[ahead]]);
    const char *s = k < b->m ? filler_text(b, k) : NULL;
    size_t n = k < b->m ? filler_len(b, k) : 0, from = 0;
    for (; q < nn && b->spots[q].k == k; q++) {
      size_t cut = b->spots[q].b, pt = 0;
      if (cut > from) {
        if (!exact && from == 0)
          pt = b->spots[q].before; /* counted when the spot was chosen */
        else if (!exact && count(b, s + from, cut - from, &pt) < 0)
          return -1;
        emit(b, o, &e, opts, s + from, cut - from, pt, NULL);
        from = skip_space(s, n, cut);
      }
      size_t j = b->spots[q].j;
      emit(b, o, &e, opts, nd[j].text, nd[j].len, ntok[j], &nd[j]);
    }
    if (k < b->m && from < n) {
      size_t pt = from == 0 ? filler_tokens(b, k) : 0;
      if (from > 0 && !exact && count(b, s + from, n - from, &pt) < 0) return -1;
      emit(b, o, &e, opts, s + from, n - from, pt, NULL);
    }
  }
  o->tokens = e.tokens;
  if (!exact) return 0;
  if (count(b, o->text, o->len, &o->tokens) < 0) return -1;
  for (size_t j = 0; j < nn; j++) {
    nd[j].token = lacuna_token_at(&b->c->enc, nd[j].byte_start);
    nd[j].tokens = nd[j].len ? lacuna_token_at(&b->c->enc, nd[j].byte_end - 1) + 1 - nd[j].token : 0;
  }
  return 0;
}

/* Depth: the share of the context's non-needle tokens that precede the needle. */
static void depths(lacuna_needle *nd, size_t nn, size_t total) {
  size_t all = 0;
  for (size_t j = 0; j < nn; j++) all += nd[j].tokens;
  for (size_t j = 0; j < nn; j++) {
    size_t before = 0;
    for (size_t i = 0; i < nn; i++)
      if (nd[i].byte_start < nd[j].byte_start || (nd[i].byte_start == nd[j].byte_start && i < j))
        before += nd[i].tokens;
    size_t hay = total > all ? total - all : 0, pos = nd[j].token > before ? nd[j].token - before : 0;
    nd[j].actual_depth = hay ? (double)pos / (double)hay : 0.0;
    if (nd[j].actual_depth > 1) nd[j].actual_depth = 1;
  }
}

int lacuna_context_build(lacuna_pool *p, lacuna_rng *g, lacuna_needle *nd, size_t nn,
                         const lacuna_context_opts *opts, lacuna_context *o, char *err, size_t errlen) {
  build b = {.p = p,
             .c = &p->counter,
             .g = g,
             .err = err,
             .errlen = errlen,
             .fill = p->scratch.fill,
             .capfill = p->scratch.capfill,
             .ends = p->scratch.ends,
             .capends = p->scratch.capends};
  size_t ntok_few[FEW_NEEDLES], *ntok = ntok_few;
  spot spots_few[FEW_NEEDLES];
  int rc = -1;
  if (lacuna_draw_init_scratch(&b.draw, &p->scratch, opts->exclude, opts->nexclude) < 0)
    return fail(&b, "out of memory");
  b.spots = spots_few;
  if (nn > FEW_NEEDLES) {
    ntok = malloc(nn * sizeof *ntok);
    b.spots = malloc(nn * sizeof *b.spots);
  }
  if (!ntok || !b.spots) {
    fail(&b, "out of memory");
    goto done;
  }
  if (count(&b, opts->sep, opts->sep_len, &b.sep_t) < 0) goto done;
  long long goal = (long long)opts->target;
  for (size_t j = 0; j < nn; j++) {
    if (nd[j].depth < 0) nd[j].depth = lacuna_rng_double(g);
    if (count(&b, nd[j].text, nd[j].len, &ntok[j]) < 0) goto done;
    goal -= (long long)(ntok[j] + 2 * b.sep_t); /* inside a filler it adds two joins */
  }
  /* Correct the goal by the miss for a few rounds, then bisect between the
   * largest goal that came out short and the smallest that came out long. */
  long long target = (long long)opts->target, aim = target - 4, short_goal = LLONG_MIN, long_goal = LLONG_MAX;
  for (int round = 0;; round++) {
    if (plan_fillers(&b, goal) < 0) goto done;
    for (size_t j = 0; j < nn; j++)
      if (place(&b, j, nd[j].depth * (double)b.hay, &b.spots[j]) < 0) goto done;
    qsort(b.spots, nn, sizeof *b.spots, spot_cmp);
    if (render(&b, nd, nn, ntok, opts, o) < 0) goto done;
    long long total = (long long)o->tokens;
    if (total <= target && total >= target - SLACK) break;
    if (b.m == 0 && goal <= 0 && total > target) { /* the text is the needles alone */
      snprintf(err, errlen, "the needles alone are %lld tokens, over the target %lld", total, target);
      goto done;
    }
    if (total > target)
      long_goal = goal < long_goal ? goal : long_goal;
    else
      short_goal = goal > short_goal ? goal : short_goal;
    long long next = goal + aim - total;
    if (round >= 3 || next <= short_goal || next >= long_goal) {
      if (short_goal == LLONG_MIN || long_goal == LLONG_MAX) {
        next = total > target ? goal - (total - aim) - 8 * round : goal + (aim - total) + 8 * round;
      } else if (long_goal - short_goal <= 1 || round >= 40) {
        snprintf(err, errlen, "could not bring the context within %d tokens of the target %lld (%lld)", SLACK,
                 target, total);
        goto done;
      } else {
        next = short_goal + (long_goal - short_goal) / 2;
      }
    }
    goal = next;
  }
  o->fillers = b.m;
  depths(nd, nn, o->tokens);
  rc = 0;
done:
  lacuna_draw_free(&b.draw);
  p->scratch.fill = b.fill, p->scratch.capfill = b.capfill; /* kept for the next context */
  p->scratch.ends = b.ends, p->scratch.capends = b.capends;
  if (b.spots != spots_few) free(b.spots);
  if (ntok != ntok_few) free(ntok);
  return rc;
}

void lacuna_context_free(lacuna_context *c) {
  free(c->text);
  c->text = NULL;
  c->len = c->cap = 0;
}
