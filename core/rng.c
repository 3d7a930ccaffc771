/* Rng: xoshiro256** (Blackman & Vigna) with SplitMix64 seeding.
 *
 * A generator's key is a hash of (seed, stream); the 256-bit state is filled by
 * SplitMix64 from the key. For a fixed seed, distinct streams always give
 * distinct keys (the mixing is a bijection in the stream), and split(k) derives
 * a child key from the parent's key and k, so sub-streams do not depend on how
 * many numbers the parent has drawn. */
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "areas.h"

#define RNG_MT "lacuna.Rng"
#define STATE_PREFIX "xoshiro256ss:"

/* The SplitMix64 output function: a bijective 64-bit mixer. */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x) {
  *x += 0x9e3779b97f4a7c15u;
  return mix64(*x);
}

/* Distinct constants keep new(seed, stream) and split() in separate domains. */
static uint64_t derive_key(uint64_t a, uint64_t b, uint64_t domain) {
  return mix64(mix64(a ^ domain) ^ mix64(b + 0x632be59bd9b4e019u));
}

static void seed_from_key(lacuna_rng *g, uint64_t key) {
  uint64_t x = key;
  g->key = key;
  for (int i = 0; i < 4; i++) g->s[i] = splitmix64(&x);
  /* xoshiro's one forbidden state; SplitMix64 practically never yields it. */
  if ((g->s[0] | g->s[1] | g->s[2] | g->s[3]) == 0) g->s[0] = 1;
}

void lacuna_rng_seed(lacuna_rng *g, uint64_t seed, uint64_t stream) {
  seed_from_key(g, derive_key(seed, stream, 0x243f6a8885a308d3u));
}

double lacuna_rng_double(lacuna_rng *g) { return (double)(lacuna_rng_next(g) >> 11) * 0x1.0p-53; }

/* ---- Lua side ---- */

static lacuna_rng *check_rng(lua_State *L, int idx) { return (lacuna_rng *)luaL_checkudata(L, idx, RNG_MT); }

/* Uniform integer in [m, n], m <= n, over the whole int64 range. */
static lua_Integer draw_between(lacuna_rng *g, lua_Integer m, lua_Integer n) {
  uint64_t span = (uint64_t)n - (uint64_t)m;
  uint64_t r = span == UINT64_MAX ? lacuna_rng_next(g) : lacuna_rng_below(g, span + 1);
  /* Unsigned wrap-around then back: two's complement, no signed overflow. */
  uint64_t u = (uint64_t)m + r;
  lua_Integer out;
  memcpy(&out, &u, sizeof out);
  return out;
}

/* g:int(n) -> 1..n;  g:int(m, n) -> m..n */
static int rng_int(lua_State *L) {
  lacuna_rng *g = check_rng(L, 1);
  lua_Integer m = 1, n;
  if (lua_isnoneornil(L, 3)) {
    n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 1, 2, "interval is empty (n must be >= 1)");
  } else {
    m = luaL_checkinteger(L, 2);
    n = luaL_checkinteger(L, 3);
    luaL_argcheck(L, m <= n, 3, "interval is empty (m > n)");
  }
  lua_pushinteger(L, draw_between(g, m, n));
  return 1;
}

/* g:float() -> [0,1);  g:float(a, b) -> [a,b) */
static int rng_float(lua_State *L) {
  lacuna_rng *g = check_rng(L, 1);
  double u = lacuna_rng_double(g);
  if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3)) {
    lua_pushnumber(L, u);
    return 1;
  }
  double a = (double)luaL_checknumber(L, 2);
  double b = (double)luaL_checknumber(L, 3);
  luaL_argcheck(L, isfinite(a) && isfinite(b), 2, "bounds must be finite");
  luaL_argcheck(L, a < b, 3, "interval is empty (a >= b)");
  luaL_argcheck(L, isfinite(b - a), 3, "interval too wide");
  double r = a + (b - a) * u;
  if (r >= b) r = nextafter(b, a); /* rounding must not reach b */
  lua_pushnumber(L, (lua_Number)r);
  return 1;
}

static lua_Integer check_list(lua_State *L, int idx) {
  luaL_checktype(L, idx, LUA_TTABLE);
  return luaL_len(L, idx);
}

/* g:choice(t) -> a random element of the array t */
static int rng_choice(lua_State *L) {
  lacuna_rng *g = check_rng(L, 1);
  lua_Integer n = check_list(L, 2);
  luaL_argcheck(L, n > 0, 2, "cannot choose from an empty list");
  lua_geti(L, 2, draw_between(g, 1, n));
  return 1;
}

