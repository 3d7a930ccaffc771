/* Added tokens (HF tokenizer/added_vocabulary.rs): ids assigned like add_tokens,
 * two leftmost-longest matchers (raw contents, and normalized contents), and the
 * single_word / lstrip / rstrip rules of find_matches. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int tk_norm_apply(const tk_norm *n, tk_scratch *S, tk_ns *ns, tk_err *e);

typedef struct {
  /* trie: node 0 is the root; edges in a hash keyed by (node << 8 | byte) */
  uint64_t *ekeys;
  uint32_t *eval;
  size_t ecap, en;
  int32_t *term; /* per node: pattern index or -1 */
  size_t nnodes, ncap;
  int32_t *pat_id; /* pattern → token id */
  size_t npat;
  unsigned char first[256];
} trie;

struct tk_added {
  tk_added_tok *toks; /* every token ever added, HF added_tokens_map_r by id (latest) */
  size_t n, cap;
  size_t *order; /* special_tokens then added_tokens order (indices into toks) */
  size_t norder, ocap;
  tk_strmap map;     /* content → id */
  tk_strmap special; /* special contents */
  trie raw, norm;
  int32_t *byid; /* id → index in toks, -1 none */
  size_t byid_cap;
  int32_t max_id;
};

tk_added *tk_added_new(void) {
  tk_added *a = calloc(1, sizeof(tk_added));
  if (a) a->max_id = -1;
  return a;
}

static void trie_free(trie *t) {
  free(t->ekeys);
  free(t->eval);
  free(t->term);
  free(t->pat_id);
  memset(t, 0, sizeof *t);
}

void tk_added_free(tk_added *a) {
  if (!a) return;
  for (size_t i = 0; i < a->n; i++) free(a->toks[i].content);
  free(a->toks);
  free(a->order);
  free(a->byid);
  tk_strmap_free(&a->map);
  tk_strmap_free(&a->special);
  trie_free(&a->raw);
  trie_free(&a->norm);
  free(a);
}

static uint32_t ehash(uint64_t k) {
  k ^= k >> 31;
  k *= 0x9E3779B97F4A7C15ull;
  k ^= k >> 29;
  return (uint32_t)k;
}

static int32_t trie_child(const trie *t, uint32_t node, unsigned char b) {
  if (!t->ecap) return -1;
  uint64_t key = ((uint64_t)node << 8) | b;
  for (size_t j = ehash(key) & (t->ecap - 1);; j = (j + 1) & (t->ecap - 1)) {
    if (t->ekeys[j] == UINT64_MAX) return -1;
    if (t->ekeys[j] == key) return (int32_t)t->eval[j];
  }
}

static int trie_edge(trie *t, uint32_t node, unsigned char b, uint32_t child) {
  if ((t->en + 1) * 2 > t->ecap) {
    size_t cap = t->ecap ? t->ecap * 2 : 256;
    uint64_t *k = malloc(cap * sizeof *k);
    uint32_t *v = malloc(cap * sizeof *v);
    if (!k || !v) {
      free(k);
      free(v);
      return -1;
    }
    memset(k, 0xFF, cap * sizeof *k);
    for (size_t i = 0; i < t->ecap; i++) {
      if (t->ekeys[i] == UINT64_MAX) continue;
      size_t j = ehash(t->ekeys[i]) & (cap - 1);
      while (k[j] != UINT64_MAX) j = (j + 1) & (cap - 1);
      k[j] = t->ekeys[i];
      v[j] = t->eval[i];
    }
    free(t->ekeys);
    free(t->eval);
    t->ekeys = k;
    t->eval = v;
    t->ecap = cap;
  }
  uint64_t key = ((uint64_t)node << 8) | b;
  size_t j = ehash(key) & (t->ecap - 1);
  while (t->ekeys[j] != UINT64_MAX) j = (j + 1) & (t->ecap - 1);
  t->ekeys[j] = key;
  t->eval[j] = child;
  t->en++;
  return 0;
}

static int trie_add(trie *t, const char *s, size_t n, int32_t id) {
  if (!t->ncap) {
    t->ncap = 64;
    t->term = malloc(t->ncap * sizeof *t->term);
    if (!t->term) return -1;
    t->term[0] = -1;
    t->nnodes = 1;
  }
  if (!n) return 0;
  int32_t *pid = realloc(t->pat_id, (t->npat + 1) * sizeof *pid);
  if (!pid) return -1;
  t->pat_id = pid;
  uint32_t node = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t c = trie_child(t, node, (unsigned char)s[i]);
    if (c < 0) {
      if (t->nnodes == t->ncap) {
        int32_t *nt = realloc(t->term, t->ncap * 2 * sizeof *nt);
        if (!nt) return -1;
        t->term = nt;
        t->ncap *= 2;
      }
      c = (int32_t)t->nnodes++;
      t->term[c] = -1;
      if (trie_edge(t, node, (unsigned char)s[i], (uint32_t)c) < 0) return -1;
    }
    node = (uint32_t)c;
  }
  /* the first pattern wins among identical contents, as in aho-corasick */
  if (t->term[node] < 0) t->term[node] = (int32_t)t->npat;
  t->pat_id[t->npat++] = id;
  t->first[(unsigned char)s[0]] = 1;
  return 0;
}

