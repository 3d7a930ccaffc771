/* The lacuna executable: a fresh Lua state and one protected entry. Loading
 * lacuna into the state gives it core/alloc.c's allocator. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>

#include "lacuna.h"

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fputs("lacuna: cannot create the Lua state: not enough memory\n", stderr);
    return 2;
  }
  luaL_openlibs(L);
  int code = lacuna_main(L, argc, argv);
  lua_close(L);
  return code;
}
