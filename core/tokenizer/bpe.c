/* The BPE model (HF models/bpe): vocab, merges by rank, unk/fuse_unk, byte_fallback,
 * ignore_merges, continuing_subword_prefix/end_of_word_suffix. The merge loop is
 * HF's Word::merge_all (a min-heap on (rank, position)), so ties resolve the same
 * way; a per-caller cache maps a pre-token's bytes to its tokens. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CACHE_MAX_KEY 256 /* HF caches words shorter than this */
#define CACHE_MAX_ENTRIES 65536
#define CACHE_MAX_BYTES (16u << 20)

/* ---- merges map ------------------------------------------------------------------- */
static uint32_t mix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return (uint32_t)k;
}

/* The table is sized once from the number of merges (merges_reserve), so put
 * never grows it. Keys are stored plus one so that calloc'd memory is empty. */
static int merges_reserve(tk_merges *mm, size_t n) {
  size_t cap = 1024; /* load factor at most 1/2: encode's misses stay short */
  while (cap / 2 < n) cap *= 2;
  mm->slots = calloc(cap, sizeof *mm->slots);
  if (!mm->slots) return -1;
  mm->cap = cap;
  mm->n = 0;
  return 0;
}

/* sl->key is already stored plus one. */
static void merges_put(tk_merges *mm, const struct tk_mslot *sl) {
  size_t j = mix64(sl->key) & (mm->cap - 1);
  while (mm->slots[j].key && mm->slots[j].key != sl->key) j = (j + 1) & (mm->cap - 1);
  if (!mm->slots[j].key) mm->n++;
  mm->slots[j] = *sl; /* a repeated pair keeps its last rank, as HF's HashMap does */
}

static inline int merges_get(const tk_merges *mm, int32_t a, int32_t b, uint32_t *rank, uint32_t *nid) {
  if (!mm->cap) return 0;
  uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
  size_t j = mix64(key) & (mm->cap - 1);
  for (;;) {
    const struct tk_mslot *sl = &mm->slots[j];
    if (sl->key == key) {
      *rank = sl->rank;
      *nid = sl->nid;
      return 1;
    }
    if (!sl->key) return 0;
    j = (j + 1) & (mm->cap - 1);
  }
}

/* ---- load ------------------------------------------------------------------------- */
void tk_bpe_free(tk_bpe *m) {
  tk_strmap_free(&m->vocab);
  free(m->id_str);
  free(m->id_len);
  free(m->merges.slots);
  free(m->unk_token);
  free(m->prefix);
  free(m->suffix);
  memset(m, 0, sizeof *m);
}

static char *jstr_dup(const cJSON *j, const char *k, size_t *len) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
  if (!cJSON_IsString(v)) return NULL;
  size_t n = strlen(v->valuestring);
  char *p = malloc(n + 1);
  if (p) memcpy(p, v->valuestring, n + 1);
  if (len) *len = n;
  return p;
}

/* Resolves merge `rank` (a, b) to its slot. *guess is the id the merged token
 * likely has (trained vocabularies number merged tokens in merge order): one
 * look at id_str instead of a hash lookup when right. */
/* One merge's two tokens, hashed ahead of its resolution. */
struct merge_text {
  const char *a, *b;
  size_t al, bl;
  uint32_t ha, hb;
};

static void hash_merge(const tk_bpe *m, const tk_merge_ent *x, struct merge_text *t) {
  *t = (struct merge_text){x->a, x->b, x->al, x->bl, tk_hash(x->a, x->al), tk_hash(x->b, x->bl)};
  tk_strmap_prefetch(&m->vocab, t->ha);
  tk_strmap_prefetch(&m->vocab, t->hb);
}

