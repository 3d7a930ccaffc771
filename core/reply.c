/* The teacher's reading of a chat-completions reply, in C, because it is on
 * every request's path: one decode of the body (core/json.c, the same values
 * json.decode gives), the checks a 200 reply must pass, and the result table
 * a recipe gets, built once. What to retry, cache or count stays policy, in
 * lua/lacuna/teacher.lua. */
#include <lauxlib.h>

#include "areas.h"
#include "json.h"

/* Longest piece of a server's error message quoted in a refusal. */
#define QUOTE_MAX 200

static int is_null(lua_State *L, int idx) { return lua_islightuserdata(L, idx) && !lua_touserdata(L, idx); }

/* Pushes the message of the error object a server put in a 200 without
 * choices (obj.error.message, or obj.error when it is text) and returns 1,
 * or pushes nothing and returns 0. */
static int push_error_text(lua_State *L, int obj) {
  int t = lua_getfield(L, obj, "error");
  if (t == LUA_TTABLE) {
    if (lua_getfield(L, -1, "message") == LUA_TSTRING) {
      lua_remove(L, -2);
      return 1;
    }
    lua_pop(L, 2);
    return 0;
  }
  if (t == LUA_TSTRING) return 1;
  lua_pop(L, 1);
  return 0;
}

/* Checks the decoded reply at obj: returns 1 when it is usable, else pushes
 * the reason and returns 0. */
static int check_reply(lua_State *L, int obj) {
  if (!lua_istable(L, obj)) {
    lua_pushliteral(L, "reply is not a JSON object");
    return 0;
  }
  if (lua_getfield(L, obj, "choices") != LUA_TTABLE || luaL_len(L, -1) == 0) {
    lua_pop(L, 1);
    if (push_error_text(L, obj)) {
      size_t len;
      const char *e = lua_tolstring(L, -1, &len);
      lua_pushliteral(L, "reply has no choices: ");
      lua_pushlstring(L, e, len > QUOTE_MAX ? QUOTE_MAX : len);
      lua_concat(L, 2);
      lua_remove(L, -2);
    } else {
      lua_pushliteral(L, "reply has no choices");
    }
    return 0;
  }
  int choices = lua_gettop(L);
  for (lua_Integer i = 1; lua_geti(L, choices, i) != LUA_TNIL; i++) {
    if (!lua_istable(L, -1) || lua_getfield(L, -1, "message") != LUA_TTABLE) {
      lua_settop(L, choices - 1);
      lua_pushfstring(L, "reply choice %I has no message", (LUAI_UACINT)i);
      return 0;
    }
    int t = lua_getfield(L, -1, "content");
    if (t != LUA_TNIL && t != LUA_TSTRING && !is_null(L, -1)) {
      lua_settop(L, choices - 1);
      lua_pushfstring(L, "reply choice %I has a %s for content, not text", (LUAI_UACINT)i,
                      lua_typename(L, t));
      return 0;
    }
    lua_pop(L, 3);
  }
  lua_settop(L, choices - 1);
  return 1;
}

/* reply.parse(body) -> response | nil, why
 * A 200 body decoded and checked: a JSON object with a non-empty list of
 * choices, each with a message whose content is text, null or absent. why
 * says what is wrong (for the retry policy: a bad body is retried). */
static int reply_parse(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_settop(L, 1);
  char err[256];
  if (!lacuna_json_decode(L, s, n, LACUNA_JSON_DEFAULT_DEPTH, err, sizeof err)) {
    lua_pushnil(L);
    lua_pushfstring(L, "reply is not JSON (%s)", err);
    return 2;
  }
  if (check_reply(L, 2)) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

/* reply.result(response [, key [, cached]]) -> {text=, finish_reason=,
 * choices={{text=, finish_reason=, message=}...}, usage=, model=, cached=,
 * key=, response=}: what teacher:chat returns, from a response that
 * reply.parse accepted. text is the first choice's; a null content or usage
 * becomes nil. The tables of the response are shared, not copied. */
static int reply_result(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 3);
  lua_getfield(L, 1, "choices");
  int src = lua_gettop(L);
  lua_Integer n = luaL_len(L, src);
  luaL_argcheck(L, n >= 1, 1, "a response with choices (from reply.parse)");
  lua_createtable(L, (int)n, 0);
  int choices = lua_gettop(L);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, src, i);
    luaL_argcheck(L, lua_istable(L, -1), 1, "a response with choices (from reply.parse)");
    lua_createtable(L, 0, 3);
    if (lua_getfield(L, -2, "message") == LUA_TTABLE) {
      if (lua_getfield(L, -1, "content") == LUA_TSTRING)
        lua_setfield(L, -3, "text");
      else
        lua_pop(L, 1);
    }
    lua_setfield(L, -2, "message");
    lua_getfield(L, -2, "finish_reason");
    lua_setfield(L, -2, "finish_reason");
    lua_seti(L, choices, i);
    lua_pop(L, 1);
  }
  lua_createtable(L, 0, 8);
  lua_geti(L, choices, 1);
  lua_getfield(L, -1, "text");
  lua_setfield(L, -3, "text");
  lua_getfield(L, -1, "finish_reason");
  lua_setfield(L, -3, "finish_reason");
  lua_pop(L, 1);
  lua_pushvalue(L, choices);
  lua_setfield(L, -2, "choices");
  lua_getfield(L, 1, "usage");
  if (is_null(L, -1) || !lua_toboolean(L, -1)) {
    lua_pop(L, 1);
  } else {
    lua_setfield(L, -2, "usage");
  }
  lua_getfield(L, 1, "model");
  lua_setfield(L, -2, "model");
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, "cached");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "key");
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "response");
  return 1;
}

static const luaL_Reg reply_funcs[] = {
    {"parse", reply_parse},
    {"result", reply_result},
    {NULL, NULL},
};

int lacuna_open_reply(lua_State *L) {
  luaL_newlib(L, reply_funcs);
  return 1;
}
