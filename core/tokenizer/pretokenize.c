/* Pre-tokenizers (HF tokenizers/src/pre_tokenizers): Split, ByteLevel, Metaspace,
 * Digits, Whitespace, WhitespaceSplit, Sequence, and the split behaviours of
 * NormalizedString::split. ByteLevel's byte→char mapping is applied lazily (a flag
 * on the split): BPE reads the raw bytes through the table, which gives the same
 * tokens and offsets as rewriting the text, without the rewrite. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int tk_pattern_load(const cJSON *pat, const char *path, tk_regex *re, tk_err *e);
int tk_ns_prepend(tk_scratch *S, tk_ns *ns, const char *pre, size_t plen, tk_err *e);
int tk_ns_replace(tk_scratch *S, tk_ns *ns, const tk_regex *re, const char *content, size_t clen, tk_err *e);

/* GPT-2's byte → printable char mapping (bytes_char() in byte_level.rs): printable
 * Latin-1 bytes map to themselves, the 68 others to U+0100.. in byte order. */
uint32_t tk_byte_char(unsigned char b) {
  if (b <= 0x20) return 256u + b;
  if (b >= 0x7F && b <= 0xA0) return 289u + (b - 0x7Fu);
  if (b == 0xAD) return 323u;
  return b;
}

int tk_char_byte(uint32_t cp) {
  if (cp < 256) return tk_byte_char((unsigned char)cp) == cp ? (int)cp : -1;
  if (cp <= 288) return (int)(cp - 256);
  if (cp <= 322) return (int)(cp - 289 + 0x7F);
  if (cp == 323) return 0xAD;
  return -1;
}

enum { P_SEQ, P_BYTELEVEL, P_SPLIT, P_METASPACE, P_DIGITS, P_WHITESPACE, P_WSSPLIT };
enum { PS_ALWAYS, PS_FIRST, PS_NEVER };

struct tk_pretok {
  int kind;
  tk_pretok **kids;
  size_t nkids;
  int add_prefix_space, use_regex;
  tk_regex re;
  int has_re;
  tk_scan *scan; /* the same split as re, hand-coded, for the patterns scan.c knows */
  int behavior, invert;
  char repl[8];
  size_t repl_len;
  uint32_t repl_cp;
  int prepend_scheme, split;
  int individual;
};

void tk_pretok_free(tk_pretok *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nkids; i++) tk_pretok_free(p->kids[i]);
  free(p->kids);
  if (p->has_re) tk_regex_free(&p->re);
  tk_scan_free(p->scan);
  free(p);
}

static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int parse_behavior(const cJSON *j, const char *path, int *out, tk_err *e) {
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "behavior");
  const char *s = cJSON_IsString(b) ? b->valuestring : "";
  if (!strcmp(s, "Removed"))
    *out = TK_REMOVED;
  else if (!strcmp(s, "Isolated"))
    *out = TK_ISOLATED;
  else if (!strcmp(s, "MergedWithPrevious"))
    *out = TK_MERGED_PREV;
  else if (!strcmp(s, "MergedWithNext"))
    *out = TK_MERGED_NEXT;
  else if (!strcmp(s, "Contiguous"))
    *out = TK_CONTIGUOUS;
  else {
    tk_seterr(e, "%s.behavior: '%s' is not a split behavior", path, s);
    return -1;
  }
  return 0;
}