/* g:shuffle(t) -> t, shuffled in place (Fisher-Yates, from the top down) */
static int rng_shuffle(lua_State *L) {
  lacuna_rng *g = check_rng(L, 1);
  lua_Integer n = check_list(L, 2);
  for (lua_Integer i = n; i > 1; i--) {
    lua_Integer j = draw_between(g, 1, i);
    if (j == i) continue;
    lua_geti(L, 2, i);
    lua_geti(L, 2, j);
    lua_seti(L, 2, i); /* t[i] = old t[j] */
    lua_seti(L, 2, j); /* t[j] = old t[i] */
  }
  lua_settop(L, 2);
  return 1;
}

/* g:sample(t, k) -> k distinct elements of t in random order. A partial
 * Fisher-Yates over indices; the swaps live in a sparse table so the cost is
 * O(k) whatever #t is, and t itself is not touched. */
static int rng_sample(lua_State *L) {
  lacuna_rng *g = check_rng(L, 1);
  lua_Integer n = check_list(L, 2);
  lua_Integer k = luaL_checkinteger(L, 3);
  luaL_argcheck(L, k >= 0, 3, "sample size must be >= 0");
  if (k > n)
    return luaL_error(L,
                      "bad argument #3 to 'sample' (sample size %I is "
                      "larger than the list (%I elements))",
                      k, n);
  lua_settop(L, 3);
  lua_createtable(L, k > 1000000 ? 1000000 : (int)k, 0); /* 4: result */
  lua_newtable(L);                                       /* 5: swapped index map */
  for (lua_Integer i = 1; i <= k; i++) {
    lua_Integer j = draw_between(g, i, n);
    lua_Integer vi, vj;
    /* vj = map[j] or j;  vi = map[i] or i */
    vj = lua_geti(L, 5, j) == LUA_TNIL ? j : lua_tointeger(L, -1);
    vi = lua_geti(L, 5, i) == LUA_TNIL ? i : lua_tointeger(L, -1);
    lua_pop(L, 2);
    lua_geti(L, 2, vj);
    lua_seti(L, 4, i); /* result[i] = t[vj] */
    lua_pushinteger(L, vi);
    lua_seti(L, 5, j); /* map[j] = vi */
  }
  lua_settop(L, 4);
  return 1;
}

/* Reads weights[i] as a non-negative finite number or raises. */
static double weight_at(lua_State *L, int idx, lua_Integer i) {
  int t = lua_geti(L, idx, i);
  if (t != LUA_TNUMBER)
    luaL_error(L,
               "bad argument #%d to 'weighted' (weight %I is a %s, "
               "expected a number)",
               idx, i, lua_typename(L, t));
  double w = (double)lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(w >= 0) || !isfinite(w))
    luaL_error(L,
               "bad argument #%d to 'weighted' (weight %I is %f, expected "
               "a finite number >= 0)",
               idx, i, (lua_Number)w);
  return w;
}

/* g:weighted(weights) -> index;  g:weighted(items, weights) -> item */
static int rng_weighted(lua_State *L) {
  lacuna_rng *g = check_rng(L, 1);
  int has_items = !lua_isnoneornil(L, 3);
  int widx = has_items ? 3 : 2;
  lua_Integer n = check_list(L, widx);
  if (has_items) {
    lua_Integer ni = check_list(L, 2);
    if (ni != n)
      return luaL_error(L,
                        "bad argument #3 to 'weighted' (%I weights for %I "
                        "items)",
                        n, ni);
  }
  luaL_argcheck(L, n > 0, widx, "empty weight list");
  double total = 0;
  for (lua_Integer i = 1; i <= n; i++) total += weight_at(L, widx, i);
  luaL_argcheck(L, total > 0, widx, "weights sum to zero");
  luaL_argcheck(L, isfinite(total), widx, "weights sum to infinity");
  double target = lacuna_rng_double(g) * total, acc = 0;
  lua_Integer pick = 0, last_positive = 0;
  /* A zero weight never moves acc, so strict < can never stop on it. */
  for (lua_Integer i = 1; i <= n; i++) {
    double w = weight_at(L, widx, i);
    if (w <= 0) continue;
    last_positive = i;
    acc += w;
    if (target < acc) {
      pick = i;
      break;
    }
  }
  if (pick == 0) pick = last_positive; /* rounding left target at the top */
  if (has_items)
    lua_geti(L, 2, pick);
  else
    lua_pushinteger(L, pick);
  return 1;
}

static lacuna_rng *push_rng(lua_State *L);

