/* The entry point of lacuna.so for `require "lacuna"` from a stock lua5.4. */
#include "lacuna.h"

/* luaopen_lacuna itself lives in core/module.c inside lacuna_core; this file only
 * gives the shared module a translation unit that references it. */
LUAMOD_API int luaopen_lacuna_entry_anchor(lua_State *L);
LUAMOD_API int luaopen_lacuna_entry_anchor(lua_State *L) { return luaopen_lacuna(L); }
