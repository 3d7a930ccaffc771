/* The lacuna executable: a fresh Lua state and one protected entry. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>

#include "alloc.h"
#include "lacuna.h"

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fputs("lacuna: cannot create the Lua state: not enough memory\n", stderr);
    return 2;
  }
  lacuna_alloc *alloc = lacuna_alloc_install(L); /* NULL: L keeps luaL_newstate's */
  luaL_openlibs(L);
  int code = lacuna_main(L, argc, argv);
  lua_close(L);
  lacuna_alloc_free(alloc);
  return code;
}
