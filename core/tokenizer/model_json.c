/* model.vocab and model.merges straight from the text of tokenizer.json.
 * They are almost all of a big file (gpt-oss: 200K tokens, 446K merges, 28 MB),
 * and building cJSON's tree for them (a node, a malloc and a strtod per value)
 * was ~80% of the load. This reads just those two values in one pass, keeps
 * strings without escapes in place, and gives the rest of the text, with them
 * cut to {} and [], to cJSON. Anything unusual (escapes it cannot take, a
 * number that is not a plain id, a merge that is not "a b" or [a, b], a
 * duplicate key) makes it decline, and the whole file goes through cJSON as
 * before, whose errors name the problem. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "utf8.h"

typedef struct {
  const char *p, *end;
} cur;

static void ws(cur *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

static int hex4(const char *p, uint32_t *v) {
  *v = 0;
  for (int i = 0; i < 4; i++) {
    int h = lacuna_hex_digit((unsigned char)p[i]);
    if (h < 0) return -1;
    *v = *v << 4 | (uint32_t)h;
  }
  return 0;
}

/* A string at c->p ('"'): *s, *n its text, unescaped into the arena when it
 * has escapes. -1 declines (malformed, raw control characters, lone
 * surrogates), -2 out of memory. */
static int string(cur *c, tk_arena *A, const char **s, uint32_t *n) {
  if (c->p >= c->end || *c->p != '"') return -1;
  const char *b = ++c->p;
  int esc = 0;
  while (c->p < c->end && *c->p != '"') {
    if ((unsigned char)*c->p < 0x20) return -1;
    if (*c->p == '\\') {
      esc = 1;
      if (++c->p >= c->end) return -1;
    }
    c->p++;
  }
  if (c->p >= c->end) return -1;
  const char *e = c->p++;
  if ((size_t)(e - b) >= UINT32_MAX) return -1;
  if (!esc) {
    *s = b;
    *n = (uint32_t)(e - b);
    return 0;
  }
  char *o = tk_alloc(A, (size_t)(e - b) + 1), *w = o;
  if (!o) return -2;
  for (const char *q = b; q < e; q++) {
    if (*q != '\\') {
      *w++ = *q;
      continue;
    }
    q++;
    switch (*q) {
      case '"': *w++ = '"'; break;
      case '\\': *w++ = '\\'; break;
      case '/': *w++ = '/'; break;
      case 'b': *w++ = '\b'; break;
      case 'f': *w++ = '\f'; break;
      case 'n': *w++ = '\n'; break;
      case 'r': *w++ = '\r'; break;
      case 't': *w++ = '\t'; break;
      case 'u': {
        uint32_t u, lo;
        if (e - q < 5 || hex4(q + 1, &u) < 0) return -1;
        q += 4;
        if (u >= 0xDC00 && u <= 0xDFFF) return -1;
        if (u >= 0xD800 && u <= 0xDBFF) {
          if (e - q < 7 || q[1] != '\\' || q[2] != 'u' || hex4(q + 3, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
            return -1;
          q += 6;
          u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (u == 0) return -1; /* cJSON's strings end at NUL: let it decide */
        w += tk_utf8_enc(u, w);
        break;
      }
      default: return -1;
    }
  }
  *s = o;
  *n = (uint32_t)(w - o);
  return 0;
}

/* Skips any JSON value (depth-limited). -1 on malformed text. */
static int skip(cur *c, int depth) {
  if (depth > 64) return -1;
  ws(c);
  if (c->p >= c->end) return -1;
  char k = *c->p;
  if (k == '"') {
    c->p++;
    while (c->p < c->end && *c->p != '"') c->p += *c->p == '\\' ? 2 : 1;
    if (c->p >= c->end) return -1;
    c->p++;
    return 0;
  }
  if (k == '{' || k == '[') {
    char close = k == '{' ? '}' : ']';
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == close) {
      c->p++;
      return 0;
    }
    for (;;) {
      if (k == '{') {
        if (skip(c, depth + 1) < 0) return -1; /* the key */
        ws(c);
        if (c->p >= c->end || *c->p++ != ':') return -1;
      }
      if (skip(c, depth + 1) < 0) return -1;
      ws(c);
      if (c->p >= c->end) return -1;
      if (*c->p == ',') {
        c->p++;
        continue;
      }
      if (*c->p++ != close) return -1;
      return 0;
    }
  }
  /* number or literal */
  const char *b = c->p;
  while (c->p < c->end &&
         (strchr("+-.eE", *c->p) || (*c->p >= '0' && *c->p <= '9') || (*c->p >= 'a' && *c->p <= 'z')))
    c->p++;
  return c->p > b ? 0 : -1;
}

/* Finds the members of the object at c->p; calls f for each (key, value cursor).
 * f returns 0 to skip the value itself, 1 when it consumed it, -1 to decline. */
typedef int (*member_fn)(void *ctx, const char *key, uint32_t klen, cur *c);
static int members(cur *c, tk_arena *A, void *ctx, member_fn f) {
  ws(c);
  if (c->p >= c->end || *c->p != '{') return -1;
  c->p++;
  ws(c);
  if (c->p < c->end && *c->p == '}') {
    c->p++;
    return 0;
  }
  for (;;) {
    const char *k;
    uint32_t kl;
    ws(c);
    int r = string(c, A, &k, &kl);
    if (r < 0) return r;
    ws(c);
    if (c->p >= c->end || *c->p++ != ':') return -1;
    ws(c);
    r = f(ctx, k, kl, c);
    if (r < 0) return r;
    if (r == 0 && skip(c, 1) < 0) return -1;
    ws(c);
    if (c->p >= c->end) return -1;
    if (*c->p == ',') {
      c->p++;
      continue;
    }
    return *c->p++ == '}' ? 0 : -1;
  }
}

struct found {
  tk_model_json *out;
  tk_arena *A;
  int models;
};

static int key_is(const char *k, uint32_t n, const char *want) {
  return n == strlen(want) && !memcmp(k, want, n);
}

static int grow(void **v, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return 0;
  size_t nc = *cap ? *cap * 2 : 4096;
  void *nv = realloc(*v, nc * size);
  if (!nv) return -2;
  *v = nv;
  *cap = nc;
  return 0;
}

static int read_vocab(struct found *F, cur *c) {
  tk_model_json *o = F->out;
  const char *start = c->p;
  if (c->p >= c->end || *c->p != '{') return -1;
  c->p++;
  ws(c);
  if (c->p < c->end && *c->p == '}') {
    c->p++;
  } else {
    for (;;) {
      ws(c);
      tk_vocab_ent v;
      int r = string(c, F->A, &v.s, &v.n);
      if (r < 0) return r;
      ws(c);
      if (c->p >= c->end || *c->p++ != ':') return -1;
      ws(c);
      /* a plain id: digits, no leading zero, at most 2^31 - 1 */
      const char *d = c->p;
      uint64_t id = 0;
      while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && c->p - d < 11)
        id = id * 10 + (uint64_t)(*c->p++ - '0');
      if (c->p == d || (*d == '0' && c->p - d > 1) || id > 2147483647u) return -1;
      v.id = (int32_t)id;
      if ((r = grow((void **)&o->vocab, &o->vocab_cap, o->nvocab, sizeof v)) < 0) return r;
      o->vocab[o->nvocab++] = v;
      ws(c);
      if (c->p >= c->end) return -1;
      if (*c->p == ',') {
        c->p++;
        continue;
      }
      if (*c->p++ != '}') return -1;
      break;
    }
  }
  o->vocab_at = (size_t)(start - o->text);
  o->vocab_len = (size_t)(c->p - start);
  return 1;
}

static int read_merges(struct found *F, cur *c) {
  tk_model_json *o = F->out;
  const char *start = c->p;
  if (c->p >= c->end || *c->p != '[') return -1;
  c->p++;
  ws(c);
  if (c->p < c->end && *c->p == ']') {
    c->p++;
  } else {
    for (;;) {
      ws(c);
      tk_merge_ent m;
      int r;
      if (c->p < c->end && *c->p == '[') { /* [a, b] */
        c->p++;
        ws(c);
        if ((r = string(c, F->A, &m.a, &m.al)) < 0) return r;
        ws(c);
        if (c->p >= c->end || *c->p++ != ',') return -1;
        ws(c);
        if ((r = string(c, F->A, &m.b, &m.bl)) < 0) return r;
        ws(c);
        if (c->p >= c->end || *c->p++ != ']') return -1;
      } else { /* "a b": exactly one space */
        const char *s;
        uint32_t n;
        if ((r = string(c, F->A, &s, &n)) < 0) return r;
        const char *sp = memchr(s, ' ', n);
        if (!sp || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1))) return -1;
        m.a = s;
        m.al = (uint32_t)(sp - s);
        m.b = sp + 1;
        m.bl = (uint32_t)(s + n - sp - 1);
      }
      if (memchr(m.a, 0, m.al) || memchr(m.b, 0, m.bl)) return -1;
      if ((r = grow((void **)&o->merges, &o->merges_cap, o->nmerges, sizeof m)) < 0) return r;
      o->merges[o->nmerges++] = m;
      ws(c);
      if (c->p >= c->end) return -1;
      if (*c->p == ',') {
        c->p++;
        continue;
      }
      if (*c->p++ != ']') return -1;
      break;
    }
  }
  o->merges_at = (size_t)(start - o->text);
  o->merges_len = (size_t)(c->p - start);
  return 1;
}

