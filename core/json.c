/* json — Lua values <-> JSON text (DESIGN §3.1).
 *
 * Decoding: cJSON checks the syntax and gives the tree, but it keeps numbers
 * only as doubles and strings only as C strings (a "\u0000" would cut them).
 * So before cJSON runs we validate UTF-8, the nesting depth and the number
 * grammar in linear pre-passes, and while converting the tree to Lua we walk a
 * cursor over the source: string and number tokens appear in the text in
 * exactly the pre-order in which the tree visits them, so each scalar is taken
 * from its own source text (numbers through lua_stringtonumber: int64 stays
 * an integer, anything else is a correctly rounded float).
 *
 * Encoding writes into a malloc'd lacuna_jsonbuf held by a userdata with a
 * __gc, not into a luaL_Buffer: a luaL_Buffer needs the stack balanced at every
 * buffer operation, which a recursive walk with lua_next cannot keep. The
 * userdata makes an error (longjmp) leak nothing. */
#include "json.h"

#include <pthread.h>

#include <cjson/cJSON.h>
#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "areas.h"
#include "json_arena.h"
#include "utf8.h"

#define BUF_MT "lacuna.JsonBuffer"

/* ------------------------------------------------------------ decoding */

static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* The first index from i on (or n) of a byte of s[0..n) that is '"', '\\',
 * a control character, or (also_e2) 0xE2, the lead byte of U+2028/U+2029.
 * String content is most of a record's bytes, so the scans over it (decode,
 * encode) test sixteen bytes at a time (SSE2, which every x86-64 has), or
 * eight elsewhere (SWAR: exact about whether a word holds such a byte). */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
static uint64_t has_zero(uint64_t w) { return (w - ONES) & ~w & HIGHS; }
static uint64_t has_control(uint64_t w) { return (w - ONES * 0x20) & ~w & HIGHS; }

static size_t special_byte(const char *s, size_t i, size_t n, int also_e2) {
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), e2 = _mm_set1_epi8((char)0xE2);
  const __m128i max_control = _mm_set1_epi8(0x1F);
  while (i + 16 <= n) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
    __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
    hit = _mm_or_si128(hit, _mm_cmpeq_epi8(_mm_min_epu8(v, max_control), v)); /* v <= 0x1F */
    if (also_e2) hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, e2));
    int mask = _mm_movemask_epi8(hit);
    if (mask) return i + (size_t)__builtin_ctz((unsigned)mask);
    i += 16;
  }
#endif
  while (i + 8 <= n) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    uint64_t hit = has_zero(w ^ (ONES * '"')) | has_zero(w ^ (ONES * '\\')) | has_control(w);
    if (also_e2) hit |= has_zero(w ^ (ONES * 0xE2));
    if (hit) break;
    i += 8;
  }
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\' || c < 0x20 || (also_e2 && c == 0xE2)) break;
    i++;
  }
  return i;
}

/* The end of a run of plain string text: '"', '\\' or a control character. */
static size_t plain_run_end(const char *s, size_t i, size_t n) { return special_byte(s, i, n, 0); }

/* Length of the JSON number at s[i..n), or 0 if it breaks the grammar
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? or runs on into more number
 * characters ("01", "1.2.3"). cJSON alone would take these through strtod. */
static size_t number_len(const char *s, size_t i, size_t n) {
  size_t j = i;
  if (j < n && s[j] == '-') j++;
  if (j < n && s[j] == '0')
    j++;
  else if (j < n && s[j] >= '1' && s[j] <= '9')
    while (j < n && is_digit(s[j])) j++;
  else
    return 0;
  if (j < n && s[j] == '.') {
    j++;
    if (!(j < n && is_digit(s[j]))) return 0;
    while (j < n && is_digit(s[j])) j++;
  }
  if (j < n && (s[j] == 'e' || s[j] == 'E')) {
    j++;
    if (j < n && (s[j] == '+' || s[j] == '-')) j++;
    if (!(j < n && is_digit(s[j]))) return 0;
    while (j < n && is_digit(s[j])) j++;
  }
  if (j < n && (is_digit(s[j]) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] == '+' || s[j] == '-'))
    return 0;
  return j - i;
}

static int is_hex(char c) { return lacuna_hex_digit((unsigned char)c) >= 0; }

/* Whether the backslash at s[i] starts a valid escape. At the end of the
 * input it counts as valid: the unterminated string is reported instead. */
static int valid_escape(const char *s, size_t i, size_t n) {
  if (i + 1 >= n) return 1;
  switch (s[i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't': return 1;
    case 'u':
      for (size_t k = i + 2; k < i + 6; k++)
        if (k < n && !is_hex(s[k])) return 0;
      return 1;
    default: return 0;
  }
}

/* The structural pre-pass, before cJSON: depth limit (cJSON recurses to 1000
 * on its own), strict numbers, and control characters, which cJSON would
 * take as whitespace outside strings and as text inside them. Syntax errors
 * are left to cJSON. *open_at_end tells whether the text stops inside a string
 * or container, to tell "unexpected end" from an error at the last byte;
 * *open_string is where an unterminated string starts, or (size_t)-1. */
static int prescan(const char *s, size_t i, size_t n, int max_depth, int *open_at_end, size_t *open_string,
                   char *err, size_t errlen) {
  int depth = 0;
  *open_at_end = 0;
  *open_string = (size_t)-1;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') {
      size_t quote = i;
      for (i++;; i++) {
        i = plain_run_end(s, i, n);
        if (i >= n) {
          *open_at_end = 1;
          *open_string = quote;
          return 1;
        }
        c = (unsigned char)s[i];
        if (c == '"') break;
        if (c == '\\') {
          /* cJSON would read a bad \u hex digit as 0, i.e. as "\u0000" */
          if (!valid_escape(s, i, n)) {
            snprintf(err, errlen, "byte %zu: invalid escape sequence in string", i + 1);
            return 0;
          }
          i++;
        } else if (c < 0x20) {
          snprintf(err, errlen, "byte %zu: unescaped control character 0x%02X in string", i + 1, c);
          return 0;
        }
      }
      i++;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        snprintf(err, errlen, "nesting deeper than %d at byte %zu", max_depth, i + 1);
        return 0;
      }
      i++;
    } else if (c == ']' || c == '}') {
      if (depth > 0) depth--;
      i++;
    } else if (c == '-' || is_digit(c)) {
      size_t len = number_len(s, i, n);
      if (len == 0) {
        snprintf(err, errlen, "byte %zu: invalid number", i + 1);
        return 0;
      }
      i += len;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      /* a bare word (true, or garbage): digits inside it are no number */
      while (i < n && (((c = (unsigned char)s[i]) >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       is_digit(c) || c == '_'))
        i++;
    } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      snprintf(err, errlen, "byte %zu: unexpected control character 0x%02X", i + 1, c);
      return 0;
    } else {
      i++;
    }
  }
  *open_at_end = depth > 0;
  return 1;
}

