/* Sentence and word boundaries for segmenting. Rules, in the spirit of the
 * Pragmatic Segmenter / pySBD rule lists and NLTK punkt's orthographic
 * heuristics (no code taken from them):
 * - . ! ? and … end a sentence when whitespace (or the end) follows, after any
 *   run of terminators and closing quotes/brackets; 。！？ end one even
 *   without a space (CJK text has none);
 * - no break when the next word starts with a lowercase ASCII letter ("e.g.
 *   this", "3 p.m. today", "“Why?” she asked");
 * - a period after a single letter (an initial), after a title or similar
 *   abbreviation (Mr., Dr., vs., et al.) or after e.g./i.e. never ends one;
 *   after No./Fig./p./Jan. not before a number; inside 3.14 or example.com
 *   never (no whitespace follows);
 * - a blank line always ends a sentence; a single newline does unless the
 *   next line starts lowercase (a hard-wrapped sentence). */
#include <string.h>

#include "text.h"

static int is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
static int is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static int is_alpha(unsigned char c) { return (unsigned char)((c | 0x20) - 'a') < 26; }

/* Code point at i and its length; invalid bytes decode as themselves, length 1. */
static uint32_t decode(const unsigned char *s, size_t n, size_t i, size_t *len) {
  unsigned char c = s[i];
  size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  if (k <= 1 || i + k > n) {
    *len = 1;
    return c;
  }
  uint32_t cp = c & (0x7Fu >> k);
  for (size_t j = 1; j < k; j++) {
    if ((s[i + j] & 0xC0) != 0x80) {
      *len = 1;
      return c;
    }
    cp = (cp << 6) | (s[i + j] & 0x3Fu);
  }
  *len = k;
  return cp;
}

size_t lacuna_next_char(const char *s, size_t n, size_t i) {
  /* A whole sequence, or else one byte: invalid and stray bytes are
   * characters of their own, so a run of them can still be cut. */
  unsigned char c = (unsigned char)s[i];
  size_t k = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1, j = i + 1;
  while (j < n && j - i < k && ((unsigned char)s[j] & 0xC0) == 0x80) j++;
  return j - i == k ? j : i + 1; /* a truncated sequence: its bytes one by one */
}

static int is_cjk(uint32_t cp) {
  return (cp >= 0x3000 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFF00 && cp <= 0xFFEF) || (cp >= 0x20000 && cp <= 0x2FFFF);
}
static int is_terminator(uint32_t cp) { return cp == '.' || cp == '!' || cp == '?' || cp == 0x2026; }
static int is_cjk_terminator(uint32_t cp) { return cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F; }
static int is_closer(uint32_t cp) {
  return cp == '"' || cp == '\'' || cp == ')' || cp == ']' || cp == '}' || cp == 0x201D || cp == 0x2019 ||
         cp == 0xBB || cp == 0x300D || cp == 0x300F || cp == 0xFF09 || cp == 0x3011 || cp == 0x300B;
}

/* Lowercased word in a NUL-separated list. */
static int in_list(const char *list, const char *w, size_t len) {
  for (const char *p = list; *p; p += strlen(p) + 1)
    if (strlen(p) == len && memcmp(p, w, len) == 0) return 1;
  return 0;
}

/* Abbreviations after which a period never ends a sentence. */
static const char NEVER[] =
    "mr\0mrs\0ms\0mx\0dr\0prof\0rev\0hon\0st\0fr\0gen\0col\0capt\0lt\0sgt\0cmdr\0adm\0"
    "gov\0sen\0rep\0pres\0mt\0messrs\0vs\0cf\0viz\0ca\0approx\0al\0e.g\0i.e\0";
/* ... nor before a number. */
static const char BEFORE_NUMBER[] = "no\0nos\0vol\0vols\0pp\0p\0fig\0figs\0eq\0eqs\0ch\0sec\0art\0op\0ref\0"
                                    "tab\0nr\0jan\0feb\0mar\0apr\0jun\0jul\0aug\0sep\0sept\0oct\0nov\0dec\0";

/* Words that start sentences often enough that a dotted abbreviation before
 * them (U.S., a.m.) is taken as the end of one (the Pragmatic Segmenter's
 * idea of sentence starters). */
static const char STARTERS[] = "a\0being\0did\0for\0he\0how\0however\0i\0in\0it\0millions\0more\0she\0"
                               "that\0the\0there\0they\0we\0what\0when\0where\0who\0why\0this\0but\0";

