/* Dataset statistics for `lacuna stats` (lua/lacuna/cmd/stats.lua): one pass
 * over an output JSONL in C, since a million lines must take seconds.
 *
 * Lua: core.stats.scan(path, opts) -> result   (path: .jsonl or .jsonl.gz)
 *   opts.count: nil, or function(text) -> tokens, to count chat text in tokens
 *               instead of characters (the caller's tokenizer);
 *   opts.mask_history: ShareGPT lines train only their last assistant turn;
 *   opts.max_errors: how many error messages to keep (all are counted).
 *   result: lines, blank, bad, errors = {"FILE:LINE: field: problem", ...},
 *     formats = {name = lines}, kinds = {I =, II =, short =}, in2_lines,
 *     len_tokens / len_chars / len_counted: per-line lengths by unit,
 *     depths + depth_len: each needle's depth and its context's length,
 *     gaps: type II gaps, and the trained share as trained_X / total_X for
 *     X = tokens (labels), chars, counted (opts.count).
 * core.stats.chi2_sf(x, df) -> P(X >= x) for X ~ chi-square(df). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <zlib.h>
#include <lauxlib.h>
#include <lua.h>

#include "areas.h"
#include "utf8.h"

/* ------------------------------------------------------ chi-square tail */

/* The regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a): the series
 * for P = 1 - Q where it converges fast (x < a + 1), Legendre's continued
 * fraction (evaluated by the modified Lentz method) elsewhere, the split the
 * cephes igam/igamc pair that scipy uses also makes. */
static double gamma_q(double a, double x) {
  if (x <= 0) return 1.0;
  double log_prefix = a * log(x) - x - lgamma(a);
  if (x < a + 1) {
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 10000; n++) {
      term *= x / (a + n);
      sum += term;
      if (fabs(term) < fabs(sum) * 1e-17) break;
    }
    return 1.0 - sum * exp(log_prefix);
  }
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 10000; i++) {
    double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1 / d;
    double delta = d * c;
    h *= delta;
    if (fabs(delta - 1) < 1e-17) break;
  }
  return exp(log_prefix) * h;
}

double lacuna_chi2_sf(double x, double df) { return gamma_q(df / 2, x / 2); }

static int l_chi2_sf(lua_State *L) {
  double x = luaL_checknumber(L, 1), df = luaL_checknumber(L, 2);
  luaL_argcheck(L, df > 0, 2, "degrees of freedom must be > 0");
  luaL_argcheck(L, x >= 0, 1, "x must be >= 0");
  lua_pushnumber(L, lacuna_chi2_sf(x, df));
  return 1;
}

/* ------------------------------------------------------------ the scan */

#define SCAN_MT "lacuna.StatsScan"

/* Owns everything a scan holds, so that an error (e.g. raised by the count
 * callback) leaks nothing: __gc closes it. */
typedef struct scan {
  gzFile f; /* zlib reads plain files transparently */
  char *line;
  size_t cap;
  cJSON *root;
} scan;

static void scan_release(scan *s) {
  if (s->root) cJSON_Delete(s->root);
  if (s->f) gzclose(s->f);
  free(s->line);
  s->root = NULL, s->f = NULL, s->line = NULL, s->cap = 0;
}

/* The next line into s->line (without its newline); its length, or -1 at the
 * end, or -2 on a read error. Raises on memory errors. */
static long long read_line(lua_State *L, scan *s) {
  size_t len = 0;
  for (;;) {
    if (s->cap - len < 2) {
      size_t cap = s->cap ? s->cap * 2 : 4096;
      char *p = realloc(s->line, cap);
      if (!p) luaL_error(L, "stats: out of memory");
      s->line = p, s->cap = cap;
    }
    if (!gzgets(s->f, s->line + len, (int)(s->cap - len > INT32_MAX ? INT32_MAX : s->cap - len))) {
      int err;
      gzerror(s->f, &err);
      if (err != Z_OK && err != Z_BUF_ERROR) return -2;
      return len > 0 ? (long long)len : -1;
    }
    len += strlen(s->line + len);
    if (len > 0 && s->line[len - 1] == '\n') return (long long)(len - 1);
    if (gzeof(s->f)) return (long long)len;
  }
}

static int scan_gc(lua_State *L) {
  scan_release(luaL_checkudata(L, 1, SCAN_MT));
  return 0;
}

