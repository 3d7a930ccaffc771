/* Normalizers (HF tokenizers/src/normalizers): NFC/NFD/NFKC/NFKD, Lowercase, Strip,
 * Prepend, Replace, Sequence. Each rewrites a normalized string through the
 * transform machinery, so alignments to the original text follow HF exactly
 * (including its quirks: a composed char aligns with its first source char). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "internal.h"

enum { N_SEQ, N_NFC, N_NFD, N_NFKC, N_NFKD, N_LOWER, N_STRIP, N_PREPEND, N_REPLACE };

struct tk_norm {
  int kind;
  tk_norm **kids;
  size_t nkids;
  int left, right;
  char *str; /* Prepend text / Replace content */
  size_t slen;
  tk_regex re;
};

void tk_norm_free(tk_norm *n) {
  if (!n) return;
  for (size_t i = 0; i < n->nkids; i++) tk_norm_free(n->kids[i]);
  free(n->kids);
  free(n->str);
  tk_regex_free(&n->re);
  free(n);
}

static char *dupn(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (p) {
    memcpy(p, s, n);
    p[n] = 0;
  }
  return p;
}

/* Reads {"String": s} or {"Regex": r} (HF ReplacePattern / SplitPattern). */
int tk_pattern_load(const cJSON *pat, const char *path, tk_regex *re, tk_err *e);
int tk_pattern_load(const cJSON *pat, const char *path, tk_regex *re, tk_err *e) {
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(pat, "String");
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
  if (cJSON_IsString(s)) return tk_regex_compile(re, s->valuestring, strlen(s->valuestring), 1, e);
  if (cJSON_IsString(r)) return tk_regex_compile(re, r->valuestring, strlen(r->valuestring), 0, e);
  tk_seterr(e, "%s.pattern: expected {\"String\": ...} or {\"Regex\": ...}", path);
  return -1;
}

tk_norm *tk_norm_load(const void *json, const char *path, tk_err *e) {
  const cJSON *j = json;
  const char *type = tk_json_type(j);
  if (!type) {
    tk_seterr(e, "%s: a normalizer needs a \"type\"", path);
    return NULL;
  }
  tk_norm *n = calloc(1, sizeof *n);
  if (!n) goto oom;
  if (!strcmp(type, "Sequence")) {
    n->kind = N_SEQ;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "normalizers");
    if (!cJSON_IsArray(arr)) {
      tk_seterr(e, "%s.normalizers: expected an array", path);
      goto fail;
    }
    int k = cJSON_GetArraySize(arr);
    n->kids = calloc((size_t)k + 1, sizeof *n->kids);
    if (!n->kids) goto oom;
    for (int i = 0; i < k; i++) {
      char sub[512];
      snprintf(sub, sizeof sub, "%s.normalizers[%d]", path, i);
      n->kids[i] = tk_norm_load(cJSON_GetArrayItem(arr, i), sub, e);
      if (!n->kids[i]) goto fail;
      n->nkids++;
    }
  } else if (!strcmp(type, "NFC"))
    n->kind = N_NFC;
  else if (!strcmp(type, "NFD"))
    n->kind = N_NFD;
  else if (!strcmp(type, "NFKC"))
    n->kind = N_NFKC;
  else if (!strcmp(type, "NFKD"))
    n->kind = N_NFKD;
  else if (!strcmp(type, "Lowercase"))
    n->kind = N_LOWER;
  else if (!strcmp(type, "Strip")) {
    n->kind = N_STRIP;
    n->left = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "strip_left"));
    n->right = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "strip_right"));
  } else if (!strcmp(type, "Prepend")) {
    n->kind = N_PREPEND;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "prepend");
    if (!cJSON_IsString(p)) {
      tk_seterr(e, "%s.prepend: expected a string", path);
      goto fail;
    }
    n->slen = strlen(p->valuestring);
    if (!(n->str = dupn(p->valuestring, n->slen))) goto oom;
  } else if (!strcmp(type, "Replace")) {
    n->kind = N_REPLACE;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "content");
    if (!cJSON_IsString(c)) {
      tk_seterr(e, "%s.content: expected a string", path);
      goto fail;
    }
    n->slen = strlen(c->valuestring);
    if (!(n->str = dupn(c->valuestring, n->slen))) goto oom;
    if (tk_pattern_load(cJSON_GetObjectItemCaseSensitive(j, "pattern"), path, &n->re, e) < 0) goto fail;
  } else {
    tk_seterr(e, "normalizer type '%s' is not supported (at %s)", type, path);
    goto fail;
  }
  return n;
