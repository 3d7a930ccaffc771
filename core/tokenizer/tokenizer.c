/* Hugging Face tokenizer.json: loading, the encode/decode pipeline, and the Lua
 * binding (lacuna.core.tokenizer). The stages live beside it in core/tokenizer/. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "areas.h"
#include "internal.h"

int32_t tk_token_to_id(const lacuna_tokenizer *t, const char *s, size_t n) {
  int32_t id = t->added ? tk_added_token_to_id(t->added, s, n) : -1;
  return id >= 0 ? id : tk_strmap_get(&t->bpe.vocab, s, n);
}

/* ---- loading ------------------------------------------------------------------------ */
void lacuna_tokenizer_free(lacuna_tokenizer *tok) {
  if (!tok) return;
  tk_bpe_free(&tok->bpe);
  tk_added_free(tok->added);
  tk_norm_free(tok->norm);
  tk_pretok_free(tok->pretok);
  tk_post_free(tok->post);
  tk_dec_free(tok->dec);
  tk_scratch_free(atomic_load(&tok->spare));
  free(tok);
}

static int present(const cJSON *j) { return j && !cJSON_IsNull(j); }

static int jflag(const cJSON *j, const char *k, int dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* to_free (the text when the caller no longer needs it) is freed as soon as
 * nothing points into it: a smaller peak, and its (large) free runs before
 * the tree's many small frees rather than after them. model.vocab and
 * model.merges are read straight from the text when they can be
 * (model_json.c); cJSON parses the rest. */
static lacuna_tokenizer *load_json(const char *json, size_t len, char *to_free, char *err, size_t errlen) {
  tk_err E = {err, errlen};
  if (err && errlen) err[0] = 0;
  tk_model_json fast;
  int fr = tk_model_json_read(&fast, json, len);
  if (fr < 0) {
    tk_seterr(&E, "out of memory");
    free(to_free);
    return NULL;
  }
  cJSON *root = fr ? cJSON_ParseWithLength(fast.rest, fast.rest_len) : cJSON_ParseWithLength(json, len);
  if (!root && fr) { /* report the position in the text as given */
    tk_model_json_free(&fast);
    fr = 0;
    root = cJSON_ParseWithLength(json, len);
  }
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    tk_seterr(&E, "tokenizer.json is not valid JSON (near byte %ld)",
              at && at >= json && at <= json + len ? (long)(at - json) : -1L);
    free(to_free);
    return NULL;
  }
  if (fr) {
    free(fast.rest); /* parsed: only the vocab and merges are still needed */
    fast.rest = NULL;
  } else {
    free(to_free);
    to_free = NULL;
  }
  lacuna_tokenizer *tok = calloc(1, sizeof *tok);
  tk_scratch *S = tk_scratch_new();
  if (!tok || !S) {
    tk_seterr(&E, "out of memory");
    goto fail;
  }
  atomic_init(&tok->spare, NULL);
  if (!cJSON_IsObject(root)) {
    tk_seterr(&E, "tokenizer.json: expected an object at the top");
    goto fail;
  }
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
  if (!cJSON_IsObject(model)) {
    tk_seterr(&E, "tokenizer.json has no \"model\" object");
    goto fail;
  }
  const char *mtype = tk_json_type(model);
  if (mtype ? strcmp(mtype, "BPE") != 0 : !cJSON_GetObjectItemCaseSensitive(model, "merges")) {
    tk_seterr(&E, "model type '%s' is not supported (at model); lacuna reads BPE models",
              mtype ? mtype : "(untyped, without merges)");
    goto fail;
  }
  if (tk_bpe_load(&tok->bpe, model, fr ? &fast : NULL, &E) < 0) goto fail;
  if (fr) {
    tk_model_json_free(&fast);
    fr = 0;
    free(to_free);
    to_free = NULL;
  }
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
  if (present(n) && !(tok->norm = tk_norm_load(n, "normalizer", &E))) goto fail;
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
  if (present(p) && !(tok->pretok = tk_pretok_load(p, "pre_tokenizer", &E))) goto fail;
  tok->classifies = tk_pretok_uses_unicode(tok->pretok);
  const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
  if (present(pp) && !(tok->post = tk_post_load(pp, "post_processor", tok, &E))) goto fail;
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "decoder");
  if (present(d) && !(tok->dec = tk_dec_load(d, "decoder", &E))) goto fail;

  if (!(tok->added = tk_added_new())) {
    tk_seterr(&E, "out of memory");
    goto fail;
  }
  const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
  if (present(added) && !cJSON_IsArray(added)) {
    tk_seterr(&E, "added_tokens: expected an array");
    goto fail;
  }
  int i = 0;
  for (const cJSON *a = present(added) ? added->child : NULL; a; a = a->next, i++) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(a, "content");
    if (!cJSON_IsString(c)) {
      tk_seterr(&E, "added_tokens[%d].content: expected a string", i);
      goto fail;
    }
    tk_added_tok t = {c->valuestring,
                      strlen(c->valuestring),
                      jflag(a, "single_word", 0),
                      jflag(a, "lstrip", 0),
                      jflag(a, "rstrip", 0),
                      0,
                      jflag(a, "special", 0),
                      -1};
    t.normalized = jflag(a, "normalized", !t.special);
    if (tk_added_add(tok->added, &t, &tok->bpe, &E) < 0) goto fail;
  }
  if (tk_added_build(tok->added, tok->norm, S, &E) < 0) goto fail;
  atomic_store(&tok->spare, S);
  cJSON_Delete(root);
  return tok;
