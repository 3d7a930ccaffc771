/* Tokenizer plumbing: arena, UTF-8, Unicode predicates, the string map, HF's
 * NormalizedString::transform, the PCRE2 wrapper, and the lookups every stage
 * shares (a JSON node's "type", an id's token), so no stage calls back into
 * tokenizer.c. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "internal.h"
#include "unicode_tables.h"
#include "utf8.h"

void tk_seterr(tk_err *e, const char *fmt, ...) {
  if (!e || !e->buf || !e->len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->buf, e->len, fmt, ap);
  va_end(ap);
}

/* ---- arena ---------------------------------------------------------------------- */
struct tk_chunk {
  tk_chunk *next;
  size_t used, cap;
  max_align_t data[];
};

void *tk_alloc(tk_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  tk_chunk *c = a->head;
  if (!c || c->cap - c->used < n) {
    size_t cap = n > (1u << 20) ? n : (1u << 20);
    if (c && c->cap * 2 > cap && c->cap < ((size_t)64 << 20)) cap = c->cap * 2;
    tk_chunk *nc = malloc(sizeof *nc + cap);
    if (!nc) return NULL;
    nc->next = c;
    nc->used = 0;
    nc->cap = cap;
    a->head = c = nc;
  }
  void *p = (char *)c->data + c->used;
  c->used += n;
  return p;
}

/* Keeps only the biggest chunk so a steady workload stops allocating. */
void tk_arena_reset(tk_arena *a) {
  tk_chunk *keep = NULL;
  for (tk_chunk *c = a->head, *next; c; c = next) {
    next = c->next;
    if (!keep || c->cap > keep->cap) {
      if (keep) free(keep);
      keep = c;
    } else {
      free(c);
    }
  }
  if (keep) {
    keep->next = NULL;
    keep->used = 0;
  }
  a->head = keep;
}

void tk_arena_free(tk_arena *a) {
  for (tk_chunk *c = a->head, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  a->head = NULL;
}

int tk_buf_add(tk_buf *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) return -1;
    b->p = np;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = 0;
  return 0;
}

int tk_buf_addc(tk_buf *b, char c) { return tk_buf_add(b, &c, 1); }

/* ---- UTF-8 ------------------------------------------------------------------------ */
uint32_t tk_utf8_dec(const unsigned char *s, size_t n, int *len) {
  unsigned char c = s[0];
  if (c < 0x80 || n < 2) {
    *len = 1;
    return c;
  }
  if (c < 0xE0) {
    *len = 2;
    return ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
  }
  if (c < 0xF0 || n < 4) {
    *len = 3;
    return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
  }
  *len = 4;
  return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
         (s[3] & 0x3F);
}

int tk_utf8_enc(uint32_t cp, char *o) { return lacuna_utf8_encode(cp, o); }

/* Length of the valid sequence at s, or 0 with *bad = length of the maximal invalid
 * subpart (the unit one U+FFFD replaces, per Unicode/WHATWG and Rust). */
static size_t valid_seq(const unsigned char *s, size_t n, size_t *bad) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    need = 1;
  else if (c == 0xE0)
    need = 2, lo = 0xA0;
  else if (c >= 0xE1 && c <= 0xEC)
    need = 2;
  else if (c == 0xED)
    need = 2, hi = 0x9F;
  else if (c >= 0xEE && c <= 0xEF)
    need = 2;
  else if (c == 0xF0)
    need = 3, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3)
    need = 3;
  else if (c == 0xF4)
    need = 3, hi = 0x8F;
  else {
    *bad = 1;
    return 0;
  }
  size_t i = 1;
  for (; i <= need; i++) {
    if (i >= n) break;
    unsigned char d = s[i];
    if (i == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) break;
  }
  if (i == need + 1) return need + 1;
  *bad = i;
  return 0;
}

int tk_utf8_step(const char *s, size_t n, size_t i, size_t *ok, size_t *bad) {
  *ok = valid_seq((const unsigned char *)s + i, n - i, bad);
  return *ok != 0;
}