/* A merge of the cJSON tree: "a b" (exactly one space) or [a, b]. */
static int merge_of(const cJSON *v, uint32_t rank, tk_merge_ent *out, tk_err *e) {
  const cJSON *x = cJSON_IsArray(v) ? v->child : NULL, *y = x ? x->next : NULL;
  if (cJSON_IsString(v)) {
    const char *s = v->valuestring, *sp = NULL, *q = s;
    for (; *q; q++) {
      if (*q != ' ') continue;
      if (sp) break;
      sp = q;
    }
    if (!sp || *q) {
      tk_seterr(e, "model.merges[%u]: '%s' is not \"a b\"", rank, s);
      return -1;
    }
    *out = (tk_merge_ent){s, sp + 1, (uint32_t)(sp - s), (uint32_t)(q - sp - 1)};
  } else if (cJSON_IsString(x) && cJSON_IsString(y) && !y->next) {
    *out = (tk_merge_ent){x->valuestring, y->valuestring, (uint32_t)strlen(x->valuestring),
                          (uint32_t)strlen(y->valuestring)};
  } else {
    tk_seterr(e, "model.merges[%u]: expected \"a b\" or [a, b]", rank);
    return -1;
  }
  return 0;
}

static int resolve_merge(const tk_bpe *m, const struct merge_text *t, uint32_t rank, int32_t *guess,
                         tk_buf *tmp, struct tk_mslot *out, tk_err *e) {
  const char *a = t->a, *b = t->b;
  size_t al = t->al, bl = t->bl;
  int32_t ia = tk_strmap_get_h(&m->vocab, a, al, t->ha), ib = tk_strmap_get_h(&m->vocab, b, bl, t->hb);
  if (ia < 0 || ib < 0) {
    tk_seterr(e, "model.merges[%u]: token '%.*s' is not in the vocabulary", rank, (int)(ia < 0 ? al : bl),
              ia < 0 ? a : b);
    return -1;
  }
  if (bl < m->prefix_len) {
    tk_seterr(e, "model.merges[%u]: '%.*s' is shorter than the subword prefix", rank, (int)bl, b);
    return -1;
  }
  /* a + b without its prefix: on the stack unless unusually long */
  char small[256], *cat = small;
  size_t cl = al + bl - m->prefix_len;
  if (cl > sizeof small) {
    tmp->len = 0;
    if (tk_buf_add(tmp, a, al) < 0 || tk_buf_add(tmp, b + m->prefix_len, bl - m->prefix_len) < 0) goto oom;
    cat = tmp->p;
  } else {
    memcpy(small, a, al);
    memcpy(small + al, b + m->prefix_len, bl - m->prefix_len);
  }
  /* id_str holds each distinct token once, under its final id, so a match here
   * is exactly what the vocab lookup would return */
  int32_t in = *guess;
  if (in < 0 || (size_t)in >= m->id_cap || !m->id_str[in] || m->id_len[in] != cl ||
      memcmp(m->id_str[in], cat, cl) != 0)
    in = tk_strmap_get(&m->vocab, cat, cl);
  *guess = in < 0 ? -1 : in + 1;
  if (in < 0) {
    tk_seterr(e, "model.merges[%u]: merged token '%.*s' is not in the vocabulary", rank, (int)cl, cat);
    return -1;
  }
  *out = (struct tk_mslot){(((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib) + 1, rank, (uint32_t)in};
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}

int tk_bpe_load(tk_bpe *m, const void *json, const tk_model_json *fast, tk_err *e) {
  const cJSON *j = json;
  tk_buf tmp = {0};
  tk_vocab_ent *own_vocab = NULL;
  tk_merge_ent *own_merges = NULL;
  memset(m, 0, sizeof *m);
  m->unk_id = -2;
  const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(j, "dropout");
  if (cJSON_IsNumber(dropout) && dropout->valuedouble > 0) {
    tk_seterr(e, "model.dropout %g is not supported (it makes encoding random)", dropout->valuedouble);
    return -1;
  }
  const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(j, "vocab");
  if (!cJSON_IsObject(vocab)) {
    tk_seterr(e, "model.vocab: expected an object of token → id");
    return -1;
  }
  size_t nv = 0;
  const tk_vocab_ent *ve;
  if (fast) {
    ve = fast->vocab;
    nv = fast->nvocab;
  } else {
    for (const cJSON *v = vocab->child; v; v = v->next) nv++;
    if (!(own_vocab = malloc((nv ? nv : 1) * sizeof *own_vocab))) goto oom;
    size_t i = 0;
    for (const cJSON *v = vocab->child; v; v = v->next, i++) {
      if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 2147483647.0) {
        tk_seterr(e, "model.vocab['%s']: expected a non-negative integer id", v->string);
        goto fail;
      }
      own_vocab[i] = (tk_vocab_ent){v->string, (uint32_t)strlen(v->string), (int32_t)v->valuedouble};
    }
    ve = own_vocab;
  }
  /* one allocation per table; tokens average well under 8 bytes */
  if (tk_strmap_reserve(&m->vocab, nv, nv * 8 + 4096) < 0) goto oom;
  /* Each token is hashed and its slot prefetched AHEAD entries before its
   * insert, so the slot misses overlap; inserts keep the JSON order. */
  enum { AHEAD = 8 };
  uint32_t la[AHEAD];
  for (size_t k = 0; k < AHEAD && k < nv; k++) {
    la[k] = tk_hash(ve[k].s, ve[k].n);
    tk_strmap_prefetch(&m->vocab, la[k]);
  }
  int32_t maxid = -1;
  for (size_t i = 0; i < nv; i++) {
    uint32_t h = la[i % AHEAD];
    if (i + AHEAD < nv) {
      la[i % AHEAD] = tk_hash(ve[i + AHEAD].s, ve[i + AHEAD].n);
      tk_strmap_prefetch(&m->vocab, la[i % AHEAD]);
    }
    if (tk_strmap_put_h(&m->vocab, ve[i].s, ve[i].n, h, ve[i].id) < 0) goto oom;
    if (ve[i].id > maxid) maxid = ve[i].id;
  }
  free(own_vocab);
  own_vocab = NULL;
  m->vocab_n = m->vocab.n;
  m->id_cap = (size_t)(maxid + 1);
  m->id_str = calloc(m->id_cap + 1, sizeof *m->id_str);
  m->id_len = calloc(m->id_cap + 1, sizeof *m->id_len);
  if (!m->id_str || !m->id_len) goto oom;
  for (size_t i = 0; i < m->vocab.n; i++) {
    const struct tk_sent *s = &m->vocab.ents[i];
    m->id_str[s->id] = m->vocab.pool + s->off; /* pool is final: no more puts */
    m->id_len[s->id] = s->len;
  }
  m->unk_token = jstr_dup(j, "unk_token", NULL);
  if (m->unk_token) m->unk_id = tk_strmap_get(&m->vocab, m->unk_token, strlen(m->unk_token));
  m->prefix = jstr_dup(j, "continuing_subword_prefix", &m->prefix_len);
  m->suffix = jstr_dup(j, "end_of_word_suffix", &m->suffix_len);
  m->fuse_unk = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "fuse_unk"));
  m->byte_fallback = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "byte_fallback"));
  m->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ignore_merges"));
  for (int b = 0; b < 256; b++) {
    char name[8], c[4];
    snprintf(name, sizeof name, "<0x%02X>", b);
    m->byte_id[b] = tk_strmap_get(&m->vocab, name, 6);
    int l = tk_utf8_enc(tk_byte_char((unsigned char)b), c);
    m->bl_byte_id[b] = tk_strmap_get(&m->vocab, c, (size_t)l);
  }
  const cJSON *merges = cJSON_GetObjectItemCaseSensitive(j, "merges");
  if (merges && !cJSON_IsArray(merges) && !cJSON_IsNull(merges)) {
    tk_seterr(e, "model.merges: expected an array");
    goto fail;
  }
  size_t nm = 0;
  const tk_merge_ent *me;
  if (fast) {
    me = fast->merges;
    nm = fast->nmerges;
  } else {
    for (const cJSON *v = merges ? merges->child : NULL; v; v = v->next) nm++;
    if (!(own_merges = malloc((nm ? nm : 1) * sizeof *own_merges))) goto oom;
    uint32_t r = 0;
    for (const cJSON *v = merges ? merges->child : NULL; v; v = v->next, r++)
      if (merge_of(v, r, &own_merges[r], e) < 0) goto fail;
    me = own_merges;
  }
  if (nm >= UINT32_MAX) {
    tk_seterr(e, "model.merges: too many merges");
    goto fail;
  }
  if (nm && merges_reserve(&m->merges, nm) < 0) goto oom;
  /* Two overlapping pipelines over the (far bigger than cache) tables: each
   * merge is hashed and its vocab slots prefetched AHEAD merges before it is
   * resolved, and its merges slot is prefetched when resolved and written RING
   * merges later. Resolution and insert order are unchanged. */
  enum { RING = 16 };
  struct merge_text mt[AHEAD];
  struct tk_mslot ring[RING];
  for (size_t k = 0; k < AHEAD && k < nm; k++) hash_merge(m, &me[k], &mt[k]);
  int32_t guess = -1;
  uint32_t rank = 0;
  for (; rank < nm; rank++) {
    struct merge_text t = mt[rank % AHEAD];
    if (rank + AHEAD < nm) hash_merge(m, &me[rank + AHEAD], &mt[rank % AHEAD]);
    struct tk_mslot *sl = &ring[rank % RING];
    if (rank >= RING) merges_put(&m->merges, sl);
    if (resolve_merge(m, &t, rank, &guess, &tmp, sl, e) < 0) goto fail;
    __builtin_prefetch(&m->merges.slots[mix64(sl->key) & (m->merges.cap - 1)], 1);
  }
  for (uint32_t r = rank > RING ? rank - RING : 0; r < rank; r++) merges_put(&m->merges, &ring[r % RING]);
  free(own_merges);
  free(tmp.p);
  return 0;
