/* Long-context text primitives (IN2, DESIGN §1.3 and §3.1): sentence and word
 * boundaries, segmenting into ~N-token pieces, a bounded segment pool with
 * reservoir sampling, filler sampling that excludes documents, and context
 * assembly with needles at chosen or uniform depths.
 *
 * Counts come from a counter: the exact Hugging Face tokenizer
 * (add_special_tokens off), or, without one, the approximate counter
 * (lacuna_tokens_approx, core/tokenizer/approx.c). Byte offsets are 0-based, ends exclusive, like the
 * tokenizer's offsets; token indices are 0-based. */
#ifndef LACUNA_TEXT_H
#define LACUNA_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "tokenizer/approx.h"
#include "tokenizer/tokenizer.h"

/* ---- boundaries (sentence.c) ---- */

/* The next sentence at or after byte pos: [*start, *end) holds no leading or
 * trailing whitespace. Returns 0 when only whitespace is left. */
int lacuna_next_sentence(const char *s, size_t n, size_t pos, size_t *start, size_t *end);
/* The next word at or after pos: a run of non-space bytes, except that each
 * CJK character (ideograph, kana, fullwidth form) is a word of its own.
 * Returns 0 when only whitespace is left. */
int lacuna_next_word(const char *s, size_t n, size_t pos, size_t *start, size_t *end);
/* The first code point boundary after i (i < n): never inside a valid UTF-8
 * sequence; an invalid or truncated sequence advances one byte. */
size_t lacuna_next_char(const char *s, size_t n, size_t i);

/* ---- counting (count.c) ---- */

typedef struct lacuna_counter {
  const lacuna_tokenizer *tok; /* NULL: the approximate counter */
  lacuna_encoding enc;         /* the last exact encoding (with offsets) */
  char err[256];
} lacuna_counter;

void lacuna_counter_init(lacuna_counter *c, const lacuna_tokenizer *tok);
void lacuna_counter_free(lacuna_counter *c);
/* Tokens of s[0..n); 0 on success, -1 with c->err. With a tokenizer the
 * encoding stays in c->enc for lacuna_token_at. */
int lacuna_count(lacuna_counter *c, const char *s, size_t n, size_t *tokens);
/* Index of the token holding byte b of the last encoding: the first token
 * that ends after b (e->n when b is past every token). */
size_t lacuna_token_at(const lacuna_encoding *e, size_t b);

/* ---- segmenting (segment.c) ---- */

typedef struct {
  size_t start, end, tokens;
} lacuna_piece;

typedef struct {
  lacuna_piece *v;
  size_t n, cap;
} lacuna_pieces;

/* Splits s into segments of at most max_tokens tokens each (exact under the
 * counter): whole sentences while they fit, a longer sentence at word
 * boundaries, a longer word at code point boundaries (a single character
 * over the limit stays whole). Appends to out; 0 on success, -1 with c->err
 * (or "out of memory"). */
int lacuna_segment(lacuna_counter *c, const char *s, size_t n, size_t max_tokens, lacuna_pieces *out);
void lacuna_pieces_free(lacuna_pieces *p);

/* ---- the pool (pool.c) ---- */

typedef struct {
  uint64_t off;    /* into the arena */
  uint32_t len;    /* bytes */
  uint32_t tokens; /* under the pool's counter */
  int64_t doc;     /* document id */
} lacuna_segment_rec;

/* What a context build allocates, kept by the pool from one context to the
 * next (a pool builds one context at a time): the draw's table, the drawn
 * slots, a filler's word ends. */
typedef struct {
  size_t *key, *val; /* DRAW_TABLE cells each */
  size_t *fill, capfill;
  size_t *ends, capends;
} lacuna_scratch;

typedef struct lacuna_pool {
  lacuna_segment_rec *seg;
  size_t n, slots, capacity; /* used, allocated, bound */
  uint64_t offered;          /* segments ever offered (Algorithm R's i) */
  size_t max_tokens;         /* the most tokens of a segment ever kept: a bound for planning */
  char *arena;
  size_t arena_used, arena_cap, dead; /* bytes of replaced segments */
  lacuna_rng rng;                     /* the reservoir's draws */
  lacuna_counter counter;
  lacuna_scratch scratch;
} lacuna_pool;

int lacuna_pool_init(lacuna_pool *p, size_t capacity, const lacuna_rng *rng, const lacuna_tokenizer *tok);
void lacuna_pool_free(lacuna_pool *p);
/* Offers one segment (Algorithm R): kept while the pool has room, else it
 * replaces a uniformly drawn slot with probability capacity / offered.
 * 0 on success, -1 out of memory. */
int lacuna_pool_offer(lacuna_pool *p, const char *s, size_t n, size_t tokens, int64_t doc);
static inline const char *lacuna_pool_text(const lacuna_pool *p, size_t i) {
  return p->arena + p->seg[i].off;
}

