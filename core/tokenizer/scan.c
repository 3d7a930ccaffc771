/* A hand-coded matcher for the split regex of Llama 3 and of Qwen2/Qwen3:
 *
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *
 * (Qwen's has \p{N} where Llama 3's has \p{N}{1,3}). It gives what PCRE2 gives
 * for the same pattern (tk_find_matches), a regex call per piece replaced by a
 * walk over the chars. Every char starts a match of some alternative (a letter,
 * a digit, a space or anything else), so the matches tile the text, and at
 * each position the first alternative that matches there wins, each taking
 * what PCRE2's backtracking leaves it (worked out per alternative below).
 *
 * Which chars are \p{L}, \p{N} and \s (rewritten to White_Space, see
 * util.c) is asked of PCRE2 itself, once per code point, through the same
 * rewritten patterns, with and without the Unicode 15 widening, so the classes
 * cannot drift from the regex path. tests/tokenizer/test_scan.c compares the
 * two paths over every code point and random awkward strings. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { C_L = 1, C_N = 2, C_S = 4, C_KNOWN = 0x80 };

struct tk_scan {
  int max_digits;                       /* 3 for Llama 3, 1 for Qwen */
  tk_regex cls[3];                      /* \p{L}, \p{N}, \s */
  _Atomic unsigned char *memo, *memo15; /* per code point: C_KNOWN | C_* bits */
};

