/* Unit tests of core/cache.c: the C API, the schema, two connections on one
 * file, and the Lua userdata. */
#include <lauxlib.h>
#include <lualib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "areas.h"
#include "cache.h"
#include "check.h"

static char dir[64];

static const char *path_in(const char *name)
{
  static char buf[4][256];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
  return buf[i];
}

/* A deterministic key: 64 hex digits from n. */
static const char *key_of(unsigned n)
{
  static char buf[2][65];
  static int i;
  i ^= 1;
  for (int j = 0; j < 64; j++)
    buf[i][j] = "0123456789abcdef"[((n >> ((j % 8) * 4)) & 15) ^ (unsigned)(j & 15)];
  buf[i][64] = '\0';
  return buf[i];
}

static void test_basic(void)
{
  char err[512];
  /* The parent directories are created. */
  lacuna_cache *c = lacuna_cache_open(path_in("a/b/cache.db"), 0, err, sizeof err);
  CHECK(c != NULL);
  if (!c) {
    fprintf(stderr, "open: %s\n", err);
    return;
  }
  char *body;
  size_t len;
  CHECK(lacuna_cache_get(c, key_of(1), &body, &len) == 0);
  CHECK(body == NULL);
  const char *b1 = "{\"choices\":[{\"message\":{\"content\":\"hi\"}}]}";
  CHECK(lacuna_cache_put(c, key_of(1), "m1", "{\"model\":\"m1\"}", b1, strlen(b1), 10, 3) == 0);
  CHECK(lacuna_cache_get(c, key_of(1), &body, &len) == 1);
  CHECK_STR(body, b1);
  CHECK(len == strlen(b1));
  free(body);

  /* A second put of the same key keeps the first value. */
  CHECK(lacuna_cache_put(c, key_of(1), "m2", NULL, "{}", 2, 1, 1) == 0);
  CHECK(lacuna_cache_get(c, key_of(1), &body, &len) == 1);
  CHECK_STR(body, b1);
  free(body);

  /* Bodies with every byte but NUL, and an empty body, come back exactly. */
  char big[70000];
  for (size_t i = 0; i < sizeof big - 1; i++)
    big[i] = (char)(1 + i % 255);
  big[sizeof big - 1] = '\0';
  CHECK(lacuna_cache_put(c, key_of(2), "m1", NULL, big, sizeof big - 1, 0, 0) == 0);
  CHECK(lacuna_cache_get(c, key_of(2), &body, &len) == 1);
  CHECK(len == sizeof big - 1 && body && memcmp(body, big, len) == 0);
  free(body);
  CHECK(lacuna_cache_put(c, key_of(3), "m1", NULL, "", 0, 0, 0) == 0);
  CHECK(lacuna_cache_get(c, key_of(3), &body, &len) == 1);
  CHECK(len == 0 && body && body[0] == '\0');
  free(body);

  /* Bad keys and arguments are errors with a message. */
  CHECK(lacuna_cache_get(c, "abc", &body, &len) == -1);
  CHECK(strstr(lacuna_cache_error(c), "invalid cache key") != NULL);
  char upper[65];
  strcpy(upper, key_of(1));
  upper[0] = 'A';
  CHECK(lacuna_cache_put(c, upper, "m", NULL, "{}", 2, 0, 0) == -1);
  CHECK(lacuna_cache_put(c, key_of(4), NULL, NULL, "{}", 2, 0, 0) == -1);
  CHECK(lacuna_cache_put(c, key_of(4), "m", NULL, "{}", 2, -1, 0) == -1);
  CHECK(lacuna_cache_get(c, key_of(4), &body, &len) == 0);
  lacuna_cache_close(c);

  /* Durable: a fresh connection sees the rows. */
  c = lacuna_cache_open(path_in("a/b/cache.db"), 1, err, sizeof err);
  CHECK(c != NULL);
  if (c) {
    CHECK(lacuna_cache_get(c, key_of(1), &body, &len) == 1);
    CHECK_STR(body, b1);
    free(body);
    /* Read-only refuses writes. */
    CHECK(lacuna_cache_put(c, key_of(5), "m", NULL, "{}", 2, 0, 0) == -1);
    CHECK(strstr(lacuna_cache_error(c), "read-only") != NULL);
    lacuna_cache_close(c);
  }
}

