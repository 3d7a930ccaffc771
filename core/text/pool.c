/* The segment pool: segment texts in one arena, 24 bytes of bookkeeping per
 * segment, bounded by a capacity with reservoir sampling (Vitter's Algorithm
 * R: the i-th offered segment replaces a uniform slot with probability
 * capacity / i), so the pool is a uniform sample of everything offered,
 * whatever the stream's order, and the same for the same seed. Replaced text
 * is dead space; the arena is compacted when it outweighs the live text. */
#include <stdlib.h>
#include <string.h>

#include "text.h"

int lacuna_pool_init(lacuna_pool *p, size_t capacity, const lacuna_rng *rng, const lacuna_tokenizer *tok) {
  memset(p, 0, sizeof *p);
  p->capacity = capacity;
  p->rng = *rng;
  lacuna_counter_init(&p->counter, tok);
  return 0;
}

void lacuna_pool_free(lacuna_pool *p) {
  free(p->scratch.key);
  free(p->scratch.val);
  free(p->scratch.fill);
  free(p->scratch.ends);
  memset(&p->scratch, 0, sizeof p->scratch);
  free(p->seg);
  free(p->arena);
  lacuna_counter_free(&p->counter);
  p->seg = NULL;
  p->arena = NULL;
  p->n = p->slots = p->arena_used = p->arena_cap = p->dead = 0;
}

/* Copies the live segments into a fresh arena, in slot order. */
static int compact(lacuna_pool *p, size_t extra) {
  size_t live = p->arena_used - p->dead, cap = live + live / 2 + extra + 4096;
  char *fresh = malloc(cap);
  if (!fresh) return -1;
  size_t at = 0;
  for (size_t i = 0; i < p->n; i++) {
    memcpy(fresh + at, p->arena + p->seg[i].off, p->seg[i].len);
    p->seg[i].off = at;
    at += p->seg[i].len;
  }
  free(p->arena);
  p->arena = fresh;
  p->arena_cap = cap;
  p->arena_used = at;
  p->dead = 0;
  return 0;
}

static int arena_room(lacuna_pool *p, size_t len) {
  if (p->arena_cap - p->arena_used >= len) return 0;
  if (p->dead > (1u << 20) && p->dead > (p->arena_used - p->dead)) return compact(p, len);
  size_t cap = p->arena_cap ? p->arena_cap : 1 << 16;
  while (cap - p->arena_used < len) cap *= 2;
  char *a = realloc(p->arena, cap);
  if (!a) return -1;
  p->arena = a;
  p->arena_cap = cap;
  return 0;
}

int lacuna_pool_offer(lacuna_pool *p, const char *s, size_t n, size_t tokens, int64_t doc) {
  if (n > UINT32_MAX || tokens > UINT32_MAX) return -1;
  uint64_t i = p->offered;
  size_t slot;
  if (p->n < p->capacity) {
    if (p->n == p->slots) {
      size_t slots = p->slots ? p->slots * 2 : 1024;
      if (slots > p->capacity) slots = p->capacity;
      lacuna_segment_rec *v = realloc(p->seg, slots * sizeof *v);
      if (!v) return -1;
      p->seg = v;
      p->slots = slots;
    }
    slot = p->n;
  } else {
    uint64_t j = lacuna_rng_below(&p->rng, i + 1);
    p->offered++;
    if (j >= p->capacity) return 0;
    slot = (size_t)j;
    p->dead += p->seg[slot].len;
    p->seg[slot].len = 0; /* dead before a compaction below can copy it */
  }
  if (arena_room(p, n) < 0) return -1;
  memcpy(p->arena + p->arena_used, s, n);
  p->seg[slot] = (lacuna_segment_rec){p->arena_used, (uint32_t)n, (uint32_t)tokens, doc};
  if (tokens > p->max_tokens) p->max_tokens = tokens;
  p->arena_used += n;
  if (slot == p->n) {
    p->n++;
    p->offered++;
  }
  return 0;
}

/* ---- drawing without replacement ---- */

int lacuna_draw_init(lacuna_draw *d, const int64_t *exclude_sorted, size_t nexclude) {
  memset(d, 0, sizeof *d);
  d->exclude = exclude_sorted;
  d->nexclude = nexclude;
  /* A 32K-token context draws ~350 slots: sized so that it never grows
   * (growing twice per context was ~6% of the assembly time). */
  d->mask = DRAW_TABLE - 1;
  d->key = calloc(d->mask + 1, sizeof *d->key);
  d->val = malloc((d->mask + 1) * sizeof *d->val);
  if (!d->key || !d->val) {
    lacuna_draw_free(d);
    return -1;
  }
  return 0;
}

