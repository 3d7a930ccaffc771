/* lacuna.core.text: segmenting, the segment pool, filler sampling and context
 * assembly (text.h) for Lua. An optional tokenizer argument is a
 * lacuna.core.tokenizer userdata; without one the approximate counter is used.
 * Byte offsets are 0-based with exclusive ends (tokenizer offsets' style),
 * token indices 0-based, pool slots 1-based. */
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "areas.h"
#include "text.h"

#define POOL_MT "lacuna.TextPool"
#define BUFFER_MT "lacuna.TextBuffer"
#define POOL_STREAM 0x706f6f6cu /* "pool": the reservoir's stream for a seed */

typedef struct {
  lacuna_pool pool;
  int open;
  lacuna_context ctx; /* reused by context() */
} LPool;

static const lacuna_tokenizer *opt_tokenizer(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? NULL : lacuna_tokenizer_check(L, idx);
}

static LPool *check_pool(lua_State *L) {
  LPool *p = luaL_checkudata(L, 1, POOL_MT);
  if (!p->open) luaL_error(L, "attempt to use a closed pool");
  /* The tokenizer may have been closed since: look it up on every call. */
  lua_getiuservalue(L, 1, 1);
  p->pool.counter.tok = opt_tokenizer(L, lua_gettop(L));
  lua_pop(L, 1);
  return p;
}

static int push_fail(lua_State *L, const char *msg) {
  luaL_pushfail(L);
  lua_pushstring(L, msg);
  return 2;
}

