/* A Lua allocator for the states lacuna runs in (core/alloc.c): the C
 * library's malloc, with freed small blocks kept per size class for the next
 * allocation of that size. A work item makes and drops a few hundred small
 * objects (tables, strings, decoded replies); glibc keeps only 7 freed blocks
 * per size at hand, and past that each free and malloc takes its slower
 * paths, which was about a sixth of a --cache-only run's CPU. */
#ifndef LACUNA_ALLOC_H
#define LACUNA_ALLOC_H

#include <lua.h>

/* Called by luaopen_lacuna for the state lacuna is loaded into (the
 * executable's, a stock lua5.4's, an embedder's): installs the allocator when
 * L's is the C library's one luaL_newstate gives, and leaves any other alone
 * (a host's own, or one the state was made with). L's closing gives its
 * allocator back and frees the kept blocks. A no-op under AddressSanitizer,
 * whose checks of freed memory kept blocks would defeat. */
void lacuna_alloc_adopt(lua_State *L);

#endif