static int starts_sentence(const unsigned char *s, size_t n, size_t i) {
  char w[16];
  size_t len = 0;
  while (i + len < n && len < sizeof w && is_alpha(s[i + len])) {
    w[len] = (char)(s[i + len] | 0x20);
    len++;
  }
  return len < sizeof w && in_list(STARTERS, w, len);
}

/* Does the single period at s[dot] end a sentence, the next word starting at s[next]? */
static int period_ends(const unsigned char *s, size_t n, size_t dot, size_t next) {
  size_t b = dot;
  while (b > 0 && !is_space(s[b - 1]) && dot - b < 32) b--;
  while (b < dot && (s[b] == '(' || s[b] == '[' || s[b] == '"' || s[b] == '\'')) b++;
  size_t len = dot - b;
  if (len == 0) return 1;
  char w[32];
  int dotted = 0;
  for (size_t i = 0; i < len; i++) {
    w[i] = (char)(s[b + i] >= 'A' && s[b + i] <= 'Z' ? s[b + i] + 32 : s[b + i]);
    if (s[b + i] == '.') dotted = 1;
  }
  if (len == 1 && is_alpha(s[b])) return 0; /* an initial */
  if (in_list(NEVER, w, len)) return 0;
  unsigned char c = next < n ? s[next] : 0;
  if (in_list(BEFORE_NUMBER, w, len) && ((c >= '0' && c <= '9') || c == '(')) return 0;
  if (dotted) return c >= 'A' && c <= 'Z' && starts_sentence(s, n, next); /* U.S. Army / U.S. The */
  return 1;
}

static size_t skip_space(const unsigned char *s, size_t n, size_t i) {
  while (i < n && is_space(s[i])) i++;
  return i;
}

static size_t trim_end(const unsigned char *s, size_t from, size_t to) {
  while (to > from && is_space(s[to - 1])) to--;
  return to;
}

int lacuna_next_sentence(const char *text, size_t n, size_t pos, size_t *start, size_t *end) {
  const unsigned char *s = (const unsigned char *)text;
  size_t st = skip_space(s, n, pos), i = st, len;
  if (st >= n) return 0;
  *start = st;
  while (i < n) {
    unsigned char c = s[i];
    if (c == '\n' || c == '\r') {
      size_t j = i, newlines = 0;
      for (; j < n && is_space(s[j]); j++) newlines += s[j] == '\n';
      if (newlines >= 2 || j >= n || !is_lower(s[j])) {
        *end = trim_end(s, st, i);
        return 1;
      }
      i = j;
      continue;
    }
    if (c < 0x80 && c != '.' && c != '!' && c != '?') { /* most bytes: ASCII that ends nothing */
      i++;
      continue;
    }
    uint32_t cp = decode(s, n, i, &len);
    if (is_cjk_terminator(cp) || is_terminator(cp)) {
      int cjk = 0, single_period = cp == '.';
      size_t k = i, count = 0;
      for (; k < n; k += len, count++) {
        uint32_t t = decode(s, n, k, &len);
        if (is_cjk_terminator(t))
          cjk = 1;
        else if (!is_terminator(t))
          break;
      }
      single_period = single_period && count == 1;
      size_t after_terms = k;
      for (; k < n; k += len)
        if (!is_closer(decode(s, n, k, &len))) break;
      if (cjk || k >= n) {
        *end = k;
        return 1;
      }
      if (is_space(s[k])) {
        size_t next = skip_space(s, n, k);
        if (next >= n ||
            (!is_lower(s[next]) && (!single_period || after_terms != k || period_ends(s, n, i, next)))) {
          *end = k;
          return 1;
        }
      }
      i = k;
      continue;
    }
    i += len;
  }
  *end = trim_end(s, st, n);
  return 1;
}

int lacuna_next_word(const char *text, size_t n, size_t pos, size_t *start, size_t *end) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = skip_space(s, n, pos), len;
  if (i >= n) return 0;
  *start = i;
  if (s[i] >= 0x80 && is_cjk(decode(s, n, i, &len))) { /* ASCII is never CJK */
    *end = i + len;
    return 1;
  }
  while (i < n && !is_space(s[i])) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    if (is_cjk(decode(s, n, i, &len))) break;
    i += len;
  }
  *end = i;
  return 1;
}