fail:
  if (fr) tk_model_json_free(&fast);
  free(to_free);
  tk_scratch_free(S);
  lacuna_tokenizer_free(tok);
  cJSON_Delete(root);
  return NULL;
}

lacuna_tokenizer *lacuna_tokenizer_load_json(const char *json, size_t len, char *err, size_t errlen) {
  return load_json(json, len, NULL, err, errlen);
}

lacuna_tokenizer *lacuna_tokenizer_load(const char *path, char *err, size_t errlen) {
  tk_err E = {err, errlen};
  char *full = NULL;
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    size_t n = strlen(path);
    full = malloc(n + 16);
    if (!full) {
      tk_seterr(&E, "out of memory");
      return NULL;
    }
    snprintf(full, n + 16, "%s/tokenizer.json", path);
    path = full;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    tk_seterr(&E, "cannot open %s: %s", path, strerror(errno));
    free(full);
    return NULL;
  }
  /* one buffer of the file's size, filled by (usually) one read; a file that
   * grows meanwhile or reports no size still reads to the end */
  tk_buf b = {0};
  struct stat fst;
  size_t want = fstat(fileno(f), &fst) == 0 && S_ISREG(fst.st_mode) && fst.st_size > 0
                    ? (size_t)fst.st_size + 2 /* room to see EOF without growing */
                    : 65536;
  int rerr = 0;
  for (;;) {
    if (b.len + 1 >= b.cap) {
      size_t cap = b.cap ? b.cap * 2 : want;
      char *np = realloc(b.p, cap);
      if (!np) {
        tk_seterr(&E, "out of memory reading %s", path);
        fclose(f);
        free(b.p);
        free(full);
        return NULL;
      }
      b.p = np;
      b.cap = cap;
    }
    size_t r = fread(b.p + b.len, 1, b.cap - 1 - b.len, f);
    b.len += r;
    if (r == 0) {
      rerr = ferror(f);
      break;
    }
  }
  fclose(f);
  b.p[b.len] = 0;
  if (rerr) {
    tk_seterr(&E, "cannot read %s", path);
    free(b.p);
    free(full);
    return NULL;
  }
  lacuna_tokenizer *tok = load_json(b.p, b.len, b.p, err, errlen); /* frees b.p */
  if (!tok && err && errlen) {                                     /* name the file in the message */
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s: %s", path, err);
    snprintf(err, errlen, "%s", tmp);
  }
  free(full);
  return tok;
}