/* The conversion state: the source, the token cursor, the stack slots of
 * the two marker metatables, the tree. */
typedef struct Dec {
  const char *s;
  size_t n, cur;
  int array_mt, object_mt;
  const cJSON *root;
} Dec;

/* Moves the cursor to the start of the next string or number token. */
static size_t next_token(Dec *d) {
  size_t i = d->cur;
  while (i < d->n) {
    char c = d->s[i];
    if (c == '"' || c == '-' || is_digit(c)) break;
    i++;
  }
  return i;
}

/* cJSON has already checked the escape, so every digit is a hex digit. */
static unsigned hex4(const char *p) {
  unsigned v = 0;
  for (int k = 0; k < 4; k++) v = v << 4 | (unsigned)lacuna_hex_digit((unsigned char)p[k]);
  return v;
}

/* Pushes the JSON string whose text (between the quotes) is s[start..end),
 * unescaped when escaped is set (its escapes already checked: cJSON or the
 * direct pass rejects bad ones and lone surrogates). The output is never
 * longer than the source. */
/* Writes the unescaped text of s[start..end) (escapes already checked) to o
 * and returns its length. o may be s + start itself: the output never runs
 * ahead of the input, hence memmove. */
static size_t unescape_into(const char *s, size_t start, size_t end, char *o) {
  size_t k = 0;
  for (size_t p = start; p < end; p++) {
    const char *bs = (const char *)memchr(s + p, '\\', end - p);
    size_t run = (bs ? (size_t)(bs - s) : end) - p;
    memmove(o + k, s + p, run);
    k += run;
    p += run;
    if (p >= end) break;
    char c = s[++p];
    switch (c) {
      case 'b': o[k++] = '\b'; break;
      case 'f': o[k++] = '\f'; break;
      case 'n': o[k++] = '\n'; break;
      case 'r': o[k++] = '\r'; break;
      case 't': o[k++] = '\t'; break;
      case 'u': {
        if (p + 4 >= end) break;
        unsigned cp = hex4(s + p + 1);
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && p + 6 < end && s[p + 1] == '\\' && s[p + 2] == 'u') {
          unsigned lo = hex4(s + p + 3);
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF)
          cp = 0xFFFD; /* unreachable after cJSON, but never emit a surrogate */
        k += (size_t)lacuna_utf8_encode(cp, o + k);
        break;
      }
      default: o[k++] = c; break; /* \" \\ \/ */
    }
  }
  return k;
}

/* One per thread: two runtimes in two threads (include/lacuna.h) decode at
 * the same time. It is freed when its thread ends, and the main thread's
 * when lacuna.so is unloaded (a stock lua5.4 closing its state), rather than
 * becoming a leak. */
static _Thread_local char *scratch;
static _Thread_local size_t scratch_cap;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void free_scratch(void) {
  free(scratch);
  scratch = NULL;
  scratch_cap = 0;
}

static void free_scratch_at_exit(void *unused) {
  (void)unused;
  free_scratch();
}

static int scratch_key_made;
static void make_scratch_key(void) {
  scratch_key_made = pthread_key_create(&scratch_key, free_scratch_at_exit) == 0;
}

/* (the key goes too: no thread may call into unloaded code when it ends) */
__attribute__((destructor)) static void free_scratch_at_unload(void) {
  free_scratch();
  if (scratch_key_made) pthread_key_delete(scratch_key);
}

static void push_string_source(lua_State *L, const char *s, size_t start, size_t end, int escaped) {
  if (!escaped) {
    lua_pushlstring(L, s + start, end - start);
    return;
  }
  /* Unescaped into a scratch buffer kept between calls (a luaL_Buffer this
   * big would allocate a box per string); pushing copies it before any GC
   * step could run a decode of its own. */
  size_t need = end - start;
  if (need > scratch_cap) {
    size_t cap = need < 4096 ? 4096 : need;
    if (!scratch) { /* (the thread's first: freed when it ends) */
      pthread_once(&scratch_once, make_scratch_key);
      pthread_setspecific(scratch_key, &scratch_key);
    }
    char *grown = (char *)realloc(scratch, cap);
    if (!grown) luaL_error(L, "not enough memory");
    scratch = grown;
    scratch_cap = cap;
  }
  size_t k = unescape_into(s, start, end, scratch);
  lua_pushlstring(L, scratch, k);
  if (scratch_cap > ((size_t)1 << 20)) { /* one huge string does not pin its copy */
    free(scratch);
    scratch = NULL;
    scratch_cap = 0;
  }
}

/* Pushes the string token at the cursor. */
static void push_string_token(lua_State *L, Dec *d) {
  size_t i = next_token(d) + 1, start = i;
  int escaped = 0;
  while ((i = plain_run_end(d->s, i, d->n)) < d->n && d->s[i] != '"') {
    if (d->s[i] == '\\') {
      escaped = 1;
      i++;
    }
    i++;
  }
  if (i > d->n) i = d->n;
  d->cur = i + 1;
  push_string_source(L, d->s, start, i, escaped);
}

