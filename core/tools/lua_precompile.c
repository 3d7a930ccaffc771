/* Build-time tool: compiles one Lua source to bytecode with the same Lua library
 * lacuna runs with, so the embedded modules load without lexing and parsing at
 * every start (core/tools/embed.cmake calls it once per module).
 *
 *   lua_precompile CHUNKNAME SOURCE.lua OUT.luac
 *
 * The debug information is kept: error messages and tracebacks from the
 * embedded modules still name lua/lacuna/x.lua:LINE, because the chunk name
 * (given as @lua/lacuna/x.lua) and the line table travel in the dump. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

static int write_part(lua_State *L, const void *p, size_t size, void *out) {
  (void)L;
  return fwrite(p, 1, size, out) == size ? 0 : 1;
}

static char *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0, got;
  char *buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      char *bigger = realloc(buf, cap *= 2);
      if (!bigger) free(buf);
      buf = bigger;
    }
  }
  if (ferror(f)) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *size = n;
  return buf;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fputs("usage: lua_precompile CHUNKNAME SOURCE.lua OUT.luac\n", stderr);
    return 2;
  }
  size_t size;
  char *source = read_all(argv[2], &size);
  if (!source) {
    perror(argv[2]);
    return 1;
  }
  lua_State *L = luaL_newstate();
  if (!L) {
    fputs("lua_precompile: cannot create a Lua state\n", stderr);
    free(source);
    return 1;
  }
  int code = 0;
  if (luaL_loadbufferx(L, source, size, argv[1], "t") != LUA_OK) {
    fprintf(stderr, "lua_precompile: %s\n", lua_tostring(L, -1));
    code = 1;
  } else {
    FILE *out = fopen(argv[3], "wb");
    int failed = !out;
    if (out) {
      failed = lua_dump(L, write_part, out, 0) != 0;
      if (fclose(out) != 0) failed = 1;
    }
    if (failed) {
      perror(argv[3]);
      code = 1;
    }
  }
  lua_close(L);
  free(source);
  return code;
}