/* ---- encoding ------------------------------------------------------------------------- */
void lacuna_encoding_init(lacuna_encoding *e) { memset(e, 0, sizeof *e); }

void lacuna_encoding_free(lacuna_encoding *e) {
  free(e->ids);
  free(e->byte_start);
  free(e->byte_end);
  free(e->char_start);
  free(e->char_end);
  free(e->special);
  memset(e, 0, sizeof *e);
}

static int enc_reserve(lacuna_encoding *e, size_t n) {
  if (n <= e->cap) return 0;
  size_t cap = e->cap ? e->cap : 64;
  while (cap < n) cap *= 2;
  void *p;
#define GROW(f)                                                                                              \
  if (!(p = realloc(e->f, cap * sizeof *e->f))) return -1;                                                   \
  e->f = p;
  GROW(ids)
  GROW(byte_start)
  GROW(byte_end)
  GROW(char_start)
  GROW(char_end)
  GROW(special)
#undef GROW
  e->cap = cap;
  return 0;
}

/* Tokens of one text that a scratch keeps between texts (32 bytes each). */
#define TOKS_KEEP 65536

static tk_scratch *acquire(const lacuna_tokenizer *tok) {
  tk_scratch *S = atomic_exchange(&((lacuna_tokenizer *)tok)->spare, NULL);
  if (!S) S = tk_scratch_new();
  if (S) S->unicode15 = 0;
  return S;
}

static void release(const lacuna_tokenizer *tok, tk_scratch *S) {
  tk_arena_reset(&S->A);
  tk_scratch *expected = NULL;
  if (!atomic_compare_exchange_strong(&((lacuna_tokenizer *)tok)->spare, &expected, S)) tk_scratch_free(S);
}

/* Char index of the char holding byte b of valid UTF-8 s: the number of char
 * starts (bytes that are not continuations) in s[1..b]. Counted from a cursor
 * (byte *cb, its index *cc) left at b, forward or back, branch-free. */
static inline size_t char_at(const unsigned char *s, size_t b, size_t *cb, size_t *cc) {
  size_t p = *cb, c = *cc;
  if (b >= p)
    for (size_t q = p + 1; q <= b; q++) c += (s[q] & 0xC0) != 0x80;
  else
    for (size_t q = b + 1; q <= p; q++) c -= (s[q] & 0xC0) != 0x80;
  *cb = b;
  *cc = c;
  return c;
}

static int run_pipeline(const lacuna_tokenizer *tok, tk_scratch *S, const char *s, size_t n, int add_special,
                        tk_tok **toks, size_t *nt, size_t *ct, tk_err *E) {
  tk_al *al = tk_alloc(&S->A, (n + 1) * sizeof *al);
  if (!al) goto oom;
  for (size_t i = 0; i < n;) {
    uint64_t w;
    if (i + 8 <= n && (memcpy(&w, s + i, 8), !(w & UINT64_C(0x8080808080808080)))) {
      for (size_t k = 0; k < 8; k++) al[i + k] = (tk_al){(uint32_t)(i + k), (uint32_t)(i + k + 1)};
      i += 8; /* 8 ASCII bytes, one char each */
      continue;
    }
    size_t l = (size_t)tk_utf8_len((unsigned char)s[i]);
    if (i + l > n) l = n - i;
    for (size_t k = 0; k < l; k++) al[i + k] = (tk_al){(uint32_t)i, (uint32_t)(i + l)};
    i += l;
  }
  tk_splits L = {0};
  tk_split whole = {{s, al, (uint32_t)n, 0}, -1, 0, 0};
  if (n && tk_splits_push(S, &L, &whole) < 0) goto oom;
  if (tk_added_split(tok->added, 0, S, &L, E) < 0) return -1;
  if (tok->norm)
    for (size_t i = 0; i < L.n; i++)
      if (L.v[i].id < 0 && tk_norm_apply(tok->norm, S, &L.v[i].ns, E) < 0) return -1;
  if (tk_added_split(tok->added, 1, S, &L, E) < 0) return -1;
  size_t w = 0; /* HF drops pieces the normalizer emptied */
  for (size_t i = 0; i < L.n; i++)
    if (L.v[i].ns.len) L.v[w++] = L.v[i];
  L.n = w;
  if (tok->pretok && tk_pretok_apply(tok->pretok, S, &L, E) < 0) return -1;
  for (size_t i = 0; i < L.n; i++) {
    const tk_split *sp = &L.v[i];
    if (sp->id < 0) {
      if (tk_bpe_tokenize(&tok->bpe, S, sp, toks, nt, ct, E) < 0) return -1;
      continue;
    }
    if (*nt == *ct) {
      size_t c = *ct ? *ct * 2 : 256;
      tk_tok *np = realloc(*toks, c * sizeof *np);
      if (!np) goto oom;
      *toks = np;
      *ct = c;
    }
    (*toks)[(*nt)++] =
        (tk_tok){sp->id, sp->ns.al[0].s, sp->ns.al[sp->ns.len - 1].e, sp->ns.p, sp->ns.len, sp->special};
  }
  if (tok->post && tk_post_apply(tok->post, tok, toks, nt, ct, add_special, E) < 0) return -1;
  return 0;
oom:
  tk_seterr(E, "out of memory");
  return -1;
}