/* sentences(text) -> {sentence, ...} */
static int l_sentences(lua_State *L) {
  size_t n, a, b;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_newtable(L);
  lua_Integer i = 0;
  for (size_t pos = 0; lacuna_next_sentence(s, n, pos, &a, &b); pos = b) {
    lua_pushlstring(L, s + a, b - a);
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

/* count(text [, tokenizer]) -> tokens | nil, message */
static int l_count(lua_State *L) {
  size_t n, t;
  const char *s = luaL_checklstring(L, 1, &n);
  lacuna_counter c;
  lacuna_counter_init(&c, opt_tokenizer(L, 2));
  int rc = lacuna_count(&c, s, n, &t);
  lacuna_counter_free(&c);
  if (rc < 0) return push_fail(L, c.err);
  lua_pushinteger(L, (lua_Integer)t);
  return 1;
}

/* Runs lacuna_segment on a Lua-owned piece list, so an error cannot leak it. */
static int pieces_gc(lua_State *L) {
  lacuna_pieces_free(lua_touserdata(L, 1));
  return 0;
}

static lacuna_pieces *new_pieces(lua_State *L) {
  lacuna_pieces *pc = lua_newuserdatauv(L, sizeof *pc, 0);
  memset(pc, 0, sizeof *pc);
  lua_newtable(L);
  lua_pushcfunction(L, pieces_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  return pc;
}

static size_t check_max_tokens(lua_State *L, int idx) {
  lua_Integer max = luaL_checkinteger(L, idx);
  luaL_argcheck(L, max >= 1 && max <= UINT32_MAX, idx, "max_tokens must be in 1..4294967295");
  return (size_t)max;
}

/* segment(text, max_tokens [, tokenizer]) -> {segment, ...}, {tokens, ...} | nil, message */
static int l_segment(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  size_t max = check_max_tokens(L, 2);
  lacuna_counter c;
  lacuna_counter_init(&c, opt_tokenizer(L, 3));
  lacuna_pieces *pc = new_pieces(L);
  int rc = lacuna_segment(&c, s, n, max, pc);
  lacuna_counter_free(&c);
  if (rc < 0) return push_fail(L, c.err);
  lua_createtable(L, (int)pc->n, 0);
  lua_createtable(L, (int)pc->n, 0);
  for (size_t i = 0; i < pc->n; i++) {
    lua_pushlstring(L, s + pc->v[i].start, pc->v[i].end - pc->v[i].start);
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    lua_pushinteger(L, (lua_Integer)pc->v[i].tokens);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 2;
}

/* token_index(text, {byte, ...} [, tokenizer]) -> {token, ...} | nil, message
 * The 0-based index of the token holding each byte offset (#text maps to the
 * token count). Without a tokenizer: the approximate count of the prefix. */
static int l_token_index(lua_State *L) {
  size_t n, t;
  const char *s = luaL_checklstring(L, 1, &n);
  luaL_checktype(L, 2, LUA_TTABLE);
  lacuna_counter c;
  lacuna_counter_init(&c, opt_tokenizer(L, 3));
  lua_Integer k = luaL_len(L, 2);
  int exact = c.tok != NULL;
  if (exact && lacuna_count(&c, s, n, &t) < 0) {
    lacuna_counter_free(&c);
    return push_fail(L, c.err);
  }
  lua_createtable(L, (int)k, 0);
  for (lua_Integer i = 1; i <= k; i++) {
    lua_rawgeti(L, 2, i);
    int isnum;
    lua_Integer b = lua_tointegerx(L, -1, &isnum);
    lua_pop(L, 1);
    if (!isnum || b < 0 || (size_t)b > n) {
      lacuna_counter_free(&c);
      return luaL_error(L, "bad argument #2 to 'token_index' (offset %d is not a byte offset in 0..%d)",
                        (int)i, (int)n);
    }
    if (exact)
      t = lacuna_token_at(&c.enc, (size_t)b);
    else
      lacuna_count(&c, s, (size_t)b, &t);
    lua_pushinteger(L, (lua_Integer)t);
    lua_rawseti(L, -2, i);
  }
  lacuna_counter_free(&c);
  return 1;
}

/* ---- the buffer: a context's text in C memory ---- */

/* A context built into a buffer stays in C memory, reused from one context
 * to the next: no Lua string of ~100 kB per context unless one is asked for. */
typedef struct {
  lacuna_context ctx;
} LBuffer;

static LBuffer *check_buffer(lua_State *L, int idx) { return luaL_checkudata(L, idx, BUFFER_MT); }

/* buffer() -> Buffer (empty) */
static int l_buffer(lua_State *L) {
  LBuffer *b = lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  luaL_setmetatable(L, BUFFER_MT);
  return 1;
}

static int b_tostring(lua_State *L) {
  LBuffer *b = check_buffer(L, 1);
  lua_pushlstring(L, b->ctx.text ? b->ctx.text : "", b->ctx.len);
  return 1;
}

static int b_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check_buffer(L, 1)->ctx.len);
  return 1;
}

/* buffer:sub(i [, j]) -> string, as string.sub (1-based, negative from the end) */
static int b_sub(lua_State *L) {
  LBuffer *b = check_buffer(L, 1);
  lua_Integer n = (lua_Integer)b->ctx.len, i = luaL_checkinteger(L, 2), j = luaL_optinteger(L, 3, -1);
  if (i < 0) i = i < -n ? 1 : n + i + 1;
  if (i == 0) i = 1;
  if (j < 0) j = j < -n ? 0 : n + j + 1;
  if (j > n) j = n;
  if (i > j)
    lua_pushliteral(L, "");
  else
    lua_pushlstring(L, b->ctx.text + i - 1, (size_t)(j - i + 1));
  return 1;
}

/* buffer:write(file) -> file | nil, message: the bytes, straight from C
 * memory into an io file (as file:write(buffer:tostring()) would write them). */
static int b_write(lua_State *L) {
  LBuffer *b = check_buffer(L, 1);
  luaL_Stream *st = luaL_checkudata(L, 2, LUA_FILEHANDLE);
  if (!st->closef) return luaL_error(L, "attempt to use a closed file");
  if (b->ctx.len && fwrite(b->ctx.text, 1, b->ctx.len, st->f) != b->ctx.len) {
    int e = errno;
    luaL_pushfail(L);
    lua_pushstring(L, strerror(e));
    return 2;
  }
  lua_settop(L, 2);
  return 1;
}

static int b_gc(lua_State *L) {
  lacuna_context_free(&check_buffer(L, 1)->ctx);
  return 0;
}

static const luaL_Reg buffer_methods[] = {
    {"tostring", b_tostring}, {"sub", b_sub}, {"write", b_write}, {"len", b_len}, {NULL, NULL},
};

static const luaL_Reg buffer_meta[] = {
    {"__gc", b_gc},    {"__close", b_gc}, {"__len", b_len}, {"__tostring", b_tostring},
    {"__index", NULL}, {NULL, NULL},
};

/* ---- the pool ---- */

/* pool(capacity, seed | rng [, tokenizer]) -> Pool */
static int l_pool(lua_State *L) {
  lua_settop(L, 3);
  lua_Integer cap = luaL_checkinteger(L, 1);
  luaL_argcheck(L, cap >= 1, 1, "capacity must be >= 1");
  lacuna_rng g;
  if (lua_isinteger(L, 2)) {
    lacuna_rng_seed(&g, (uint64_t)lua_tointeger(L, 2), POOL_STREAM);
  } else {
    lacuna_rng *src = lacuna_rng_check(L, 2); /* its next draws seed the pool's own stream */
    uint64_t a = lacuna_rng_next(src), b = lacuna_rng_next(src);
    lacuna_rng_seed(&g, a, b);
  }
  const lacuna_tokenizer *tok = opt_tokenizer(L, 3);
  LPool *p = lua_newuserdatauv(L, sizeof *p, 1);
  memset(p, 0, sizeof *p); /* closed until initialised */
  luaL_setmetatable(L, POOL_MT);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, -2, 1);
  lacuna_pool_init(&p->pool, (size_t)cap, &g, tok);
  p->open = 1;
  return 1;
}

static int64_t check_doc(lua_State *L, int idx) { return (int64_t)luaL_checkinteger(L, idx); }

/* pool:add(text, doc [, tokens]) -> true | nil, message. Offers one segment. */
static int p_add(lua_State *L) {
  LPool *p = check_pool(L);
  size_t n, t;
  const char *s = luaL_checklstring(L, 2, &n);
  int64_t doc = check_doc(L, 3);
  if (lua_isnoneornil(L, 4)) {
    if (lacuna_count(&p->pool.counter, s, n, &t) < 0) return push_fail(L, p->pool.counter.err);
  } else {
    lua_Integer given = luaL_checkinteger(L, 4);
    luaL_argcheck(L, given >= 0 && given <= UINT32_MAX, 4, "tokens out of range");
    t = (size_t)given;
  }
  luaL_argcheck(L, n <= UINT32_MAX, 2, "segment longer than 4 GiB");
  if (lacuna_pool_offer(&p->pool, s, n, t, doc) < 0) return push_fail(L, "out of memory");
  lua_pushboolean(L, 1);
  return 1;
}

/* pool:add_document(text, doc, max_tokens) -> segments offered | nil, message */
static int p_add_document(lua_State *L) {
  LPool *p = check_pool(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  int64_t doc = check_doc(L, 3);
  size_t max = check_max_tokens(L, 4);
  lacuna_pieces *pc = new_pieces(L);
  if (lacuna_segment(&p->pool.counter, s, n, max, pc) < 0) return push_fail(L, p->pool.counter.err);
  for (size_t i = 0; i < pc->n; i++)
    if (lacuna_pool_offer(&p->pool, s + pc->v[i].start, pc->v[i].end - pc->v[i].start, pc->v[i].tokens, doc) <
        0)
      return push_fail(L, "out of memory");
  lua_pushinteger(L, (lua_Integer)pc->n);
  return 1;
}

static size_t check_slot(lua_State *L, LPool *p, int idx) {
  lua_Integer i = luaL_checkinteger(L, idx);
  luaL_argcheck(L, i >= 1 && (size_t)i <= p->pool.n, idx, "no such segment");
  return (size_t)i - 1;
}

/* pool:get(i) -> text, tokens, doc */
static int p_get(lua_State *L) {
  LPool *p = check_pool(L);
  size_t i = check_slot(L, p, 2);
  const lacuna_segment_rec *r = &p->pool.seg[i];
  lua_pushlstring(L, lacuna_pool_text(&p->pool, i), r->len);
  lua_pushinteger(L, (lua_Integer)r->tokens);
  lua_pushinteger(L, (lua_Integer)r->doc);
  return 3;
}

static int p_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check_pool(L)->pool.n);
  return 1;
}