/* Pushes the number whose text is s[i..i+len) as Lua reads it (int64 stays
 * an integer); 0 and nothing pushed when Lua cannot read it. */
static int push_number_source(lua_State *L, const char *s, size_t i, size_t len) {
  char buf[64];
  if (len > 0 && len < sizeof buf) {
    memcpy(buf, s + i, len);
    buf[len] = '\0';
    return lua_stringtonumber(L, buf) != 0;
  }
  if (len > 0) { /* a very long token: NUL-terminate it as a Lua string */
    lua_pushlstring(L, s + i, len);
    if (lua_stringtonumber(L, lua_tostring(L, -1)) != 0) {
      lua_remove(L, -2);
      return 1;
    }
    lua_pop(L, 1);
  }
  return 0;
}

static void push_number_token(lua_State *L, Dec *d, double fallback) {
  size_t i = next_token(d), len = 0;
  while (i + len < d->n) {
    char c = d->s[i + len];
    if (!(is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) break;
    len++;
  }
  d->cur = i + len;
  if (!push_number_source(L, d->s, i, len)) lua_pushnumber(L, (lua_Number)fallback);
}

static void push_node(lua_State *L, Dec *d, const cJSON *node) {
  switch (node->type & 0xFF) {
    case cJSON_False: lua_pushboolean(L, 0); break;
    case cJSON_True: lua_pushboolean(L, 1); break;
    case cJSON_NULL: lua_pushlightuserdata(L, NULL); break;
    case cJSON_Number: push_number_token(L, d, node->valuedouble); break;
    case cJSON_String: push_string_token(L, d); break;
    case cJSON_Array: {
      int n = 0;
      const cJSON *c;
      for (c = node->child; c; c = c->next) n++;
      luaL_checkstack(L, 3, "json: nesting too deep");
      lua_createtable(L, n, 0);
      lua_Integer i = 1;
      for (c = node->child; c; c = c->next) {
        push_node(L, d, c);
        lua_rawseti(L, -2, i++);
      }
      lua_pushvalue(L, d->array_mt);
      lua_setmetatable(L, -2);
      break;
    }
    case cJSON_Object: {
      int n = 0;
      const cJSON *c;
      for (c = node->child; c; c = c->next) n++;
      luaL_checkstack(L, 4, "json: nesting too deep");
      lua_createtable(L, 0, n);
      for (c = node->child; c; c = c->next) {
        push_string_token(L, d); /* the key precedes its value in the text */
        push_node(L, d, c);
        lua_rawset(L, -3); /* duplicate keys: the last one wins */
      }
      lua_pushvalue(L, d->object_mt);
      lua_setmetatable(L, -2);
      break;
    }
    default: lua_pushnil(L); break; /* cJSON_Raw/Invalid: not produced by parsing */
  }
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Where cJSON stopped, as a message. cJSON clamps an error at the very end of
 * its input to the last byte, so when that happens we parse a NUL-terminated
 * copy one byte longer (error path only) to see whether the input simply
 * ended. */
static void syntax_error(const char *s, size_t n, size_t pos, int open_at_end, size_t open_string, char *err,
                         size_t errlen) {
  if (open_string != (size_t)-1 && pos >= open_string) {
    /* cJSON points into the string; the fault is that it never ends */
    snprintf(err, errlen, "byte %zu: unexpected end of input (unterminated string from byte %zu)", n + 1,
             open_string + 1);
    return;
  }
  if (pos + 1 == n && open_at_end) {
    char *copy = (char *)malloc(n + 1);
    if (copy) {
      memcpy(copy, s, n);
      copy[n] = '\0';
      const char *end = NULL;
      cJSON *t = cJSON_ParseWithLengthOpts(copy, n + 1, &end, 0);
      if (t)
        cJSON_Delete(t);
      else if (end)
        pos = (size_t)(end - copy);
      free(copy);
    }
  }
  if (pos >= n) {
    snprintf(err, errlen, "byte %zu: unexpected end of input", n + 1);
    return;
  }
  unsigned char c = (unsigned char)s[pos];
  if (c == '\\') /* cJSON stops at the backslash of a bad escape or lone surrogate */
    snprintf(err, errlen, "byte %zu: invalid escape sequence in string", pos + 1);
  else if (c >= 0x20 && c < 0x7F)
    snprintf(err, errlen, "byte %zu: unexpected '%c'", pos + 1, c);
  else
    snprintf(err, errlen, "byte %zu: unexpected byte 0x%02X", pos + 1, c);
}

/* Pushes the marker metatable `name`, creating it on first use so that the C
 * API works even where json was never opened. */
static void push_marker(lua_State *L, const char *name) { luaL_newmetatable(L, name); }

/* build_values(dec, array_mt, object_mt) -> the value of dec's tree. */
static int build_values(lua_State *L) {
  Dec *d = (Dec *)lua_touserdata(L, 1);
  push_node(L, d, d->root);
  return 1;
}

/* ------------------------------------------------------------ direct pass */
/* The common case in one pass: plain valid JSON straight into Lua values.
 * The cJSON path reads every byte four times (pre-pass, cJSON's parse, the
 * token cursor, besides the UTF-8 check) and builds a tree it then throws
 * away; with its nodes in the arena, cJSON's parse was still the largest
 * function of a JSONL run and the passes around it a quarter of it. This pass
 * is strict and gives up on anything it is not sure of (any error, \u0000, a
 * lone surrogate, a number Lua cannot read, a container too big for the Lua
 * stack): the cJSON path then decides, so every error and every value the
 * decoder gives are still the cJSON path's (tests/fuzz/fuzz_json.c decodes
 * each input both ways and compares). Tables are created with the sizes and
 * filled in the order the cJSON path uses. */

int lacuna_json_direct = 1;

/* A long escaped string value of a line decoded in place: unescaped over its
 * own source once the whole line has decoded (a failed pass falls back on
 * cJSON, which must see the text intact); until then its slot holds a light
 * userdata, s + start (never NULL, which is null). */
#define DEFER_MIN_BYTES ((size_t)1 << 20)
#define DEFER_MAX 32

typedef struct Direct {
  const char *s;
  size_t n, i;
  int depth, max_depth;
  int array_mt, object_mt; /* absolute stack slots of the marker metatables */
  char *inplace;           /* s, writable: long escaped strings are deferred */
  int ndeferred;
  size_t deferred_end[DEFER_MAX]; /* by order of start */
  size_t deferred_start[DEFER_MAX];
} Direct;

static int direct_value(lua_State *L, Direct *p);

static void direct_space(Direct *p) {
  while (p->i < p->n && is_space(p->s[p->i])) p->i++;
}

static int hex4_ok(const char *s) {
  for (int k = 0; k < 4; k++)
    if (!is_hex(s[k])) return 0;
  return 1;
}

/* The string whose opening quote is at p->i (is_value: not an object key). */
static int direct_string(lua_State *L, Direct *p, int is_value) {
  const char *s = p->s;
  size_t n = p->n, start = p->i + 1, i = start;
  int escaped = 0;
  for (;;) {
    i = plain_run_end(s, i, n);
    if (i >= n) return 0;
    unsigned char c = (unsigned char)s[i];
    if (c == '"') break;
    if (c < 0x20 || i + 1 >= n) return 0;
    escaped = 1;
    switch (s[i + 1]) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't': i += 2; break;
      case 'u': {
        if (n - i < 6 || !hex4_ok(s + i + 2)) return 0;
        unsigned cp = hex4(s + i + 2);
        if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) return 0;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (n - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' || !hex4_ok(s + i + 8)) return 0;
          unsigned lo = hex4(s + i + 8);
          if (lo < 0xDC00 || lo > 0xDFFF) return 0;
          i += 12;
        } else {
          i += 6;
        }
        break;
      }
      default: return 0;
    }
  }
  p->i = i + 1;
  if (escaped && is_value && p->inplace && i - start >= DEFER_MIN_BYTES && p->ndeferred < DEFER_MAX) {
    p->deferred_start[p->ndeferred] = start;
    p->deferred_end[p->ndeferred++] = i;
    lua_pushlightuserdata(L, p->inplace + start);
    return 1;
  }
  push_string_source(L, s, start, i, escaped);
  return 1;
}