enum { FMT_TOKENS, FMT_AXOLOTL, FMT_OPENAI, FMT_MESSAGES, FMT_SHAREGPT, FMT_TRL, NFMT };
static const char *const fmt_names[NFMT] = {"tokens", "axolotl", "openai", "messages", "sharegpt", "trl"};

enum { UNIT_TOKENS, UNIT_CHARS, UNIT_COUNTED, NUNIT };
static const char *const unit_names[NUNIT] = {"tokens", "chars", "counted"};

/* Stack slots of the result tables inside l_scan. */
enum { S_SCAN = 3, S_RESULT, S_LEN0, S_DEPTHS = S_LEN0 + NUNIT, S_DEPTH_LEN, S_GAPS, S_ERRORS, S_COUNT };

typedef struct totals {
  lua_Integer lines, blank, bad, in2_lines, nerrors, max_errors;
  lua_Integer formats[NFMT], kinds[3];
  lua_Integer trained[NUNIT], total[NUNIT];
  lua_Integer nlen[NUNIT], ndepths, ngaps;
  int mask_history, has_count;
} totals;

/* What one line contributes, committed only when the whole line is valid. */
typedef struct line_stats {
  int fmt, chat_unit, has_length;
  lua_Integer trained, total, length;
} line_stats;

/* A problem with one field of a line: written into err, returned as 0. */
typedef struct problem {
  char field[128];
  char what[160];
} problem;

static void copy_text(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = 0;
}

static int fail(problem *p, const char *field, const char *what) {
  copy_text(p->field, sizeof p->field, field);
  copy_text(p->what, sizeof p->what, what);
  return 0;
}

/* Byte offset of character k of s[0..n) (n if k is past the end). */
static size_t char_to_byte(const char *s, size_t n, size_t k) {
  size_t chars = 0;
  for (size_t i = 0; i < n; i++) {
    if (((unsigned char)s[i] & 0xC0) != 0x80) {
      if (chars == k) return i;
      chars++;
    }
  }
  return n;
}

/* The size of a piece of chat text in the chat unit: characters, or what the
 * count callback (slot S_COUNT) says. */
static lua_Integer piece_size(lua_State *L, const totals *t, const char *s, size_t n) {
  if (n == 0) return 0;
  if (!t->has_count) return (lua_Integer)lacuna_utf8_count(s, n);
  lua_pushvalue(L, S_COUNT);
  lua_pushlstring(L, s, n);
  lua_call(L, 1, 1);
  int isnum;
  lua_Integer k = lua_tointegerx(L, -1, &isnum);
  if (!isnum || k < 0)
    luaL_error(L, "stats: the token counter returned %s, not a count", luaL_typename(L, -1));
  lua_pop(L, 1);
  return k;
}

static void add_piece(lua_State *L, const totals *t, line_stats *ls, const char *s, size_t n, int trained) {
  lua_Integer k = piece_size(L, t, s, n);
  ls->total += k;
  if (trained) ls->trained += k;
}

/* A string member, or NULL (with p filled) when absent or not a string. */
static const char *string_member(const cJSON *obj, const char *key, size_t *len, int optional, problem *p,
                                 const char *field) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v)) {
    if (optional) {
      *len = 0;
      return "";
    }
    fail(p, field, "missing");
    return NULL;
  }
  if (!cJSON_IsString(v)) {
    fail(p, field, "must be a string");
    return NULL;
  }
  *len = strlen(v->valuestring);
  return v->valuestring;
}

static int is_integer(const cJSON *v) {
  return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9.0e15;
}

/* --format tokens: the share of labels that are not -100. */
static int tokens_line(const cJSON *root, line_stats *ls, problem *p) {
  const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "input_ids");
  const cJSON *labels = cJSON_GetObjectItemCaseSensitive(root, "labels");
  if (!cJSON_IsArray(ids)) return fail(p, "input_ids", "must be an array");
  if (!labels) return fail(p, "labels", "missing (the tokens format has input_ids and labels)");
  if (!cJSON_IsArray(labels)) return fail(p, "labels", "must be an array");
  int n = cJSON_GetArraySize(ids), i = 0;
  if (cJSON_GetArraySize(labels) != n) return fail(p, "labels", "must be as long as input_ids");
  const cJSON *v;
  cJSON_ArrayForEach(v, labels) {
    if (!is_integer(v)) {
      char field[64];
      snprintf(field, sizeof field, "labels[%d]", i + 1);
      return fail(p, field, "must be an integer");
    }
    if (v->valuedouble != -100) ls->trained++;
    i++;
  }
  ls->fmt = FMT_TOKENS;
  ls->total = n;
  ls->length = n;
  ls->has_length = 1;
  return 1;
}