oom:
  tk_seterr(e, "out of memory");
fail:
  tk_norm_free(n);
  return NULL;
}

/* ---- Unicode normalization (unicode-normalization-alignments semantics) ------- */
typedef struct {
  uint32_t cp;
  int ccc;
  int change;
} uent;

/* utf8proc knows Unicode 15; HF's normalization tables stop at 9.0, and what
 * is newer is left alone there (tk_norm_unknown): so here too. */
static int interesting(uint32_t c) {
  if (c < 0x300) return 0;
  if ((c >= 0x1100 && c <= 0x11FF) || (c >= 0xAC00 && c <= 0xD7A3)) return 1;
  const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)c);
  return (p->combining_class != 0 || p->decomp_seqindex != UINT16_MAX ||
          (p->comb_index != UINT16_MAX && p->comb_index >= 0x8000)) &&
         !tk_norm_unknown(c);
}

static int ccc_of(uint32_t c) {
  if (c < 0x300) return 0;
  int cc = utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
  return cc && tk_norm_unknown(c) ? 0 : cc;
}

static int32_t compose_pair(uint32_t a, uint32_t b) {
  if (a >= 0x1100 && a < 0x1100 + 19 && b >= 0x1161 && b < 0x1161 + 21)
    return (int32_t)(0xAC00 + ((a - 0x1100) * 21 + (b - 0x1161)) * 28);
  if (a >= 0xAC00 && a < 0xAC00 + 11172 && (a - 0xAC00) % 28 == 0 && b > 0x11A7 && b < 0x11A7 + 28)
    return (int32_t)(a + (b - 0x11A7));
  if (b < 0x300) return -1; /* no composition has a second char this low */
  if (tk_norm_unknown(a) || tk_norm_unknown(b)) return -1;
  const utf8proc_property_t *pb = utf8proc_get_property((utf8proc_int32_t)b);
  if (pb->comb_index == UINT16_MAX || pb->comb_index < 0x8000) return -1;
  const utf8proc_property_t *pa = utf8proc_get_property((utf8proc_int32_t)a);
  if (pa->comb_index >= 0x8000) return -1;
  utf8proc_int32_t buf[2] = {(utf8proc_int32_t)a, (utf8proc_int32_t)b};
  if (utf8proc_normalize_utf32(buf, 2, UTF8PROC_COMPOSE | UTF8PROC_STABLE) == 1 &&
      !tk_norm_unknown((uint32_t)buf[0]))
    return buf[0];
  return -1;
}

static void sort_run(uent *v, size_t from, size_t to) {
  /* stable insertion sort by combining class; runs are short */
  for (size_t i = from + 1; i < to; i++) {
    uent t = v[i];
    size_t j = i;
    while (j > from && v[j - 1].ccc > t.ccc) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = t;
  }
}

/* Memo of nfc_class_compute per code point: 0 not known yet, else NFC_*.
 * Every thread that fills an entry writes the same value. */
enum { NFC_STABLE = 1, NFC_CHANGES, NFC_INERT_MARK };
static _Atomic unsigned char nfc_memo[0x110000];
static int nfc_class_new(tk_scratch *S, uint32_t c);

static inline int nfc_class(tk_scratch *S, uint32_t c) {
  unsigned v = c < 0x110000 ? atomic_load_explicit(&nfc_memo[c], memory_order_relaxed) : NFC_CHANGES;
  return v ? (int)v : nfc_class_new(S, c);
}

