/* Decoders (HF decoders/): ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace,
 * BPEDecoder, Sequence. Each maps the list of token strings to a new list
 * (decode_chain); the caller joins the result. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "utf8.h"

int tk_pattern_load(const cJSON *pat, const char *path, tk_regex *re, tk_err *e);

enum { D_SEQ, D_BYTELEVEL, D_METASPACE, D_BYTEFALLBACK, D_FUSE, D_STRIP, D_REPLACE, D_BPE };

struct tk_dec {
  int kind;
  tk_dec **kids;
  size_t nkids;
  uint32_t cp; /* Metaspace replacement / Strip content */
  int prepend; /* Metaspace: prepend_scheme != never */
  size_t start, stop;
  tk_regex re;
  int has_re;
  char *str; /* Replace content / BPE suffix */
  size_t slen;
};

void tk_dec_free(tk_dec *d) {
  if (!d) return;
  for (size_t i = 0; i < d->nkids; i++) tk_dec_free(d->kids[i]);
  free(d->kids);
  if (d->has_re) tk_regex_free(&d->re);
  free(d->str);
  free(d);
}

int tk_strs_push(tk_strs *v, const char *s, size_t n) {
  if (v->n == v->cap) {
    size_t c = v->cap ? v->cap * 2 : 64;
    char **ns = realloc(v->s, c * sizeof *ns);
    if (!ns) return -1;
    v->s = ns;
    size_t *nl = realloc(v->len, c * sizeof *nl);
    if (!nl) return -1;
    v->len = nl;
    v->cap = c;
  }
  char *p = malloc(n + 1);
  if (!p) return -1;
  if (n) memcpy(p, s, n);
  p[n] = 0;
  v->s[v->n] = p;
  v->len[v->n++] = n;
  return 0;
}

void tk_strs_free(tk_strs *v) {
  for (size_t i = 0; i < v->n; i++) free(v->s[i]);
  free(v->s);
  free(v->len);
  memset(v, 0, sizeof *v);
}

static char *dupstr(const char *s, size_t *len) {
  size_t n = strlen(s);
  char *p = malloc(n + 1);
  if (p) memcpy(p, s, n + 1);
  if (len) *len = n;
  return p;
}

static uint32_t first_cp(const char *s) {
  int l;
  return s[0] ? tk_utf8_dec((const unsigned char *)s, strlen(s), &l) : 0;
}

tk_dec *tk_dec_load(const void *json, const char *path, tk_err *e) {
  const cJSON *j = json;
  const char *type = tk_json_type(j);
  if (!type) {
    tk_seterr(e, "%s: a decoder needs a \"type\"", path);
    return NULL;
  }
  tk_dec *d = calloc(1, sizeof *d);
  if (!d) goto oom;
  if (!strcmp(type, "Sequence")) {
    d->kind = D_SEQ;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "decoders");
    if (!cJSON_IsArray(arr)) {
      tk_seterr(e, "%s.decoders: expected an array", path);
      goto fail;
    }
    int k = cJSON_GetArraySize(arr);
    d->kids = calloc((size_t)k + 1, sizeof *d->kids);
    if (!d->kids) goto oom;
    for (int i = 0; i < k; i++) {
      char sub[512];
      snprintf(sub, sizeof sub, "%s.decoders[%d]", path, i);
      if (!(d->kids[i] = tk_dec_load(cJSON_GetArrayItem(arr, i), sub, e))) goto fail;
      d->nkids++;
    }
  } else if (!strcmp(type, "ByteLevel")) {
    d->kind = D_BYTELEVEL;
  } else if (!strcmp(type, "Metaspace")) {
    d->kind = D_METASPACE;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "replacement");
    d->cp = cJSON_IsString(r) ? first_cp(r->valuestring) : 0x2581;
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(j, "prepend_scheme");
    d->prepend = !(cJSON_IsString(ps) && !strcmp(ps->valuestring, "never"));
    const cJSON *aps = cJSON_GetObjectItemCaseSensitive(j, "add_prefix_space");
    if (cJSON_IsFalse(aps)) d->prepend = 0;
  } else if (!strcmp(type, "ByteFallback")) {
    d->kind = D_BYTEFALLBACK;
  } else if (!strcmp(type, "Fuse")) {
    d->kind = D_FUSE;
  } else if (!strcmp(type, "Strip")) {
    d->kind = D_STRIP;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "content");
    d->cp = cJSON_IsString(c) ? first_cp(c->valuestring) : ' ';
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "start");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "stop");
    /* counts of characters (a usize in HF): a negative or huge one is refused,
     * not cast out of range */
    if ((st && !(cJSON_IsNumber(st) && st->valuedouble >= 0 && st->valuedouble <= 1e9)) ||
        (sp && !(cJSON_IsNumber(sp) && sp->valuedouble >= 0 && sp->valuedouble <= 1e9))) {
      tk_seterr(e, "%s: start and stop must be counts (integers >= 0)", path);
      goto fail;
    }
    d->start = st ? (size_t)st->valuedouble : 0;
    d->stop = sp ? (size_t)sp->valuedouble : 0;
  } else if (!strcmp(type, "Replace")) {
    d->kind = D_REPLACE;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "content");
    if (!cJSON_IsString(c)) {
      tk_seterr(e, "%s.content: expected a string", path);
      goto fail;
    }
    if (!(d->str = dupstr(c->valuestring, &d->slen))) goto oom;
    if (tk_pattern_load(cJSON_GetObjectItemCaseSensitive(j, "pattern"), path, &d->re, e) < 0) goto fail;
    d->has_re = 1;
  } else if (!strcmp(type, "BPEDecoder")) {
    d->kind = D_BPE;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "suffix");
    if (!(d->str = dupstr(cJSON_IsString(s) ? s->valuestring : "</w>", &d->slen))) goto oom;
  } else {
    tk_seterr(e, "decoder type '%s' is not supported (at %s)", type, path);
    goto fail;
  }
  return d;
