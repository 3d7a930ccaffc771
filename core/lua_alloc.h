/* The lacuna executable's Lua state, on a small-block pool (core/lua_alloc.c). */
#ifndef LACUNA_LUA_ALLOC_H
#define LACUNA_LUA_ALLOC_H

#include <lua.h>

typedef struct lacuna_lua_pool lacuna_lua_pool;

/* A new state (as luaL_newstate makes one: the same panic handler and
 * warnings, off until "@on") whose allocator is a new pool, stored in *pool.
 * NULL when memory is short. */
lua_State *lacuna_lua_newstate(lacuna_lua_pool **pool);

/* Frees the pool's memory: after lua_close of its state. */
void lacuna_lua_pool_free(lacuna_lua_pool *pool);

#endif
