/* Post-processors (HF processors/): TemplateProcessing (single sequence), ByteLevel
 * offset trimming, BertProcessing, RobertaProcessing, Sequence. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { PP_SEQ, PP_TEMPLATE, PP_BYTELEVEL, PP_BERT, PP_ROBERTA };

typedef struct {
  int is_seq; /* 1: the sequence, 0: special token ids */
  int32_t *ids;
  size_t nids;
} piece;

struct tk_post {
  int kind;
  tk_post **kids;
  size_t nkids;
  piece *pieces;
  size_t npieces;
  int trim_offsets, add_prefix_space;
  int32_t cls, sep;
};

void tk_post_free(tk_post *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nkids; i++) tk_post_free(p->kids[i]);
  free(p->kids);
  for (size_t i = 0; i < p->npieces; i++) free(p->pieces[i].ids);
  free(p->pieces);
  free(p);
}

static int jbool(const cJSON *j, const char *k, int dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* A token id as HF reads it (a u32 there; ids are int32 here): a whole
 * number in 0..INT32_MAX. A negative one was taken as it was (found by
 * tests/fuzz), a huge one cast out of range. */
static int valid_id(const cJSON *v) {
  return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= (double)INT32_MAX &&
         v->valuedouble == (double)(int32_t)v->valuedouble;
}

/* ["[CLS]", 101] */
static int pair_id(const cJSON *j, const char *k, const char *path, int32_t *out, tk_err *e) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !valid_id(cJSON_GetArrayItem(v, 1))) {
    tk_seterr(e, "%s.%s: expected [token, id] with an id >= 0", path, k);
    return -1;
  }
  *out = (int32_t)cJSON_GetArrayItem(v, 1)->valuedouble;
  return 0;
}

static int load_template(tk_post *p, const cJSON *j, const char *path, tk_err *e) {
  const cJSON *single = cJSON_GetObjectItemCaseSensitive(j, "single");
  const cJSON *specials = cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
  if (!cJSON_IsArray(single)) {
    tk_seterr(e, "%s.single: expected an array of template pieces", path);
    return -1;
  }
  int n = cJSON_GetArraySize(single);
  p->pieces = calloc((size_t)n + 1, sizeof *p->pieces);
  if (!p->pieces) goto oom;
  for (int i = 0; i < n; i++) {
    const cJSON *it = cJSON_GetArrayItem(single, i);
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
    piece *pc = &p->pieces[p->npieces];
    if (seq) {
      const cJSON *id = cJSON_GetObjectItemCaseSensitive(seq, "id");
      if (!cJSON_IsString(id) || strcmp(id->valuestring, "A")) {
        tk_seterr(e, "%s.single[%d]: a single template can only hold sequence A", path, i);
        return -1;
      }
      pc->is_seq = 1;
    } else if (sp) {
      const cJSON *id = cJSON_GetObjectItemCaseSensitive(sp, "id");
      const cJSON *st =
          cJSON_IsString(id) ? cJSON_GetObjectItemCaseSensitive(specials, id->valuestring) : NULL;
      const cJSON *ids = cJSON_GetObjectItemCaseSensitive(st, "ids");
      if (!cJSON_IsArray(ids)) {
        tk_seterr(e, "%s.single[%d]: special token '%s' is missing from special_tokens", path, i,
                  cJSON_IsString(id) ? id->valuestring : "?");
        return -1;
      }
      int k = cJSON_GetArraySize(ids);
      for (int q = 0; q < k; q++)
        if (!valid_id(cJSON_GetArrayItem(ids, q))) {
          tk_seterr(e, "%s.special_tokens.%s.ids[%d]: expected a token id (an integer >= 0)", path,
                    id->valuestring, q);
          return -1;
        }
      pc->ids = calloc((size_t)k + 1, sizeof *pc->ids);
      if (!pc->ids) goto oom;
      for (int q = 0; q < k; q++) pc->ids[q] = (int32_t)cJSON_GetArrayItem(ids, q)->valuedouble;
      pc->nids = (size_t)k;
    } else {
      tk_seterr(e, "%s.single[%d]: expected {\"Sequence\": ...} or {\"SpecialToken\": ...}", path, i);
      return -1;
    }
    p->npieces++;
  }
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}