/* Every U+FFFD the repair wrote: (repaired offset, original offset, original length). */
static int repair_segments(const char *t, size_t n, size_t **out, size_t *nout) {
  size_t cap = 0, k = 0, r = 0, *v = NULL, i = 0, ok, bad;
  while (i < n) {
    if (tk_utf8_step(t, n, i, &ok, &bad)) {
      i += ok;
      r += ok;
      continue;
    }
    if (k + 3 > cap) {
      cap = cap ? cap * 2 : 48;
      size_t *nv = realloc(v, cap * sizeof *nv);
      if (!nv) {
        free(v);
        return -1;
      }
      v = nv;
    }
    v[k++] = r;
    v[k++] = i;
    v[k++] = bad;
    i += bad;
    r += 3;
  }
  *out = v;
  *nout = k / 3;
  return 0;
}

/* Maps a byte offset of the repaired text back to the original bytes; an end
 * offset inside a U+FFFD goes to the end of the bytes it replaced. */
static size_t to_original(const size_t *seg, size_t nseg, size_t x, int is_end) {
  long delta = 0;
  for (size_t i = 0; i < nseg; i++) {
    size_t rs = seg[3 * i], os = seg[3 * i + 1], ol = seg[3 * i + 2];
    if (x <= rs) break;
    if (x < rs + 3) return is_end ? os + ol : os;
    delta += (long)ol - 3;
  }
  return (size_t)((long)x + delta);
}

/* A code point that lacuna's Unicode tables leave unassigned but a newer
 * Unicode assigns (HF tokenizers' Oniguruma may know it) splits differently
 * when the pre-tokenizer tells its category apart from an unassigned one.
 * Refuse the text rather than emit ids that may differ. s is valid UTF-8. */
static int refuse_newer(const char *s, size_t n, int cats, int *unicode15, tk_err *E) {
  const unsigned char *u = (const unsigned char *)s;
  *unicode15 = 0;
  for (size_t i = 0; i < n;) {
    if (i + 8 <= n) { /* 8 ASCII bytes at a time */
      uint64_t w;
      memcpy(&w, u + i, 8);
      if (!(w & UINT64_C(0x8080808080808080))) {
        i += 8;
        continue;
      }
    }
    if (u[i] < 0xE0) { /* below U+0800: all in lacuna's tables */
      i += u[i] < 0x80 ? 1 : 2;
      continue;
    }
    int l;
    uint32_t c = tk_utf8_dec(u + i, n - i, &l);
    if (tk_newer_category(c) & cats) {
      tk_seterr(
          E,
          "U+%04X (byte %zu) is unassigned in lacuna's Unicode %s tables but assigned by a newer Unicode, "
          "which Hugging Face tokenizers may know and split differently; this text is refused rather "
          "than given ids that could differ",
          (unsigned)c, i, tk_unicode_version());
      return -1;
    }
    if (!*unicode15) *unicode15 = tk_is_added_cp(c);
    i += (size_t)l;
  }
  return 0;
}

