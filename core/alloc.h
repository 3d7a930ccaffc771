/* A Lua allocator for the states lacuna is loaded into that run on the C
 * library's allocator (core/alloc.c): a stock lua5.4 (the Lua tests, the
 * benchmarks' scripts), an embedder's luaL_newstate. The executable's own
 * state is made on core/lua_alloc.c's pool and is left as it is. It is
 * malloc with freed small blocks kept per size class for the next allocation
 * of that size: a teacher call answered from the cache makes and drops a few
 * dozen small objects (tables, strings, the decoded reply); glibc keeps only
 * 7 freed blocks per size at hand, and past that each free and malloc takes
 * its slower paths, about a sixth of the CPU of a run of such calls. */
#ifndef LACUNA_ALLOC_H
#define LACUNA_ALLOC_H

#include <lua.h>

/* Called by luaopen_lacuna for the state lacuna is loaded into: installs the
 * allocator when L's is the C library's one luaL_newstate gives, and leaves
 * any other alone (a host's own, the executable's pool). L's closing gives
 * its allocator back and frees the kept blocks. A no-op under
 * AddressSanitizer, whose checks of freed memory kept blocks would defeat. */
void lacuna_alloc_adopt(lua_State *L);

#endif