const char tk_scan_llama3_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char tk_scan_qwen_pattern[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                                    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

void tk_scan_free(tk_scan *sc) {
  if (!sc) return;
  for (int i = 0; i < 3; i++) tk_regex_free(&sc->cls[i]);
  free((void *)sc->memo);
  free((void *)sc->memo15);
  free(sc);
}

int tk_scan_new(tk_scan **out, const char *pat, size_t n, tk_err *e) {
  int digits;
  *out = NULL;
  if (n == sizeof tk_scan_llama3_pattern - 1 && memcmp(pat, tk_scan_llama3_pattern, n) == 0)
    digits = 3;
  else if (n == sizeof tk_scan_qwen_pattern - 1 && memcmp(pat, tk_scan_qwen_pattern, n) == 0)
    digits = 1;
  else
    return 0;
  tk_scan *sc = calloc(1, sizeof *sc);
  if (!sc) goto oom;
  sc->max_digits = digits;
  static const char *const CLASSES[3] = {"\\p{L}", "\\p{N}", "\\s"};
  for (int i = 0; i < 3; i++)
    if (tk_regex_compile(&sc->cls[i], CLASSES[i], strlen(CLASSES[i]), 0, e) < 0) {
      tk_scan_free(sc);
      return -1;
    }
  /* zeroed pages: only those of code points met are ever touched */
  sc->memo = calloc(0x110000, 1);
  sc->memo15 = calloc(0x110000, 1);
  if (!sc->memo || !sc->memo15) goto oom;
  *out = sc;
  return 0;
oom:
  tk_scan_free(sc);
  tk_seterr(e, "out of memory");
  return -1;
}

/* The classes of code point c, as the regexes (widened when S->unicode15)
 * see it, asked of them the first time. -1 on a regex error. */
static int classify_new(const tk_scan *sc, tk_scratch *S, uint32_t c, tk_err *e) {
  _Atomic unsigned char *memo = S->unicode15 ? sc->memo15 : sc->memo;
  char u[4];
  int l = tk_utf8_enc(c, u);
  unsigned v = C_KNOWN;
  for (int i = 0; i < 3; i++) {
    size_t ms, me;
    int rc = tk_regex_find(&sc->cls[i], S, u, (size_t)l, 0, &ms, &me, e);
    if (rc < 0) return -1;
    if (rc) v |= 1u << i;
  }
  atomic_store_explicit(&memo[c], (unsigned char)v, memory_order_relaxed);
  return (int)(v & 7);
}

static inline int classify(const tk_scan *sc, tk_scratch *S, const _Atomic unsigned char *memo, uint32_t c,
                           tk_err *e) {
  if (c >= 0x110000) return 0; /* not a code point (not from valid UTF-8): other */
  unsigned v = atomic_load_explicit(&memo[c], memory_order_relaxed);
  return v ? (int)(v & 7) : classify_new(sc, S, c, e);
}

static inline uint32_t char_at(const unsigned char *s, size_t n, size_t i, size_t *len) {
  unsigned c = s[i];
  if (c < 0x80) {
    *len = 1;
    return c;
  }
  if (i + 4 > n) { /* near the end: tk_utf8_dec's bounds */
    int l;
    uint32_t cp = tk_utf8_dec(s + i, n - i, &l);
    *len = (size_t)l;
    return cp;
  }
  if (c < 0xE0) { /* valid UTF-8: the lead byte gives the length */
    *len = 2;
    return (c & 0x1Fu) << 6 | (s[i + 1] & 0x3Fu);
  }
  if (c < 0xF0) {
    *len = 3;
    return (c & 0x0Fu) << 12 | (s[i + 1] & 0x3Fu) << 6 | (s[i + 2] & 0x3Fu);
  }
  *len = 4;
  return (c & 0x07u) << 18 | (s[i + 1] & 0x3Fu) << 12 | (s[i + 2] & 0x3Fu) << 6 | (s[i + 3] & 0x3Fu);
}

/* Class of the char at i (with its length), or -1. */
#define CLASS_AT(i, cp, len, k)                                                                              \
  do {                                                                                                       \
    cp = char_at(s, n, (i), &(len));                                                                         \
    if ((k = classify(sc, S, memo, cp, e)) < 0) return -1;                                                   \
  } while (0)

/* End of the match starting at p (p < n), or -1 on a regex error. */
static long match_at(const tk_scan *sc, tk_scratch *S, const _Atomic unsigned char *memo,
                     const unsigned char *s, size_t n, size_t p, tk_err *e) {
  size_t l0, l1, l;
  uint32_t c0, c1, c;
  int k0, k1, k;
  CLASS_AT(p, c0, l0, k0);
  /* (?i:'s|'t|'re|'ve|'m|'ll|'d): caseless, so 's also takes U+017F (long s),
   * which folds to s */
  if (c0 == '\'' && p + 1 < n) {
    c1 = char_at(s, n, p + 1, &l1);
    uint32_t lc = c1 < 0x80 ? (c1 | 0x20) : c1;
    if (lc == 's' || lc == 't' || lc == 'm' || lc == 'd' || c1 == 0x17F) return (long)(p + 1 + l1);
    if ((lc == 'r' || lc == 'v' || lc == 'l') && p + 2 < n) {
      uint32_t c2 = s[p + 2] | 0x20u;
      if ((lc == 'l' ? c2 == 'l' : c2 == 'e') && s[p + 2] < 0x80) return (long)(p + 3);
    }
  }
  /* [^\r\n\p{L}\p{N}]?\p{L}+ : the optional char taken when a letter follows it */
  size_t q = p;
  if (!(k0 & (C_L | C_N)) && c0 != '\r' && c0 != '\n' && p + l0 < n) {
    CLASS_AT(p + l0, c1, l1, k1);
    if (k1 & C_L) q = p + l0;
  }
  if (q > p || (k0 & C_L)) {
    while (q < n) {
      CLASS_AT(q, c, l, k);
      if (!(k & C_L)) break;
      q += l;
    }
    return (long)q;
  }
  /* \p{N}{1,3} (or \p{N}) */
  if (k0 & C_N) {
    q = p + l0;
    for (int d = 1; d < sc->max_digits && q < n; d++) {
      CLASS_AT(q, c, l, k);
      if (!(k & C_N)) break;
      q += l;
    }
    return (long)q;
  }
  /*  ?[^\s\p{L}\p{N}]+[\r\n]* : "other" chars, after one optional space */
  q = p;
  if (c0 == ' ' && p + 1 < n) {
    CLASS_AT(p + 1, c1, l1, k1);
    if (!(k1 & (C_L | C_N | C_S))) q = p + 1;
  }
  if (q > p || !(k0 & (C_L | C_N | C_S))) {
    while (q < n) {
      CLASS_AT(q, c, l, k);
      if (k & (C_L | C_N | C_S)) break;
      q += l;
    }
    while (q < n && (s[q] == '\r' || s[q] == '\n')) q++;
    return (long)q;
  }
  /* Whitespace from here (every char is a letter, a digit, a space or other).
   * The run of it: [p, q), its last char starting at last, its last \r or \n
   * at nl. */
  size_t last = p, nl = n;
  for (q = p; q < n;) {
    CLASS_AT(q, c, l, k);
    if (!(k & C_S)) break;
    if (c == '\r' || c == '\n') nl = q;
    last = q;
    q += l;
  }
  /* \s*[\r\n]+ : \s* backs off to the last \r or \n, which [\r\n]+ takes */
  if (nl < n) return (long)(nl + 1);
  /* \s+(?!\S) : the whole run at the end of the text, else all but its last
   * char (then followed by a space), when that leaves one */
  if (q == n) return (long)q;
  if (last > p) return (long)last;
  /* \s+ */
  return (long)q;
}

int tk_scan_matches(const tk_scan *sc, tk_scratch *S, const char *text, size_t n, tk_match **out,
                    size_t *nout, tk_err *e) {
  const unsigned char *s = (const unsigned char *)text;
  const _Atomic unsigned char *memo = S->unicode15 ? sc->memo15 : sc->memo; /* the tables of this text */
  size_t cap = n / 3 + 16, k = 0;
  tk_match *m = tk_alloc(&S->A, cap * sizeof *m);
  if (!m) goto oom;
  if (n == 0) { /* as tk_find_matches: one empty non-match */
    m[0] = (tk_match){0, 0, 0};
    *out = m;
    *nout = 1;
    return 0;
  }
  for (size_t p = 0; p < n;) {
    long end = match_at(sc, S, memo, s, n, p, e);
    if (end < 0) return -1;
    if (k == cap) {
      tk_match *nm = tk_alloc(&S->A, cap * 2 * sizeof *m);
      if (!nm) goto oom;
      memcpy(nm, m, k * sizeof *m);
      m = nm;
      cap *= 2;
    }
    m[k++] = (tk_match){(uint32_t)p, (uint32_t)end, 1};
    p = (size_t)end;
  }
  *out = m;
  *nout = k;
  return 0;
oom:
  tk_seterr(e, "out of memory");
  return -1;
}
