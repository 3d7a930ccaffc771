/* A C host embedding lacuna through include/lacuna.h only: opens the module in
 * its own state, runs a recipe with lacuna_run, calls the CLI entry, and checks
 * the results. Usage: embed_api INPUT.jsonl OUTDIR */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "lacuna.h"

static int failures;
#define EXPECT(cond)                                                   \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                      \
    }                                                                  \
  } while (0)

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: embed_api INPUT.jsonl OUTDIR\n");
    return 2;
  }
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);

  /* 1. The module opens in a host's own state and works from C and Lua. */
  luaL_requiref(L, "lacuna", luaopen_lacuna, 1);
  lua_pop(L, 1);
  EXPECT(luaL_dostring(L, "return require('lacuna').json.encode({b = 1, a = {2, 3}})") == LUA_OK);
  EXPECT(strcmp(lua_tostring(L, -1), "{\"a\":[2,3],\"b\":1}") == 0);
  lua_settop(L, 0);
  lua_getglobal(L, "lacuna");
  lua_getfield(L, -1, "json");
  lua_getfield(L, -1, "encode");
  lua_newtable(L);
  lua_pushinteger(L, 7);
  lua_setfield(L, -2, "n");
  lua_call(L, 1, 1);
  EXPECT(strcmp(lua_tostring(L, -1), "{\"n\":7}") == 0);
  lua_settop(L, 0);
  EXPECT(strcmp(lacuna_version(), LACUNA_VERSION_STRING) == 0);

  /* 2. lacuna_run: a recipe over one input, counts returned. */
  char out[4096], err[1024];
  snprintf(out, sizeof out, "%s/embed.jsonl", argv[2]);
  const char *inputs[] = {argv[1]};
  const char *params[] = {"policy=last"};
  lacuna_run_options o = {0};
  o.recipe = "chat_mask";
  o.inputs = inputs;
  o.ninputs = 1;
  o.output = out;
  o.format = "axolotl";
  o.params = params;
  o.nparams = 1;
  lacuna_counts c;
  int code = lacuna_run(L, &o, &c, err, sizeof err);
  if (code != 0) fprintf(stderr, "lacuna_run: %d %s\n", code, err);
  EXPECT(code == 0);
  EXPECT(c.read == 4 && c.ok == 3 && c.examples == 3 && c.skipped == 1 && c.failed == 0);
  EXPECT(c.read == c.ok + c.skipped + c.failed);
  FILE *f = fopen(out, "r");
  EXPECT(f != NULL);
  int lines = 0;
  if (f) {
    for (int ch; (ch = fgetc(f)) != EOF;) lines += ch == '\n';
    fclose(f);
  }
  EXPECT(lines == 3);

  /* 3. A configuration error comes back as code 2 with a message. */
  const char *bad[] = {"no_such_param=1"};
  o.params = bad;
  code = lacuna_run(L, &o, &c, err, sizeof err);
  EXPECT(code == 2);
  EXPECT(strstr(err, "unknown param 'no_such_param'") != NULL);

  /* 4. The command line entry. */
  char *args[] = {"lacuna", "version", NULL};
  EXPECT(lacuna_main(L, 2, args) == 0);
  EXPECT(lua_gettop(L) == 0);

  lua_close(L);

  /* 5. An error while opening the module (here: in the require that runs
   * lua/lacuna/init.lua) comes back as code 2 and a message, never a panic. */
  lua_State *L2 = luaL_newstate();
  luaL_openlibs(L2);
  EXPECT(luaL_dostring(L2, "require = function() error('init failed on purpose') end") == LUA_OK);
  o.params = params;
  code = lacuna_run(L2, &o, &c, err, sizeof err);
  EXPECT(code == 2);
  EXPECT(strstr(err, "init failed on purpose") != NULL);
  EXPECT(strstr(err, "stack traceback") != NULL);
  EXPECT(lacuna_main(L2, 2, args) == 2);
  EXPECT(lua_gettop(L2) == 0);
  lua_close(L2);
  printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
  return failures ? 1 : 0;
}