int32_t tk_added_token_to_id(const tk_added *a, const char *s, size_t n) {
  return tk_strmap_get(&a->map, s, n);
}

const tk_added_tok *tk_added_by_id(const tk_added *a, int32_t id) {
  /* the latest token given this id (added_tokens_map_r) */
  if (id < 0 || (size_t)id >= a->byid_cap || a->byid[id] < 0) return NULL;
  return &a->toks[a->byid[id]];
}

int tk_added_is_special(const tk_added *a, const char *s, size_t n) {
  return tk_strmap_get(&a->special, s, n) >= 0;
}

size_t tk_added_count(const tk_added *a) { return a->map.n; }

size_t tk_added_extra(const tk_added *a, const tk_bpe *m) {
  size_t n = 0;
  for (size_t i = 0; i < a->map.n; i++) {
    const struct tk_sent *s = &a->map.ents[i];
    if (tk_strmap_get(&m->vocab, a->map.pool + s->off, s->len) < 0) n++;
  }
  return n;
}

static int same_tok(const tk_added_tok *x, const tk_added_tok *y) {
  return x->len == y->len && !memcmp(x->content, y->content, x->len) && x->single_word == y->single_word &&
         x->lstrip == y->lstrip && x->rstrip == y->rstrip && x->normalized == y->normalized &&
         x->special == y->special;
}

int tk_added_add(tk_added *a, const tk_added_tok *t, const tk_bpe *m, tk_err *e) {
  if (!t->len) return 0;
  if (t->special && tk_strmap_get(&a->special, t->content, t->len) < 0) {
    if (tk_strmap_put(&a->special, t->content, t->len, 1) < 0) goto oom;
    if (a->norder == a->ocap) {
      size_t c = a->ocap ? a->ocap * 2 : 64;
      size_t *o = realloc(a->order, c * sizeof *o);
      if (!o) goto oom;
      a->order = o;
      a->ocap = c;
    }
    a->order[a->norder++] = a->n; /* the slot this token will take */
  }
  /* an identical token (same content and flags) is ignored */
  int32_t cur = tk_strmap_get(&a->map, t->content, t->len);
  const tk_added_tok *prev = cur >= 0 ? tk_added_by_id(a, cur) : NULL;
  if (prev && same_tok(prev, t)) {
    if (t->special && a->norder && a->order[a->norder - 1] == a->n) a->norder--;
    return 0;
  }
  int32_t id = cur >= 0 ? cur : tk_strmap_get(&m->vocab, t->content, t->len);
  if (id < 0) {
    int32_t max = a->max_id;
    size_t vs = m->vocab_n;
    if (max < 0)
      id = (int32_t)vs;
    else
      id = ((size_t)max >= vs || vs == 0) ? max + 1 : (int32_t)vs;
  }
  if (a->n == a->cap) {
    size_t c = a->cap ? a->cap * 2 : 64;
    tk_added_tok *nt = realloc(a->toks, c * sizeof *nt);
    if (!nt) goto oom;
    a->toks = nt;
    a->cap = c;
  }
  tk_added_tok *d = &a->toks[a->n];
  *d = *t;
  d->id = id;
  d->content = malloc(t->len + 1);
  if (!d->content) goto oom;
  memcpy(d->content, t->content, t->len);
  d->content[t->len] = 0;
  if (tk_strmap_put(&a->map, t->content, t->len, id) < 0) {
    free(d->content);
    goto oom;
  }
  if ((size_t)id >= a->byid_cap) {
    size_t c = a->byid_cap ? a->byid_cap : 1024;
    while (c <= (size_t)id) c *= 2;
    int32_t *nb = realloc(a->byid, c * sizeof *nb);
    if (!nb) {
      free(d->content);
      goto oom;
    }
    for (size_t k = a->byid_cap; k < c; k++) nb[k] = -1;
    a->byid = nb;
    a->byid_cap = c;
  }
  a->byid[id] = (int32_t)a->n;
  if (id > a->max_id) a->max_id = id;
  if (tk_strmap_get(&a->special, t->content, t->len) <
      0) { /* classic added tokens come after the special ones */
    if (a->norder == a->ocap) {
      size_t c = a->ocap ? a->ocap * 2 : 64;
      size_t *o = realloc(a->order, c * sizeof *o);
      if (!o) {
        free(d->content);
        goto oom;
      }
      a->order = o;
      a->ocap = c;
    }
    a->order[a->norder++] = a->n | ((size_t)1 << (sizeof(size_t) * 8 - 1));
  }
  a->n++;
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}

