/* Shared harness of the fuzz targets that drive lacuna through Lua: one state
 * per process with the standard libraries and `require "lacuna"`, and a
 * driver function (Lua source given by the target) called once per input with
 * the input as a string.
 *
 * The driver catches the errors the API documents (a template's nil, message;
 * a usage error) itself; any error that escapes it is a bug and aborts, so
 * libFuzzer keeps the input. Two limits keep a hostile input from being a
 * "crash" of the harness rather than of lacuna: an instruction budget per
 * input (a template loop over range(10**9)) and a memory cap on the state;
 * an input that hits either is dropped, whatever error it caused.
 *
 * libFuzzer sees only the C code's coverage; the Lua code it drives (the
 * jinja interpreter, params) would be fuzzed blind. A line hook gives it the
 * Lua side too: each (previous line, line) edge bumps a counter in libFuzzer's
 * extra-counters section, which it reads as coverage. */
#ifndef LACUNA_FUZZ_LUA_H
#define LACUNA_FUZZ_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lacuna.h"

#define FUZZ_MEM_CAP ((size_t)512 << 20)
#define FUZZ_BUDGET_CHUNKS 2000 /* x 10,000 instructions */

typedef struct fuzz_limits {
  size_t used;
  int out_of_memory;
  int budget_left;
  int over_budget;
} fuzz_limits;

static fuzz_limits fuzz_lim;

__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t fuzz_lua_edges[1 << 16];
static uintptr_t fuzz_prev_line;

static void *fuzz_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  fuzz_limits *lim = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    lim->used -= old;
    return NULL;
  }
  if (nsize > old && lim->used - old + nsize > FUZZ_MEM_CAP) {
    lim->out_of_memory = 1;
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (p) lim->used = lim->used - old + nsize;
  return p;
}

static void fuzz_hook(lua_State *L, lua_Debug *ar) {
  if (ar->event == LUA_HOOKLINE) {
    if (!lua_getinfo(L, "S", ar)) return;
    /* the chunk's source string is interned: its address names the file */
    uintptr_t here = ((uintptr_t)ar->source * 31u) ^ ((uintptr_t)ar->currentline * 2654435761u);
    fuzz_lua_edges[(here ^ fuzz_prev_line) & (sizeof fuzz_lua_edges - 1)]++;
    fuzz_prev_line = here >> 1;
    return;
  }
  if (--fuzz_lim.budget_left <= 0) {
    fuzz_lim.over_budget = 1;
    luaL_error(L, "fuzz: instruction budget exhausted");
  }
}

static int fuzz_traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : luaL_typename(L, 1), 1);
  return 1;
}

/* The driver, created on first use: the function its source returns. */
static lua_State *fuzz_state(const char *driver_src, int *driver_ref) {
  static lua_State *L;
  static int ref;
  if (!L) {
    L = lua_newstate(fuzz_alloc, &fuzz_lim);
    if (!L) abort();
    luaL_openlibs(L);
    luaL_requiref(L, "lacuna", luaopen_lacuna, 0);
    lua_pop(L, 1);
    if (luaL_loadbufferx(L, driver_src, strlen(driver_src), "=driver", "t") != LUA_OK ||
        lua_pcall(L, 0, 1, 0) != LUA_OK || !lua_isfunction(L, -1)) {
      fprintf(stderr, "fuzz driver: %s\n", lua_tostring(L, -1));
      abort();
    }
    ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  *driver_ref = ref;
  return L;
}

/* Runs the driver on one input (and extra, a string or NULL, as its second
 * argument); aborts on an error that escaped it. */
static int fuzz_lua_run(const char *driver_src, const uint8_t *data, size_t size, const char *extra) {
  static unsigned runs;
  int ref;
  lua_State *L = fuzz_state(driver_src, &ref);
  fuzz_lim.out_of_memory = fuzz_lim.over_budget = 0;
  fuzz_lim.budget_left = FUZZ_BUDGET_CHUNKS;
  fuzz_prev_line = 0;
  lua_sethook(L, fuzz_hook, LUA_MASKCOUNT | LUA_MASKLINE, 10000);
  lua_pushcfunction(L, fuzz_traceback);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_pushlstring(L, (const char *)data, size);
  if (extra)
    lua_pushstring(L, extra);
  else
    lua_pushnil(L);
  int status = lua_pcall(L, 2, 0, -4);
  lua_sethook(L, NULL, 0, 0);
  if (status != LUA_OK && !fuzz_lim.out_of_memory && !fuzz_lim.over_budget) {
    fprintf(stderr, "fuzz: error escaped the driver:\n%s\n", lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, 0);
  if (++runs % 256 == 0) lua_gc(L, LUA_GCCOLLECT);
  return 0;
}

#endif