static int model_member(void *ctx, const char *k, uint32_t kl, cur *c) {
  struct found *F = ctx;
  if (key_is(k, kl, "vocab")) return F->out->vocab_len ? -1 : read_vocab(F, c);
  if (key_is(k, kl, "merges")) return F->out->merges_len ? -1 : read_merges(F, c);
  return 0;
}

static int top_member(void *ctx, const char *k, uint32_t kl, cur *c) {
  struct found *F = ctx;
  if (!key_is(k, kl, "model")) return 0;
  if (F->models++) return -1; /* a second "model": let cJSON decide */
  int r = members(c, F->A, F, model_member);
  return r < 0 ? r : 1;
}

int tk_model_json_read(tk_model_json *o, const char *json, size_t len) {
  memset(o, 0, sizeof *o);
  o->text = json;
  struct found F = {o, &o->arena, 0};
  cur c = {json, json + len};
  int r = members(&c, &o->arena, &F, top_member);
  if (r == 0) {
    ws(&c);
    if (c.p != c.end) r = -1;
  }
  if (r == 0 && (!o->vocab_len || !o->merges_len)) r = -1;
  if (r == 0) {
    /* the rest of the text, the two values cut to {} and [] */
    size_t a = o->vocab_at < o->merges_at ? o->vocab_at : o->merges_at;
    size_t al = a == o->vocab_at ? o->vocab_len : o->merges_len;
    size_t b = a == o->vocab_at ? o->merges_at : o->vocab_at;
    size_t bl = a == o->vocab_at ? o->merges_len : o->vocab_len;
    o->rest = malloc(len - al - bl + 5);
    if (!o->rest) {
      r = -2;
    } else {
      char *w = o->rest;
      memcpy(w, json, a);
      w += a;
      memcpy(w, a == o->vocab_at ? "{}" : "[]", 2);
      w += 2;
      memcpy(w, json + a + al, b - a - al);
      w += b - a - al;
      memcpy(w, a == o->vocab_at ? "[]" : "{}", 2);
      w += 2;
      memcpy(w, json + b + bl, len - b - bl);
      w += len - b - bl;
      *w = 0;
      o->rest_len = (size_t)(w - o->rest);
      return 1;
    }
  }
  tk_model_json_free(o);
  return r == -2 ? -1 : 0;
}

void tk_model_json_free(tk_model_json *o) {
  free(o->vocab);
  free(o->merges);
  free(o->rest);
  tk_arena_free(&o->arena);
  const char *text = o->text;
  memset(o, 0, sizeof *o);
  o->text = text;
}