char *tk_utf8_lossy(const char *s, size_t n, size_t *outlen, int *oom) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, bad = 0;
  *oom = 0;
  if (lacuna_utf8_check(s, n, &bad)) { /* the common case, checked 8 ASCII bytes at a time */
    *outlen = n;
    return NULL;
  }
  while (i < n) {
    if (u[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = valid_seq(u + i, n - i, &bad);
    if (!k) break;
    i += k;
  }
  if (i == n) {
    *outlen = n;
    return NULL;
  }
  tk_buf b = {0};
  if (tk_buf_add(&b, s, i) < 0) goto fail;
  while (i < n) {
    size_t k = valid_seq(u + i, n - i, &bad);
    if (k) {
      if (tk_buf_add(&b, s + i, k) < 0) goto fail;
      i += k;
    } else {
      if (tk_buf_add(&b, "\xEF\xBF\xBD", 3) < 0) goto fail;
      i += bad;
    }
  }
  *outlen = b.len;
  return b.p;
fail:
  free(b.p);
  *oom = 1;
  return NULL;
}

int tk_norm_unknown(uint32_t c) {
  if (c < 0x10000) return tk_norm_newer_bmp[c >> 5] >> (c & 31) & 1;
  size_t n = sizeof tk_norm_newer / sizeof tk_norm_newer[0], lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (tk_norm_newer[mid][1] < c)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && tk_norm_newer[lo][0] <= c;
}

int tk_is_added_cp(uint32_t c) {
  if (c < 0x10000) return TK_ADDED_BMP(c);
  size_t n = sizeof tk_added_cps / sizeof tk_added_cps[0], lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (tk_added_cps[mid][1] < c)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && tk_added_cps[lo][0] <= c;
}

int tk_newer_category(uint32_t c) {
  if (c < 0x10000 && !(tk_newer_bmp[c >> 5] >> (c & 31) & 1)) return 0;
  size_t n = sizeof tk_newer_assigned / sizeof tk_newer_assigned[0], lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (tk_newer_assigned[mid][1] < c)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && tk_newer_assigned[lo][0] <= c ? (int)tk_newer_assigned[lo][2] : 0;
}

const char *tk_unicode_version(void) { return TK_UNICODE_VERSION; }

int tk_is_whitespace(uint32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  if (c < 0x85) return 0;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

int tk_is_word(uint32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (c == 0x200C || c == 0x200D) return 1;
  switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC: return 1;
    default: return 0;
  }
}

int tk_is_numeric(uint32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
  return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

/* ---- string map ---------------------------------------------------------------- */
uint32_t tk_hash(const void *p, size_t n) {
  /* FNV-1a over 8-byte words, then a murmur finaliser: fast and good enough. */
  const unsigned char *s = p;
  uint64_t h = 0xcbf29ce484222325ull ^ n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
    s += 8;
    n -= 8;
  }
  while (n--) h = (h ^ *s++) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return (uint32_t)h;
}

static int strmap_rehash(tk_strmap *m, uint32_t ncap) {
  struct tk_sslot *slots = calloc(ncap, sizeof *slots);
  if (!slots) return -1;
  for (size_t i = 0; i < m->n; i++) {
    uint32_t h = m->ents[i].hash, j = h & (ncap - 1);
    while (slots[j].idx) j = (j + 1) & (ncap - 1);
    slots[j] = (struct tk_sslot){h, (uint32_t)i + 1};
  }
  free(m->slots);
  m->slots = slots;
  m->mask = ncap - 1;
  return 0;
}

static int strmap_grow(tk_strmap *m) { return strmap_rehash(m, m->mask ? (m->mask + 1) * 2 : 1024); }

int tk_strmap_reserve(tk_strmap *m, size_t n, size_t pool_bytes) {
  if (n > UINT32_MAX / 4) return -1;
  if (n > m->cap) {
    void *p = realloc(m->ents, n * sizeof *m->ents);
    if (!p) return -1;
    m->ents = p;
    m->cap = n;
  }
  if (pool_bytes > m->pool_cap) {
    char *p = realloc(m->pool, pool_bytes);
    if (!p) return -1;
    m->pool = p;
    m->pool_cap = pool_bytes;
  }
  uint32_t ncap = 1024; /* the load factor put keeps: at most one half */
  while ((size_t)ncap < 2 * (n + 1)) ncap *= 2;
  return ncap > (size_t)m->mask + 1 ? strmap_rehash(m, ncap) : 0;
}

int32_t tk_strmap_get(const tk_strmap *m, const char *s, size_t n) {
  return m->mask ? tk_strmap_get_h(m, s, n, tk_hash(s, n)) : -1;
}

int32_t tk_strmap_get_h(const tk_strmap *m, const char *s, size_t n, uint32_t h) {
  if (!m->mask) return -1;
  uint32_t j = h & m->mask;
  for (; m->slots[j].idx; j = (j + 1) & m->mask) {
    if (m->slots[j].hash != h) continue;
    const struct tk_sent *e = &m->ents[m->slots[j].idx - 1];
    if (e->len == n && memcmp(m->pool + e->off, s, n) == 0) return e->id;
  }
  return -1;
}

int tk_strmap_put(tk_strmap *m, const char *s, size_t n, int32_t id) {
  return tk_strmap_put_h(m, s, n, tk_hash(s, n), id);
}

int tk_strmap_put_h(tk_strmap *m, const char *s, size_t n, uint32_t h, int32_t id) {
  if ((m->n + 1) * 2 > (size_t)m->mask + 1 && strmap_grow(m) < 0) return -1;
  uint32_t j = h & m->mask;
  for (; m->slots[j].idx; j = (j + 1) & m->mask) {
    if (m->slots[j].hash != h) continue;
    struct tk_sent *e = &m->ents[m->slots[j].idx - 1];
    if (e->len == n && memcmp(m->pool + e->off, s, n) == 0) {
      e->id = id;
      return 0;
    }
  }
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    void *p = realloc(m->ents, cap * sizeof *m->ents);
    if (!p) return -1;
    m->ents = p;
    m->cap = cap;
  }
  if (m->pool_len + n + 1 > m->pool_cap) {
    size_t cap = m->pool_cap ? m->pool_cap : 4096;
    while (cap < m->pool_len + n + 1) cap *= 2;
    char *p = realloc(m->pool, cap);
    if (!p) return -1;
    m->pool = p;
    m->pool_cap = cap;
  }
  memcpy(m->pool + m->pool_len, s, n);
  m->pool[m->pool_len + n] = 0;
  m->ents[m->n] = (struct tk_sent){(uint32_t)m->pool_len, (uint32_t)n, h, id};
  m->pool_len += n + 1;
  m->slots[j] = (struct tk_sslot){h, (uint32_t)++m->n};
  return 0;
}