static void test_schema(void)
{
  char err[512];
  lacuna_cache *c = lacuna_cache_open(path_in("schema.db"), 0, err, sizeof err);
  CHECK(c != NULL);
  if (!c)
    return;
  const char *req = "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"model\":\"m\"}";
  CHECK(lacuna_cache_put(c, key_of(7), "m", req, "{}", 2, 1, 2) == 0);
  lacuna_cache_close(c);

  sqlite3 *db;
  CHECK(sqlite3_open_v2(path_in("schema.db"), &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  /* Exactly these columns: nothing where a key or a header could go. */
  sqlite3_stmt *st;
  CHECK(sqlite3_prepare_v2(db, "SELECT group_concat(name, ',') FROM pragma_table_info('responses')",
                           -1, &st, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(st) == SQLITE_ROW);
  CHECK_STR((const char *)sqlite3_column_text(st, 0),
            "key,model,request,body,prompt_tokens,completion_tokens,created");
  sqlite3_finalize(st);
  CHECK(sqlite3_prepare_v2(db, "SELECT group_concat(name, ',') FROM"
                               " (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)",
                           -1, &st, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(st) == SQLITE_ROW);
  CHECK_STR((const char *)sqlite3_column_text(st, 0), "meta,responses");
  sqlite3_finalize(st);
  CHECK(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st, NULL) ==
        SQLITE_OK);
  CHECK(sqlite3_step(st) == SQLITE_ROW);
  CHECK_STR((const char *)sqlite3_column_text(st, 0), "1");
  sqlite3_finalize(st);
  /* The request stored is the one given, byte for byte. */
  CHECK(sqlite3_prepare_v2(db, "SELECT request, prompt_tokens, completion_tokens FROM responses",
                           -1, &st, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(st) == SQLITE_ROW);
  CHECK_STR((const char *)sqlite3_column_text(st, 0), req);
  CHECK(sqlite3_column_int64(st, 1) == 1 && sqlite3_column_int64(st, 2) == 2);
  sqlite3_finalize(st);
  CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(st) == SQLITE_ROW);
  CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);

  /* A newer schema is refused rather than misread. */
  CHECK(sqlite3_open(path_in("schema.db"), &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema'", NULL, NULL, NULL) ==
        SQLITE_OK);
  sqlite3_close(db);
  c = lacuna_cache_open(path_in("schema.db"), 0, err, sizeof err);
  CHECK(c == NULL);
  CHECK(strstr(err, "schema 99 is newer") != NULL);

  /* Some other SQLite database, or not a database at all, is not touched. */
  CHECK(sqlite3_open(path_in("other.db"), &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
  c = lacuna_cache_open(path_in("other.db"), 0, err, sizeof err);
  CHECK(c == NULL);
  CHECK(strstr(err, "not a lacuna cache") != NULL);
  FILE *f = fopen(path_in("text.db"), "wb");
  CHECK(f != NULL);
  if (f) {
    fputs("this is not a database, just some text that is long enough to look at......"
          "..................................................................",
          f);
    fclose(f);
  }
  c = lacuna_cache_open(path_in("text.db"), 0, err, sizeof err);
  CHECK(c == NULL);
  CHECK(strstr(err, "text.db") != NULL);

  /* Read-only open of a missing file fails and creates nothing. */
  c = lacuna_cache_open(path_in("missing/none.db"), 1, err, sizeof err);
  CHECK(c == NULL);
  CHECK(strstr(err, "No such file") != NULL);
  CHECK(access(path_in("missing"), F_OK) != 0);
  CHECK(lacuna_cache_open("", 0, err, sizeof err) == NULL);
}

/* Two connections on one file, writes interleaved: each sees the other's. */
static void test_two_connections(void)
{
  char err[512];
  lacuna_cache *a = lacuna_cache_open(path_in("shared.db"), 0, err, sizeof err);
  lacuna_cache *b = lacuna_cache_open(path_in("shared.db"), 0, err, sizeof err);
  lacuna_cache *r = lacuna_cache_open(path_in("shared.db"), 1, err, sizeof err);
  CHECK(a && b && r);
  if (!a || !b || !r)
    return;
  int bad = 0;
  for (unsigned i = 0; i < 200; i++) {
    char body[32];
    int n = snprintf(body, sizeof body, "{\"i\":%u}", i);
    lacuna_cache *w = (i & 1) ? a : b, *o = (i & 1) ? b : a;
    if (lacuna_cache_put(w, key_of(1000 + i), "m", NULL, body, (size_t)n, i, 0) != 0)
      bad++;
    char *got;
    size_t len;
    if (lacuna_cache_get(o, key_of(1000 + i), &got, &len) != 1 || strcmp(got, body) != 0)
      bad++;
    free(got);
    if (lacuna_cache_get(r, key_of(1000 + i), &got, &len) != 1 || strcmp(got, body) != 0)
      bad++;
    free(got);
  }
  CHECK(bad == 0);
  /* Both writing the same key: the first one wins. */
  CHECK(lacuna_cache_put(a, key_of(5000), "m", NULL, "\"a\"", 3, 0, 0) == 0);
  CHECK(lacuna_cache_put(b, key_of(5000), "m", NULL, "\"b\"", 3, 0, 0) == 0);
  char *got;
  size_t len;
  CHECK(lacuna_cache_get(b, key_of(5000), &got, &len) == 1);
  CHECK_STR(got, "\"a\"");
  free(got);
  lacuna_cache_close(a);
  lacuna_cache_close(b);
  lacuna_cache_close(r);
}

static int run_lua(lua_State *L, const char *code)
{
  if (luaL_dostring(L, code) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

static void test_lua(void)
{
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_pushcfunction(L, lacuna_open_cache);
  lua_call(L, 0, 1);
  lua_setglobal(L, "cache");
  lua_pushstring(L, path_in("lua/c.db"));
  lua_setglobal(L, "PATH");
  CHECK(run_lua(L, "K1 = string.rep('a', 64); K2 = string.rep('b', 64); K3 = string.rep('c', 64)"));
  CHECK(run_lua(L, "c = assert(cache.open(PATH))\n"
                   "assert(c:get(K1) == nil and c:has(K1) == false)\n"
                   "local ok, ins = c:put(K1, {model='m1', body='{\"x\":1}', request='{\"r\":1}',"
                   "  prompt_tokens=5, completion_tokens=7})\n"
                   "assert(ok == true and ins == true)\n"
                   "ok, ins = c:put(K1, {model='m1', body='other'})\n"
                   "assert(ok == true and ins == false)\n"
                   "assert(c:get(K1) == '{\"x\":1}' and c:has(K1))\n"
                   "assert(c:put(K2, {model='m2', body='{}', prompt_tokens=1}))\n"
                   "assert(c:put(K3, {model='m1', body='[1]', completion_tokens=2}))\n"));
  CHECK(run_lua(L, "local s = assert(c:stats())\n"
                   "assert(s.entries == 3, s.entries)\n"
                   "assert(s.bytes == 7 + 2 + 3, s.bytes)\n"
                   "assert(s.path == PATH and s.schema == 1 and s.file_bytes > 0)\n"
                   "assert(s.models.m1.entries == 2 and s.models.m1.prompt_tokens == 5)\n"
                   "assert(s.models.m1.completion_tokens == 9)\n"
                   "assert(s.models.m2.entries == 1 and s.models.m2.prompt_tokens == 1)\n"));
  CHECK(run_lua(L, "local rows = {}\n"
                   "assert(c:each(function(r) rows[#rows + 1] = r end) == 3)\n"
                   "assert(rows[1].key == K1 and rows[2].key == K2 and rows[3].key == K3)\n"
                   "assert(rows[1].request == '{\"r\":1}' and rows[2].request == nil)\n"
                   "assert(rows[1].body == '{\"x\":1}' and rows[1].model == 'm1')\n"
                   "assert(rows[1].prompt_tokens == 5 and rows[1].completion_tokens == 7)\n"
                   "assert(math.type(rows[1].created) == 'integer' and rows[1].created > 0)\n"
                   "local n = 0\n"
                   "assert(c:each(function() n = n + 1; return false end) == 1 and n == 1)\n"
                   /* an error in fn propagates, and the cache stays usable */
                   "local ok, e = pcall(c.each, c, function() error('boom') end)\n"
                   "assert(not ok and tostring(e):find('boom'))\n"
                   "assert(c:each(function() end) == 3)\n"
                   "ok, e = pcall(c.each, c, function() c:each(function() end) end)\n"
                   "assert(not ok and e:find('nested'))\n"));
  /* Caller mistakes raise. */
  CHECK(run_lua(L, "local function raises(f, pat) local ok, e = pcall(f);"
                   " assert(not ok and tostring(e):find(pat, 1, true), tostring(e)) end\n"
                   "raises(function() c:get('xyz') end, '64 lowercase hex')\n"
                   "raises(function() c:put(K1, {model='m'}) end, \"'body'\")\n"
                   "raises(function() c:put(K1, {body='x'}) end, \"'model'\")\n"
                   "raises(function() c:put(K1, {model='m', body='x', api_key='sk-x'}) end,"
                   "  \"unknown field 'api_key'\")\n"
                   "raises(function() c:put(K1, {model='m', body='x', headers={}}) end,"
                   "  \"unknown field 'headers'\")\n"
                   "raises(function() c:put(K1, {model='m', body='x', prompt_tokens=1.5}) end,"
                   "  'integer')\n"
                   "raises(function() c:put(K1, {model='m', body='x', prompt_tokens=-1}) end,"
                   "  'negative')\n"
                   "raises(function() cache.open(PATH, 'ro') end, 'table expected')\n"
                   "assert(cache.valid_key(K1) and not cache.valid_key(K1:upper())"
                   "  and not cache.valid_key(1))\n"));
  /* Read-only: reads work, writes raise; close makes it unusable. */
  CHECK(run_lua(L, "local r = assert(cache.open(PATH, {readonly=true}))\n"
                   "assert(tostring(r):find('read-only', 1, true))\n"
                   "assert(r:get(K2) == '{}')\n"
                   "local ok, e = pcall(r.put, r, string.rep('d', 64), {model='m', body='x'})\n"
                   "assert(not ok and e:find('read-only', 1, true))\n"
                   "r:close(); r:close()\n"
                   "ok, e = pcall(r.get, r, K1)\n"
                   "assert(not ok and e:find('closed cache'))\n"
                   "do local t <close> = assert(cache.open(PATH, {readonly=true})); end\n"
                   "local n, msg = cache.open(PATH .. '.missing', {readonly=true})\n"
                   "assert(n == nil and msg:find('missing'))\n"
                   "c:close()\n"));
  lua_close(L);
}

int main(void)
{
  snprintf(dir, sizeof dir, "/tmp/lacuna_cache_XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_basic();
  test_schema();
  test_two_connections();
  test_lua();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return CHECK_DONE();
}