int lacuna_tokenizer_encode(const lacuna_tokenizer *tok, const char *text, size_t len, int add_special_tokens,
                            lacuna_encoding *out, char *err, size_t errlen) {
  tk_err E = {err, errlen};
  out->n = 0;
  size_t n;
  int oom;
  char *fixed = tk_utf8_lossy(text, len, &n, &oom);
  if (oom) {
    tk_seterr(&E, "out of memory");
    return -1;
  }
  const char *s = fixed ? fixed : text;
  if (n >= UINT32_MAX / 2) {
    free(fixed);
    tk_seterr(&E, "text too long to encode (%zu bytes)", n);
    return -1;
  }
  int unicode15 = 0;
  if (tok->classifies && refuse_newer(s ? s : "", n, tok->classifies, &unicode15, &E) < 0) {
    free(fixed);
    return -1;
  }
  tk_scratch *S = acquire(tok);
  if (!S) {
    free(fixed);
    tk_seterr(&E, "out of memory");
    return -1;
  }
  S->unicode15 = unicode15;
  tk_tok *toks = S->toks; /* the last text's array, grown as needed */
  size_t nt = 0, ct = S->toks_cap;
  int rc = run_pipeline(tok, S, s ? s : "", n, add_special_tokens, &toks, &nt, &ct, &E);
  if (rc == 0 && enc_reserve(out, nt) < 0) {
    tk_seterr(&E, "out of memory");
    rc = -1;
  }
  /* where the repair changed lengths: (repaired start, original start, original length) */
  size_t nseg = 0, *seg = NULL;
  if (rc == 0 && fixed && repair_segments(text, len, &seg, &nseg) < 0) {
    tk_seterr(&E, "out of memory");
    rc = -1;
  }
  if (rc == 0) {
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    size_t cb = 0, cc = 0;
    for (size_t i = 0; i < nt; i++) {
      size_t bs = toks[i].bs, be = toks[i].be, cs = bs, ce = be;
      /* HF's BytesToCharOffsetConverter, quirks included */
      if (bs < n) {
        cs = char_at(u, bs, &cb, &cc);
        if (be < n)
          ce = char_at(u, be, &cb, &cc);
        else if (be >= 1 && be - 1 < n)
          ce = char_at(u, be - 1, &cb, &cc) + 1;
        else
          ce = cs + 2;
      }
      out->ids[i] = toks[i].id;
      out->byte_start[i] = nseg ? to_original(seg, nseg, bs, 0) : bs;
      out->byte_end[i] = nseg ? to_original(seg, nseg, be, 1) : be;
      out->char_start[i] = cs;
      out->char_end[i] = ce;
      out->special[i] = toks[i].special;
    }
    out->n = nt;
  }
  free(seg);
  if (ct > TOKS_KEEP) { /* a long text's array is not held on to */
    free(toks);
    toks = NULL;
    ct = 0;
  }
  S->toks = toks;
  S->toks_cap = ct;
  release(tok, S);
  free(fixed);
  return rc;
}

/* ---- decoding ---------------------------------------------------------------------------- */
char *lacuna_tokenizer_decode(const lacuna_tokenizer *tok, const int32_t *ids, size_t n,
                              int skip_special_tokens, size_t *outlen, char *err, size_t errlen) {
  tk_err E = {err, errlen};
  tk_strs v = {0};
  tk_buf b = {0};
  tk_scratch *S = NULL;
  for (size_t i = 0; i < n; i++) {
    size_t l;
    const char *s = tk_id_to_token(tok, ids[i], &l);
    if (!s) continue; /* HF skips unknown ids */
    if (skip_special_tokens && tk_added_is_special(tok->added, s, l)) continue;
    if (tk_strs_push(&v, s, l) < 0) goto oom;
  }
  if (tok->dec) {
    if (!(S = acquire(tok))) goto oom;
    if (tk_dec_apply(tok->dec, S, &v, &E) < 0) goto fail;
  }
  if (tk_buf_add(&b, "", 0) < 0) goto oom;
  for (size_t i = 0; i < v.n; i++) {
    if (!tok->dec && i && tk_buf_addc(&b, ' ') < 0) goto oom;
    if (tk_buf_add(&b, v.s[i], v.len[i]) < 0) goto oom;
  }
  if (S) release(tok, S);
  tk_strs_free(&v);
  if (outlen) *outlen = b.len;
  return b.p;
oom:
  tk_seterr(&E, "out of memory");
fail:
  if (S) release(tok, S);
  tk_strs_free(&v);
  free(b.p);
  return NULL;
}