/* The code point of valid UTF-8 at s, *l its length. */
static inline uint32_t dec_valid(const unsigned char *s, int *l) {
  unsigned c = s[0];
  if (c < 0x80) return *l = 1, c;
  if (c < 0xE0) return *l = 2, (c & 0x1Fu) << 6 | (s[1] & 0x3Fu);
  if (c < 0xF0) return *l = 3, (c & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
  return *l = 4, (c & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu);
}

/* Normalizes the chars of s[from, to) into x: decomposition, canonical
 * order, then (compose) the Recompositions state machine. -1 out of memory. */
static int unorm_window(tk_scratch *S, tk_xf *x, const unsigned char *s, size_t from, size_t to, int compat,
                        int compose) {
  size_t cap = (to - from) + 16, k = 0, pend = 0, i;
  uent *v = tk_alloc(&S->A, cap * sizeof *v);
  if (!v) goto oom;
  utf8proc_option_t opt = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
  for (i = from; i < to;) {
    int l;
    uint32_t c = tk_utf8_dec(s + i, to - i, &l);
    i += (size_t)l;
    utf8proc_int32_t d[32];
    utf8proc_ssize_t dn = 1;
    d[0] = (utf8proc_int32_t)c;
    if (c >= 0xA0 && !tk_norm_unknown(c)) {
      int bc = 0;
      dn = utf8proc_decompose_char((utf8proc_int32_t)c, d, 32, opt, &bc);
      if (dn < 1 || dn > 32) {
        d[0] = (utf8proc_int32_t)c;
        dn = 1;
      }
    }
    if (k + (size_t)dn > cap) {
      size_t ncap = cap * 2 + (size_t)dn;
      uent *nv = tk_alloc(&S->A, ncap * sizeof *nv);
      if (!nv) goto oom;
      memcpy(nv, v, k * sizeof *v);
      v = nv;
      cap = ncap;
    }
    for (utf8proc_ssize_t j = 0; j < dn; j++) {
      int cc = ccc_of((uint32_t)d[j]);
      if (cc == 0) {
        sort_run(v, pend, k);
        pend = k;
      }
      v[k++] = (uent){(uint32_t)d[j], cc, j == 0 ? 0 : 1};
    }
  }
  sort_run(v, pend, k);

  tk_xf_range(x, from, to, 0);
  if (!compose) {
    for (size_t j = 0; j < k; j++) tk_xf_push(x, v[j].cp, v[j].change);
  } else {
    /* the Recompositions state machine, carrying (char, change) pairs */
    uent *buf = tk_alloc(&S->A, (k + 1) * sizeof *buf);
    if (!buf) goto oom;
    size_t nb = 0;
    int have_k = 0, last_ccc = -1;
    uent kk = {0, 0, 0};
    for (size_t j = 0; j < k; j++) {
      uent ch = v[j];
      if (!have_k) {
        if (ch.ccc != 0) {
          tk_xf_push(x, ch.cp, ch.change);
          continue;
        }
        kk = ch;
        have_k = 1;
        continue;
      }
      if (last_ccc < 0) {
        int32_t r = compose_pair(kk.cp, ch.cp);
        if (r >= 0) {
          kk.cp = (uint32_t)r;
          kk.change = kk.change + ch.change - 1;
          continue;
        }
        if (ch.ccc == 0) {
          tk_xf_push(x, kk.cp, kk.change);
          kk = ch;
          continue;
        }
        buf[nb++] = ch;
        last_ccc = ch.ccc;
      } else {
        if (last_ccc >= ch.ccc) {
          if (ch.ccc == 0) {
            tk_xf_push(x, kk.cp, kk.change);
            for (size_t q = 0; q < nb; q++) tk_xf_push(x, buf[q].cp, buf[q].change);
            nb = 0;
            kk = ch;
            last_ccc = -1;
            continue;
          }
          buf[nb++] = ch;
          last_ccc = ch.ccc;
          continue;
        }
        int32_t r = compose_pair(kk.cp, ch.cp);
        if (r >= 0) {
          kk.cp = (uint32_t)r;
          kk.change = kk.change + ch.change - 1;
          continue;
        }
        buf[nb++] = ch;
        last_ccc = ch.ccc;
      }
    }
    if (have_k) tk_xf_push(x, kk.cp, kk.change);
    for (size_t q = 0; q < nb; q++) tk_xf_push(x, buf[q].cp, buf[q].change);
  }
  tk_xf_range_end(x);
  return 0;
oom:
  return -1;
}

int tk_unorm(tk_scratch *S, tk_ns *ns, int compat, int compose, int quick, tk_err *e) {
  const unsigned char *s = (const unsigned char *)ns->p;
  size_t n = ns->len, i;
  tk_xf x;
  if (quick && compose && !compat) {
    /* NFC: only the windows around unstable chars are normalized. A window
     * starts at the stable char before its first unstable one (a mark may
     * compose with it) and ends before the next stable char: text splits
     * before a stable char without changing its normalization. */
    size_t last_stable = 0, ws = 0;
    int open = 0, begun = 0, mark_ccc = 0; /* class of the last inert mark since the last stable char */
    for (i = 0; i < n;) {
      uint64_t w;
      if (!open && i + 8 <= n && (memcpy(&w, s + i, 8), !(w & UINT64_C(0x8080808080808080)))) {
        last_stable = i + 7; /* 8 ASCII chars, all stable */
        mark_ccc = 0;
        i += 8;
        continue;
      }
      int l;
      uint32_t c = i + 4 <= n ? dec_valid(s + i, &l) : tk_utf8_dec(s + i, n - i, &l);
      int k = c < 0x80 ? NFC_STABLE : nfc_class(S, c);
      if (k == NFC_INERT_MARK && !open) {
        /* an inert mark in canonical order after the ones before it stays as
         * it is: it composes with nothing and reorders nothing */
        int cc = ccc_of(c);
        if (cc >= mark_ccc) {
          mark_ccc = cc;
          i += (size_t)l;
          continue;
        }
      }
      if (k == NFC_STABLE) {
        mark_ccc = 0;
        if (open) {
          if (!begun) tk_xf_begin(&x, &S->A, ns);
          begun = 1;
          if (unorm_window(S, &x, s, ws, i, 0, 1) < 0) goto oom;
          open = 0;
        }
        last_stable = i;
      } else if (!open) { /* a char that may change, or a mark out of order */
        open = 1;
        ws = last_stable;
      }
      i += (size_t)l;
    }
    if (open) {
      if (!begun) tk_xf_begin(&x, &S->A, ns);
      begun = 1;
      if (unorm_window(S, &x, s, ws, n, 0, 1) < 0) goto oom;
    }
    if (!begun) return 0;
    if (tk_xf_end(&x, ns) < 0) goto oom;
    return 0;
  }
  int any = !quick;
  for (i = 0; i < n && !any;) {
    if (s[i] < 0x80) { /* ASCII never changes under any of the four forms */
      i++;
      continue;
    }
    int l;
    uint32_t c = tk_utf8_dec(s + i, n - i, &l);
    any = interesting(c) || (compat && c >= 0x80 && !tk_norm_unknown(c) &&
                             utf8proc_get_property((utf8proc_int32_t)c)->decomp_seqindex != UINT16_MAX);
    i += (size_t)l;
  }
  if (!any) return 0;
  tk_xf_begin(&x, &S->A, ns);
  if (unorm_window(S, &x, s, 0, n, compat, compose) < 0 || tk_xf_end(&x, ns) < 0) goto oom;
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}

/* ---- NFC quick check ---------------------------------------------------------------
 * Most text is in NFC already, and NFC then leaves it and its alignments as
 * they are. A text made of "stable" chars only is such a text: each one is a
 * starter (combining class 0) that composes with nothing before it (neither it
 * nor the first char of its decomposition is the second of a composition, and
 * the Hangul jamo are left out), so decomposition reorders nothing across
 * chars, recomposition starts afresh at each char, and each char then comes
 * back as itself with no change, which is checked by normalizing it alone.
 * tests/tokenizer/test_nfc_quick.c compares this against the full path. */
static int is_second(uint32_t c) {
  if (c < 0x300 || tk_norm_unknown(c)) return 0;
  const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)c);
  return p->comb_index != UINT16_MAX && p->comb_index >= 0x8000;
}

