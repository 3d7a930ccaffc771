/* Python's str.lower() and str.split() on UTF-8 text, for FILM's probe
 * metrics (lua/lacuna/eval/metrics.lua), which lowercase and split words as
 * FILM's Python scoring code does.
 *
 * lower: the full lowercase mapping, as CPython's: each code point's simple
 * lowercase (utf8proc, Unicode 15.0), except U+0130 (capital I with dot),
 * whose full mapping is "i" + U+0307, and the capital sigma, which becomes
 * the final sigma U+03C2 when it ends a word (Unicode's Final_Sigma context,
 * tested with the Cased and Case_Ignorable properties: core/pycase_tables.h).
 * split: words separated by runs of Python whitespace (str.isspace(): the
 * categories Zs, Zl, Zp and the bidi classes WS, B, S). */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <utf8proc.h>

#include "pycase_tables.h"
#include "utf8.h"

static int in_ranges(const lacuna_cp_range *r, size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < r[mid].lo)
      hi = mid;
    else if (cp > r[mid].hi)
      lo = mid + 1;
    else
      return 1;
  }
  return 0;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
static int cased(uint32_t cp) { return in_ranges(lacuna_cased, COUNT(lacuna_cased), cp); }
static int case_ignorable(uint32_t cp) {
  return in_ranges(lacuna_case_ignorable, COUNT(lacuna_case_ignorable), cp);
}

/* Python's str.isspace() for one code point. */
static int py_space(uint32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680)
    return 1;
  if ((cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
      cp == 0x3000)
    return 1;
  return 0;
}

/* The code points of a checked UTF-8 string (raises on invalid UTF-8). */
static uint32_t *decode(lua_State *L, int idx, size_t *n) {
  size_t len, bad;
  const char *s = luaL_checklstring(L, idx, &len);
  if (!lacuna_utf8_check(s, len, &bad)) luaL_error(L, "invalid UTF-8 at byte %d", (int)bad);
  uint32_t *cps = lua_newuserdatauv(L, (len ? len : 1) * sizeof *cps, 0);
  size_t k = 0;
  for (size_t i = 0; i < len;) {
    utf8proc_int32_t c;
    utf8proc_ssize_t step =
        utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
    cps[k++] = (uint32_t)c;
    i += (size_t)step;
  }
  *n = k;
  return cps;
}

/* Final_Sigma: a cased letter before (skipping case-ignorables) and none after. */
static int final_sigma(const uint32_t *cps, size_t n, size_t i) {
  size_t j = i;
  while (j > 0 && case_ignorable(cps[j - 1])) j--;
  if (j == 0 || !cased(cps[j - 1])) return 0;
  for (j = i + 1; j < n && case_ignorable(cps[j]); j++) {}
  return j == n || !cased(cps[j]);
}

static void add_cp(luaL_Buffer *b, uint32_t cp) {
  char out[4];
  luaL_addlstring(b, out, (size_t)lacuna_utf8_encode(cp, out));
}

/* pycase.lower(s) -> s.lower() as Python computes it */
static int l_lower(lua_State *L) {
  size_t n;
  uint32_t *cps = decode(L, 1, &n);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < n; i++) {
    uint32_t cp = cps[i];
    if (cp == 0x130) {
      add_cp(&b, 'i');
      add_cp(&b, 0x307);
    } else if (cp == 0x3A3) {
      add_cp(&b, final_sigma(cps, n, i) ? 0x3C2 : 0x3C3);
    } else {
      add_cp(&b, (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp));
    }
  }
  luaL_pushresult(&b);
  return 1;
}

/* pycase.split(s) -> {word, ...} as Python's s.split() */
static int l_split(lua_State *L) {
  size_t len, bad;
  const char *s = luaL_checklstring(L, 1, &len);
  if (!lacuna_utf8_check(s, len, &bad)) return luaL_error(L, "invalid UTF-8 at byte %d", (int)bad);
  lua_newtable(L);
  lua_Integer k = 0;
  size_t start = 0, i = 0;
  int inword = 0;
  while (i < len) {
    utf8proc_int32_t c;
    utf8proc_ssize_t step =
        utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
    int sp = py_space((uint32_t)c);
    if (sp && inword) {
      lua_pushlstring(L, s + start, i - start);
      lua_rawseti(L, -2, ++k);
      inword = 0;
    } else if (!sp && !inword) {
      start = i;
      inword = 1;
    }
    i += (size_t)step;
  }
  if (inword) {
    lua_pushlstring(L, s + start, len - start);
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

static const luaL_Reg funcs[] = {
    {"lower", l_lower},
    {"split", l_split},
    {NULL, NULL},
};

int lacuna_open_pycase(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