void tk_strmap_free(tk_strmap *m) {
  free(m->pool);
  free(m->ents);
  free(m->slots);
  memset(m, 0, sizeof *m);
}

/* ---- transform ------------------------------------------------------------------- */
static int xf_reserve(tk_xf *x, size_t more) {
  if (x->len + more <= x->cap) return 0;
  size_t cap = x->cap ? x->cap * 2 : 64;
  while (cap < x->len + more) cap *= 2;
  char *p = tk_alloc(x->A, cap);
  tk_al *al = tk_alloc(x->A, cap * sizeof *al);
  if (!p || !al) {
    x->oom = 1;
    return -1;
  }
  if (x->len) {
    memcpy(p, x->p, x->len);
    memcpy(al, x->al, x->len * sizeof *al);
  }
  x->p = p;
  x->al = al;
  x->cap = cap;
  return 0;
}

void tk_xf_begin(tk_xf *x, tk_arena *A, const tk_ns *src) {
  memset(x, 0, sizeof *x);
  x->A = A;
  x->src = src;
  xf_reserve(x, src->len + src->len / 2 + 8);
}

void tk_xf_copy_to(tk_xf *x, size_t upto) {
  if (upto <= x->idx) return;
  size_t n = upto - x->idx;
  if (xf_reserve(x, n) < 0) return;
  memcpy(x->p + x->len, x->src->p + x->idx, n);
  memcpy(x->al + x->len, x->src->al + x->idx, n * sizeof *x->al);
  x->len += n;
  x->idx = upto;
}

static size_t char_len_at(const tk_xf *x, size_t i) {
  size_t l = (size_t)tk_utf8_len((unsigned char)x->src->p[i]);
  return i + l > x->re ? x->re - i : l;
}

void tk_xf_range(tk_xf *x, size_t rs, size_t re, size_t initial_chars) {
  tk_xf_copy_to(x, rs);
  x->rs = rs;
  x->re = re;
  x->idx = rs;
  while (initial_chars-- && x->idx < re) x->idx += char_len_at(x, x->idx);
}

void tk_xf_push(tk_xf *x, uint32_t cp, int change) {
  tk_al a;
  size_t i = x->idx;
  if (change > 0) {
    /* An inserted char shares the alignment of the byte before it. */
    if (i > x->rs)
      a = x->src->al[i - 1];
    else if (x->len)
      a = x->al[x->len - 1];
    else
      a = (tk_al){x->src->shift, x->src->shift};
  } else if (i < x->re) {
    a = x->src->al[i];
  } else if (x->len) {
    a = x->al[x->len - 1];
  } else {
    a = (tk_al){x->src->shift, x->src->shift};
  }
  if (change <= 0 && x->idx < x->re) x->idx += char_len_at(x, x->idx);
  for (int k = change; k < 0 && x->idx < x->re; k++) x->idx += char_len_at(x, x->idx);
  char b[4];
  int n = tk_utf8_enc(cp, b);
  if (xf_reserve(x, (size_t)n) < 0) return;
  for (int k = 0; k < n; k++) {
    x->p[x->len] = b[k];
    x->al[x->len++] = a;
  }
}