/* axolotl's train_detail: character offsets, end inclusive, in order; what
 * no entry covers is untrained. */
static int detail_pieces(lua_State *L, const totals *t, line_stats *ls, const cJSON *detail, const char *s,
                         size_t n, const char *field, problem *p) {
  size_t nchars = lacuna_utf8_count(s, n), next = 0;
  int i = 0;
  const cJSON *d;
  char f[128];
  cJSON_ArrayForEach(d, detail) {
    i++;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(d, "begin_offset");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(d, "end_offset");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(d, "train");
    snprintf(f, sizeof f, "%s.train_detail[%d]", field, i);
    if (!is_integer(b) || !is_integer(e) || !cJSON_IsBool(tr))
      return fail(p, f, "needs integer begin_offset, end_offset and a boolean train");
    double bd = b->valuedouble, ed = e->valuedouble;
    if (bd < (double)next || ed < bd || ed >= (double)nchars)
      return fail(p, f, "offsets out of order or outside the content");
    size_t bb = char_to_byte(s, n, (size_t)bd), eb = char_to_byte(s, n, (size_t)ed + 1);
    size_t gap = char_to_byte(s, n, next);
    add_piece(L, t, ls, s + gap, bb - gap, 0);
    add_piece(L, t, ls, s + bb, eb - bb, cJSON_IsTrue(tr));
    next = (size_t)ed + 1;
  }
  size_t gap = char_to_byte(s, n, next);
  add_piece(L, t, ls, s + gap, n - gap, 0);
  return 1;
}

/* {"messages": [...]}: axolotl (train / train_detail), openai (weight), or
 * neither (assistant messages trained, as both trainers default to). */
static int messages_line(lua_State *L, const totals *t, const cJSON *msgs, line_stats *ls, problem *p) {
  int i = 0, axolotl = 0, openai = 0;
  const cJSON *m;
  char field[64];
  cJSON_ArrayForEach(m, msgs) {
    i++;
    snprintf(field, sizeof field, "messages[%d]", i);
    if (!cJSON_IsObject(m)) return fail(p, field, "must be an object");
    size_t rlen, clen;
    char f[80];
    snprintf(f, sizeof f, "%s.role", field);
    const char *role = string_member(m, "role", &rlen, 0, p, f);
    if (!role) return 0;
    snprintf(f, sizeof f, "%s.content", field);
    const char *content = string_member(m, "content", &clen, 1, p, f);
    if (!content) return 0;
    const cJSON *train = cJSON_GetObjectItemCaseSensitive(m, "train");
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(m, "train_detail");
    const cJSON *weight = cJSON_GetObjectItemCaseSensitive(m, "weight");
    if (cJSON_IsArray(detail)) {
      axolotl = 1;
      if (!detail_pieces(L, t, ls, detail, content, clen, field, p)) return 0;
    } else if (detail) {
      snprintf(f, sizeof f, "%s.train_detail", field);
      return fail(p, f, "must be an array");
    } else if (train) {
      snprintf(f, sizeof f, "%s.train", field);
      if (!cJSON_IsBool(train)) return fail(p, f, "must be a boolean");
      axolotl = 1;
      add_piece(L, t, ls, content, clen, cJSON_IsTrue(train));
    } else if (weight) {
      snprintf(f, sizeof f, "%s.weight", field);
      if (!cJSON_IsNumber(weight) || (weight->valuedouble != 0 && weight->valuedouble != 1))
        return fail(p, f, "must be 0 or 1");
      openai = 1;
      add_piece(L, t, ls, content, clen, weight->valuedouble == 1);
    } else {
      add_piece(L, t, ls, content, clen, strcmp(role, "assistant") == 0);
    }
  }
  if (axolotl && openai) return fail(p, "messages", "mixes axolotl's train and OpenAI's weight");
  ls->fmt = axolotl ? FMT_AXOLOTL : openai ? FMT_OPENAI : FMT_MESSAGES;
  return 1;
}

/* LLaMA-Factory's ShareGPT: model turns (gpt, function_call) are trained, or
 * only the last one when the manifest notes mask_history. */