oom:
  tk_seterr(e, "out of memory");
fail:
  tk_dec_free(d);
  return NULL;
}

static int replace_at(tk_strs *v, size_t i, tk_buf *b) {
  char *p = malloc(b->len + 1);
  if (!p) return -1;
  if (b->len) memcpy(p, b->p, b->len);
  p[b->len] = 0;
  free(v->s[i]);
  v->s[i] = p;
  v->len[i] = b->len;
  return 0;
}

static int is_byte_token(const char *s, size_t n, unsigned char *out) {
  if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return 0;
  int hi = lacuna_hex_digit((unsigned char)s[3]), lo = lacuna_hex_digit((unsigned char)s[4]);
  if (hi < 0 || lo < 0) return 0;
  *out = (unsigned char)(hi << 4 | lo);
  return 1;
}

static int valid_utf8(const char *s, size_t n) {
  size_t out;
  int oom;
  char *r = tk_utf8_lossy(s, n, &out, &oom);
  if (r) {
    free(r);
    return 0;
  }
  return !oom;
}

static int flush_bytes(tk_strs *o, tk_buf *bytes) {
  if (!bytes->len) return 0;
  if (valid_utf8(bytes->p, bytes->len)) {
    if (tk_strs_push(o, bytes->p, bytes->len) < 0) return -1;
  } else {
    for (size_t k = 0; k < bytes->len; k++)
      if (tk_strs_push(o, "\xEF\xBF\xBD", 3) < 0) return -1;
  }
  bytes->len = 0;
  return 0;
}