static int jbool(const cJSON *j, const char *k, int dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

tk_pretok *tk_pretok_load(const void *json, const char *path, tk_err *e) {
  const cJSON *j = json;
  const char *type = tk_json_type(j);
  if (!type) {
    tk_seterr(e, "%s: a pre-tokenizer needs a \"type\"", path);
    return NULL;
  }
  tk_pretok *p = calloc(1, sizeof *p);
  if (!p) {
    tk_seterr(e, "out of memory");
    return NULL;
  }
  if (!strcmp(type, "Sequence")) {
    p->kind = P_SEQ;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
    if (!cJSON_IsArray(arr)) {
      tk_seterr(e, "%s.pretokenizers: expected an array", path);
      goto fail;
    }
    int k = cJSON_GetArraySize(arr);
    p->kids = calloc((size_t)k + 1, sizeof *p->kids);
    if (!p->kids) goto oom;
    for (int i = 0; i < k; i++) {
      char sub[512];
      snprintf(sub, sizeof sub, "%s.pretokenizers[%d]", path, i);
      if (!(p->kids[i] = tk_pretok_load(cJSON_GetArrayItem(arr, i), sub, e))) goto fail;
      p->nkids++;
    }
  } else if (!strcmp(type, "ByteLevel")) {
    p->kind = P_BYTELEVEL;
    p->add_prefix_space = jbool(j, "add_prefix_space", 1);
    p->use_regex = jbool(j, "use_regex", 1);
    if (p->use_regex) {
      if (tk_regex_compile(&p->re, GPT2_RE, sizeof GPT2_RE - 1, 0, e) < 0) goto fail;
      p->has_re = 1;
    }
  } else if (!strcmp(type, "Split")) {
    p->kind = P_SPLIT;
    if (parse_behavior(j, path, &p->behavior, e) < 0) goto fail;
    p->invert = jbool(j, "invert", 0);
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
    if (tk_pattern_load(pat, path, &p->re, e) < 0) goto fail;
    p->has_re = 1;
    const cJSON *rx = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
    if (cJSON_IsString(rx) && tk_scan_new(&p->scan, rx->valuestring, strlen(rx->valuestring), e) < 0)
      goto fail;
  } else if (!strcmp(type, "Metaspace")) {
    p->kind = P_METASPACE;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "replacement");
    if (!cJSON_IsString(r) || !r->valuestring[0]) {
      tk_seterr(e, "%s.replacement: expected a one-character string", path);
      goto fail;
    }
    int l;
    p->repl_cp = tk_utf8_dec((const unsigned char *)r->valuestring, strlen(r->valuestring), &l);
    p->repl_len = (size_t)tk_utf8_enc(p->repl_cp, p->repl);
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(j, "prepend_scheme");
    p->prepend_scheme = PS_ALWAYS;
    if (cJSON_IsString(ps)) {
      if (!strcmp(ps->valuestring, "first"))
        p->prepend_scheme = PS_FIRST;
      else if (!strcmp(ps->valuestring, "never"))
        p->prepend_scheme = PS_NEVER;
      else if (strcmp(ps->valuestring, "always")) {
        tk_seterr(e, "%s.prepend_scheme: '%s' is not first/always/never", path, ps->valuestring);
        goto fail;
      }
    }
    if (!jbool(j, "add_prefix_space", 1)) p->prepend_scheme = PS_NEVER;
    p->split = jbool(j, "split", 1);
  } else if (!strcmp(type, "Digits")) {
    p->kind = P_DIGITS;
    p->individual = jbool(j, "individual_digits", 0);
  } else if (!strcmp(type, "Whitespace")) {
    p->kind = P_WHITESPACE;
    static const char ws[] = "\\w+|[^\\w\\s]+";
    if (tk_regex_compile(&p->re, ws, sizeof ws - 1, 0, e) < 0) goto fail;
    p->has_re = 1;
  } else if (!strcmp(type, "WhitespaceSplit")) {
    p->kind = P_WSSPLIT;
  } else {
    tk_seterr(e, "pre-tokenizer type '%s' is not supported (at %s)", type, path);
    goto fail;
  }
  return p;
oom:
  tk_seterr(e, "out of memory");
fail:
  tk_pretok_free(p);
  return NULL;
}

/* ---- splitting ------------------------------------------------------------------ */
static int push_slice(tk_scratch *S, const tk_split *sp, size_t s, size_t e, tk_splits *out) {
  if (e <= s) return 0; /* HF drops empty splits */
  tk_split c = *sp;
  c.ns.p = sp->ns.p + s;
  c.ns.al = sp->ns.al + s;
  c.ns.len = (uint32_t)(e - s);
  c.ns.shift = sp->ns.al[s].s;
  return tk_splits_push(S, out, &c);
}