oom:
  tk_seterr(e, "out of memory");
fail:
  free(own_vocab);
  free(own_merges);
  free(tmp.p);
  tk_bpe_free(m);
  return -1;
}

const char *tk_bpe_id_to_token(const tk_bpe *m, int32_t id, size_t *len) {
  if (id < 0 || (size_t)id >= m->id_cap || !m->id_str[id]) return NULL;
  if (len) *len = m->id_len[id];
  return m->id_str[id];
}

/* ---- scratch growth ---------------------------------------------------------------- */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  void *np = realloc(*p, c * elem);
  if (!np) return -1;
  *p = np;
  *cap = c;
  return 0;
}

/* ---- the merge loop ------------------------------------------------------------------ */
static inline int heap_less(const struct tk_heap *a, const struct tk_heap *b) {
  return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(struct tk_heap *h, size_t *n, struct tk_heap v) {
  size_t i = (*n)++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!heap_less(&v, &h[p])) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = v;
}

static struct tk_heap heap_pop(struct tk_heap *h, size_t *n) {
  struct tk_heap top = h[0], last = h[--*n];
  size_t i = 0, m = *n;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= m) break;
    if (c + 1 < m && heap_less(&h[c + 1], &h[c])) c++;
    if (!heap_less(&h[c], &last)) break;
    h[i] = h[c];
    i = c;
  }
  if (m) h[i] = last;
  return top;
}

