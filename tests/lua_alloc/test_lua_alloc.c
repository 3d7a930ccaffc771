/* C-level tests of core/lua_alloc.c, the executable's Lua allocator: a state
 * on the pool runs allocation-heavy Lua (strings and tables of every size
 * class and across the small/large border, growing and shrinking, coroutines,
 * the sandbox's memory cap wrapped around it) and gets the same answers as a
 * state on plain malloc; memory freed by the collector is reused, so a
 * repeated workload does not grow the process. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lacuna.h"
#include "lua_alloc.h"

static const char workload[] =
    "local acc = 0\n"
    "for round = 1, 3 do\n"
    "  local keep = {}\n"
    "  for i = 1, 8000 do\n"
    "    local n = (i * 37) % 1500\n" /* 0..1499 bytes: every class and past MAX_SMALL */
    "    local s = string.rep(string.char(65 + i % 26), n) .. i\n"
    "    local t = {}\n"
    "    for k = 1, i % 40 do t[k] = s:sub(1, k) end\n" /* arrays growing by doubling */
    "    for k = 1, i % 12 do t['k' .. k] = k end\n"    /* hash parts growing */
    "    if i % 3 == 0 then keep[#keep + 1] = { s, t } end\n"
    "    acc = (acc + #s + #t) % 1000000007\n"
    "  end\n"
    "  local co = coroutine.wrap(function()\n"
    "    for i = 1, 500 do coroutine.yield(table.concat(keep[i][2], ',')) end\n"
    "  end)\n"
    "  for _ = 1, 500 do acc = (acc + #co()) % 1000000007 end\n"
    "  local parts = {}\n"
    "  for i = 1, #keep, 7 do parts[#parts + 1] = keep[i][1] end\n"
    "  local big = table.concat(parts)\n" /* a buffer grown from small to large */
    "  acc = (acc + #big + big:byte(-1)) % 1000000007\n"
    "  for i = #keep, 1, -2 do keep[i] = nil end\n" /* shrink: tables resized down */
    "  collectgarbage()\n"
    "end\n"
    "return acc\n";

static lua_Integer run_workload(lua_State *L) {
  CHECK(luaL_loadstring(L, workload) == LUA_OK);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    fprintf(stderr, "workload: %s\n", lua_tostring(L, -1));
    CHECK(0);
    lua_pop(L, 1);
    return -1;
  }
  lua_Integer r = lua_tointeger(L, -1);
  lua_pop(L, 1);
  return r;
}

int main(void) {
  lua_State *plain = luaL_newstate();
  luaL_openlibs(plain);
  lua_Integer want = run_workload(plain);
  lua_close(plain);
  CHECK(want > 0);

  lacuna_lua_pool *pool = NULL;
  lua_State *L = lacuna_lua_newstate(&pool);
  CHECK(L != NULL && pool != NULL);
  luaL_openlibs(L);
  CHECK(run_workload(L) == want);

  /* The same workload again, after a full collection, takes no more memory
   * from the system (the freed blocks are reused): Lua's own count is back
   * where it was, and so the pool serves it from its free lists. */
  lua_gc(L, LUA_GCCOLLECT);
  int before = lua_gc(L, LUA_GCCOUNT);
  CHECK(run_workload(L) == want);
  lua_gc(L, LUA_GCCOLLECT);
  int after = lua_gc(L, LUA_GCCOUNT);
  CHECK(after <= before + 64);

  /* Under the sandbox's memory cap (core/sandbox.c wraps the allocator) */
  luaL_requiref(L, "lacuna", luaopen_lacuna, 0);
  lua_pop(L, 1);
  CHECK(luaL_dostring(L, "require('lacuna.core').sandbox.limit_memory(256 * 1024 * 1024)") == LUA_OK);
  CHECK(run_workload(L) == want);
  CHECK(luaL_dostring(L, "require('lacuna.core').sandbox.limit_memory(0)") == LUA_OK);

  lua_close(L);
  lacuna_lua_pool_free(pool);
  return CHECK_DONE();
}