int lacuna_draw_init_scratch(lacuna_draw *d, lacuna_scratch *s, const int64_t *exclude_sorted,
                             size_t nexclude) {
  if (!s->key) s->key = malloc(DRAW_TABLE * sizeof *s->key);
  if (!s->val) s->val = malloc(DRAW_TABLE * sizeof *s->val);
  if (!s->key || !s->val) return -1;
  memset(d, 0, sizeof *d);
  d->exclude = exclude_sorted;
  d->nexclude = nexclude;
  d->mask = DRAW_TABLE - 1;
  d->key = s->key;
  d->val = s->val;
  d->borrowed = 1;
  memset(d->key, 0, DRAW_TABLE * sizeof *d->key);
  return 0;
}

void lacuna_draw_free(lacuna_draw *d) {
  if (!d->borrowed) {
    free(d->key);
    free(d->val);
  }
  d->key = d->val = NULL;
}

/* Keys are stored + 1 so that 0 marks an empty cell. */
static size_t *cell(lacuna_draw *d, size_t pos) {
  size_t h = (pos * 0x9E3779B97F4A7C15u) >> 7 & d->mask;
  while (d->key[h] && d->key[h] != pos + 1) h = (h + 1) & d->mask;
  return &d->key[h];
}

static size_t get(lacuna_draw *d, size_t pos) {
  size_t *k = cell(d, pos);
  return *k ? d->val[k - d->key] : pos;
}

static int grow(lacuna_draw *d) {
  lacuna_draw bigger = *d;
  bigger.mask = d->mask * 2 + 1;
  bigger.used = 0;
  bigger.key = calloc(bigger.mask + 1, sizeof *bigger.key);
  bigger.val = malloc((bigger.mask + 1) * sizeof *bigger.val);
  if (!bigger.key || !bigger.val) {
    free(bigger.key);
    free(bigger.val);
    return -1;
  }
  for (size_t h = 0; h <= d->mask; h++) {
    if (!d->key[h]) continue;
    size_t *k = cell(&bigger, d->key[h] - 1);
    *k = d->key[h];
    bigger.val[k - bigger.key] = d->val[h];
    bigger.used++;
  }
  lacuna_draw_free(d);
  *d = bigger;
  d->borrowed = 0;
  return 0;
}

/* What position j holds (the pick), and position i's content moved into
 * it: one Fisher-Yates swap, with a single probe for j. */
static int swap_out(lacuna_draw *d, size_t i, size_t j, size_t *pick) {
  if (j == i) {
    *pick = get(d, i);
    return 0;
  }
  if ((d->used + 1) * 2 > d->mask + 1 && grow(d) < 0) return -1;
  size_t *k = cell(d, j), moved = get(d, i);
  if (*k) {
    *pick = d->val[k - d->key];
  } else {
    *pick = j;
    *k = j + 1;
    d->used++;
  }
  d->val[k - d->key] = moved;
  return 0;
}

int lacuna_draw_excluded_search(const lacuna_draw *d, int64_t doc) {
  size_t lo = 0, hi = d->nexclude;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->exclude[mid] < doc)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < d->nexclude && d->exclude[lo] == doc;
}

/* Slots are drawn DRAW_AHEAD at a time and their records prefetched, so that
 * the cache misses of a draw overlap; the order is that of one at a time. */
size_t lacuna_draw_refill(lacuna_draw *d, const lacuna_pool *p, lacuna_rng *g) {
  for (size_t added = 0; added < DRAW_AHEAD && d->next < p->n; added++) {
    size_t i = d->next++, j = i + (size_t)lacuna_rng_below(g, p->n - i), pick;
    if (swap_out(d, i, j, &pick) < 0) return SIZE_MAX - 1;
    /* A quarter of the 24-byte records straddle two cache lines: fetch both. */
    __builtin_prefetch(&p->seg[pick]);
    __builtin_prefetch((const char *)&p->seg[pick] + sizeof *p->seg - 1);
    d->queue[d->qlen++ % (2 * DRAW_AHEAD)] = pick;
  }
  return 0;
}
