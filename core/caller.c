/* Positions of caller mistakes (see caller.h). Lua side: core.caller.error(msg)
 * raises msg at the recipe's line, core.caller.where() returns the prefix,
 * core.caller.entry(f) wraps a recipe-facing function so that the recipe's
 * frame survives a tail call into it. */
#include "caller.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "areas.h"

#define OWN_PREFIX "@lua/lacuna/"

void lacuna_where_caller(lua_State *L) {
  lua_Debug ar;
  int level, have_fallback = 0;
  char fallback[LUA_IDSIZE + 24];
  for (level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline <= 0) continue; /* a C function */
    if (strncmp(ar.source, OWN_PREFIX, sizeof OWN_PREFIX - 1) != 0) {
      lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
      return;
    }
    if (!have_fallback) {
      snprintf(fallback, sizeof fallback, "%s:%d: ", ar.short_src, ar.currentline);
      have_fallback = 1;
    }
  }
  lua_pushstring(L, have_fallback ? fallback : "");
}

int lacuna_caller_error(lua_State *L, const char *fmt, ...) {
  va_list ap;
  lacuna_where_caller(L);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 2);
  return lua_error(L);
}

/* core.caller.error(msg): raises msg (a string) at the caller's line. */
static int caller_error(lua_State *L) {
  const char *msg = luaL_checkstring(L, 1);
  return lacuna_caller_error(L, "%s", msg);
}

static int caller_where(lua_State *L) {
  lacuna_where_caller(L);
  return 1;
}

/* Returns f's results (the continuation of a call that yielded). */
static int entry_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status, (void)ctx;
  return lua_gettop(L);
}

/* The C function core.caller.entry returns: calls its upvalue with the same
 * arguments. A recipe's `return lc.skip(x)` is a tail call, which erases the
 * recipe's frame when the callee is a Lua function but keeps it when the
 * callee is a C function; so recipe-facing Lua functions are wrapped in one of
 * these, and their caller mistakes can still name the recipe's line. Yields
 * pass through (teacher calls suspend inside). */
static int entry_call(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_callk(L, n, LUA_MULTRET, 0, entry_k);
  return lua_gettop(L);
}

/* core.caller.entry(f): f behind a C frame (see entry_call). */
static int caller_entry(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_pushcclosure(L, entry_call, 1);
  return 1;
}

static const luaL_Reg caller_funcs[] = {
    {"error", caller_error},
    {"where", caller_where},
    {"entry", caller_entry},
    {NULL, NULL},
};

int lacuna_open_caller(lua_State *L) {
  luaL_newlib(L, caller_funcs);
  return 1;
}
