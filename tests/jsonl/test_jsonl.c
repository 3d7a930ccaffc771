/* C-level tests of core/jsonl.c through its C API (lacuna_jsonl_next,
 * lacuna_jsonl_write) on the fixtures and on files in a temporary
 * directory: line numbers, malformed lines, gzip round trip, commit. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "areas.h"
#include "check.h"
#include "jsonl.h"

static char fixtures[1024];

/* Calls jsonl.<fn>(path [, opts at optidx]) and leaves the object (or nil,
 * message) on the stack; returns 1 if an object came back. */
static int call_open(lua_State *L, const char *fn, const char *path, int gzip)
{
  lua_getglobal(L, "jsonl");
  lua_getfield(L, -1, fn);
  lua_remove(L, -2);
  lua_pushstring(L, path);
  int nargs = 1;
  if (gzip) {
    lua_newtable(L);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "gzip");
    nargs = 2;
  }
  lua_call(L, nargs, 2);
  if (lua_isnil(L, -2))
    return 0;
  lua_pop(L, 1);
  return 1;
}

static void call_method(lua_State *L, int obj, const char *name, int nres)
{
  lua_getfield(L, obj, name);
  lua_pushvalue(L, obj);
  lua_call(L, 1, nres);
}

static void test_fixture_lines(lua_State *L)
{
  char path[1100];
  snprintf(path, sizeof path, "%s/jsonl/malformed.jsonl", fixtures);
  CHECK(call_open(L, "open", path, 0));
  int r = lua_gettop(L);
  int linenos[8], oks[8], n = 0;
  char msg2[256] = "";
  for (;;) {
    int k = lacuna_jsonl_next(L, r);
    if (lua_isnil(L, -k)) {
      lua_pop(L, k);
      break;
    }
    if (n < 8) {
      oks[n] = lua_toboolean(L, -k);
      linenos[n] = (int)lua_tointeger(L, -1);
      if (n == 1 && k == 3)
        snprintf(msg2, sizeof msg2, "%s", lua_tostring(L, -2));
      if (oks[n]) {
        lua_getfield(L, -k, "n");
        CHECK(lua_tointeger(L, -1) == linenos[n]);
        lua_pop(L, 1);
      }
    }
    n++;
    lua_pop(L, k);
  }
  CHECK(n == 5);
  CHECK(oks[0] && !oks[1] && oks[2] && !oks[3] && oks[4]);
  CHECK(linenos[1] == 2 && linenos[3] == 4 && linenos[4] == 5);
  char want[1200];
  snprintf(want, sizeof want, "%s:2: byte 8: unexpected '}'", path);
  CHECK_STR(msg2, want);
  call_method(L, r, "lines_read", 1);
  CHECK(lua_tointeger(L, -1) == 5);
  lua_pop(L, 1);
  call_method(L, r, "close", 0);
  lua_pop(L, 1);

  snprintf(path, sizeof path, "%s/jsonl/blank.jsonl", fixtures);
  CHECK(call_open(L, "open", path, 0));
  r = lua_gettop(L);
  int k = lacuna_jsonl_next(L, r);
  CHECK(k == 2 && lua_tointeger(L, -1) == 2);
  lua_pop(L, k);
  k = lacuna_jsonl_next(L, r);
  CHECK(k == 2 && lua_tointeger(L, -1) == 5);
  lua_pop(L, k);
  k = lacuna_jsonl_next(L, r);
  CHECK(k == 2 && lua_tointeger(L, -1) == 8);
  lua_pop(L, k);
  k = lacuna_jsonl_next(L, r);
  CHECK(k == 1 && lua_isnil(L, -1));
  lua_pop(L, k + 1);
}

static void test_write_read(lua_State *L, const char *dir, int gzip)
{
  char path[1100];
  snprintf(path, sizeof path, "%s/out%s.jsonl", dir, gzip ? "-gz" : "");
  CHECK(call_open(L, "writer", path, gzip));
  int w = lua_gettop(L);
  int wrote = 1;
  for (int i = 1; i <= 3000; i++) {
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, i);
    lua_setfield(L, -2, "i");
    lua_pushfstring(L, "text %d \xE2\x80\xA8", i);
    lua_setfield(L, -2, "s");
    wrote = wrote && lacuna_jsonl_write(L, w, -1) == 1;
    lua_pop(L, 1);
  }
  CHECK(wrote);
  lua_pushliteral(L, "{\"raw\":1}");
  CHECK(lacuna_jsonl_write(L, w, -1) == 1);
  lua_pop(L, 1);
  CHECK(access(path, F_OK) != 0); /* nothing under the final name yet */
  call_method(L, w, "commit", 2);
  CHECK(lua_toboolean(L, -2));
  lua_pop(L, 3);
  CHECK(access(path, F_OK) == 0);

  FILE *f = fopen(path, "rb");
  unsigned char magic[2] = {0, 0};
  CHECK(f && fread(magic, 1, 2, f) == 2);
  if (f)
    fclose(f);
  CHECK((magic[0] == 0x1f && magic[1] == 0x8b) == (gzip != 0));

  CHECK(call_open(L, "open", path, 0));
  int r = lua_gettop(L);
  int n = 0, good = 1;
  for (;;) {
    int k = lacuna_jsonl_next(L, r);
    if (!lua_toboolean(L, -k)) {
      good = good && lua_isnil(L, -k);
      lua_pop(L, k);
      break;
    }
    n++;
    if (n <= 3000) {
      lua_getfield(L, -k, "i");
      good = good && lua_tointeger(L, -1) == n;
      lua_getfield(L, -k - 1, "s");
      char want[64];
      snprintf(want, sizeof want, "text %d \xE2\x80\xA8", n);
      good = good && strcmp(lua_tostring(L, -1), want) == 0;
      lua_pop(L, 2);
    }
    lua_pop(L, k);
  }
  CHECK(good);
  CHECK(n == 3001);
  lua_pop(L, 1);
  remove(path);
}

int main(void)
{
  const char *env = getenv("LACUNA_FIXTURES");
  snprintf(fixtures, sizeof fixtures, "%s", env ? env : "tests/fixtures");
  char dir[] = "/tmp/lacuna_jsonl_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);

  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  CHECK(lacuna_open_jsonl(L) == 1);
  lua_setglobal(L, "jsonl");

  test_fixture_lines(L);
  test_write_read(L, dir, 0);
  test_write_read(L, dir, 1);
  CHECK(lua_gettop(L) == 0);

  lua_close(L);
  CHECK(rmdir(dir) == 0); /* no temporary file was left behind */
  return CHECK_DONE();
}