int tk_split_by(tk_scratch *S, const tk_split *sp, tk_match *m, size_t nm, int behavior, tk_splits *out) {
  size_t k = 0;
  int prev = 0;
  switch (behavior) {
    case TK_ISOLATED:
      for (size_t i = 0; i < nm; i++) m[i].m = 0;
      k = nm;
      break;
    case TK_REMOVED: k = nm; break;
    case TK_CONTIGUOUS:
      for (size_t i = 0; i < nm; i++) {
        int is = m[i].m;
        if (is == prev && k)
          m[k - 1].e = m[i].e;
        else
          m[k++] = (tk_match){m[i].s, m[i].e, 0};
        prev = is;
      }
      break;
    case TK_MERGED_PREV:
      for (size_t i = 0; i < nm; i++) {
        int is = m[i].m;
        if (is && !prev && k)
          m[k - 1].e = m[i].e;
        else
          m[k++] = (tk_match){m[i].s, m[i].e, 0};
        prev = is;
      }
      break;
    case TK_MERGED_NEXT: {
      /* fold from the right, then the result is reversed back */
      size_t w = nm;
      for (size_t i = nm; i-- > 0;) {
        int is = m[i].m;
        if (is && !prev && w < nm)
          m[w].s = m[i].s;
        else
          m[--w] = (tk_match){m[i].s, m[i].e, 0};
        prev = is;
      }
      for (size_t i = w; i < nm; i++)
        if (push_slice(S, sp, m[i].s, m[i].e, out) < 0) return -1;
      return 0;
    }
  }
  for (size_t i = 0; i < k; i++)
    if (!m[i].m && push_slice(S, sp, m[i].s, m[i].e, out) < 0) return -1;
  return 0;
}

typedef int (*char_pred)(uint32_t c, const tk_pretok *p);

/* Pattern for a char predicate: each matching char is its own match. */
static int pred_matches(tk_scratch *S, const tk_ns *ns, char_pred f, const tk_pretok *p, tk_match **out,
                        size_t *nout) {
  size_t n = ns->len, cap = 16, k = 0, last = 0;
  tk_match *m = tk_alloc(&S->A, cap * sizeof *m);
  if (!m) return -1;
  for (size_t i = 0; i < n;) {
    int l;
    uint32_t c = tk_utf8_dec((const unsigned char *)ns->p + i, n - i, &l);
    if (f(c, p)) {
      if (k + 2 > cap) {
        tk_match *nm = tk_alloc(&S->A, cap * 2 * sizeof *m);
        if (!nm) return -1;
        memcpy(nm, m, k * sizeof *m);
        m = nm;
        cap *= 2;
      }
      if (last < i) m[k++] = (tk_match){(uint32_t)last, (uint32_t)i, 0};
      m[k++] = (tk_match){(uint32_t)i, (uint32_t)(i + (size_t)l), 1};
      last = i + (size_t)l;
    }
    i += (size_t)l;
  }
  if (k + 1 > cap) {
    tk_match *nm = tk_alloc(&S->A, (cap + 1) * sizeof *m);
    if (!nm) return -1;
    memcpy(nm, m, k * sizeof *m);
    m = nm;
  }
  if (n > last || n == 0) m[k++] = (tk_match){(uint32_t)last, (uint32_t)n, 0};
  *out = m;
  *nout = k;
  return 0;
}

static int is_num(uint32_t c, const tk_pretok *p) {
  (void)p;
  return tk_is_numeric(c);
}
static int is_ws(uint32_t c, const tk_pretok *p) {
  (void)p;
  return tk_is_whitespace(c);
}
static int is_repl(uint32_t c, const tk_pretok *p) { return c == p->repl_cp; }

int tk_bytelevel_materialize(tk_scratch *S, tk_split *sp) {
  if (!sp->bytelevel) return 0;
  tk_xf x;
  tk_xf_begin(&x, &S->A, &sp->ns);
  tk_xf_range(&x, 0, sp->ns.len, 0);
  const unsigned char *s = (const unsigned char *)sp->ns.p;
  for (size_t i = 0; i < sp->ns.len;) {
    int l = tk_utf8_len(s[i]);
    for (int k = 0; k < l && i + (size_t)k < sp->ns.len; k++)
      tk_xf_push(&x, tk_byte_char(s[i + (size_t)k]), k > 0);
    i += (size_t)l;
  }
  tk_xf_range_end(&x);
  if (tk_xf_end(&x, &sp->ns) < 0) return -1;
  sp->bytelevel = 0;
  return 0;
}