tk_post *tk_post_load(const void *json, const char *path, const lacuna_tokenizer *tok, tk_err *e) {
  (void)tok;
  const cJSON *j = json;
  const char *type = tk_json_type(j);
  if (!type) {
    tk_seterr(e, "%s: a post-processor needs a \"type\"", path);
    return NULL;
  }
  tk_post *p = calloc(1, sizeof *p);
  if (!p) {
    tk_seterr(e, "out of memory");
    return NULL;
  }
  if (!strcmp(type, "Sequence")) {
    p->kind = PP_SEQ;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "processors");
    if (!cJSON_IsArray(arr)) {
      tk_seterr(e, "%s.processors: expected an array", path);
      goto fail;
    }
    int k = cJSON_GetArraySize(arr);
    p->kids = calloc((size_t)k + 1, sizeof *p->kids);
    if (!p->kids) goto fail;
    for (int i = 0; i < k; i++) {
      char sub[512];
      snprintf(sub, sizeof sub, "%s.processors[%d]", path, i);
      if (!(p->kids[i] = tk_post_load(cJSON_GetArrayItem(arr, i), sub, tok, e))) goto fail;
      p->nkids++;
    }
  } else if (!strcmp(type, "TemplateProcessing")) {
    p->kind = PP_TEMPLATE;
    if (load_template(p, j, path, e) < 0) goto fail;
  } else if (!strcmp(type, "ByteLevel")) {
    p->kind = PP_BYTELEVEL;
    p->trim_offsets = jbool(j, "trim_offsets", 1);
    p->add_prefix_space = jbool(j, "add_prefix_space", 1);
  } else if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
    p->kind = type[0] == 'B' ? PP_BERT : PP_ROBERTA;
    if (pair_id(j, "cls", path, &p->cls, e) < 0 || pair_id(j, "sep", path, &p->sep, e) < 0) goto fail;
    p->trim_offsets = p->kind == PP_ROBERTA && jbool(j, "trim_offsets", 1);
    p->add_prefix_space = jbool(j, "add_prefix_space", 1);
  } else {
    tk_seterr(e, "post-processor type '%s' is not supported (at %s)", type, path);
    goto fail;
  }
  return p;
fail:
  tk_post_free(p);
  return NULL;
}

/* byte_level::process_offsets: trims leading/trailing 'Ġ' and whitespace. */
static void trim_offsets(const lacuna_tokenizer *tok, tk_tok *t, size_t n, int add_prefix_space) {
  for (size_t i = 0; i < n; i++) {
    const char *s = t[i].str;
    size_t len = t[i].slen;
    if (!s) s = tk_id_to_token(tok, t[i].id, &len);
    if (!s || !len) continue;
    size_t lead = 0, trail = 0, k;
    int l;
    for (k = 0; k < len; k += (size_t)l) {
      uint32_t c = tk_utf8_dec((const unsigned char *)s + k, len - k, &l);
      if (c != 0x120 && !tk_is_whitespace(c)) break;
      lead++;
    }
    for (k = len; k > 0;) {
      size_t j = k - 1;
      while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
      uint32_t c = tk_utf8_dec((const unsigned char *)s + j, len - j, &l);
      if (c != 0x120 && !tk_is_whitespace(c)) break;
      trail++;
      k = j;
    }
    if (lead > 0) {
      int is_first = i == 0 || t[i].bs == 0;
      if (is_first && add_prefix_space && lead == 1) lead = 0;
      size_t ns = t[i].bs + lead;
      t[i].bs = (uint32_t)(ns < t[i].be ? ns : t[i].be);
    }
    if (trail > 0 && t[i].be >= trail) {
      size_t ne = t[i].be - trail;
      t[i].be = (uint32_t)(ne > t[i].bs ? ne : t[i].bs);
    }
  }
}

static int insert(tk_tok **toks, size_t *n, size_t *cap, size_t at, const int32_t *ids, size_t k) {
  if (*n + k > *cap) {
    size_t c = *cap ? *cap : 16;
    while (c < *n + k) c *= 2;
    tk_tok *nt = realloc(*toks, c * sizeof *nt);
    if (!nt) return -1;
    *toks = nt;
    *cap = c;
  }
  memmove(*toks + at + k, *toks + at, (*n - at) * sizeof **toks);
  for (size_t i = 0; i < k; i++) (*toks)[at + i] = (tk_tok){ids[i], 0, 0, NULL, 0, 1};
  *n += k;
  return 0;
}

int tk_post_apply(const tk_post *p, const lacuna_tokenizer *tok, tk_tok **toks, size_t *n, size_t *cap,
                  int add_special, tk_err *e) {
  switch (p->kind) {
    case PP_SEQ:
      for (size_t i = 0; i < p->nkids; i++)
        if (tk_post_apply(p->kids[i], tok, toks, n, cap, add_special, e) < 0) return -1;
      return 0;
    case PP_BYTELEVEL:
      if (p->trim_offsets) trim_offsets(tok, *toks, *n, p->add_prefix_space);
      return 0;
    case PP_BERT:
    case PP_ROBERTA:
      if (p->trim_offsets) trim_offsets(tok, *toks, *n, p->add_prefix_space);
      if (!add_special) return 0;
      if (insert(toks, n, cap, 0, &p->cls, 1) < 0 || insert(toks, n, cap, *n, &p->sep, 1) < 0) goto oom;
      return 0;
    case PP_TEMPLATE: {
      if (!add_special) return 0;
      size_t seq_len = *n, at = 0;
      for (size_t i = 0; i < p->npieces; i++) {
        if (p->pieces[i].is_seq) {
          at += seq_len;
          continue;
        }
        if (insert(toks, n, cap, at, p->pieces[i].ids, p->pieces[i].nids) < 0) goto oom;
        at += p->pieces[i].nids;
      }
      /* a template without the sequence drops it, as HF does */
      int has_seq = 0;
      for (size_t i = 0; i < p->npieces; i++) has_seq |= p->pieces[i].is_seq;
      if (!has_seq) *n -= seq_len;
      return 0;
    }
  }
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}
