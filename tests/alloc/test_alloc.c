/* The Lua allocator lacuna adopts (core/alloc.c): every size it hands out
 * holds what was asked, resizes keep the bytes both sizes share, across the
 * small-block limit both ways; blocks the state had before are freed and
 * resized safely; more frees of one size than it keeps; a state on it runs a
 * program that makes and drops many objects, also with the sandbox's memory
 * cap around it, and closes with no block left (valgrind, the leak checks);
 * a host's own allocator is left alone. Under AddressSanitizer the state
 * keeps malloc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "alloc.h"
#include "areas.h"
#include "check.h"

static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7);
}

static int filled(const unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(seed + i * 7)) return 0;
  return 1;
}

/* Drives the allocator as Lua does: allocate, resize, free. */
static void test_blocks(lua_Alloc f, void *ud) {
  static const size_t sizes[] = {1,   7,   8,   15,  16,  17,  24,  31,   32,  33,
                                 100, 128, 200, 255, 256, 257, 300, 1000, 5000};
  const size_t n = sizeof sizes / sizeof sizes[0];
  int ok = 1;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < n; j++) {
      size_t a = sizes[i], b = sizes[j];
      unsigned char *p = f(ud, NULL, LUA_TSTRING, a);
      if (!p) {
        ok = 0;
        continue;
      }
#if defined(__GLIBC__)
      if (malloc_usable_size(p) < a) ok = 0;
#endif
      fill(p, a, (unsigned)(i * 31 + j));
      unsigned char *q = f(ud, p, a, b);
      if (!q) {
        ok = 0;
        continue;
      }
#if defined(__GLIBC__)
      if (malloc_usable_size(q) < b) ok = 0;
#endif
      if (!filled(q, a < b ? a : b, (unsigned)(i * 31 + j))) ok = 0;
      fill(q, b, 3); /* every byte of the new size is writable */
      f(ud, q, b, 0);
    }
  }
  CHECK(ok);
  /* Far more frees of one size than are kept, then as many allocations. */
  enum { MANY = 5000 };
  static unsigned char *blocks[MANY];
  for (int k = 0; k < MANY; k++) {
    blocks[k] = f(ud, NULL, LUA_TTABLE, 40);
    fill(blocks[k], 40, (unsigned)k);
  }
  int intact = 1;
  for (int k = 0; k < MANY; k++) intact &= filled(blocks[k], 40, (unsigned)k);
  CHECK(intact);
  for (int k = 0; k < MANY; k++) f(ud, blocks[k], 40, 0);
  for (int k = 0; k < MANY; k++) {
    blocks[k] = f(ud, NULL, LUA_TTABLE, 33 + (size_t)k % 16);
    fill(blocks[k], 33 + (size_t)k % 16, 9);
  }
  for (int k = 0; k < MANY; k++) f(ud, blocks[k], 33 + (size_t)k % 16, 0);
  CHECK(f(ud, NULL, LUA_TNIL, 0) == NULL); /* freeing nothing */
}

static const char PROGRAM[] =
    "local keep = {}\n"
    "for round = 1, 20 do\n"
    "  local t = {}\n"
    "  for i = 1, 2000 do t[i] = string.rep(string.char(65 + i % 26), i % 300 + 1) end\n"
    "  for i = 2000, 1, -3 do table.remove(t, i) end\n"
    "  local parts = {}\n"
    "  for i, s in ipairs(t) do parts[#parts + 1] = s:sub(1, 3) .. i end\n"
    "  keep[round % 5] = table.concat(parts, ',')\n"
    "  local m = {}\n"
    "  for i = 1, 500 do m['k' .. i] = { i, tostring(i), { x = i } } end\n"
    "  for i = 1, 500, 2 do m['k' .. i] = nil end\n"
    "  collectgarbage('step')\n"
    "end\n"
    "collectgarbage()\n"
    "local total = 0\n"
    "for _, s in pairs(keep) do total = total + #s end\n"
    "return total, before\n";

static lua_Integer run_program(lua_State *L) {
  lua_pushstring(L, "a string made before the adoption, freed after it");
  lua_setglobal(L, "before");
  lua_Integer total = -1;
  if (luaL_loadstring(L, PROGRAM) == LUA_OK && lua_pcall(L, 0, 2, 0) == LUA_OK) {
    total = lua_tointeger(L, -2);
    if (!lua_isstring(L, -1) ||
        strcmp(lua_tostring(L, -1), "a string made before the adoption, freed after it") != 0)
      total = -2;
  }
  lua_settop(L, 0);
  return total;
}

/* A host's own allocator, which adopt must leave alone. */
static void *host_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud, (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}

int main(void) {
  lua_State *P = luaL_newstate(); /* the reference: plain malloc */
  luaL_openlibs(P);
  lua_Integer want = run_program(P);
  CHECK(want > 0);
  lua_close(P);

  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_pushstring(L, "made before the adoption");
  lua_setglobal(L, "old");
  lua_Alloc plain = lua_getallocf(L, NULL);
  lacuna_alloc_adopt(L);
  void *ud;
  lua_Alloc adopted = lua_getallocf(L, &ud);
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
  CHECK(adopted != plain);
#else
  (void)plain;
#endif
  lacuna_alloc_adopt(L);
  CHECK(lua_getallocf(L, NULL) == adopted); /* a second adopt changes nothing */
  test_blocks(adopted, ud);
  CHECK(run_program(L) == want);
  lua_getglobal(L, "old");
  CHECK_STR(lua_tostring(L, -1), "made before the adoption");
  lua_pop(L, 1);
  /* The sandbox's memory cap wraps it; closing unwraps both in turn. */
  lacuna_open_sandbox(L);
  lua_getfield(L, -1, "limit_memory");
  lua_pushinteger(L, 1 << 30);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  CHECK(lua_getallocf(L, NULL) != adopted);
  CHECK(run_program(L) == want);
  lua_close(L);

  lua_State *H = lua_newstate(host_alloc, NULL);
  luaL_openlibs(H);
  lacuna_alloc_adopt(H);
  CHECK(lua_getallocf(H, NULL) == host_alloc);
  CHECK(run_program(H) == want);
  lua_close(H);
  return CHECK_DONE();
}
