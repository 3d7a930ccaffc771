/* Caller mistakes reported at the caller's line. A recipe reaches lacuna's C
 * primitives through the wrappers in lua/lacuna/ (and, sandboxed, proxies), so
 * a fixed error level often names lacuna's own line; these functions find the
 * first frame that is not lacuna's instead. */
#ifndef LACUNA_CALLER_H
#define LACUNA_CALLER_H

#include <lua.h>

/* Pushes "source:line: " of the innermost Lua frame, from level 1 up, whose
 * chunk is not lacuna's own (lacuna's chunks are named "@lua/lacuna/..."), or
 * of the innermost Lua frame when every one is lacuna's; "" when none. */
void lacuna_where_caller(lua_State *L);

/* luaL_error with lacuna_where_caller's position. Never returns. */
int lacuna_caller_error(lua_State *L, const char *fmt, ...);

#endif