void tk_xf_range_end(tk_xf *x) { x->idx = x->re; }

int tk_xf_end(tk_xf *x, tk_ns *out) {
  tk_xf_copy_to(x, x->src->len);
  if (x->oom) return -1;
  out->p = x->p;
  out->al = x->al;
  out->len = (uint32_t)x->len;
  out->shift = x->src->shift;
  return 0;
}

/* ---- regex ------------------------------------------------------------------------ */
/* Oniguruma (what HF uses) reads \s as Unicode White_Space; PCRE2's \s adds U+180E,
 * and its \h is horizontal space where Oniguruma's is a hex digit. Rewrite those. */
#define WS_SET                                                                                               \
  "\\t\\n\\x0B\\f\\r "                                                                                       \
  "\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* The TK_GC_* bit of a major category letter; C, which holds the unassigned
 * code points themselves, stands for every category. */
static int gc_bit(char k) {
  switch (k) {
    case 'L': return TK_GC_L;
    case 'M': return TK_GC_M;
    case 'N': return TK_GC_N;
    case 'P': return TK_GC_P;
    case 'S': return TK_GC_S;
    case 'Z': return TK_GC_Z;
    default: return TK_GC_ALL;
  }
}

/* \p{X} / \pX: adds the code points that Unicode 15 gave category X (and its
 * subcategories) beside the escape, since PCRE2 10.42 knows Unicode 14 only
 * (unicode_tables.h). Returns the bytes of p consumed after the backslash, 0
 * when this is not a general-category escape (left as it is). */
static size_t add_category(const char *p, size_t n, size_t i, int in_class, tk_buf *o, int *r, int *cats,
                           int *widen) {
  char d = p[i];
  if (d != 'p' || i + 1 >= n) return 0;
  const char *name = p + i + 1;
  size_t len = 1, used = 2;
  if (*name == '{') {
    const char *close = memchr(name, '}', n - i - 1);
    if (!close) return 0;
    name++;
    len = (size_t)(close - name);
    used = len + 3;
  }
  if (len < 1 || len > 2) return 0;
  const char *known = "LMNPSZC";
  if (!strchr(known, name[0])) return 0;
  *cats |= gc_bit(name[0]);
  int bracket = (*widen & 1) && !in_class; /* unwidened, the escape stays as it is */
  *r = tk_buf_add(o, bracket ? "[" : "", bracket ? 1 : 0);
  if (!*r) *r = tk_buf_add(o, p + i - 1, used + 1);
  for (size_t k = 0; !*r && k < sizeof tk_newer_cps / sizeof tk_newer_cps[0]; k++)
    if (tk_newer_cps[k].cat[0] == name[0] && (len == 1 || tk_newer_cps[k].cat[1] == name[1])) {
      if (*widen & 1) *r = tk_buf_add(o, tk_newer_cps[k].ranges, strlen(tk_newer_cps[k].ranges));
      *widen |= 2; /* there is something to add */
    }
  if (!*r && bracket) *r = tk_buf_addc(o, ']');
  return used;
}

/* widen: 1 adds the Unicode 15 code points to the \\p{..} classes; bit 2 is
 * set when there were any to add. */