static inline size_t merges_slot(const tk_merges *mm, int32_t a, int32_t b) {
  return mix64((((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1) & (mm->cap - 1);
}

static void merge_all(const tk_bpe *m, tk_scratch *S, size_t ns) {
  struct tk_sym *sy = S->syms;
  struct tk_heap *h = S->heap;
  size_t hn = 0;
  uint32_t rank, nid;
  /* The table is far bigger than the caches: ask for every first pair's slot
   * before reading any, so the misses overlap. */
  if (m->merges.cap && ns > 2)
    for (size_t i = 0; i + 1 < ns; i++)
      __builtin_prefetch(&m->merges.slots[merges_slot(&m->merges, sy[i].id, sy[i + 1].id)]);
  for (size_t i = 0; i + 1 < ns; i++)
    if (merges_get(&m->merges, sy[i].id, sy[i + 1].id, &rank, &nid))
      heap_push(h, &hn, (struct tk_heap){rank, (uint32_t)i, nid, sy[i].id, sy[i + 1].id});
  while (hn) {
    struct tk_heap top = heap_pop(h, &hn);
    struct tk_sym *cur = &sy[top.pos];
    if (cur->len == 0 || cur->next == -1) continue;
    struct tk_sym right = sy[cur->next];
    /* HF looks the pair up again and merges when it yields the same new id;
     * the same two ids as when pushed yield it without the lookup. */
    if ((cur->id != top.a || right.id != top.b) &&
        (!merges_get(&m->merges, cur->id, right.id, &rank, &nid) || nid != top.nid))
      continue;
    int32_t next_pos = cur->next;
    cur->id = (int32_t)top.nid;
    cur->len += right.len;
    cur->next = right.next;
    sy[next_pos].len = 0;
    if (right.next > -1 && (size_t)right.next < ns) sy[right.next].prev = (int32_t)top.pos;
    /* both new pairs' slots requested before either is read: the misses overlap */
    if (cur->prev >= 0)
      __builtin_prefetch(&m->merges.slots[merges_slot(&m->merges, sy[cur->prev].id, cur->id)]);
    if (cur->next >= 0 && (size_t)cur->next < ns)
      __builtin_prefetch(&m->merges.slots[merges_slot(&m->merges, cur->id, sy[cur->next].id)]);
    if (cur->prev >= 0) {
      struct tk_sym *pv = &sy[cur->prev];
      if (merges_get(&m->merges, pv->id, cur->id, &rank, &nid))
        heap_push(h, &hn, (struct tk_heap){rank, (uint32_t)cur->prev, nid, pv->id, cur->id});
    }
    if (cur->next >= 0 && (size_t)cur->next < ns) {
      if (merges_get(&m->merges, cur->id, sy[cur->next].id, &rank, &nid))
        heap_push(h, &hn, (struct tk_heap){rank, top.pos, nid, cur->id, sy[cur->next].id});
    }
  }
}

static int sym_add(tk_scratch *S, size_t *ns, int32_t id, uint32_t len) {
  if (grow((void **)&S->syms, &S->syms_cap, *ns + 1, sizeof *S->syms) < 0) return -1;
  struct tk_sym *sy = S->syms;
  if (*ns) sy[*ns - 1].next = (int32_t)*ns;
  sy[*ns] = (struct tk_sym){id, (int32_t)*ns - 1, -1, len};
  (*ns)++;
  return 0;
}

/* BPE::merge_word: builds the symbols then merges them. Returns the symbol count. */
static int merge_word(const tk_bpe *m, tk_scratch *S, const unsigned char *w, size_t n, int bl,
                      size_t *out_ns, tk_err *e) {
  size_t ns = 0;
  int have_unk = 0;
  int32_t unk_id = 0;
  uint32_t unk_len = 0;
  char c4[4];
  size_t i = 0;
  if (bl && !m->prefix_len && !m->suffix_len) { /* an empty prefix or suffix (Qwen) adds nothing */
    /* byte-level: one symbol per byte, straight from the byte's id */
    if (grow((void **)&S->syms, &S->syms_cap, n, sizeof *S->syms) < 0) goto oom;
    struct tk_sym *sy = S->syms;
    for (; i < n && m->bl_byte_id[w[i]] >= 0; i++)
      sy[i] = (struct tk_sym){m->bl_byte_id[w[i]], (int32_t)i - 1, (int32_t)i + 1, 1};
    ns = i;
    if (ns) sy[ns - 1].next = -1;
  }
  while (i < n) {
    const char *s;
    size_t slen, blen;
    if (bl) {
      slen = (size_t)tk_utf8_enc(tk_byte_char(w[i]), c4);
      s = c4;
      blen = 1;
    } else {
      blen = (size_t)tk_utf8_len(w[i]);
      if (i + blen > n) blen = n - i;
      s = (const char *)w + i;
      slen = blen;
    }
    int first = i == 0, last = i + blen >= n;
    int32_t id;
    if (bl && !m->prefix_len && !m->suffix_len) {
      id = m->bl_byte_id[w[i]];
    } else if ((m->prefix && !first) || (m->suffix && last)) {
      size_t need = slen + m->prefix_len + m->suffix_len;
      if (grow((void **)&S->tmp, &S->tmp_cap, need, 1) < 0) goto oom;
      size_t k = 0;
      if (m->prefix && !first) {
        memcpy(S->tmp, m->prefix, m->prefix_len);
        k = m->prefix_len;
      }
      memcpy(S->tmp + k, s, slen);
      k += slen;
      if (m->suffix && last) {
        memcpy(S->tmp + k, m->suffix, m->suffix_len);
        k += m->suffix_len;
      }
      s = S->tmp;
      slen = k;
      id = tk_strmap_get(&m->vocab, s, slen);
    } else {
      id = tk_strmap_get(&m->vocab, s, slen);
    }
    i += blen;
    if (id >= 0) {
      if (have_unk) {
        if (sym_add(S, &ns, unk_id, unk_len) < 0) goto oom;
        have_unk = 0;
      }
      if (sym_add(S, &ns, id, (uint32_t)blen) < 0) goto oom;
      continue;
    }
    if (m->byte_fallback) {
      size_t k;
      for (k = 0; k < slen; k++)
        if (m->byte_id[(unsigned char)s[k]] < 0) break;
      if (k == slen) {
        for (k = 0; k < slen; k++)
          if (sym_add(S, &ns, m->byte_id[(unsigned char)s[k]], 1) < 0) goto oom;
        continue;
      }
    }
    if (m->unk_token) {
      if (m->unk_id < 0) {
        tk_seterr(e, "the unk_token '%s' is not in the vocabulary", m->unk_token);
        return -1;
      }
      if (have_unk && m->fuse_unk) {
        unk_len += (uint32_t)blen;
      } else {
        if (have_unk && sym_add(S, &ns, unk_id, unk_len) < 0) goto oom;
        have_unk = 1;
        unk_id = m->unk_id;
        unk_len = (uint32_t)blen;
      }
    }
  }
  if (have_unk && sym_add(S, &ns, unk_id, unk_len) < 0) goto oom;
  if (grow((void **)&S->heap, &S->heap_cap, ns * 2 + 16, sizeof *S->heap) < 0) goto oom;
  merge_all(m, S, ns);
  *out_ns = ns;
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}

/* ---- cache ------------------------------------------------------------------------------ */
struct cache_rec { /* then the key (padded to 4 bytes), then ntok (id, len) pairs */
  uint32_t hash;
  uint16_t klen, ntok;
  uint8_t bl, pad[3];
};

static size_t pad4(size_t n) { return (n + 3) & ~(size_t)3; }

static void cache_clear(tk_cache *c) {
  c->len = c->n = 0;
  if (c->slots) memset(c->slots, 0, ((size_t)c->mask + 1) * sizeof *c->slots);
}

static const int32_t *cache_get(const tk_cache *c, const char *k, size_t n, int bl, uint32_t h,
                                size_t *ntok) {
  if (!c->slots) return NULL;
  for (uint32_t j = h & c->mask;; j = (j + 1) & c->mask) {
    uint64_t v = c->slots[j];
    if (!v) return NULL;
    if ((uint32_t)(v >> 32) != h) continue;
    const char *r = c->data + (uint32_t)v - 1;
    struct cache_rec hd;
    memcpy(&hd, r, sizeof hd);
    if (hd.klen == n && hd.bl == bl && memcmp(r + sizeof hd, k, n) == 0) {
      *ntok = hd.ntok;
      return (const int32_t *)(const void *)(r + sizeof hd + pad4(n));
    }
  }
}

static void cache_put(tk_cache *c, const char *k, size_t n, int bl, uint32_t h, const struct tk_sym *sy,
                      size_t ns, size_t nlive) {
  /* An empty key or result is not worth caching (and an empty result would
   * read back as no tokens, found by tests/fuzz). */
  if (n == 0 || nlive == 0 || n >= CACHE_MAX_KEY) return;
  if (!c->slots) {
    c->slots = calloc(CACHE_MAX_ENTRIES * 2, sizeof *c->slots);
    if (!c->slots) return;
    c->mask = CACHE_MAX_ENTRIES * 2 - 1;
  }
  size_t need = sizeof(struct cache_rec) + pad4(n) + nlive * 2 * sizeof(int32_t);
  if (c->n >= CACHE_MAX_ENTRIES || c->len + need > CACHE_MAX_BYTES) cache_clear(c);
  if (grow((void **)&c->data, &c->cap, c->len + need, 1) < 0) return;
  char *r = c->data + c->len;
  struct cache_rec hd = {h, (uint16_t)n, (uint16_t)nlive, (uint8_t)bl, {0, 0, 0}};
  memcpy(r, &hd, sizeof hd);
  memcpy(r + sizeof hd, k, n);
  int32_t *t = (int32_t *)(void *)(r + sizeof hd + pad4(n));
  for (size_t i = 0; i < ns; i++) {
    if (!sy[i].len) continue;
    *t++ = sy[i].id;
    *t++ = (int32_t)sy[i].len;
  }
  uint32_t j = h & c->mask;
  while (c->slots[j]) j = (j + 1) & c->mask;
  c->slots[j] = (uint64_t)h << 32 | (uint32_t)(c->len + 1);
  c->len += need;
  c->n++;
}

/* ---- tokenize one split -------------------------------------------------------------------- */
static int grow_toks(tk_tok **toks, size_t *cap) {
  size_t c = *cap ? *cap * 2 : 256;
  tk_tok *nt = realloc(*toks, c * sizeof *nt);
  if (!nt) return -1;
  *toks = nt;
  *cap = c;
  return 0;
}

static inline int emit(const tk_split *sp, int32_t id, size_t pos, size_t len, tk_tok **toks, size_t *n,
                       size_t *cap) {
  if (*n == *cap && grow_toks(toks, cap) < 0) return -1;
  tk_tok *t = &(*toks)[(*n)++];
  t->id = id;
  t->str = NULL;
  t->slen = 0;
  t->special = 0;
  size_t end = pos + len;
  if (len == 0) { /* HF returns the empty range itself */
    t->bs = t->be = (uint32_t)(sp->ns.shift + pos);
  } else if (end <= sp->ns.len) {
    t->bs = sp->ns.al[pos].s;
    t->be = sp->ns.al[end - 1].e;
  } else { /* out of range: HF keeps the raw relative offsets */
    t->bs = (uint32_t)pos;
    t->be = (uint32_t)end;
  }
  return 0;
}

/* ignore_merges: the whole pre-token when the vocabulary holds it. 1 emitted,
 * 0 not in the vocabulary, -1 out of memory. */
static int whole_word(const tk_bpe *m, tk_scratch *S, const tk_split *sp, tk_tok **toks, size_t *n,
                      size_t *cap) {
  const char *w = sp->ns.p, *key = w;
  size_t len = sp->ns.len, klen = len;
  if (sp->bytelevel) {
    if (grow((void **)&S->tmp, &S->tmp_cap, len * 2, 1) < 0) return -1;
    klen = 0;
    for (size_t i = 0; i < len; i++)
      klen += (size_t)tk_utf8_enc(tk_byte_char((unsigned char)w[i]), S->tmp + klen);
    key = S->tmp;
  }
  int32_t id = tk_strmap_get(&m->vocab, key, klen);
  if (id < 0) return 0;
  return emit(sp, id, 0, len, toks, n, cap) < 0 ? -1 : 1;
}

int tk_bpe_tokenize(const tk_bpe *m, tk_scratch *S, const tk_split *sp, tk_tok **toks, size_t *n, size_t *cap,
                    tk_err *e) {
  const char *w = sp->ns.p;
  size_t len = sp->ns.len;
  int bl = sp->bytelevel;
  if (!len) return 0;
  /* The cache holds what this function produced for the same bytes, so it is
   * asked first, ignore_merges' whole-word lookup included. */
  uint32_t h = 0;
  if (len < CACHE_MAX_KEY) {
    h = tk_hash(w, len) ^ (uint32_t)bl;
    size_t nt;
    const int32_t *hit = cache_get(&S->cache, w, len, bl, h, &nt);
    if (hit) {
      size_t pos = 0;
      for (size_t i = 0; i < nt; i++) {
        if (emit(sp, hit[2 * i], pos, (size_t)hit[2 * i + 1], toks, n, cap) < 0) goto oom;
        pos += (size_t)hit[2 * i + 1];
      }
      return 0;
    }
  }
  if (m->ignore_merges) {
    size_t before = *n;
    int r = whole_word(m, S, sp, toks, n, cap);
    if (r < 0) goto oom;
    if (r) {
      struct tk_sym one = {(*toks)[before].id, -1, -1, (uint32_t)len};
      if (len < CACHE_MAX_KEY) cache_put(&S->cache, w, len, bl, h, &one, 1, 1);
      return 0;
    }
  }
  size_t ns;
  if (merge_word(m, S, (const unsigned char *)w, len, bl, &ns, e) < 0) return -1;
  size_t pos = 0, live = 0;
  for (size_t i = 0; i < ns; i++) {
    if (!S->syms[i].len) continue;
    live++;
    if (emit(sp, S->syms[i].id, pos, S->syms[i].len, toks, n, cap) < 0) goto oom;
    pos += S->syms[i].len;
  }
  if (len < CACHE_MAX_KEY) cache_put(&S->cache, w, len, bl, h, S->syms, ns, live);
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}