/* Draws without replacement (a sparse Fisher-Yates over the slots): each call
 * returns the next slot, skipping segments of excluded documents; SIZE_MAX
 * when none is left, SIZE_MAX - 1 when out of memory. Positions are drawn
 * DRAW_AHEAD at a time (the rng advances by whole batches) into a ring that
 * holds two batches: lacuna_draw_early draws the next one while the last
 * DRAW_EARLY of this one are taken, so that its records are fetched
 * meanwhile. */
#define DRAW_AHEAD 32
#define DRAW_EARLY 16
#define DRAW_TABLE 1024 /* cells: a 32K-token context draws ~350 slots */
typedef struct {
  size_t *key, *val; /* open addressing: displaced slot positions */
  size_t mask, used, next;
  int borrowed;                              /* key/val belong to a pool's scratch */
  size_t queue[2 * DRAW_AHEAD], qhead, qlen; /* drawn, not yet returned: a ring, counts since init */
  const int64_t *exclude;                    /* sorted */
  size_t nexclude;
} lacuna_draw;

int lacuna_draw_init(lacuna_draw *d, const int64_t *exclude_sorted, size_t nexclude);
/* The same over a pool's scratch table (cleared here; not freed by
 * lacuna_draw_free unless the draw outgrew it). 0, or -1 out of memory. */
int lacuna_draw_init_scratch(lacuna_draw *d, lacuna_scratch *s, const int64_t *exclude_sorted,
                             size_t nexclude);
void lacuna_draw_free(lacuna_draw *d);
/* Appends the next batch to the ring (pool.c): 0, or SIZE_MAX - 1 out of memory. */
size_t lacuna_draw_refill(lacuna_draw *d, const lacuna_pool *p, lacuna_rng *g);
/* The slots drawn and not yet returned (excluded ones among them). */
static inline size_t lacuna_draw_left(const lacuna_draw *d) { return d->qlen - d->qhead; }
/* For a caller that will surely take more than lacuna_draw_left(d) slots
 * (it must be sure: the rng's state after a context must not depend on this):
 * draws the next batch now when DRAW_EARLY or fewer are left. That is the
 * batch lacuna_draw_next would draw when the ring runs out, from the same
 * state, only sooner. 0, or SIZE_MAX - 1 out of memory. */
static inline size_t lacuna_draw_early(lacuna_draw *d, const lacuna_pool *p, lacuna_rng *g) {
  size_t left = lacuna_draw_left(d);
  return left && left <= DRAW_EARLY ? lacuna_draw_refill(d, p, g) : 0;
}
int lacuna_draw_excluded_search(const lacuna_draw *d, int64_t doc);

/* Inline: it runs once per filler of every context (~350 times for 32K tokens). */
static inline int lacuna_draw_excluded(const lacuna_draw *d, int64_t doc) {
  if (d->nexclude > 8) return lacuna_draw_excluded_search(d, doc);
  for (size_t i = 0; i < d->nexclude; i++)
    if (d->exclude[i] == doc) return 1;
  return 0;
}

static inline size_t lacuna_draw_next(lacuna_draw *d, const lacuna_pool *p, lacuna_rng *g) {
  for (;;) {
    if (d->qhead == d->qlen) {
      size_t rc = lacuna_draw_refill(d, p, g);
      if (rc == SIZE_MAX - 1) return rc;
      if (d->qhead == d->qlen) return SIZE_MAX;
    }
    size_t pick = d->queue[d->qhead++ % (2 * DRAW_AHEAD)];
    if (!lacuna_draw_excluded(d, p->seg[pick].doc)) return pick;
  }
}

/* ---- contexts (context.c) ---- */

typedef struct {
  const char *text;
  size_t len;
  double depth; /* wanted haystack fraction in [0, 1]; < 0: draw uniformly */
  /* results */
  size_t byte_start, byte_end, token, tokens;
  double actual_depth;
} lacuna_needle;

typedef struct {
  size_t target;   /* tokens of the whole text */
  const char *sep; /* between pieces */
  size_t sep_len;
  const int64_t *exclude; /* sorted document ids */
  size_t nexclude;
} lacuna_context_opts;

typedef struct {
  char *text;
  size_t len, cap;
  size_t tokens;  /* under the pool's counter */
  size_t fillers; /* filler segments used (a trimmed or split one counts once) */
} lacuna_context;

/* Needles plus fillers from the pool up to opts->target tokens (in
 * [target - 16, target]), needles at their depths; fills each needle's
 * results. 0 on success; -1 with err: the needles alone exceed the target,
 * the pool cannot fill it, or a counter error. */
int lacuna_context_build(lacuna_pool *p, lacuna_rng *g, lacuna_needle *needles, size_t nneedles,
                         const lacuna_context_opts *opts, lacuna_context *out, char *err, size_t errlen);
void lacuna_context_free(lacuna_context *c);

#endif