static int rewrite_pattern(const char *p, size_t n, tk_buf *o, int *cats, int *widen) {
  int in_class = 0;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (c == '\\' && i + 1 < n) {
      int r = 0;
      size_t used = add_category(p, n, i + 1, in_class, o, &r, cats, widen);
      if (r < 0) return -1;
      if (used) {
        i += used;
        continue;
      }
      char d = p[i + 1];
      i++;
      if (d == 'w' || d == 'W') *cats |= TK_GC_L | TK_GC_M | TK_GC_N | TK_GC_P;
      if (d == 'd' || d == 'D') *cats |= TK_GC_N;
      if (d == 'P') *cats |= TK_GC_ALL; /* \\P{..}: not rewritten; refuse what it may misread */
      if (d == 's')
        r = tk_buf_add(o, in_class ? WS_SET : "[" WS_SET "]", strlen(in_class ? WS_SET : "[" WS_SET "]"));
      else if (d == 'S' && !in_class)
        r = tk_buf_add(o, "[^" WS_SET "]", strlen("[^" WS_SET "]"));
      else if (d == 'h')
        r = tk_buf_add(o, in_class ? "0-9a-fA-F" : "[0-9a-fA-F]", in_class ? 9 : 11);
      else if (d == 'H' && !in_class)
        r = tk_buf_add(o, "[^0-9a-fA-F]", 12);
      else {
        r = tk_buf_addc(o, '\\');
        if (!r) r = tk_buf_addc(o, d);
      }
      if (r < 0) return -1;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = 1;
      if (tk_buf_addc(o, c) < 0) return -1;
      /* a leading ']' or '^]' is literal */
      if (i + 1 < n && p[i + 1] == '^') {
        if (tk_buf_addc(o, '^') < 0) return -1;
        i++;
      }
      if (i + 1 < n && p[i + 1] == ']') {
        if (tk_buf_addc(o, ']') < 0) return -1;
        i++;
      }
      continue;
    }
    if (c == ']' && in_class) in_class = 0;
    if (tk_buf_addc(o, c) < 0) return -1;
  }
  return 0;
}

int tk_regex_compile(tk_regex *r, const char *pat, size_t n, int literal, tk_err *e) {
  memset(r, 0, sizeof *r);
  if (literal) {
    r->literal = malloc(n + 1);
    if (!r->literal) {
      tk_seterr(e, "out of memory");
      return -1;
    }
    memcpy(r->literal, pat, n);
    r->literal[n] = 0;
    r->litlen = n;
    return 0;
  }
  /* Two compilations when the pattern names a category that Unicode 15 grew:
   * the plain one, and one whose classes hold the Unicode 15 code points too
   * (code15), which runs only on texts holding one of them. */
  for (int widen = 0; widen < 2; widen++) {
    tk_buf b = {0};
    int w = widen;
    r->cats = 0; /* the major categories the pattern names (\p{..}, \w, \d) */
    if (rewrite_pattern(pat, n, &b, &r->cats, &w) < 0 || tk_buf_add(&b, "", 0) < 0) {
      free(b.p);
      tk_regex_free(r);
      tk_seterr(e, "out of memory");
      return -1;
    }
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)b.p, b.len, PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &ec, &eo, NULL);
    free(b.p);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(ec, msg, sizeof msg);
      tk_seterr(e, "bad regex '%.*s': %s", (int)(n > 200 ? 200 : n), pat, (char *)msg);
      tk_regex_free(r);
      return -1;
    }
    /* without JIT (not built in, out of memory) the interpreter runs it */
    if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0) r->jit |= widen ? 2 : 1;
    *(widen ? &r->code15 : &r->code) = code;
    if (!(w & 2)) break; /* nothing to widen */
  }
  return 0;
}

void tk_regex_free(tk_regex *r) {
  if (r->code) pcre2_code_free(r->code);
  if (r->code15) pcre2_code_free(r->code15);
  free(r->literal);
  memset(r, 0, sizeof *r);
}

static const char *find_literal(const char *h, size_t hn, const char *nd, size_t nn) {
  const char *end = h + hn - nn + 1;
  for (const char *p = h; p < end; p++) {
    p = memchr(p, nd[0], (size_t)(end - p));
    if (!p) return NULL;
    if (memcmp(p, nd, nn) == 0) return p;
  }
  return NULL;
}

int tk_regex_find(const tk_regex *r, tk_scratch *S, const char *s, size_t n, size_t start, size_t *ms,
                  size_t *me, tk_err *e) {
  if (start > n) return 0;
  if (r->literal) {
    if (r->litlen == 0 || n - start < r->litlen) return 0;
    const char *hit = find_literal(s + start, n - start, r->literal, r->litlen);
    if (!hit) return 0;
    *ms = (size_t)(hit - s);
    *me = *ms + r->litlen;
    return 1;
  }
  int use15 = S->unicode15 && r->code15;
  const pcre2_code *code = use15 ? r->code15 : r->code;
  /* pcre2_jit_match: the JIT code without pcre2_match's checks (the text is
   * valid UTF-8 already) */
  int rc = r->jit & (use15 ? 2 : 1)
               ? pcre2_jit_match(code, (PCRE2_SPTR)s, n, start, 0, S->md, S->mc)
               : pcre2_match(code, (PCRE2_SPTR)s, n, start, PCRE2_NO_UTF_CHECK, S->md, S->mc);
  if (rc == PCRE2_ERROR_NOMATCH) return 0;
  if (rc < 0) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    tk_seterr(e, "regex match failed: %s", (char *)msg);
    return -1;
  }
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(S->md);
  *ms = ov[0];
  *me = ov[1];
  return 1;
}