static int direct_literal(Direct *p, const char *word, size_t len) {
  if (p->n - p->i < len || memcmp(p->s + p->i, word, len) != 0) return 0;
  p->i += len;
  return 1;
}

/* After an element: 1 at the closing bracket (consumed), 2 at a comma
 * (consumed, and the space after it), 0 otherwise. */
static int direct_next(Direct *p, char close) {
  direct_space(p);
  if (p->i >= p->n) return 0;
  char c = p->s[p->i++];
  if (c == close) return 1;
  if (c != ',') return 0;
  direct_space(p);
  return 2;
}

/* The container's table from the count values (arrays) or key/value pairs
 * (objects) above base, which it replaces. */
static void direct_table(lua_State *L, int base, int count, int is_object, int mt) {
  if (is_object) {
    lua_createtable(L, 0, count);
    for (int k = 0; k < count; k++) {
      lua_pushvalue(L, base + 1 + 2 * k);
      lua_pushvalue(L, base + 2 + 2 * k);
      lua_rawset(L, -3); /* duplicate keys: the last one wins */
    }
  } else {
    lua_createtable(L, count, 0);
    for (int k = 1; k <= count; k++) {
      lua_pushvalue(L, base + k);
      lua_rawseti(L, -2, k);
    }
  }
  lua_pushvalue(L, mt);
  lua_setmetatable(L, -2);
  if (count > 0) {
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
  }
}

static int direct_container(lua_State *L, Direct *p, int is_object) {
  char close = is_object ? '}' : ']';
  if (++p->depth > p->max_depth) return 0;
  p->i++;
  int base = lua_gettop(L), count = 0;
  direct_space(p);
  if (p->i < p->n && p->s[p->i] == close) {
    p->i++;
  } else {
    for (;;) {
      if (!lua_checkstack(L, 6)) return 0; /* (a container the Lua stack cannot hold) */
      if (is_object) {
        if (p->i >= p->n || p->s[p->i] != '"' || !direct_string(L, p, 0)) return 0;
        direct_space(p);
        if (p->i >= p->n || p->s[p->i] != ':') return 0;
        p->i++;
        direct_space(p);
      }
      if (!direct_value(L, p)) return 0;
      count++;
      int next = direct_next(p, close);
      if (next == 1) break;
      if (next == 0) return 0;
    }
  }
  direct_table(L, base, count, is_object, is_object ? p->object_mt : p->array_mt);
  p->depth--;
  return 1;
}

static int direct_value(lua_State *L, Direct *p) {
  if (p->i >= p->n) return 0;
  char c = p->s[p->i];
  switch (c) {
    case '{': return direct_container(L, p, 1);
    case '[': return direct_container(L, p, 0);
    case '"': return direct_string(L, p, 1);
    case 't':
      if (!direct_literal(p, "true", 4)) return 0;
      lua_pushboolean(L, 1);
      return 1;
    case 'f':
      if (!direct_literal(p, "false", 5)) return 0;
      lua_pushboolean(L, 0);
      return 1;
    case 'n':
      if (!direct_literal(p, "null", 4)) return 0;
      lua_pushlightuserdata(L, NULL);
      return 1;
    default: {
      if (c != '-' && !is_digit(c)) return 0;
      size_t len = number_len(p->s, p->i, p->n);
      if (len == 0 || !push_number_source(L, p->s, p->i, len)) return 0;
      p->i += len;
      return 1;
    }
  }
}

/* If the value at idx is a deferred string, unescapes it in place and
 * pushes it (returns 1); else returns 0. */
static int resolve_one(lua_State *L, Direct *p, int idx) {
  if (lua_type(L, idx) != LUA_TLIGHTUSERDATA) return 0;
  char *at = (char *)lua_touserdata(L, idx);
  if (!at) return 0; /* null */
  size_t start = (size_t)(at - p->inplace);
  for (int k = 0; k < p->ndeferred; k++) {
    if (p->deferred_start[k] != start) continue;
    size_t len = unescape_into(p->s, start, p->deferred_end[k], at);
    lua_pushlstring(L, at, len);
    return 1;
  }
  return 0;
}

