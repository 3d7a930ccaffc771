/* SHA-256 against the FIPS 180-4 / NIST example vectors, incremental hashing
 * against one-shot over many split points, and the Lua functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "areas.h"
#include "check.h"
#include "sha256.h"

static void hex_of(const char *s, char out[65]) {
  lacuna_sha256_hex(s, strlen(s), out);
}

static void test_vectors(void) {
  char hex[65];
  hex_of("", hex);
  CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  hex_of("abc", hex);
  CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
  CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* The 896-bit two-block message. */
  hex_of("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
         "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         hex);
  CHECK_STR(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

  /* One million 'a', fed in uneven pieces. */
  char chunk[1000];
  memset(chunk, 'a', sizeof chunk);
  lacuna_sha256 c;
  unsigned char d[32];
  lacuna_sha256_init(&c);
  size_t left = 1000000, piece = 1;
  while (left > 0) {
    size_t n = piece < left ? piece : left;
    lacuna_sha256_update(&c, chunk, n);
    left -= n;
    piece = piece % 990 + 7; /* stays <= sizeof chunk */
  }
  lacuna_sha256_final(&c, d);
  lacuna_sha256_tohex(d, hex);
  CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the 55/56/64-byte padding edges, split at every point. */
static void test_incremental(void) {
  unsigned char msg[300];
  unsigned int x = 12345;
  for (size_t i = 0; i < sizeof msg; i++) {
    x = x * 1103515245u + 12345u;
    msg[i] = (unsigned char)(x >> 16);
  }
  int mismatches = 0;
  for (size_t n = 0; n <= sizeof msg; n++) {
    char want[65], got[65];
    unsigned char d[32];
    lacuna_sha256_hex(msg, n, want);
    for (size_t cut = 0; cut <= n; cut += (n > 140 ? 7 : 1)) {
      size_t cut2 = cut + (n - cut) / 2;
      lacuna_sha256 c;
      lacuna_sha256_init(&c);
      lacuna_sha256_update(&c, msg, cut);
      lacuna_sha256_update(&c, msg + cut, cut2 - cut);
      lacuna_sha256_update(&c, msg + cut2, n - cut2);
      lacuna_sha256_final(&c, d);
      lacuna_sha256_tohex(d, got);
      if (strcmp(want, got) != 0) mismatches++;
    }
  }
  CHECK(mismatches == 0);
  /* Different lengths give different digests (no padding ambiguity). */
  char a[65], b[65];
  lacuna_sha256_hex(msg, 55, a);
  lacuna_sha256_hex(msg, 56, b);
  CHECK(strcmp(a, b) != 0);
}

static void test_lua(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  CHECK(lacuna_open_hash(L) == 1);
  lua_setglobal(L, "hash");
  const char *path = "/tmp/lacuna_test_sha256.bin";
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (f) {
    fwrite("abc", 1, 3, f);
    fclose(f);
  }
  const char *code =
      "local p = ...\n"
      "assert(hash.sha256('abc') == 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')\n"
      "assert(hash.sha256('a\\0b') ~= hash.sha256('a'))\n"
      "assert(hash.sha256_file(p) == hash.sha256('abc'))\n"
      "local v, msg = hash.sha256_file('/nonexistent/dir/x')\n"
      "assert(v == nil and msg:find('/nonexistent/dir/x', 1, true))\n"
      "local v2, msg2 = hash.sha256_file('/tmp')\n"
      "assert(v2 == nil and msg2:find('/tmp', 1, true))\n"
      "assert(not pcall(hash.sha256, {}))\n"
      "return true\n";
  int rc = luaL_loadstring(L, code);
  if (rc == LUA_OK) {
    lua_pushstring(L, path);
    rc = lua_pcall(L, 1, 1, 0);
  }
  if (rc != LUA_OK) fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
  CHECK(rc == LUA_OK);
  lua_close(L);
  remove(path);
}

/* Random lengths and split points hashed by the SHA-extension code and by the
 * portable code give the same digest (on a CPU without the extensions both
 * runs are the portable code). */
static void test_accelerated_matches_portable(void) {
  static unsigned char data[4096];
  unsigned x = 12345;
  for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
  for (size_t n = 0; n < sizeof data; n += 61) {
    unsigned char d[2][32];
    for (int portable = 0; portable < 2; portable++) {
      lacuna_sha256_accelerated(!portable);
      lacuna_sha256 c;
      lacuna_sha256_init(&c);
      size_t split = n / 3;
      lacuna_sha256_update(&c, data, split);
      lacuna_sha256_update(&c, data + split, n - split);
      lacuna_sha256_final(&c, d[portable]);
    }
    CHECK(memcmp(d[0], d[1], 32) == 0);
  }
  lacuna_sha256_accelerated(1);
}

int main(void) {
  test_vectors();
  test_incremental();
  test_lua();
  printf("SHA extensions %s\n", lacuna_sha256_accelerated(1) ? "in use" : "not available");
  test_accelerated_matches_portable();
  lacuna_sha256_accelerated(0); /* the same vectors through the portable code */
  test_vectors();
  test_incremental();
  lacuna_sha256_accelerated(1);
  return CHECK_DONE();
}