int32_t lacuna_tokenizer_token_to_id(const lacuna_tokenizer *tok, const char *token, size_t len) {
  return tk_token_to_id(tok, token, len);
}

const char *lacuna_tokenizer_id_to_token(const lacuna_tokenizer *tok, int32_t id, size_t *len) {
  return tk_id_to_token(tok, id, len);
}

size_t lacuna_tokenizer_vocab_size(const lacuna_tokenizer *tok) {
  /* HF get_vocab_size(with_added_tokens = true): the union of both vocabularies */
  return tok->bpe.vocab_n + (tok->added ? tk_added_extra(tok->added, &tok->bpe) : 0);
}

/* ---- Lua binding ------------------------------------------------------------------------- */
#define TOKENIZER_MT "lacuna.Tokenizer"

typedef struct {
  lacuna_tokenizer *tok;
} LTok;

static LTok *check_tok(lua_State *L) {
  LTok *t = luaL_checkudata(L, 1, TOKENIZER_MT);
  if (!t->tok) luaL_error(L, "attempt to use a closed tokenizer");
  return t;
}

static int l_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  LTok *t = lua_newuserdatauv(L, sizeof *t, 0);
  t->tok = NULL; /* closed until loaded */
  luaL_setmetatable(L, TOKENIZER_MT);
  char err[512];
  t->tok = lacuna_tokenizer_load(path, err, sizeof err);
  if (!t->tok) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  return 1;
}

static int l_load_json(lua_State *L) {
  size_t n;
  const char *json = luaL_checklstring(L, 1, &n);
  LTok *t = lua_newuserdatauv(L, sizeof *t, 0);
  t->tok = NULL;
  luaL_setmetatable(L, TOKENIZER_MT);
  char err[512];
  t->tok = lacuna_tokenizer_load_json(json, n, err, sizeof err);
  if (!t->tok) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  return 1;
}

/* Encodes into a Lua-owned encoding so an error cannot leak it. */
static int enc_gc(lua_State *L) {
  lacuna_encoding_free(lua_touserdata(L, 1));
  return 0;
}