/* Puts the deferred strings into the tables of the decoded value at idx. */
static void resolve_deferred(lua_State *L, Direct *p, int idx) {
  luaL_checkstack(L, 4, "json: stack overflow");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (resolve_one(L, p, lua_gettop(L))) {
      lua_pushvalue(L, -3);
      lua_insert(L, -2);
      lua_rawset(L, idx); /* (an existing key: allowed during the traversal) */
    } else if (lua_type(L, -1) == LUA_TTABLE) {
      resolve_deferred(L, p, lua_gettop(L));
    }
    lua_pop(L, 1);
  }
}

/* Pushes the value of s[start..n) (valid UTF-8) and returns 1, or returns 0
 * with the stack as it was. inplace (s itself, writable, or NULL): long
 * escaped strings are unescaped over their source, which the caller then
 * no longer reads, so that a huge line is not held three times. */
static int decode_direct(lua_State *L, const char *s, size_t start, size_t n, int max_depth, char *inplace) {
  int top = lua_gettop(L);
  if (!lua_checkstack(L, 8)) return 0;
  push_marker(L, LACUNA_JSON_ARRAY_MT);
  push_marker(L, LACUNA_JSON_OBJECT_MT);
  Direct p = {s, n, start, 0, max_depth, top + 1, top + 2, inplace, 0, {0}, {0}};
  direct_space(&p);
  if (direct_value(L, &p)) {
    direct_space(&p);
    if (p.i == n) {
      lua_replace(L, top + 1);
      lua_settop(L, top + 1);
      if (p.ndeferred > 0) {
        if (resolve_one(L, &p, top + 1))
          lua_replace(L, top + 1);
        else if (lua_type(L, top + 1) == LUA_TTABLE)
          resolve_deferred(L, &p, top + 1);
      }
      return 1;
    }
  }
  lua_settop(L, top);
  return 0;
}

static int decode(lua_State *L, const char *s, size_t n, int max_depth, char *err, size_t errlen,
                  char *inplace) {
  size_t bad, start = 0, open_string;
  int open_at_end;
  if (max_depth < 1 || max_depth > LACUNA_JSON_MAX_DEPTH) max_depth = LACUNA_JSON_MAX_DEPTH;
  if (!lacuna_utf8_check(s, n, &bad)) {
    snprintf(err, errlen, "invalid UTF-8 at byte %zu", bad + 1);
    return 0;
  }
  if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) start = 3; /* a byte order mark, as cJSON would skip it */
  if (lacuna_json_direct && decode_direct(L, s, start, n, max_depth, inplace)) return 1;
  if (!prescan(s, start, n, max_depth, &open_at_end, &open_string, err, errlen)) return 0;
  size_t i = start;
  while (i < n && is_space(s[i])) i++;
  if (i == n) {
    snprintf(err, errlen, "byte %zu: unexpected end of input", n + 1);
    return 0;
  }

  const char *end = NULL;
  lacuna_json_arena_mark mark = lacuna_json_arena_begin();
  cJSON *root = cJSON_ParseWithLengthOpts(s + start, n - start, &end, 0);
  lacuna_json_arena_end_parse();
  if (!root) {
    lacuna_json_arena_release(mark);
    size_t pos = end ? (size_t)(end - s) : start;
    syntax_error(s, n, pos, open_at_end, open_string, err, errlen);
    return 0;
  }
  i = (size_t)(end - s);
  while (i < n && is_space(s[i])) i++;
  if (i < n) {
    lacuna_json_arena_release(mark);
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7F)
      snprintf(err, errlen, "byte %zu: unexpected '%c' after the JSON value", i + 1, c);
    else
      snprintf(err, errlen, "byte %zu: unexpected byte 0x%02X after the JSON value", i + 1, c);
    return 0;
  }

  /* Building the Lua values can raise (out of memory) and can run a __gc
   * that decodes too: a protected call gives the arena back either way. */
  Dec d = {s, n, start, 2, 3, root};
  luaL_checkstack(L, 8, "json: stack overflow");
  lua_pushcfunction(L, build_values);
  lua_pushlightuserdata(L, &d);
  push_marker(L, LACUNA_JSON_ARRAY_MT);
  push_marker(L, LACUNA_JSON_OBJECT_MT);
  int status = lua_pcall(L, 3, 1, 0);
  lacuna_json_arena_release(mark);
  if (status != LUA_OK) lua_error(L);
  return 1;
}

int lacuna_json_decode(lua_State *L, const char *s, size_t n, int max_depth, char *err, size_t errlen) {
  return decode(L, s, n, max_depth, err, errlen, NULL);
}

int lacuna_json_decode_inplace(lua_State *L, char *s, size_t n, int max_depth, char *err, size_t errlen) {
  return decode(L, s, n, max_depth, err, errlen, s);
}

/* ------------------------------------------------------------ encoding */

typedef struct Key {
  const char *s;
  size_t len;
  int done; /* already written (listed in __jsonorder) */
} Key;

/* How the value being encoded was reached, linked through the C stack: for
 * the path in error messages and for cycle detection. */
typedef struct Frame {
  const struct Frame *up;
  const void *table; /* the table encoded at this level, if any */
  const char *key;   /* reached by this string key, or */
  size_t keylen;
  lua_Integer index; /* by this array index (key == NULL, up != NULL) */
  int depth;
} Frame;

typedef struct Enc {
  lua_State *L;
  lacuna_jsonbuf *jb;
  const void *array_mt;
} Enc;

