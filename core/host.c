/* Entries from C into the Lua side: every one is a single protected call whose
 * message handler adds a traceback (as lua.c does), so even an error while
 * opening the module (lua/lacuna/init.lua) comes back as a message, never as a
 * panic. */
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

/* What an entry gets from its C caller and gives back, passed as a light
 * userdata so nothing is pushed on the stack outside protected mode. */
typedef struct entry {
  int argc;
  char **argv;                    /* lacuna_main */
  const lacuna_run_options *opts; /* lacuna_run */
  lacuna_counts *counts;          /* lacuna_run, may be NULL */
  int code;                       /* the exit code the Lua side returned */
} entry;

/* Opens the module in L and pushes require("lacuna.cli")[fname]. */
static void push_cli_function(lua_State *L, const char *fname) {
  luaL_requiref(L, "lacuna", luaopen_lacuna, 0);
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "lacuna.cli");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, fname);
  lua_remove(L, -2);
}

static int main_entry(lua_State *L) {
  entry *e = lua_touserdata(L, 1);
  push_cli_function(L, "main");
  lua_createtable(L, e->argc, 0);
  for (int i = 0; i < e->argc; i++) {
    lua_pushstring(L, e->argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_call(L, 1, 1);
  e->code = (int)luaL_optinteger(L, -1, 0);
  return 0;
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

static int run_entry(lua_State *L) {
  entry *e = lua_touserdata(L, 1);
  const lacuna_run_options *opts = e->opts;
  lua_createtable(L, 0, 8);
  int o = lua_gettop(L);
  lua_pushstring(L, opts->recipe);
  lua_setfield(L, o, "recipe");
  push_strings(L, opts->inputs, opts->ninputs);
  lua_setfield(L, o, "inputs");
  lua_pushstring(L, opts->output);
  lua_setfield(L, o, "output");
  if (opts->format) {
    lua_pushstring(L, opts->format);
    lua_setfield(L, o, "format");
  }
  push_strings(L, opts->params, opts->nparams);
  lua_setfield(L, o, "params");
  lua_pushinteger(L, (lua_Integer)opts->seed);
  lua_setfield(L, o, "seed");
  lua_pushboolean(L, opts->trust);
  lua_setfield(L, o, "trust");
  push_cli_function(L, "run_options");
  lua_pushvalue(L, o);
  lua_call(L, 1, 1);
  e->code = (int)luaL_optinteger(L, -1, 0);
  /* run_options stores the counts back into the options table. */
  if (e->counts && lua_getfield(L, o, "counts") == LUA_TTABLE) {
    int c = lua_gettop(L);
    e->counts->read = count_field(L, c, "read");
    e->counts->ok = count_field(L, c, "ok");
    e->counts->examples = count_field(L, c, "examples");
    e->counts->skipped = count_field(L, c, "skipped");
    e->counts->failed = count_field(L, c, "failed");
  }
  return 0;
}

/* Runs fn(e) protected and leaves the stack as it was. On an error returns 2
 * and writes the message (with its traceback) to err, or when err is NULL
 * prints `lacuna: message` on stderr. */
static int call_protected(lua_State *L, lua_CFunction fn, entry *e, char *err, size_t errlen) {
  int base = lua_gettop(L);
  lua_pushcfunction(L, msghandler);
  lua_pushcfunction(L, fn);
  lua_pushlightuserdata(L, e);
  int status = lua_pcall(L, 1, 0, base + 1);
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (err && errlen)
      snprintf(err, errlen, "%s", msg ? msg : "(no message)");
    else
      fprintf(stderr, "lacuna: %s\n", msg ? msg : "(no message)");
    e->code = 2;
  }
  lua_settop(L, base);
  return e->code;
}

int lacuna_main(lua_State *L, int argc, char **argv) {
  entry e = {.argc = argc, .argv = argv};
  return call_protected(L, main_entry, &e, NULL, 0);
}

int lacuna_run(lua_State *L, const lacuna_run_options *opts, lacuna_counts *counts, char *err,
               size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (counts) memset(counts, 0, sizeof *counts);
  entry e = {.opts = opts, .counts = counts};
  return call_protected(L, run_entry, &e, err, errlen);
}
