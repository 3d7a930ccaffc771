/* The lacuna executable: a fresh Lua state (on the small-block pool of
 * core/lua_alloc.c) and one protected entry. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>

#include "lacuna.h"
#include "lua_alloc.h"

int main(int argc, char **argv) {
  lacuna_lua_pool *pool;
  lua_State *L = lacuna_lua_newstate(&pool);
  if (!L) {
    fputs("lacuna: cannot create the Lua state: not enough memory\n", stderr);
    return 2;
  }
  luaL_openlibs(L);
  int code = lacuna_main(L, argc, argv);
  lua_close(L);
  lacuna_lua_pool_free(pool);
  return code;
}