/* g:split(k) -> a new Rng for sub-stream k of this generator */
static int rng_split(lua_State *L) {
  lacuna_rng *g = check_rng(L, 1);
  lua_Integer k = luaL_checkinteger(L, 2);
  uint64_t key = derive_key(g->key, (uint64_t)k, 0x13198a2e03707344u);
  seed_from_key(push_rng(L), key);
  return 1;
}

static void format_state(const lacuna_rng *g, char *buf, size_t len) {
  snprintf(buf, len, STATE_PREFIX "%016llx:%016llx%016llx%016llx%016llx", (unsigned long long)g->key,
           (unsigned long long)g->s[0], (unsigned long long)g->s[1], (unsigned long long)g->s[2],
           (unsigned long long)g->s[3]);
}

#define STATE_LEN (sizeof STATE_PREFIX - 1 + 16 + 1 + 64)

/* g:state() -> checkpoint string; restore(state) brings the stream back */
static int rng_state(lua_State *L) {
  char buf[STATE_LEN + 1];
  format_state(check_rng(L, 1), buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}

static int rng_tostring(lua_State *L) {
  char buf[STATE_LEN + 1];
  format_state(check_rng(L, 1), buf, sizeof buf);
  lua_pushfstring(L, "lacuna.Rng (%s)", buf);
  return 1;
}

static int parse_hex64(const char *p, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < 16; i++) {
    int c = p[i], d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else
      return 0;
    v = (v << 4) | (uint64_t)d;
  }
  *out = v;
  return 1;
}

/* restore(state) -> Rng | nil, message: a checkpoint is data from outside,
 * so a damaged one is reported, not raised. */
static int l_restore(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const size_t plen = sizeof STATE_PREFIX - 1;
  lacuna_rng g;
  int ok = len == STATE_LEN && memcmp(s, STATE_PREFIX, plen) == 0 && parse_hex64(s + plen, &g.key) &&
           s[plen + 16] == ':';
  for (int i = 0; ok && i < 4; i++) ok = parse_hex64(s + plen + 17 + 16 * i, &g.s[i]);
  if (ok && (g.s[0] | g.s[1] | g.s[2] | g.s[3]) == 0) ok = 0;
  if (!ok) {
    lua_pushnil(L);
    lua_pushstring(L, "malformed Rng state (expected the string from g:state())");
    return 2;
  }
  *push_rng(L) = g;
  return 1;
}

/* new(seed, stream) -> Rng */
static int l_new(lua_State *L) {
  lua_Integer seed = luaL_checkinteger(L, 1);
  lua_Integer stream = luaL_optinteger(L, 2, 0);
  lacuna_rng_push(L, (uint64_t)seed, (uint64_t)stream);
  return 1;
}

static const luaL_Reg rng_methods[] = {
    {"int", rng_int},         {"float", rng_float},   {"choice", rng_choice},
    {"shuffle", rng_shuffle}, {"sample", rng_sample}, {"weighted", rng_weighted},
    {"split", rng_split},     {"state", rng_state},   {NULL, NULL}};

static const luaL_Reg rng_meta[] = {{"__tostring", rng_tostring},
                                    {"__index", NULL}, /* placeholder, set to the methods table */
                                    {NULL, NULL}};

static const luaL_Reg rng_funcs[] = {{"new", l_new}, {"restore", l_restore}, {NULL, NULL}};

/* Creates the metatable once per state; other C areas may push an Rng before
 * the Lua table is opened, so every constructor goes through here. */
static void ensure_meta(lua_State *L) {
  if (luaL_newmetatable(L, RNG_MT)) {
    luaL_setfuncs(L, rng_meta, 0);
    luaL_newlib(L, rng_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}

/* The generator holds no outside resource, so it needs no __gc/__close; it is
 * zero-filled until seeded. */
static lacuna_rng *push_rng(lua_State *L) {
  lacuna_rng *g = (lacuna_rng *)lua_newuserdatauv(L, sizeof *g, 0);
  memset(g, 0, sizeof *g);
  ensure_meta(L);
  luaL_setmetatable(L, RNG_MT);
  return g;
}

lacuna_rng *lacuna_rng_push(lua_State *L, uint64_t seed, uint64_t stream) {
  lacuna_rng *g = push_rng(L);
  lacuna_rng_seed(g, seed, stream);
  return g;
}

lacuna_rng *lacuna_rng_check(lua_State *L, int idx) { return check_rng(L, idx); }

int lacuna_open_rng(lua_State *L) {
  ensure_meta(L);
  luaL_newlib(L, rng_funcs);
  return 1;
}