int tk_find_matches(const tk_regex *r, tk_scratch *S, const char *s, size_t n, tk_match **out, size_t *nout,
                    tk_err *e) {
  size_t cap = 16, k = 0;
  tk_match *m = tk_alloc(&S->A, cap * sizeof *m);
  if (!m) goto oom;
  if (n == 0) {
    m[0] = (tk_match){0, 0, 0};
    *out = m;
    *nout = 1;
    return 0;
  }
  size_t prev = 0, pos = 0, ms, me;
  for (;;) {
    int rc = tk_regex_find(r, S, s, n, pos, &ms, &me, e);
    if (rc < 0) return -1;
    if (rc == 0) break;
    if (k + 3 > cap) {
      tk_match *nm = tk_alloc(&S->A, cap * 2 * sizeof *m);
      if (!nm) goto oom;
      memcpy(nm, m, k * sizeof *m);
      m = nm;
      cap *= 2;
    }
    if (prev != ms) m[k++] = (tk_match){(uint32_t)prev, (uint32_t)ms, 0};
    m[k++] = (tk_match){(uint32_t)ms, (uint32_t)me, 1};
    prev = me;
    /* an empty match moves the search one character on */
    pos = me > ms ? me : me + (me < n ? (size_t)tk_utf8_len((unsigned char)s[me]) : 1);
    if (pos > n) break;
  }
  if (k + 1 > cap) {
    tk_match *nm = tk_alloc(&S->A, (cap + 1) * sizeof *m);
    if (!nm) goto oom;
    memcpy(nm, m, k * sizeof *m);
    m = nm;
  }
  if (prev != n) m[k++] = (tk_match){(uint32_t)prev, (uint32_t)n, 0};
  *out = m;
  *nout = k;
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}

/* ---- splits and scratch ----------------------------------------------------------- */
int tk_splits_reserve(tk_scratch *S, tk_splits *l, size_t extra) {
  if (l->n + extra <= l->cap) return 0;
  size_t cap = l->cap ? l->cap * 2 : 64;
  while (cap < l->n + extra) cap *= 2;
  tk_split *v = tk_alloc(&S->A, cap * sizeof *v);
  if (!v) return -1;
  if (l->n) memcpy(v, l->v, l->n * sizeof *v);
  l->v = v;
  l->cap = cap;
  return 0;
}

int tk_splits_push(tk_scratch *S, tk_splits *l, const tk_split *sp) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    tk_split *v = tk_alloc(&S->A, cap * sizeof *v);
    if (!v) return -1;
    if (l->n) memcpy(v, l->v, l->n * sizeof *v);
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = *sp;
  return 0;
}

tk_scratch *tk_scratch_new(void) {
  tk_scratch *S = calloc(1, sizeof *S);
  if (!S) return NULL;
  S->md = pcre2_match_data_create(1, NULL);
  S->mc = pcre2_match_context_create(NULL);
  S->js = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, NULL);
  if (!S->md || !S->mc || !S->js) {
    tk_scratch_free(S);
    return NULL;
  }
  pcre2_jit_stack_assign(S->mc, NULL, S->js);
  return S;
}

void tk_scratch_free(tk_scratch *S) {
  if (!S) return;
  tk_arena_free(&S->A);
  if (S->md) pcre2_match_data_free(S->md);
  if (S->mc) pcre2_match_context_free(S->mc);
  if (S->js) pcre2_jit_stack_free(S->js);
  free(S->cache.slots);
  free(S->cache.data);
  free(S->syms);
  free(S->heap);
  free(S->tmp);
  free(S->toks);
  free(S);
}

/* ---- lookups shared by the stages ------------------------------------------------- */
const char *tk_json_type(const void *obj) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive((const cJSON *)obj, "type");
  return cJSON_IsString(t) ? t->valuestring : NULL;
}

const char *tk_id_to_token(const lacuna_tokenizer *t, int32_t id, size_t *len) {
  const tk_added_tok *a = t->added ? tk_added_by_id(t->added, id) : NULL;
  if (a) {
    if (len) *len = a->len;
    return a->content;
  }
  return tk_bpe_id_to_token(&t->bpe, id, len);
}