static int sharegpt_line(lua_State *L, const totals *t, const cJSON *root, const cJSON *conv, line_stats *ls,
                         problem *p) {
  size_t slen;
  const char *system = string_member(root, "system", &slen, 1, p, "system");
  if (!system) return 0;
  add_piece(L, t, ls, system, slen, 0);
  int i = 0, last_model = 0;
  const cJSON *turn;
  char field[80];
  cJSON_ArrayForEach(turn, conv) {
    i++;
    size_t flen;
    snprintf(field, sizeof field, "conversations[%d].from", i);
    const char *from = string_member(turn, "from", &flen, 0, p, field);
    if (!from) return 0;
    if (!strcmp(from, "gpt") || !strcmp(from, "function_call")) last_model = i;
  }
  i = 0;
  cJSON_ArrayForEach(turn, conv) {
    i++;
    size_t vlen;
    snprintf(field, sizeof field, "conversations[%d].value", i);
    const char *value = string_member(turn, "value", &vlen, 0, p, field);
    if (!value) return 0;
    const char *from = cJSON_GetObjectItemCaseSensitive(turn, "from")->valuestring;
    int model = !strcmp(from, "gpt") || !strcmp(from, "function_call");
    add_piece(L, t, ls, value, vlen, model && (!t->mask_history || i == last_model));
  }
  ls->fmt = FMT_SHAREGPT;
  return 1;
}

/* TRL prompt/completion, conversational (message lists) or standard (strings). */
static int trl_part(lua_State *L, const totals *t, const cJSON *part, const char *name, int trained,
                    line_stats *ls, problem *p) {
  if (cJSON_IsString(part)) {
    add_piece(L, t, ls, part->valuestring, strlen(part->valuestring), trained);
    return 1;
  }
  if (!cJSON_IsArray(part)) return fail(p, name, "must be a string or an array of messages");
  int i = 0;
  const cJSON *m;
  char field[80];
  cJSON_ArrayForEach(m, part) {
    i++;
    size_t clen;
    snprintf(field, sizeof field, "%s[%d].content", name, i);
    const char *content = string_member(m, "content", &clen, 1, p, field);
    if (!content) return 0;
    add_piece(L, t, ls, content, clen, trained);
  }
  return 1;
}

/* The trained share and length of any known format. */
static int format_line(lua_State *L, const totals *t, const cJSON *root, line_stats *ls, problem *p) {
  const cJSON *v;
  if (cJSON_GetObjectItemCaseSensitive(root, "input_ids")) return tokens_line(root, ls, p);
  ls->chat_unit = t->has_count ? UNIT_COUNTED : UNIT_CHARS;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "messages"))) {
    if (!cJSON_IsArray(v)) return fail(p, "messages", "must be an array");
    return messages_line(L, t, v, ls, p);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "conversations"))) {
    if (!cJSON_IsArray(v)) return fail(p, "conversations", "must be an array");
    return sharegpt_line(L, t, root, v, ls, p);
  }
  const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(root, "prompt");
  const cJSON *completion = cJSON_GetObjectItemCaseSensitive(root, "completion");
  if (prompt || completion) {
    if (!prompt) return fail(p, "prompt", "missing (completion without a prompt)");
    if (!completion) return fail(p, "completion", "missing (prompt without a completion)");
    ls->fmt = FMT_TRL;
    return trl_part(L, t, prompt, "prompt", 0, ls, p) && trl_part(L, t, completion, "completion", 1, ls, p);
  }
  return fail(p, "(line)", "not a known format: no input_ids, messages, conversations or prompt/completion");
}