int tk_dec_apply(const tk_dec *d, tk_scratch *S, tk_strs *v, tk_err *e) {
  tk_buf b = {0};
  switch (d->kind) {
    case D_SEQ:
      for (size_t i = 0; i < d->nkids; i++)
        if (tk_dec_apply(d->kids[i], S, v, e) < 0) return -1;
      return 0;
    case D_BYTELEVEL: {
      for (size_t i = 0; i < v->n; i++) {
        const char *s = v->s[i];
        size_t n = v->len[i], start = b.len, k;
        int l;
        for (k = 0; k < n; k += (size_t)l) {
          int byte = tk_char_byte(tk_utf8_dec((const unsigned char *)s + k, n - k, &l));
          if (byte < 0) break;
          if (tk_buf_addc(&b, (char)byte) < 0) goto oom;
        }
        if (k < n) { /* a char outside the byte alphabet: keep the token's bytes */
          b.len = start;
          if (tk_buf_add(&b, s, n) < 0) goto oom;
        }
      }
      size_t outn;
      int oom;
      char *fixed = tk_utf8_lossy(b.p ? b.p : "", b.len, &outn, &oom);
      if (oom) goto oom;
      tk_strs o = {0};
      if (tk_strs_push(&o, fixed ? fixed : (b.p ? b.p : ""), outn) < 0) {
        free(fixed);
        tk_strs_free(&o);
        goto oom;
      }
      free(fixed);
      tk_strs_free(v);
      *v = o;
      free(b.p);
      return 0;
    }
    case D_METASPACE:
      for (size_t i = 0; i < v->n; i++) {
        b.len = 0;
        const char *s = v->s[i];
        size_t n = v->len[i];
        int l;
        for (size_t k = 0; k < n; k += (size_t)l) {
          uint32_t c = tk_utf8_dec((const unsigned char *)s + k, n - k, &l);
          if (c == d->cp) {
            if (i == 0 && d->prepend) continue;
            if (tk_buf_addc(&b, ' ') < 0) goto oom;
          } else if (tk_buf_add(&b, s + k, (size_t)l) < 0) {
            goto oom;
          }
        }
        if (replace_at(v, i, &b) < 0) goto oom;
      }
      free(b.p);
      return 0;
    case D_BYTEFALLBACK: {
      tk_strs o = {0};
      for (size_t i = 0; i < v->n; i++) {
        unsigned char byte;
        if (is_byte_token(v->s[i], v->len[i], &byte)) {
          if (tk_buf_addc(&b, (char)byte) < 0) goto oom2;
          continue;
        }
        if (flush_bytes(&o, &b) < 0 || tk_strs_push(&o, v->s[i], v->len[i]) < 0) goto oom2;
      }
      if (flush_bytes(&o, &b) < 0) goto oom2;
      tk_strs_free(v);
      *v = o;
      free(b.p);
      return 0;
    oom2:
      tk_strs_free(&o);
      goto oom;
    }
    case D_FUSE: {
      for (size_t i = 0; i < v->n; i++)
        if (tk_buf_add(&b, v->s[i], v->len[i]) < 0) goto oom;
      tk_strs o = {0};
      if (tk_strs_push(&o, b.p ? b.p : "", b.len) < 0) {
        tk_strs_free(&o);
        goto oom;
      }
      tk_strs_free(v);
      *v = o;
      free(b.p);
      return 0;
    }
    case D_STRIP:
      for (size_t i = 0; i < v->n; i++) {
        const char *s = v->s[i];
        size_t n = v->len[i], nch = 0, k;
        int l;
        for (k = 0; k < n; k += (size_t)tk_utf8_len((unsigned char)s[k])) nch++;
        size_t start_cut = 0, stop_cut = nch, ci = 0;
        for (k = 0; k < n && ci < d->start; k += (size_t)l, ci++) {
          if (tk_utf8_dec((const unsigned char *)s + k, n - k, &l) != d->cp) break;
          start_cut = ci + 1;
        }
        /* walk back from the end */
        size_t kk = n;
        for (size_t q = 0; q < d->stop && kk > 0; q++) {
          size_t j = kk - 1;
          while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
          if (tk_utf8_dec((const unsigned char *)s + j, n - j, &l) != d->cp) break;
          stop_cut = nch - q - 1;
          kk = j;
        }
        b.len = 0;
        ci = 0;
        for (k = 0; k < n; k += (size_t)l, ci++) {
          l = tk_utf8_len((unsigned char)s[k]);
          /* a token's text may end inside a character (byte-level pieces):
           * never copy past it (found by tests/fuzz) */
          if ((size_t)l > n - k) l = (int)(n - k);
          if (ci >= start_cut && ci < stop_cut && tk_buf_add(&b, s + k, (size_t)l) < 0) goto oom;
        }
        if (replace_at(v, i, &b) < 0) goto oom;
      }
      free(b.p);
      return 0;
    case D_REPLACE:
      for (size_t i = 0; i < v->n; i++) {
        const char *s = v->s[i];
        size_t n = v->len[i], pos = 0, ms, me;
        b.len = 0;
        int rc;
        while ((rc = tk_regex_find(&d->re, S, s, n, pos, &ms, &me, e)) > 0) {
          if (tk_buf_add(&b, s + pos, ms - pos) < 0 || tk_buf_add(&b, d->str, d->slen) < 0) goto oom;
          if (me == ms) {
            if (me >= n) {
              pos = n;
              break;
            }
            size_t l = (size_t)tk_utf8_len((unsigned char)s[me]);
            if (tk_buf_add(&b, s + me, l) < 0) goto oom;
            pos = me + l;
          } else {
            pos = me;
          }
        }
        if (rc < 0) {
          free(b.p);
          return -1;
        }
        if (tk_buf_add(&b, s + pos, n - pos) < 0 || replace_at(v, i, &b) < 0) goto oom;
      }
      free(b.p);
      return 0;
    case D_BPE:
      for (size_t i = 0; i < v->n; i++) {
        const char *s = v->s[i];
        size_t n = v->len[i], k = 0;
        const char *rep = i + 1 == v->n ? "" : " ";
        b.len = 0;
        while (k < n) {
          if (d->slen && n - k >= d->slen && !memcmp(s + k, d->str, d->slen)) {
            if (tk_buf_add(&b, rep, strlen(rep)) < 0) goto oom;
            k += d->slen;
          } else {
            if (tk_buf_addc(&b, s[k++]) < 0) goto oom;
          }
        }
        if (replace_at(v, i, &b) < 0) goto oom;
      }
      free(b.p);
      return 0;
  }
  return 0;
oom:
  free(b.p);
  tk_seterr(e, "out of memory");
  return -1;
}
