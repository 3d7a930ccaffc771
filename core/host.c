/* Entries from C into the Lua side: every one goes through a single protected
 * call whose message handler adds a traceback (as lua.c does). */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "lacuna.h"

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Calls require("lacuna.cli")[fname](arg) protected; returns the exit code.
 * On an unexpected error prints `lacuna: message` and the traceback. */
static int call_cli(lua_State *L, const char *fname, int nargs, char *err, size_t errlen) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, msghandler);
  int h = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "lacuna");
  int status = lua_pcall(L, 1, 0, h);
  if (status == LUA_OK) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lacuna.cli");
    status = lua_pcall(L, 1, 1, h);
  }
  int code = 2;
  if (status == LUA_OK) {
    lua_getfield(L, -1, fname);
    lua_remove(L, -2);
    for (int i = 1; i <= nargs; i++) lua_pushvalue(L, base + i);
    status = lua_pcall(L, nargs, 1, h);
    if (status == LUA_OK) code = (int)luaL_optinteger(L, -1, 0);
  }
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (err && errlen)
      snprintf(err, errlen, "%s", msg ? msg : "(no message)");
    else
      fprintf(stderr, "lacuna: %s\n", msg ? msg : "(no message)");
    code = 2;
  }
  lua_settop(L, base);
  return code;
}

int lacuna_main(lua_State *L, int argc, char **argv) {
  luaL_requiref(L, "lacuna", luaopen_lacuna, 0);
  lua_pop(L, 1);
  lua_createtable(L, argc, 0);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  return call_cli(L, "main", 1, NULL, 0);
}

static void push_strings(lua_State *L, const char *const *list, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, list[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static long long count_field(lua_State *L, int idx, const char *name) {
  lua_getfield(L, idx, name);
  long long v = (long long)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

int lacuna_run(lua_State *L, const lacuna_run_options *opts, lacuna_counts *counts, char *err,
               size_t errlen) {
  if (err && errlen) err[0] = '\0';
  luaL_requiref(L, "lacuna", luaopen_lacuna, 0);
  lua_pop(L, 1);
  lua_createtable(L, 0, 8);
  lua_pushstring(L, opts->recipe);
  lua_setfield(L, -2, "recipe");
  push_strings(L, opts->inputs, opts->ninputs);
  lua_setfield(L, -2, "inputs");
  lua_pushstring(L, opts->output);
  lua_setfield(L, -2, "output");
  if (opts->format) {
    lua_pushstring(L, opts->format);
    lua_setfield(L, -2, "format");
  }
  push_strings(L, opts->params, opts->nparams);
  lua_setfield(L, -2, "params");
  lua_pushinteger(L, (lua_Integer)opts->seed);
  lua_setfield(L, -2, "seed");
  lua_pushboolean(L, opts->trust);
  lua_setfield(L, -2, "trust");
  lua_pushvalue(L, -1);
  int opts_idx = lua_gettop(L) - 1;
  int code = call_cli(L, "run_options", 1, err, errlen);
  /* run_options stores the counts back into the options table. */
  if (counts) {
    lua_getfield(L, opts_idx, "counts");
    if (lua_istable(L, -1)) {
      int c = lua_gettop(L);
      counts->read = count_field(L, c, "read");
      counts->ok = count_field(L, c, "ok");
      counts->examples = count_field(L, c, "examples");
      counts->skipped = count_field(L, c, "skipped");
      counts->failed = count_field(L, c, "failed");
    } else {
      memset(counts, 0, sizeof *counts);
    }
    lua_pop(L, 1);
  }
  lua_settop(L, opts_idx - 1);
  return code;
}
