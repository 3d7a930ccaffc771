/* The C half of the sandbox. The memory cap: the state's allocator is wrapped
 * so that an allocation past the cap fails, which Lua turns into a "not enough
 * memory" error in the code that asked — even a single huge string.rep.
 * Proxies: the objects a sandboxed recipe holds (ctx, teachers, params, run,
 * summary) are empty userdata, so rawget, rawset, next and pairs cannot reach
 * what is behind them, and their metatables answer getmetatable with a
 * marker. Error text: a recipe's error object becomes a message without
 * calling its __tostring, which could loop outside the instruction budget.
 * The allow-list itself is policy and lives in lua/lacuna/sandbox.lua and
 * lua/lacuna/view.lua. */
#include <lauxlib.h>
#include <string.h>

#include "areas.h"
#include "sandbox.h"

typedef struct memcap {
  lua_Alloc inner;
  void *inner_ud;
  size_t used;  /* bytes currently allocated through the wrapper */
  size_t limit; /* 0: no cap */
  size_t peak;
} memcap;

static const char MEMCAP_KEY = 'M';

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  memcap *m = ud;
  size_t old = ptr ? osize : 0; /* with ptr NULL, osize is a type tag */
  if (nsize > old && m->limit && m->used - old + nsize > m->limit) return NULL;
  void *p = m->inner(m->inner_ud, ptr, osize, nsize);
  if (p || nsize == 0) {
    /* Blocks from before the wrapper was installed are not in `used`. */
    m->used = (m->used > old ? m->used - old : 0) + nsize;
    if (m->used > m->peak) m->peak = m->used;
  }
  return p;
}

/* Restores the plain allocator when the state closes, before the userdata
 * holding the wrapper's state goes away. */
static int memcap_gc(lua_State *L) {
  memcap *m = lua_touserdata(L, 1);
  void *ud;
  if (lua_getallocf(L, &ud) == capped_alloc && ud == m) lua_setallocf(L, m->inner, m->inner_ud);
  return 0;
}

static memcap *get_memcap(lua_State *L, int create) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &MEMCAP_KEY);
  memcap *m = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (m || !create) return m;
  m = lua_newuserdatauv(L, sizeof *m, 0);
  memset(m, 0, sizeof *m);
  lua_newtable(L);
  lua_pushcfunction(L, memcap_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &MEMCAP_KEY);
  /* Start from what the collector already accounts for. */
  m->used = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
  m->peak = m->used;
  m->inner = lua_getallocf(L, &m->inner_ud);
  lua_setallocf(L, capped_alloc, m);
  return m;
}

/* sandbox.limit_memory(bytes) — 0 removes the cap. */
static int sb_limit_memory(lua_State *L) {
  lua_Integer bytes = luaL_checkinteger(L, 1);
  luaL_argcheck(L, bytes >= 0, 1, "must be >= 0");
  memcap *m = get_memcap(L, 1);
  m->limit = (size_t)bytes;
  return 0;
}

/* sandbox.memory() -> bytes in use, peak bytes, cap (0 = none) */
static int sb_memory(lua_State *L) {
  memcap *m = get_memcap(L, 0);
  if (!m) {
    lua_Integer used = (lua_Integer)lua_gc(L, LUA_GCCOUNT) * 1024;
    lua_pushinteger(L, used);
    lua_pushinteger(L, used);
    lua_pushinteger(L, 0);
  } else {
    lua_pushinteger(L, (lua_Integer)m->used);
    lua_pushinteger(L, (lua_Integer)m->peak);
    lua_pushinteger(L, (lua_Integer)m->limit);
  }
  return 3;
}

const char *lacuna_error_text(lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: lua_pushvalue(L, idx); break;
    case LUA_TNUMBER:
      lua_pushvalue(L, idx);
      lua_tostring(L, -1); /* converts the copy in place, no metamethod */
      break;
    case LUA_TNIL: lua_pushliteral(L, "nil"); break;
    case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false"); break;
    default: lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, idx)); break;
  }
  return lua_tostring(L, -1);
}

/* sandbox.proxy(metatable, target) -> an empty userdata carrying target,
 * with the given metatable (which should set __metatable, __index and
 * __newindex). */
static int sb_proxy(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  lua_newuserdatauv(L, 0, 1);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 1);
  lua_setmetatable(L, -2);
  return 1;
}

/* sandbox.target(p, metatable) -> what the proxy carries, or nil when p is
 * not a proxy made with that metatable. Lacuna code only: recipes never see
 * this function. */
static int sb_target(lua_State *L) {
  luaL_checktype(L, 2, LUA_TTABLE);
  if (lua_type(L, 1) != LUA_TUSERDATA || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, 2)) return 0;
  lua_getiuservalue(L, 1, 1);
  return 1;
}

/* sandbox.index: an __index for proxies made by sandbox.proxy that reads the
 * target (a table, its own __index included), so that many proxies share
 * one metatable and making one costs a single userdata. */
static int sb_index(lua_State *L) {
  if (lua_type(L, 1) != LUA_TUSERDATA || lua_getiuservalue(L, 1, 1) != LUA_TTABLE) return 0;
  lua_pushvalue(L, 2);
  lua_gettable(L, -2);
  return 1;
}

/* sandbox.error_text(v) -> v as a message, without metamethods. */
static int sb_error_text(lua_State *L) {
  luaL_checkany(L, 1);
  lacuna_error_text(L, 1);
  return 1;
}

/* sandbox.raw_metatable(v) -> v's metatable, ignoring __metatable (lacuna
 * code only: the sandbox uses it to tell lacuna's metatables from the
 * recipe's). */
static int sb_raw_metatable(lua_State *L) {
  luaL_checkany(L, 1);
  if (!lua_getmetatable(L, 1)) return 0;
  return 1;
}

static const luaL_Reg sandbox_funcs[] = {
    {"limit_memory", sb_limit_memory},
    {"memory", sb_memory},
    {"proxy", sb_proxy},
    {"target", sb_target},
    {"index", sb_index},
    {"error_text", sb_error_text},
    {"raw_metatable", sb_raw_metatable},
    {NULL, NULL},
};

int lacuna_open_sandbox(lua_State *L) {
  luaL_newlib(L, sandbox_funcs);
  return 1;
}