static lacuna_encoding *run_encode(lua_State *L, const lacuna_tokenizer *tok, int text_idx, int add_special) {
  size_t n;
  const char *text = luaL_checklstring(L, text_idx, &n);
  lacuna_encoding *e = lua_newuserdatauv(L, sizeof *e, 0);
  lacuna_encoding_init(e);
  lua_newtable(L);
  lua_pushcfunction(L, enc_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  char err[512];
  if (lacuna_tokenizer_encode(tok, text, n, add_special, e, err, sizeof err) < 0) {
    lua_pushstring(L, err); /* the callers return fail, this message */
    return NULL;
  }
  return e;
}

/* tok:encode(text [, add_special_tokens = true [, offsets = false]])
 *   → ids [, byte_offsets, char_offsets]  (offsets {{start, end}, ...}, 0-based, end exclusive) */
static int l_encode(lua_State *L) {
  LTok *t = check_tok(L);
  int add = lua_isnoneornil(L, 3) ? 1 : lua_toboolean(L, 3);
  int offs = lua_toboolean(L, 4);
  lacuna_encoding *e = run_encode(L, t->tok, 2, add);
  if (!e) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  lua_createtable(L, (int)e->n, 0);
  for (size_t i = 0; i < e->n; i++) {
    lua_pushinteger(L, e->ids[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  if (!offs) return 1;
  for (int kind = 0; kind < 2; kind++) {
    const size_t *s = kind ? e->char_start : e->byte_start, *en = kind ? e->char_end : e->byte_end;
    lua_createtable(L, (int)e->n, 0);
    for (size_t i = 0; i < e->n; i++) {
      lua_createtable(L, 2, 0);
      lua_pushinteger(L, (lua_Integer)s[i]);
      lua_rawseti(L, -2, 1);
      lua_pushinteger(L, (lua_Integer)en[i]);
      lua_rawseti(L, -2, 2);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
  }
  return 3;
}

/* Reads the i-th {a, b} pair of the table at idx. */
static void pair_at(lua_State *L, int idx, lua_Integer i, size_t *a, size_t *b, const char *what) {
  if (lua_rawgeti(L, idx, i) != LUA_TTABLE) luaL_error(L, "%s[%d] must be a {from, to} pair", what, (int)i);
  lua_rawgeti(L, -1, 1);
  lua_rawgeti(L, -2, 2);
  lua_Integer x = luaL_checkinteger(L, -2), y = luaL_checkinteger(L, -1);
  if (x < 0 || y < x) luaL_error(L, "%s[%d]: bad byte range {%d, %d}", what, (int)i, (int)x, (int)y);
  *a = (size_t)x;
  *b = (size_t)y;
  lua_pop(L, 3);
}

/* Reads the list of {from, to} pairs at idx into a new userdata array. */
static lacuna_span *spans_at(lua_State *L, int idx, size_t *n, const char *what) {
  lua_Integer len = lua_isnoneornil(L, idx) ? 0 : luaL_len(L, idx);
  lacuna_span *v = lua_newuserdatauv(L, (size_t)(len > 0 ? len : 1) * sizeof *v, 0);
  for (lua_Integer i = 1; i <= len; i++) pair_at(L, idx, i, &v[i - 1].from, &v[i - 1].to, what);
  *n = (size_t)len;
  return v;
}

/* tok:encode_labels(text, trained, eot) -> input_ids, labels, straddling,
 *                                          first_from, first_to
 * Encodes text without adding special tokens (a rendered chat template holds
 * its own) and labels each token (lacuna_labels_from_spans): its id when the
 * token lies wholly inside one of the `trained` byte ranges ({{from, to}...},
 * sorted, end exclusive), else -100; for each {after, before} pair of `eot`,
 * the first special token starting in [after, before) is trained too.
 * straddling counts the tokens partly inside a trained range (masked);
 * first_from/first_to are the byte range of the first of them (nil if none). */
static int l_encode_labels(lua_State *L) {
  LTok *t = check_tok(L);
  luaL_checktype(L, 3, LUA_TTABLE);
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE);
  lua_settop(L, 4);
  size_t ntrained, neot;
  const lacuna_span *trained = spans_at(L, 3, &ntrained, "trained");
  const lacuna_span *eot = spans_at(L, 4, &neot, "eot");
  lacuna_encoding *e = run_encode(L, t->tok, 2, 0);
  if (!e) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  unsigned char *train = lua_newuserdatauv(L, e->n ? e->n : 1, 0);
  lacuna_label_stats st;
  if (lacuna_labels_from_spans(e, trained, ntrained, eot, neot, train, &st) < 0)
    return luaL_error(L, "bad argument to 'encode_labels' (trained ranges overlap or are out of order)");
  lua_createtable(L, (int)e->n, 0);
  lua_createtable(L, (int)e->n, 0);
  for (size_t i = 0; i < e->n; i++) {
    lua_pushinteger(L, e->ids[i]);
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    lua_pushinteger(L, train[i] ? e->ids[i] : -100);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_pushinteger(L, (lua_Integer)st.straddling);
  if (!st.straddling) return 3;
  lua_pushinteger(L, (lua_Integer)e->byte_start[st.first]);
  lua_pushinteger(L, (lua_Integer)e->byte_end[st.first]);
  return 5;
}

/* tokenizer.approx_count(text) -> estimated token count (lacuna_tokens_approx) */
static int l_approx_count(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_pushinteger(L, (lua_Integer)lacuna_tokens_approx(s, n));
  return 1;
}

/* tok:count(text [, add_special_tokens = false]) → number of tokens */
static int l_count(lua_State *L) {
  LTok *t = check_tok(L);
  lacuna_encoding *e = run_encode(L, t->tok, 2, lua_toboolean(L, 3));
  if (!e) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)e->n);
  return 1;
}

/* tok:decode(ids [, skip_special_tokens = false]) → string */
static int l_decode(lua_State *L) {
  LTok *t = check_tok(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  int skip = lua_toboolean(L, 3);
  lua_Integer n = luaL_len(L, 2);
  int32_t *ids = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *ids, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 2, i);
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < INT32_MIN || v > INT32_MAX)
      return luaL_error(L, "bad argument #1 to 'decode' (ids[%d] is not a token id)", (int)i);
    ids[i - 1] = (int32_t)v;
    lua_pop(L, 1);
  }
  char err[512];
  size_t len;
  char *s = lacuna_tokenizer_decode(t->tok, ids, (size_t)n, skip, &len, err, sizeof err);
  if (!s) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushlstring(L, s, len);
  free(s);
  return 1;
}

static int l_token_to_id(lua_State *L) {
  LTok *t = check_tok(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  int32_t id = lacuna_tokenizer_token_to_id(t->tok, s, n);
  if (id < 0)
    luaL_pushfail(L);
  else
    lua_pushinteger(L, id);
  return 1;
}

static int l_id_to_token(lua_State *L) {
  LTok *t = check_tok(L);
  lua_Integer id = luaL_checkinteger(L, 2);
  size_t n;
  const char *s = id < 0 || id > INT32_MAX ? NULL : lacuna_tokenizer_id_to_token(t->tok, (int32_t)id, &n);
  if (!s)
    luaL_pushfail(L);
  else
    lua_pushlstring(L, s, n);
  return 1;
}

static int l_vocab_size(lua_State *L) {
  LTok *t = check_tok(L);
  lua_pushinteger(L, (lua_Integer)lacuna_tokenizer_vocab_size(t->tok));
  return 1;
}

static int l_close(lua_State *L) {
  LTok *t = luaL_checkudata(L, 1, TOKENIZER_MT);
  lacuna_tokenizer_free(t->tok);
  t->tok = NULL;
  return 0;
}

static int l_tostring(lua_State *L) {
  LTok *t = luaL_checkudata(L, 1, TOKENIZER_MT);
  if (t->tok)
    lua_pushfstring(L, "lacuna.Tokenizer (%p)", (void *)t->tok);
  else
    lua_pushliteral(L, "lacuna.Tokenizer (closed)");
  return 1;
}

static const luaL_Reg tok_methods[] = {
    {"encode", l_encode},
    {"count", l_count},
    {"decode", l_decode},
    {"token_to_id", l_token_to_id},
    {"id_to_token", l_id_to_token},
    {"vocab_size", l_vocab_size},
    {"close", l_close},
    {"encode_labels", l_encode_labels},
    {NULL, NULL},
};

static const luaL_Reg tok_meta[] = {
    {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring}, {"__index", NULL}, {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"load", l_load},
    {"load_json", l_load_json},
    {"approx_count", l_approx_count},
    {NULL, NULL},
};

lacuna_tokenizer *lacuna_tokenizer_check(lua_State *L, int idx) {
  LTok *t = luaL_checkudata(L, idx, TOKENIZER_MT);
  if (!t->tok) luaL_error(L, "attempt to use a closed tokenizer");
  return t->tok;
}

int lacuna_open_tokenizer(lua_State *L) {
  if (luaL_newmetatable(L, TOKENIZER_MT)) {
    luaL_setfuncs(L, tok_meta, 0);
    luaL_newlib(L, tok_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