static int is_jamo(uint32_t c) { return c >= 0x1100 && c <= 0x11FF; }

/* Whether NFC gives c back as itself, with no change, when it stands alone. */
static int nfc_alone_same(tk_scratch *S, uint32_t c) {
  char u[4];
  tk_al al[4];
  int l = tk_utf8_enc(c, u);
  for (int k = 0; k < l; k++) al[k] = (tk_al){0, (uint32_t)l};
  tk_ns one = {u, al, (uint32_t)l, 0};
  char err[8];
  tk_err e = {err, sizeof err};
  if (tk_unorm(S, &one, 0, 1, 0, &e) < 0) return -1;
  if (one.len != (uint32_t)l || memcmp(one.p, u, (size_t)l) != 0) return 0;
  for (int k = 0; k < l; k++)
    if (one.al[k].s != 0 || one.al[k].e != (uint32_t)l) return 0;
  return 1;
}

/* NFC_STABLE (see above), NFC_INERT_MARK (a combining mark that is not the
 * second of any composition and stays itself alone: NFC may only move it
 * among the marks after the same starter), else NFC_CHANGES; -1 out of memory. */
static int nfc_class_compute(tk_scratch *S, uint32_t c) {
  if (tk_norm_unknown(c)) return NFC_STABLE; /* the full path leaves it alone too */
  if (is_jamo(c) || is_second(c)) return NFC_CHANGES;
  int r;
  if (ccc_of(c)) {
    if ((r = nfc_alone_same(S, c)) < 0) return -1;
    return r ? NFC_INERT_MARK : NFC_CHANGES;
  }
  if (c >= 0xA0) {
    utf8proc_int32_t d[32];
    int bc = 0;
    utf8proc_ssize_t dn = utf8proc_decompose_char((utf8proc_int32_t)c, d, 32, UTF8PROC_DECOMPOSE, &bc);
    if (dn < 1 || dn > 32) return NFC_CHANGES;
    uint32_t d0 = (uint32_t)d[0];
    if (is_jamo(d0) || ccc_of(d0) || is_second(d0)) return NFC_CHANGES;
  }
  if ((r = nfc_alone_same(S, c)) < 0) return -1;
  return r ? NFC_STABLE : NFC_CHANGES;
}