/* meta.in2 (README "Needle metadata"): checked whole before anything is kept. */
static int check_in2(const cJSON *in2, int *kind, problem *p) {
  static const char *const kinds[] = {"I", "II", "short"};
  if (!cJSON_IsObject(in2)) return fail(p, "meta.in2", "must be an object");
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(in2, "kind");
  *kind = -1;
  for (int i = 0; i < 3 && cJSON_IsString(k); i++)
    if (!strcmp(k->valuestring, kinds[i])) *kind = i;
  if (*kind < 0) return fail(p, "meta.in2.kind", "must be \"I\", \"II\" or \"short\"");
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(in2, "context_tokens");
  if (!is_integer(ct) || ct->valuedouble < 1)
    return fail(p, "meta.in2.context_tokens", "must be an integer >= 1");
  const cJSON *tt = cJSON_GetObjectItemCaseSensitive(in2, "target_tokens");
  if (tt && (!is_integer(tt) || tt->valuedouble < 1))
    return fail(p, "meta.in2.target_tokens", "must be an integer >= 1");
  const cJSON *gap = cJSON_GetObjectItemCaseSensitive(in2, "gap");
  if (gap && !cJSON_IsNull(gap) && (!is_integer(gap) || gap->valuedouble < 0))
    return fail(p, "meta.in2.gap", "must be an integer >= 0");
  const cJSON *needles = cJSON_GetObjectItemCaseSensitive(in2, "needles");
  if (!cJSON_IsArray(needles)) return fail(p, "meta.in2.needles", "must be an array");
  int i = 0;
  const cJSON *n;
  char f[64];
  cJSON_ArrayForEach(n, needles) {
    i++;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(n, "depth");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(n, "token_offset");
    const cJSON *span = cJSON_GetObjectItemCaseSensitive(n, "byte_span");
    snprintf(f, sizeof f, "meta.in2.needles[%d].depth", i);
    if (!cJSON_IsNumber(d) || !(d->valuedouble >= 0 && d->valuedouble <= 1))
      return fail(p, f, "must be a number in [0, 1]");
    snprintf(f, sizeof f, "meta.in2.needles[%d].token_offset", i);
    if (!is_integer(off) || off->valuedouble < 0 || off->valuedouble >= ct->valuedouble)
      return fail(p, f, "must be an integer in [0, context_tokens)");
    snprintf(f, sizeof f, "meta.in2.needles[%d].byte_span", i);
    if (!cJSON_IsArray(span) || cJSON_GetArraySize(span) != 2 || !is_integer(span->child) ||
        !is_integer(span->child->next) || span->child->valuedouble < 0 ||
        span->child->next->valuedouble < span->child->valuedouble)
      return fail(p, f, "must be [begin, end] with 0 <= begin <= end");
  }
  return 1;
}

static void append_integer(lua_State *L, int slot, lua_Integer *n, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_rawseti(L, slot, ++*n);
}

static void commit_in2(lua_State *L, totals *t, const cJSON *in2, int kind) {
  lua_Integer ctx = (lua_Integer)cJSON_GetObjectItemCaseSensitive(in2, "context_tokens")->valuedouble;
  const cJSON *n, *gap = cJSON_GetObjectItemCaseSensitive(in2, "gap");
  t->in2_lines++;
  t->kinds[kind]++;
  cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(in2, "needles")) {
    lua_pushnumber(L, cJSON_GetObjectItemCaseSensitive(n, "depth")->valuedouble);
    lua_rawseti(L, S_DEPTHS, ++t->ndepths);
    lua_pushinteger(L, ctx);
    lua_rawseti(L, S_DEPTH_LEN, t->ndepths);
  }
  if (is_integer(gap)) append_integer(L, S_GAPS, &t->ngaps, (lua_Integer)gap->valuedouble);
}

static void record_error(lua_State *L, totals *t, const char *path, lua_Integer lineno, const problem *p) {
  t->bad++;
  if (t->nerrors >= t->max_errors) return;
  lua_pushfstring(L, "%s:%I: %s: %s", path, (LUAI_UACINT)lineno, p->field, p->what);
  lua_rawseti(L, S_ERRORS, ++t->nerrors);
}

/* One line: parse, measure, check meta.in2, then commit. */
static void scan_line(lua_State *L, scan *s, totals *t, const char *path, lua_Integer lineno, size_t len) {
  problem p;
  line_stats ls = {0};
  s->root = cJSON_ParseWithLength(s->line, len);
  if (!s->root) {
    fail(&p, "(line)", "not valid JSON");
    record_error(L, t, path, lineno, &p);
    return;
  }
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(s->root, "meta");
  const cJSON *in2 = cJSON_IsObject(meta) ? cJSON_GetObjectItemCaseSensitive(meta, "in2") : NULL;
  int kind = -1, ok;
  if (!cJSON_IsObject(s->root))
    ok = fail(&p, "(line)", "must be a JSON object");
  else if (meta && !cJSON_IsObject(meta))
    ok = fail(&p, "meta", "must be an object");
  else
    ok = format_line(L, t, s->root, &ls, &p) && (!in2 || check_in2(in2, &kind, &p));
  if (ok) {
    int unit = ls.fmt == FMT_TOKENS ? UNIT_TOKENS : ls.chat_unit;
    t->formats[ls.fmt]++;
    t->trained[unit] += ls.trained;
    t->total[unit] += ls.total;
    if (in2) {
      commit_in2(L, t, in2, kind);
      lua_Integer ctx = (lua_Integer)cJSON_GetObjectItemCaseSensitive(in2, "context_tokens")->valuedouble;
      append_integer(L, S_LEN0 + UNIT_TOKENS, &t->nlen[UNIT_TOKENS], ctx);
    } else {
      append_integer(L, S_LEN0 + unit, &t->nlen[unit], ls.has_length ? ls.length : ls.total);
    }
  } else {
    record_error(L, t, path, lineno, &p);
  }
  cJSON_Delete(s->root);
  s->root = NULL;
}