static int apply_one(const tk_pretok *p, tk_scratch *S, tk_split *sp, tk_splits *out, tk_err *e) {
  tk_match *m;
  size_t nm;
  if (sp->bytelevel && tk_bytelevel_materialize(S, sp) < 0) goto oom;
  switch (p->kind) {
    case P_BYTELEVEL: {
      tk_split c = *sp;
      if (p->add_prefix_space && c.ns.len && c.ns.p[0] != ' ' && tk_ns_prepend(S, &c.ns, " ", 1, e) < 0)
        return -1;
      c.bytelevel = 1;
      if (!p->use_regex) return tk_splits_push(S, out, &c) < 0 ? (tk_seterr(e, "out of memory"), -1) : 0;
      if (tk_find_matches(&p->re, S, c.ns.p, c.ns.len, &m, &nm, e) < 0) return -1;
      if (tk_split_by(S, &c, m, nm, TK_ISOLATED, out) < 0) goto oom;
      return 0;
    }
    case P_SPLIT:
      if (p->scan ? tk_scan_matches(p->scan, S, sp->ns.p, sp->ns.len, &m, &nm, e) < 0
                  : tk_find_matches(&p->re, S, sp->ns.p, sp->ns.len, &m, &nm, e) < 0)
        return -1;
      if (tk_splits_reserve(S, out, nm) < 0) goto oom; /* room for every piece at once */
      if (p->invert)
        for (size_t i = 0; i < nm; i++) m[i].m = !m[i].m;
      if (tk_split_by(S, sp, m, nm, p->behavior, out) < 0) goto oom;
      return 0;
    case P_WHITESPACE:
      if (tk_find_matches(&p->re, S, sp->ns.p, sp->ns.len, &m, &nm, e) < 0) return -1;
      for (size_t i = 0; i < nm; i++) m[i].m = !m[i].m;
      if (tk_split_by(S, sp, m, nm, TK_REMOVED, out) < 0) goto oom;
      return 0;
    case P_WSSPLIT:
      if (pred_matches(S, &sp->ns, is_ws, p, &m, &nm) < 0) goto oom;
      if (tk_split_by(S, sp, m, nm, TK_REMOVED, out) < 0) goto oom;
      return 0;
    case P_DIGITS:
      if (pred_matches(S, &sp->ns, is_num, p, &m, &nm) < 0) goto oom;
      if (tk_split_by(S, sp, m, nm, p->individual ? TK_ISOLATED : TK_CONTIGUOUS, out) < 0) goto oom;
      return 0;
    case P_METASPACE: {
      tk_split c = *sp;
      static tk_regex space = {NULL, NULL, (char *)" ", 1, 0, 0};
      if (tk_ns_replace(S, &c.ns, &space, p->repl, p->repl_len, e) < 0) return -1;
      int starts = c.ns.len >= p->repl_len && memcmp(c.ns.p, p->repl, p->repl_len) == 0;
      if ((p->prepend_scheme == PS_ALWAYS && !starts) ||
          (p->prepend_scheme == PS_FIRST && !starts && c.ns.shift == 0))
        if (tk_ns_prepend(S, &c.ns, p->repl, p->repl_len, e) < 0) return -1;
      if (!p->split) return tk_splits_push(S, out, &c) < 0 ? (tk_seterr(e, "out of memory"), -1) : 0;
      if (pred_matches(S, &c.ns, is_repl, p, &m, &nm) < 0) goto oom;
      if (tk_split_by(S, &c, m, nm, TK_MERGED_NEXT, out) < 0) goto oom;
      return 0;
    }
  }
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}

int tk_pretok_uses_unicode(const tk_pretok *p) {
  if (!p) return 0;
  int cats = p->kind == P_DIGITS ? TK_GC_N : 0;
  if (p->has_re && p->re.code) cats |= p->re.cats;
  for (size_t i = 0; i < p->nkids; i++) cats |= tk_pretok_uses_unicode(p->kids[i]);
  return cats;
}

int tk_pretok_apply(const tk_pretok *p, tk_scratch *S, tk_splits *l, tk_err *e) {
  if (p->kind == P_SEQ) {
    for (size_t i = 0; i < p->nkids; i++)
      if (tk_pretok_apply(p->kids[i], S, l, e) < 0) return -1;
    return 0;
  }
  if (p->kind == P_BYTELEVEL && !p->use_regex) {
    /* one split in, the same split out: marked in place, no new list */
    for (size_t i = 0; i < l->n; i++) {
      tk_split *sp = &l->v[i];
      if (sp->id >= 0) continue;
      if (sp->bytelevel && tk_bytelevel_materialize(S, sp) < 0) goto oom;
      if (p->add_prefix_space && sp->ns.len && sp->ns.p[0] != ' ' && tk_ns_prepend(S, &sp->ns, " ", 1, e) < 0)
        return -1;
      sp->bytelevel = 1;
    }
    return 0;
  }
  tk_splits out = {0};
  for (size_t i = 0; i < l->n; i++) {
    tk_split *sp = &l->v[i];
    if (sp->id >= 0) {
      if (tk_splits_push(S, &out, sp) < 0) goto oom;
      continue;
    }
    if (apply_one(p, S, sp, &out, e) < 0) return -1;
  }
  *l = out;
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}