static void path_add(luaL_Buffer *b, const Frame *f) {
  if (!f->up) return;
  path_add(b, f->up);
  if (!f->key) {
    char num[32];
    snprintf(num, sizeof num, "[%lld]", (long long)f->index);
    luaL_addstring(b, num);
    return;
  }
  int ident = f->keylen > 0 && !is_digit(f->key[0]);
  for (size_t i = 0; i < f->keylen && ident; i++) {
    char c = f->key[i];
    ident = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
  }
  if (ident) {
    if (f->up->up) luaL_addchar(b, '.');
    luaL_addlstring(b, f->key, f->keylen);
    return;
  }
  luaL_addstring(b, "[\"");
  for (size_t i = 0; i < f->keylen && i < 64; i++) {
    unsigned char c = (unsigned char)f->key[i];
    luaL_addchar(b, (c < 0x20 || c == '"' || c == '\\') ? '?' : (char)c);
  }
  if (f->keylen > 64) luaL_addstring(b, "...");
  luaL_addstring(b, "\"]");
}

/* Raises "json.encode: <what> at <path>". */
static void enc_error(Enc *e, const Frame *f, const char *fmt, ...) {
  lua_State *L = e->L;
  char what[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "json.encode: ");
  luaL_addstring(&b, what);
  luaL_addstring(&b, " at ");
  if (f->up)
    path_add(&b, f);
  else
    luaL_addstring(&b, "(root)");
  luaL_pushresult(&b);
  lua_error(L);
}

static char *out_reserve(Enc *e, size_t extra) {
  lacuna_jsonbuf *jb = e->jb;
  if (jb->cap - jb->len < extra) {
    size_t cap = jb->cap ? jb->cap : 256;
    while (cap - jb->len < extra) {
      if (cap > ((size_t)-1) / 2) luaL_error(e->L, "json.encode: output too large");
      cap *= 2;
    }
    char *p = (char *)realloc(jb->data, cap);
    if (!p) luaL_error(e->L, "json.encode: out of memory");
    jb->data = p;
    jb->cap = cap;
  }
  return jb->data + jb->len;
}

static void out_add(Enc *e, const char *s, size_t n) {
  memcpy(out_reserve(e, n), s, n);
  e->jb->len += n;
}

static void out_char(Enc *e, char c) {
  *out_reserve(e, 1) = c;
  e->jb->len++;
}

static void enc_integer(Enc *e, lua_Integer v) {
  char tmp[24], *p = tmp + sizeof tmp;
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  out_add(e, p, (size_t)(tmp + sizeof tmp - p));
}

/* Shortest of %.15g/%.16g/%.17g that reads back to the same double, with a
 * float look kept ("1.0", not "1") so float-ness round-trips. */
static void enc_float(Enc *e, const Frame *f, lua_Number v) {
  if (isnan(v) || isinf(v)) enc_error(e, f, "cannot encode %s", isnan(v) ? "NaN" : "infinity");
  char buf[40];
  int len = 0;
  for (int prec = 15; prec <= 17; prec++) {
    len = snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
    if (strtod(buf, NULL) == (double)v) break;
  }
  int floaty = 0;
  for (int i = 0; i < len; i++) {
    char c = buf[i];
    if (c == 'e' || c == 'E' || c == '.')
      floaty = 1;
    else if (!is_digit(c) && c != '-' && c != '+') {
      buf[i] = '.'; /* a locale's decimal comma */
      floaty = 1;
    }
  }
  if (!floaty) {
    buf[len++] = '.';
    buf[len++] = '0';
  }
  out_add(e, buf, (size_t)len);
}

/* The escape of the special byte s[i] (one special_byte stopped at) into esc;
 * returns its length and sets *skip to the bytes it stands for, or returns 0
 * for a 0xE2 that does not begin U+2028/U+2029 (it passes through raw). */
static size_t escape_at(const char *s, size_t i, size_t n, char esc[6], size_t *skip) {
  static const char hex[] = "0123456789abcdef";
  unsigned char c = (unsigned char)s[i];
  *skip = 1;
  esc[0] = '\\';
  if (c == 0xE2) {
    if (i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
        ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
      memcpy(esc, (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
      *skip = 3;
      return 6;
    }
    return 0;
  }
  switch (c) {
    case '"':
    case '\\': esc[1] = (char)c; return 2;
    case '\n': esc[1] = 'n'; return 2;
    case '\t': esc[1] = 't'; return 2;
    case '\r': esc[1] = 'r'; return 2;
    case '\b': esc[1] = 'b'; return 2;
    case '\f': esc[1] = 'f'; return 2;
    default:
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      return 6;
  }
}

/* RFC 8259 escaping of valid UTF-8; non-ASCII passes through raw except
 * U+2028/U+2029, which JavaScript treats as line ends. */
static void put_string(Enc *e, const char *s, size_t n) {
  out_reserve(e, n + 2);
  out_char(e, '"');
  size_t run = 0, i = 0;
  while ((i = special_byte(s, i, n, 1)) < n) {
    char esc[6];
    size_t skip, elen = escape_at(s, i, n, esc, &skip);
    if (elen == 0) {
      i++;
      continue;
    }
    out_add(e, s + run, i - run);
    out_add(e, esc, elen);
    i += skip;
    run = i;
  }
  out_add(e, s + run, n - run);
  out_char(e, '"');
}

static void enc_string(Enc *e, const Frame *f, const char *s, size_t n, int is_key) {
  size_t bad;
  if (!lacuna_utf8_check(s, n, &bad))
    enc_error(e, f, "invalid UTF-8 at byte %zu of %s", bad + 1, is_key ? "a key" : "a string");
  put_string(e, s, n);
}

void lacuna_json_put_string(lua_State *L, lacuna_jsonbuf *jb, const char *s, size_t n) {
  Enc e = {L, jb, NULL};
  put_string(&e, s, n);
}

size_t lacuna_json_escape_some(const char *s, size_t n, char *out, size_t cap, size_t *outlen) {
  size_t i = 0, k = 0;
  while (i < n) {
    size_t j = special_byte(s, i, n, 1);
    if (j > i) {
      size_t run = j - i < cap - k ? j - i : cap - k;
      memcpy(out + k, s + i, run);
      k += run;
      i += run;
      if (i < j) break; /* out is full */
      continue;
    }
    char esc[6];
    size_t skip, elen = escape_at(s, i, n, esc, &skip);
    if (elen == 0) { /* a raw 0xE2 */
      esc[0] = s[i];
      elen = 1;
    }
    if (cap - k < elen) break;
    memcpy(out + k, esc, elen);
    k += elen;
    i += skip;
  }
  *outlen = k;
  return i;
}

size_t lacuna_json_plain_prefix(const char *s, size_t n) {
  size_t i = 0;
  while ((i = special_byte(s, i, n, 1)) < n) {
    if ((unsigned char)s[i] != 0xE2) return i;
    if (i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
        ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9))
      return i;
    i++;
  }
  return n;
}

static int key_cmp(const void *a, const void *b) {
  const Key *x = (const Key *)a, *y = (const Key *)b;
  size_t m = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, m);
  if (c) return c;
  return (x->len > y->len) - (x->len < y->len);
}