static int nfc_class_new(tk_scratch *S, uint32_t c) {
  int r = nfc_class_compute(S, c);
  if (r < 0) return NFC_CHANGES; /* out of memory: take the full path, remember nothing */
  atomic_store_explicit(&nfc_memo[c], (unsigned char)r, memory_order_relaxed);
  return r;
}

static int lowercase(tk_scratch *S, tk_ns *ns, tk_err *e) {
  const unsigned char *s = (const unsigned char *)ns->p;
  size_t n = ns->len, i;
  for (i = 0; i < n; i++)
    if ((s[i] >= 'A' && s[i] <= 'Z') || s[i] >= 0x80) break;
  if (i == n) return 0;
  tk_xf x;
  tk_xf_begin(&x, &S->A, ns);
  tk_xf_range(&x, 0, n, 0);
  for (i = 0; i < n;) {
    int l;
    uint32_t c = tk_utf8_dec(s + i, n - i, &l);
    i += (size_t)l;
    if (c == 0x130) { /* the one unconditional multi-char lowercase mapping */
      tk_xf_push(&x, 'i', 0);
      tk_xf_push(&x, 0x307, 1);
      continue;
    }
    uint32_t lc =
        c < 0x80 ? ((c >= 'A' && c <= 'Z') ? c + 32 : c) : (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
    tk_xf_push(&x, lc, 0);
  }
  tk_xf_range_end(&x);
  if (tk_xf_end(&x, ns) < 0) {
    tk_seterr(e, "out of memory");
    return -1;
  }
  return 0;
}

/* HF lrstrip, including its mix of char indices and byte length. */
static int strip(tk_scratch *S, tk_ns *ns, int left, int right, tk_err *e) {
  const unsigned char *s = (const unsigned char *)ns->p;
  size_t n = ns->len, nchars = 0, lead = 0, trail = 0, i;
  int l;
  for (i = 0; i < n; i += (size_t)l) {
    tk_utf8_dec(s + i, n - i, &l);
    nchars++;
  }
  if (left)
    for (i = 0; i < n; i += (size_t)l) {
      if (!tk_is_whitespace(tk_utf8_dec(s + i, n - i, &l))) break;
      lead++;
    }
  if (right)
    for (i = n; i > 0;) {
      size_t j = i - 1;
      while (j > 0 && (s[j] & 0xC0) == 0x80) j--;
      if (!tk_is_whitespace(tk_utf8_dec(s + j, n - j, &l))) break;
      trail++;
      i = j;
    }
  if (!lead && !trail) return 0;
  tk_xf x;
  tk_xf_begin(&x, &S->A, ns);
  tk_xf_range(&x, 0, n, lead);
  size_t ci = 0;
  for (i = 0; i < n; i += (size_t)l, ci++) {
    uint32_t c = tk_utf8_dec(s + i, n - i, &l);
    if (ci < lead || ci + trail >= n) continue; /* i >= len() - trailing (len in bytes) */
    if (ci + trail + 1 == n)
      tk_xf_push(&x, c, -(int)trail);
    else
      tk_xf_push(&x, c, 0);
  }
  tk_xf_range_end(&x);
  if (tk_xf_end(&x, ns) < 0) {
    tk_seterr(e, "out of memory");
    return -1;
  }
  return 0;
}

int tk_ns_prepend(tk_scratch *S, tk_ns *ns, const char *pre, size_t plen, tk_err *e);
int tk_ns_prepend(tk_scratch *S, tk_ns *ns, const char *pre, size_t plen, tk_err *e) {
  if (!ns->len || !plen) return 0;
  int l;
  uint32_t first = tk_utf8_dec((const unsigned char *)ns->p, ns->len, &l);
  tk_xf x;
  tk_xf_begin(&x, &S->A, ns);
  tk_xf_range(&x, 0, (size_t)l, 0);
  int k = 0;
  for (size_t i = 0; i < plen; k++) {
    int cl;
    uint32_t c = tk_utf8_dec((const unsigned char *)pre + i, plen - i, &cl);
    i += (size_t)cl;
    tk_xf_push(&x, c, k == 0 ? 0 : 1);
  }
  tk_xf_push(&x, first, 1);
  tk_xf_range_end(&x);
  if (tk_xf_end(&x, ns) < 0) {
    tk_seterr(e, "out of memory");
    return -1;
  }
  return 0;
}

/* NormalizedString::replace with a matcher; content replaces each match. */
int tk_ns_replace(tk_scratch *S, tk_ns *ns, const tk_regex *re, const char *content, size_t clen, tk_err *e);
int tk_ns_replace(tk_scratch *S, tk_ns *ns, const tk_regex *re, const char *content, size_t clen, tk_err *e) {
  size_t ms, me, pos = 0;
  int rc = tk_regex_find(re, S, ns->p, ns->len, 0, &ms, &me, e);
  if (rc <= 0) return rc;
  tk_xf x;
  tk_xf_begin(&x, &S->A, ns);
  for (; rc > 0; rc = tk_regex_find(re, S, ns->p, ns->len, pos, &ms, &me, e)) {
    size_t removed = 0;
    for (size_t i = ms; i < me; i += (size_t)tk_utf8_len((unsigned char)ns->p[i])) removed++;
    tk_xf_range(&x, ms, me, removed);
    for (size_t i = 0; i < clen;) {
      int cl;
      uint32_t c = tk_utf8_dec((const unsigned char *)content + i, clen - i, &cl);
      i += (size_t)cl;
      tk_xf_push(&x, c, 1);
    }
    tk_xf_range_end(&x);
    pos = me > ms ? me : me + 1;
    if (pos > ns->len) break;
    while (pos < ns->len && ((unsigned char)ns->p[pos] & 0xC0) == 0x80) pos++;
  }
  if (rc < 0) return -1;
  if (tk_xf_end(&x, ns) < 0) {
    tk_seterr(e, "out of memory");
    return -1;
  }
  return 0;
}

int tk_norm_apply(const tk_norm *n, tk_scratch *S, tk_ns *ns, tk_err *e) {
  switch (n->kind) {
    case N_SEQ:
      for (size_t i = 0; i < n->nkids; i++)
        if (tk_norm_apply(n->kids[i], S, ns, e) < 0) return -1;
      return 0;
    case N_NFC: return tk_unorm(S, ns, 0, 1, 1, e);
    case N_NFD: return tk_unorm(S, ns, 0, 0, 1, e);
    case N_NFKC: return tk_unorm(S, ns, 1, 1, 1, e);
    case N_NFKD: return tk_unorm(S, ns, 1, 0, 1, e);
    case N_LOWER: return lowercase(S, ns, e);
    case N_STRIP: return strip(S, ns, n->left, n->right, e);
    case N_PREPEND: return tk_ns_prepend(S, ns, n->str, n->slen, e);
    case N_REPLACE: return tk_ns_replace(S, ns, &n->re, n->str, n->slen, e);
  }
  return 0;
}