/* pool:stats() -> {segments, offered, capacity, text_bytes, arena_bytes, dead_bytes, record_bytes} */
static int p_stats(lua_State *L) {
  LPool *p = check_pool(L);
  lacuna_pool *q = &p->pool;
  lua_createtable(L, 0, 7);
  lua_pushinteger(L, (lua_Integer)q->n);
  lua_setfield(L, -2, "segments");
  lua_pushinteger(L, (lua_Integer)q->offered);
  lua_setfield(L, -2, "offered");
  lua_pushinteger(L, (lua_Integer)q->capacity);
  lua_setfield(L, -2, "capacity");
  lua_pushinteger(L, (lua_Integer)(q->arena_used - q->dead));
  lua_setfield(L, -2, "text_bytes");
  lua_pushinteger(L, (lua_Integer)q->arena_cap);
  lua_setfield(L, -2, "arena_bytes");
  lua_pushinteger(L, (lua_Integer)q->dead);
  lua_setfield(L, -2, "dead_bytes");
  lua_pushinteger(L, (lua_Integer)(q->slots * sizeof *q->seg));
  lua_setfield(L, -2, "record_bytes");
  return 1;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* A sorted copy of the document ids in the list at idx (nil: none), with room
 * for `extra` more after them: in small (nsmall ids) when they fit, else owned
 * by Lua. */
static int64_t *check_exclude(lua_State *L, int idx, size_t *n, size_t extra, int64_t *small, size_t nsmall) {
  *n = 0;
  lua_Integer k = 0;
  if (!lua_isnoneornil(L, idx)) {
    if (!lua_istable(L, idx))
      luaL_error(L, "exclude must be a list of document ids, got %s", luaL_typename(L, idx));
    k = luaL_len(L, idx);
  }
  size_t need = (size_t)(k > 0 ? k : 0) + extra + 1;
  int64_t *v = need <= nsmall ? small : lua_newuserdatauv(L, need * sizeof *v, 0);
  for (lua_Integer i = 1; i <= k; i++) {
    lua_rawgeti(L, idx, i);
    int isnum;
    v[i - 1] = (int64_t)lua_tointegerx(L, -1, &isnum);
    if (!isnum) luaL_error(L, "exclude[%d] is not a document id (an integer)", (int)i);
    lua_pop(L, 1);
  }
  qsort(v, (size_t)k, sizeof *v, cmp_i64);
  *n = (size_t)k;
  return v;
}

/* pool:sample(rng, k [, exclude]) -> {slot, ...} | nil, message
 * k distinct segments, none from an excluded document, in draw order. */
static int p_sample(lua_State *L) {
  LPool *p = check_pool(L);
  lacuna_rng *g = lacuna_rng_check(L, 2);
  lua_Integer k = luaL_checkinteger(L, 3);
  luaL_argcheck(L, k >= 0, 3, "sample size must be >= 0");
  size_t nex;
  int64_t *ex = check_exclude(L, 4, &nex, 0, NULL, 0);
  lacuna_draw d;
  if (lacuna_draw_init(&d, ex, nex) < 0) return push_fail(L, "out of memory");
  lua_createtable(L, (int)(k < 1 << 20 ? k : 0), 0);
  for (lua_Integer i = 1; i <= k; i++) {
    size_t slot = (size_t)(k - i + 1) > lacuna_draw_left(&d) ? lacuna_draw_early(&d, &p->pool, g) : 0;
    if (slot != SIZE_MAX - 1) slot = lacuna_draw_next(&d, &p->pool, g);
    if (slot >= SIZE_MAX - 1) {
      lacuna_draw_free(&d);
      return push_fail(L, slot == SIZE_MAX
                              ? "the pool has fewer segments outside the excluded documents than asked"
                              : "out of memory");
    }
    lua_pushinteger(L, (lua_Integer)slot + 1);
    lua_rawseti(L, -2, i);
  }
  lacuna_draw_free(&d);
  return 1;
}

static void set_int(lua_State *L, const char *k, size_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* pool:context(rng, {target = N, needles = {text, ...}, depths = {d, ...},
 *                    exclude = {doc, ...}, sep = "\n"} [, buffer])
 *   -> {text, tokens, fillers, needles = {{byte_start, byte_end, token, tokens, depth}, ...}}
 *    | nil, message
 * With a buffer the text is built into it (replacing what it held) and the
 * result has no text field: no Lua string is made. 
 * needles: strings, or pool slots (integers) whose documents are then
 * excluded too. depths: one per needle in [0, 1] (the share of the
 * non-needle tokens before it); absent ones are drawn uniformly, each needle
 * independently. */
static int p_context(lua_State *L) {
  LPool *p = check_pool(L);
  lacuna_rng *g = lacuna_rng_check(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  lacuna_context *out = lua_isnoneornil(L, 4) ? &p->ctx : &check_buffer(L, 4)->ctx;
  lacuna_context_opts o = {0};
  lua_getfield(L, 3, "target");
  int isnum;
  lua_Integer target = lua_tointegerx(L, -1, &isnum);
  luaL_argcheck(L, isnum && target >= 1, 3, "target must be an integer >= 1");
  o.target = (size_t)target;
  lua_getfield(L, 3, "sep");
  if (lua_isnil(L, -1)) {
    o.sep = "\n", o.sep_len = 1;
  } else {
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 3, "sep must be a string");
    o.sep = lua_tolstring(L, -1, &o.sep_len);
  }
  int needles_idx = (lua_getfield(L, 3, "needles"), lua_gettop(L));
  int depths_idx = (lua_getfield(L, 3, "depths"), lua_gettop(L));
  size_t nn = 0;
  if (!lua_isnil(L, needles_idx)) {
    luaL_argcheck(L, lua_istable(L, needles_idx), 3, "needles must be a list of strings or pool slots");
    nn = (size_t)luaL_len(L, needles_idx);
  }
  /* A few needles and excluded documents (the usual call) need no Lua allocation. */
  int64_t ex_few[16];
  lacuna_needle nd_few[4];
  lua_getfield(L, 3, "exclude");
  int64_t *ex = check_exclude(L, lua_gettop(L), &o.nexclude, nn, ex_few, sizeof ex_few / sizeof *ex_few);
  if (!lua_isnil(L, depths_idx)) {
    luaL_argcheck(L, lua_istable(L, depths_idx), 3, "depths must be a list of numbers");
    if ((size_t)luaL_len(L, depths_idx) > nn)
      return luaL_error(L, "depths has %d entries for %d needles", (int)luaL_len(L, depths_idx), (int)nn);
  }
  lacuna_needle *nd = nn <= 4 ? nd_few : lua_newuserdatauv(L, nn * sizeof *nd, 0);
  for (size_t j = 0; j < nn; j++) {
    memset(&nd[j], 0, sizeof nd[j]);
    lua_rawgeti(L, needles_idx, (lua_Integer)j + 1);
    if (lua_isinteger(L, -1)) { /* a pool slot: the arena does not move while a context is built */
      lua_Integer slot = lua_tointeger(L, -1);
      if (slot < 1 || (size_t)slot > p->pool.n)
        return luaL_error(L, "needles[%d] is not a pool slot", (int)j + 1);
      nd[j].text = lacuna_pool_text(&p->pool, (size_t)slot - 1);
      nd[j].len = p->pool.seg[slot - 1].len;
      ex[o.nexclude++] = p->pool.seg[slot - 1].doc;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
      nd[j].text = lua_tolstring(L, -1, &nd[j].len); /* kept alive by the needles table */
    } else {
      return luaL_error(L, "needles[%d] is not a string or a pool slot", (int)j + 1);
    }
    lua_pop(L, 1);
    nd[j].depth = -1;
    if (!lua_isnil(L, depths_idx)) {
      lua_rawgeti(L, depths_idx, (lua_Integer)j + 1);
      if (!lua_isnil(L, -1)) {
        if (!lua_isnumber(L, -1)) return luaL_error(L, "depths[%d] is not a number", (int)j + 1);
        double d = lua_tonumber(L, -1);
        if (!(d >= 0 && d <= 1)) return luaL_error(L, "depths[%d] = %f is outside [0, 1]", (int)j + 1, d);
        nd[j].depth = d;
      }
      lua_pop(L, 1);
    }
  }
  qsort(ex, o.nexclude, sizeof *ex, cmp_i64);
  o.exclude = ex;
  char err[256];
  if (lacuna_context_build(&p->pool, g, nd, nn, &o, out, err, sizeof err) < 0) return push_fail(L, err);
  lua_createtable(L, 0, 4);
  if (out == &p->ctx) {
    lua_pushlstring(L, out->text, out->len);
    lua_setfield(L, -2, "text");
  }
  set_int(L, "tokens", out->tokens);
  set_int(L, "fillers", out->fillers);
  lua_createtable(L, (int)nn, 0);
  for (size_t j = 0; j < nn; j++) {
    lua_createtable(L, 0, 5);
    set_int(L, "byte_start", nd[j].byte_start);
    set_int(L, "byte_end", nd[j].byte_end);
    set_int(L, "token", nd[j].token);
    set_int(L, "tokens", nd[j].tokens);
    lua_pushnumber(L, nd[j].actual_depth);
    lua_setfield(L, -2, "depth");
    lua_rawseti(L, -2, (lua_Integer)j + 1);
  }
  lua_setfield(L, -2, "needles");
  return 1;
}

static int p_close(lua_State *L) {
  LPool *p = luaL_checkudata(L, 1, POOL_MT);
  if (p->open) {
    lacuna_pool_free(&p->pool);
    lacuna_context_free(&p->ctx);
    p->open = 0;
  }
  return 0;
}

static int p_len(lua_State *L) {
  LPool *p = luaL_checkudata(L, 1, POOL_MT);
  lua_pushinteger(L, p->open ? (lua_Integer)p->pool.n : 0);
  return 1;
}

static int p_tostring(lua_State *L) {
  LPool *p = luaL_checkudata(L, 1, POOL_MT);
  if (p->open)
    lua_pushfstring(L, "lacuna.TextPool (%I of %I segments)", (lua_Integer)p->pool.n,
                    (lua_Integer)p->pool.capacity);
  else
    lua_pushliteral(L, "lacuna.TextPool (closed)");
  return 1;
}

static const luaL_Reg pool_methods[] = {
    {"add", p_add},         {"add_document", p_add_document},
    {"get", p_get},         {"size", p_size},
    {"stats", p_stats},     {"sample", p_sample},
    {"context", p_context}, {"close", p_close},
    {NULL, NULL},
};

static const luaL_Reg pool_meta[] = {
    {"__gc", p_close},          {"__close", p_close}, {"__len", p_len},
    {"__tostring", p_tostring}, {"__index", NULL},    {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"sentences", l_sentences}, {"segment", l_segment}, {"count", l_count}, {"token_index", l_token_index},
    {"pool", l_pool},           {"buffer", l_buffer},   {NULL, NULL},
};

int lacuna_open_text(lua_State *L) {
  if (luaL_newmetatable(L, POOL_MT)) {
    luaL_setfuncs(L, pool_meta, 0);
    luaL_newlib(L, pool_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, BUFFER_MT)) {
    luaL_setfuncs(L, buffer_meta, 0);
    luaL_newlib(L, buffer_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