static void key_push(Enc *e, const char *s, size_t len) {
  lacuna_jsonbuf *jb = e->jb;
  if (jb->nkeys == jb->keycap) {
    size_t cap = jb->keycap ? jb->keycap * 2 : 64;
    Key *k = (Key *)realloc(jb->keys, cap * sizeof(Key));
    if (!k) luaL_error(e->L, "json.encode: out of memory");
    jb->keys = k;
    jb->keycap = cap;
  }
  Key *k = (Key *)jb->keys + jb->nkeys++;
  k->s = s;
  k->len = len;
  k->done = 0;
}

static void enc_value(Enc *e, int idx, Frame *f);

/* Writes key number k of the current object and its value. Keys are indexed,
 * not pointed to: nested objects may move the key table. */
static void enc_member(Enc *e, int idx, Frame *f, size_t k, int *first) {
  lua_State *L = e->L;
  Key *key = (Key *)e->jb->keys + k;
  const char *s = key->s;
  size_t len = key->len;
  key->done = 1;
  Frame c = {f, NULL, s, len, 0, f->depth + 1};
  if (!*first) out_char(e, ',');
  *first = 0;
  enc_string(e, &c, s, len, 1);
  out_char(e, ':');
  lua_pushlstring(L, s, len);
  lua_rawget(L, idx);
  enc_value(e, lua_gettop(L), &c);
  lua_pop(L, 1);
}

static void enc_table(Enc *e, int idx, Frame *f) {
  lua_State *L = e->L;
  const void *self = lua_topointer(L, idx);
  if (f->depth >= LACUNA_JSON_MAX_DEPTH) enc_error(e, f, "nesting deeper than %d", LACUNA_JSON_MAX_DEPTH);
  for (const Frame *p = f->up; p; p = p->up)
    if (p->table == self) enc_error(e, f, "table cycle (a table contains itself)");
  f->table = self;
  luaL_checkstack(L, 6, "json.encode: nesting too deep");

  int top = lua_gettop(L), is_array_mt = 0, order = 0;
  if (lua_getmetatable(L, idx)) {
    is_array_mt = lua_topointer(L, -1) == e->array_mt;
    lua_pushliteral(L, "__jsonorder");
    lua_rawget(L, -2);
    if (lua_istable(L, -1))
      order = lua_gettop(L);
    else if (!lua_isnil(L, -1))
      enc_error(e, f, "__jsonorder must be a table of key names");
  }

  /* One pass over the keys classifies the table and collects string keys. */
  size_t base = e->jb->nkeys, nint = 0, nstr = 0;
  lua_Integer maxk = 0;
  int nonpos = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int kt = lua_type(L, -2);
    if (kt == LUA_TSTRING) {
      size_t len;
      const char *s = lua_tolstring(L, -2, &len);
      key_push(e, s, len);
      nstr++;
    } else if (kt == LUA_TNUMBER && lua_isinteger(L, -2)) {
      lua_Integer k = lua_tointeger(L, -2);
      if (k < 1)
        nonpos = 1;
      else if (k > maxk)
        maxk = k;
      nint++;
    } else {
      enc_error(e, f, "cannot encode a table key of type %s",
                kt == LUA_TNUMBER ? "float" : luaL_typename(L, -2));
    }
    lua_pop(L, 1);
  }

  if (nint > 0 && nstr > 0) enc_error(e, f, "cannot encode a table with both integer and string keys");
  if (nint > 0 && (nonpos || (lua_Unsigned)maxk != nint))
    enc_error(e, f, "cannot encode a sparse array (keys must be exactly 1..n)");
  if (nint > 0 || (nstr == 0 && is_array_mt)) {
    out_char(e, '[');
    Frame c = {f, NULL, NULL, 0, 0, f->depth + 1};
    for (lua_Integer i = 1; i <= maxk; i++) {
      if (i > 1) out_char(e, ',');
      c.index = i;
      lua_rawgeti(L, idx, i);
      enc_value(e, lua_gettop(L), &c);
      lua_pop(L, 1);
    }
    out_char(e, ']');
    lua_settop(L, top);
    return;
  }

  /* An object: keys in __jsonorder first, then the rest sorted bytewise, so
   * that the output does not depend on Lua's hash order. */
  if (nstr > 1) qsort((Key *)e->jb->keys + base, nstr, sizeof(Key), key_cmp);
  int first = 1;
  out_char(e, '{');
  if (order && nstr > 0) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, order);
    for (lua_Integer j = 1; j <= n; j++) {
      if (lua_rawgeti(L, order, j) != LUA_TSTRING) enc_error(e, f, "__jsonorder entries must be strings");
      Key probe;
      probe.s = lua_tolstring(L, -1, &probe.len);
      Key *hit = (Key *)bsearch(&probe, (Key *)e->jb->keys + base, nstr, sizeof(Key), key_cmp);
      lua_pop(L, 1);
      if (hit && !hit->done) enc_member(e, idx, f, (size_t)(hit - (Key *)e->jb->keys), &first);
    }
  }
  for (size_t k = base; k < base + nstr; k++)
    if (!((Key *)e->jb->keys)[k].done) enc_member(e, idx, f, k, &first);
  out_char(e, '}');
  e->jb->nkeys = base;
  lua_settop(L, top);
}