static void set_int(lua_State *L, int table, const char *key, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, table, key);
}

static void push_results(lua_State *L, const totals *t) {
  set_int(L, S_RESULT, "lines", t->lines);
  set_int(L, S_RESULT, "blank", t->blank);
  set_int(L, S_RESULT, "bad", t->bad);
  set_int(L, S_RESULT, "in2_lines", t->in2_lines);
  lua_createtable(L, 0, NFMT);
  for (int i = 0; i < NFMT; i++) set_int(L, lua_gettop(L), fmt_names[i], t->formats[i]);
  lua_setfield(L, S_RESULT, "formats");
  lua_createtable(L, 0, 3);
  set_int(L, lua_gettop(L), "I", t->kinds[0]);
  set_int(L, lua_gettop(L), "II", t->kinds[1]);
  set_int(L, lua_gettop(L), "short", t->kinds[2]);
  lua_setfield(L, S_RESULT, "kinds");
  char key[32];
  for (int u = 0; u < NUNIT; u++) {
    snprintf(key, sizeof key, "trained_%s", unit_names[u]);
    set_int(L, S_RESULT, key, t->trained[u]);
    snprintf(key, sizeof key, "total_%s", unit_names[u]);
    set_int(L, S_RESULT, key, t->total[u]);
    snprintf(key, sizeof key, "len_%s", unit_names[u]);
    lua_pushvalue(L, S_LEN0 + u);
    lua_setfield(L, S_RESULT, key);
  }
  static const char *const arrays[] = {"depths", "depth_len", "gaps", "errors"};
  for (int i = 0; i < 4; i++) {
    lua_pushvalue(L, S_DEPTHS + i);
    lua_setfield(L, S_RESULT, arrays[i]);
  }
}

static int l_scan(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  totals t = {0};
  t.max_errors = 20;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "mask_history");
    t.mask_history = lua_toboolean(L, -1);
    lua_getfield(L, 2, "max_errors");
    if (!lua_isnil(L, -1)) t.max_errors = luaL_checkinteger(L, -1);
    lua_pop(L, 2);
  }
  lua_settop(L, 2);
  scan *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  luaL_setmetatable(L, SCAN_MT);
  for (int i = S_RESULT; i < S_COUNT; i++) lua_newtable(L);
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "count");
    if (!lua_isnil(L, -1)) luaL_checktype(L, -1, LUA_TFUNCTION);
    t.has_count = !lua_isnil(L, -1);
  } else {
    lua_pushnil(L);
  }
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: is a directory", path);
    return 2;
  }
  s->f = gzopen(path, "rb");
  if (s->f) gzbuffer(s->f, 1 << 20);
  if (!s->f) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: cannot open: %s", path, strerror(errno));
    return 2;
  }
  lua_Integer lineno = 0;
  long long n;
  while ((n = read_line(L, s)) >= 0) {
    size_t len = (size_t)n;
    lineno++;
    while (len > 0 && (s->line[len - 1] == '\n' || s->line[len - 1] == '\r')) len--;
    size_t i = 0;
    while (i < len && (s->line[i] == ' ' || s->line[i] == '\t')) i++;
    if (i == len) {
      t.blank++;
      continue;
    }
    t.lines++;
    scan_line(L, s, &t, path, lineno, len);
  }
  int read_error = n == -2;
  scan_release(s);
  if (read_error) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: read error after line %I", path, (LUAI_UACINT)lineno);
    return 2;
  }
  push_results(L, &t);
  lua_pushvalue(L, S_RESULT);
  return 1;
}

static const luaL_Reg scan_meta[] = {{"__gc", scan_gc}, {"__close", scan_gc}, {NULL, NULL}};

static const luaL_Reg stats_funcs[] = {{"scan", l_scan}, {"chi2_sf", l_chi2_sf}, {NULL, NULL}};

int lacuna_open_stats(lua_State *L) {
  if (luaL_newmetatable(L, SCAN_MT)) luaL_setfuncs(L, scan_meta, 0);
  lua_pop(L, 1);
  luaL_newlib(L, stats_funcs);
  return 1;
}
