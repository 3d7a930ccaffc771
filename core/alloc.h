/* The lacuna executable's Lua allocator (core/alloc.c): the C library's
 * malloc, with freed small blocks kept per size class for the next
 * allocation of that size. A work item makes and drops a few hundred small
 * objects (tables, strings, decoded replies); glibc keeps only 7 freed blocks
 * per size at hand, and past that each free and malloc takes its slower
 * paths, which was about a sixth of a --cache-only run. */
#ifndef LACUNA_ALLOC_H
#define LACUNA_ALLOC_H

#include <lua.h>

typedef struct lacuna_alloc lacuna_alloc;

/* Makes the allocator L's. L's allocator must be the C library's (as
 * luaL_newstate makes it): blocks it already holds are freed and resized
 * through malloc's functions. Returns what to give lacuna_alloc_free after
 * lua_close(L), or NULL when L keeps its allocator (no memory, or a build
 * with AddressSanitizer, whose checks of freed memory the kept blocks would
 * defeat). */
lacuna_alloc *lacuna_alloc_install(lua_State *L);

/* Frees the blocks a kept after L was closed. NULL is a no-op. */
void lacuna_alloc_free(lacuna_alloc *a);

/* For a state lacuna is loaded into (luaopen_lacuna): installs the allocator
 * when L's is the C library's one luaL_newstate gives (a stock lua5.4, an
 * embedder's luaL_newstate), leaving any other alone; L's closing gives its
 * allocator back and frees the kept blocks. */
void lacuna_alloc_adopt(lua_State *L);

#endif