static void enc_value(Enc *e, int idx, Frame *f) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
    case LUA_TNIL: out_add(e, "null", 4); break;
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx))
        out_add(e, "true", 4);
      else
        out_add(e, "false", 5);
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx))
        enc_integer(e, lua_tointeger(L, idx));
      else
        enc_float(e, f, lua_tonumber(L, idx));
      break;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      enc_string(e, f, s, n, 0);
      break;
    }
    case LUA_TTABLE: enc_table(e, idx, f); break;
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) {
        out_add(e, "null", 4);
        break;
      }
      /* fall through */
    default: enc_error(e, f, "cannot encode a %s", luaL_typename(L, idx));
  }
}

void lacuna_json_encode_into(lua_State *L, int idx, lacuna_jsonbuf *jb) {
  idx = lua_absindex(L, idx);
  Enc e = {L, jb, NULL};
  push_marker(L, LACUNA_JSON_ARRAY_MT);
  e.array_mt = lua_topointer(L, -1);
  lua_pop(L, 1); /* the registry keeps it alive */
  Frame root = {NULL, NULL, NULL, 0, 0, 0};
  size_t keys = jb->nkeys;
  enc_value(&e, idx, &root);
  jb->nkeys = keys;
}

void lacuna_jsonbuf_free(lacuna_jsonbuf *jb) {
  free(jb->data);
  free(jb->keys);
  memset(jb, 0, sizeof *jb);
}

lacuna_jsonbuf *lacuna_json_check_buffer(lua_State *L, int idx) {
  return (lacuna_jsonbuf *)luaL_checkudata(L, idx, BUF_MT);
}

static int buf_gc(lua_State *L) {
  lacuna_jsonbuf_free(lacuna_json_check_buffer(L, 1));
  return 0;
}

lacuna_jsonbuf *lacuna_json_push_buffer(lua_State *L) {
  lacuna_jsonbuf *jb = (lacuna_jsonbuf *)lua_newuserdatauv(L, sizeof *jb, 0);
  memset(jb, 0, sizeof *jb);
  if (luaL_newmetatable(L, BUF_MT)) {
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return jb;
}

void lacuna_json_encode(lua_State *L, int idx, luaL_Buffer *b) {
  idx = lua_absindex(L, idx);
  lacuna_jsonbuf *jb = lacuna_json_push_buffer(L);
  lacuna_json_encode_into(L, idx, jb);
  lua_pushlstring(L, jb->data ? jb->data : "", jb->len);
  lacuna_jsonbuf_free(jb);
  lua_remove(L, -2); /* the holder; the string is now on top */
  luaL_addvalue(b);
}

/* ------------------------------------------------------------ Lua API */

static int l_decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int depth = LACUNA_JSON_DEFAULT_DEPTH;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    if (lua_getfield(L, 2, "max_depth") != LUA_TNIL) {
      lua_Integer d = luaL_checkinteger(L, -1);
      luaL_argcheck(L, d >= 1 && d <= LACUNA_JSON_MAX_DEPTH, 2, "max_depth must be 1..1000");
      depth = (int)d;
    }
    lua_pop(L, 1);
  }
  char err[256];
  if (lacuna_json_decode(L, s, n, depth, err, sizeof err)) return 1;
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

static int l_encode(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  lacuna_jsonbuf *jb = lacuna_json_push_buffer(L);
  lacuna_json_encode_into(L, 1, jb);
  lua_pushlstring(L, jb->data ? jb->data : "", jb->len);
  lacuna_jsonbuf_free(jb); /* now, not at the next collection */
  return 1;
}

/* array(t) / object(t): mark t (or a new table). A table with a metatable of
 * its own is refused rather than silently stripped of it. */
static int set_marker(lua_State *L, const char *name) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
  }
  if (lua_getmetatable(L, 1)) {
    luaL_getmetatable(L, LACUNA_JSON_ARRAY_MT);
    luaL_getmetatable(L, LACUNA_JSON_OBJECT_MT);
    int ours = lua_rawequal(L, -1, -3) || lua_rawequal(L, -2, -3);
    luaL_argcheck(L, ours, 1, "table already has a metatable");
    lua_pop(L, 3);
  }
  luaL_getmetatable(L, name);
  lua_setmetatable(L, 1);
  return 1;
}

static int l_array(lua_State *L) { return set_marker(L, LACUNA_JSON_ARRAY_MT); }

static int l_object(lua_State *L) { return set_marker(L, LACUNA_JSON_OBJECT_MT); }

/* is_array(v): true when encode would write v as a JSON array. */
static int l_is_array(lua_State *L) {
  if (!lua_istable(L, 1)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_settop(L, 1);
  lua_Integer n = 0, maxk = 0;
  int ok = 1;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
      lua_Integer k = lua_tointeger(L, -1);
      if (k > maxk) maxk = k;
      n++;
    } else {
      ok = 0;
      lua_pop(L, 1);
      break;
    }
  }
  if (ok && n == 0) {
    ok = 0;
    if (lua_getmetatable(L, 1)) {
      luaL_getmetatable(L, LACUNA_JSON_ARRAY_MT);
      ok = lua_rawequal(L, -1, -2);
    }
  } else if (ok) {
    ok = maxk == n;
  }
  lua_pushboolean(L, ok);
  return 1;
}

static const luaL_Reg json_funcs[] = {
    {"decode", l_decode}, {"encode", l_encode},     {"array", l_array},
    {"object", l_object}, {"is_array", l_is_array}, {NULL, NULL},
};

int lacuna_open_json(lua_State *L) {
  push_marker(L, LACUNA_JSON_ARRAY_MT);
  push_marker(L, LACUNA_JSON_OBJECT_MT);
  lua_pop(L, 2);
  luaL_newlib(L, json_funcs);
  lua_pushlightuserdata(L, NULL); /* json.null, the same value as lua-cjson's */
  lua_setfield(L, -2, "null");
  return 1;
}