int tk_added_build(tk_added *a, const tk_norm *norm, tk_scratch *S, tk_err *e) {
  trie_free(&a->raw);
  trie_free(&a->norm);
  if (trie_add(&a->raw, "", 0, -1) < 0 || trie_add(&a->norm, "", 0, -1) < 0) goto oom;
  const size_t flag = (size_t)1 << (sizeof(size_t) * 8 - 1);
  /* HF chains special_tokens then added_tokens; order[] keeps both in insertion
   * order, tagged, so take the untagged (special) ones first. */
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < a->norder; i++) {
      size_t o = a->order[i];
      if (pass == 0 && (o & flag)) continue;
      if (pass == 1 && !(o & flag)) continue;
      const tk_added_tok *t = &a->toks[o & ~flag];
      int32_t id = tk_strmap_get(&a->map, t->content, t->len);
      if (!t->normalized) {
        if (trie_add(&a->raw, t->content, t->len, id) < 0) goto oom;
        continue;
      }
      tk_al *al = tk_alloc(&S->A, (t->len + 1) * sizeof *al);
      if (!al) goto oom;
      for (size_t k = 0; k < t->len; k++) al[k] = (tk_al){0, (uint32_t)t->len};
      tk_ns ns = {t->content, al, (uint32_t)t->len, 0};
      if (norm && tk_norm_apply(norm, S, &ns, e) < 0) return -1;
      if (trie_add(&a->norm, ns.p, ns.len, id) < 0) goto oom;
    }
  }
  tk_arena_reset(&S->A);
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}

/* ---- matching ---------------------------------------------------------------------- */
static uint32_t last_char(const char *s, size_t n) {
  size_t j = n - 1;
  while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
  int l;
  return tk_utf8_dec((const unsigned char *)s + j, n - j, &l);
}

static int split_one(const tk_added *a, const trie *t, tk_scratch *S, const tk_split *sp, tk_splits *out) {
  const char *s = sp->ns.p;
  size_t n = sp->ns.len, start_offset = 0, i = 0;
  while (i < n) {
    if (!t->first[(unsigned char)s[i]]) {
      i++;
      continue;
    }
    uint32_t node = 0;
    int32_t best = -1;
    size_t best_end = 0;
    for (size_t k = i; k < n; k++) {
      int32_t c = trie_child(t, node, (unsigned char)s[k]);
      if (c < 0) break;
      node = (uint32_t)c;
      if (t->term[node] >= 0) {
        best = t->term[node];
        best_end = k + 1;
      }
    }
    if (best < 0) {
      i++;
      continue;
    }
    size_t start = i, stop = best_end;
    i = best_end; /* the search resumes after the raw match */
    int32_t id = t->pat_id[best];
    const tk_added_tok *tok = tk_added_by_id(a, id);
    if (!tok) continue;
    if (tok->single_word) {
      int start_space = start == 0 || !tk_is_word(last_char(s, start));
      int l;
      int stop_space = stop == n || !tk_is_word(tk_utf8_dec((const unsigned char *)s + stop, n - stop, &l));
      if (!start_space || !stop_space) continue;
    }
    if (tok->lstrip) {
      size_t ns_ = start;
      while (ns_ > 0) {
        size_t j = ns_ - 1;
        while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
        int l;
        if (!tk_is_whitespace(tk_utf8_dec((const unsigned char *)s + j, n - j, &l))) break;
        ns_ = j;
      }
      start = ns_ > start_offset ? ns_ : start_offset;
    }
    if (tok->rstrip) {
      while (stop < n) {
        int l;
        if (!tk_is_whitespace(tk_utf8_dec((const unsigned char *)s + stop, n - stop, &l))) break;
        stop += (size_t)l;
      }
    }
    if (start_offset < start) {
      tk_split c = *sp;
      c.ns.p = s + start_offset;
      c.ns.al = sp->ns.al + start_offset;
      c.ns.len = (uint32_t)(start - start_offset);
      c.ns.shift = sp->ns.al[start_offset].s;
      if (tk_splits_push(S, out, &c) < 0) return -1;
    }
    if (stop > start) {
      tk_split c = *sp;
      c.ns.p = s + start;
      c.ns.al = sp->ns.al + start;
      c.ns.len = (uint32_t)(stop - start);
      c.ns.shift = sp->ns.al[start].s;
      c.id = id;
      c.special = (uint8_t)tok->special;
      if (tk_splits_push(S, out, &c) < 0) return -1;
    }
    start_offset = stop;
  }
  if (start_offset < n) {
    tk_split c = *sp;
    c.ns.p = s + start_offset;
    c.ns.al = sp->ns.al + start_offset;
    c.ns.len = (uint32_t)(n - start_offset);
    c.ns.shift = sp->ns.al[start_offset].s;
    if (tk_splits_push(S, out, &c) < 0) return -1;
  }
  return 0;
}

int tk_added_split(const tk_added *a, int which, tk_scratch *S, tk_splits *l, tk_err *e) {
  const trie *t = which ? &a->norm : &a->raw;
  if (!t->npat) return 0;
  tk_splits out = {0};
  for (size_t i = 0; i < l->n; i++) {
    if (l->v[i].id >= 0) {
      if (tk_splits_push(S, &out, &l->v[i]) < 0) goto oom;
      continue;
    }
    if (split_one(a, t, S, &l->v[i], &out) < 0) goto oom;
  }
  *l = out;
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}
