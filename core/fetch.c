/* A blocking HTTP(S) GET for `lacuna run URL#sha256=...`: one easy handle, the
 * body in memory up to a size cap. It runs before any recipe does, so it
 * needs neither the scheduler nor the teacher's multi handle (core/http.c).
 * Whether the bytes may be used (the pin) is decided in lua/lacuna/fetch.lua. */
#include <curl/curl.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "areas.h"
#include "sys.h"

#define DEFAULT_MAX_BYTES ((size_t)64 << 20)

typedef struct {
  char *data;
  size_t len, cap, max;
  int too_big;
} body_buffer;

/* Curl's write callback: appends bytes, nothing else (no Lua here). */
static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
  body_buffer *b = userdata;
  size_t n = size * nmemb;
  if (b->len + n > b->max) {
    b->too_big = 1;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < b->len + n) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return 0;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  return n;
}

/* Curl's progress callback: a Ctrl-C (once lacuna catches signals) stops the
 * download instead of waiting out the timeout. */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  (void)userdata, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  return lacuna_sys_interrupted() ? 1 : 0;
}

/* get(url [, {timeout = seconds, max_bytes = n}]) -> body | nil, message */
static int l_get(lua_State *L) {
  const char *url = luaL_checkstring(L, 1);
  double timeout = 60;
  lua_Integer max_bytes = (lua_Integer)DEFAULT_MAX_BYTES;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    if (lua_getfield(L, 2, "timeout") != LUA_TNIL) timeout = luaL_checknumber(L, -1);
    if (lua_getfield(L, 2, "max_bytes") != LUA_TNIL) max_bytes = luaL_checkinteger(L, -1);
    lua_pop(L, 2);
  }
  luaL_argcheck(L, timeout > 0, 2, "timeout must be > 0");
  luaL_argcheck(L, max_bytes > 0, 2, "max_bytes must be > 0");

  /* libcurl counts its global setup: this pairs with the cleanup below and
   * leaves any other holder's (core/http.c) intact. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    lua_pushnil(L);
    lua_pushliteral(L, "libcurl could not be initialised");
    return 2;
  }
  CURL *easy = curl_easy_init();
  if (!easy) {
    curl_global_cleanup();
    lua_pushnil(L);
    lua_pushliteral(L, "libcurl could not create a handle");
    return 2;
  }
  body_buffer b = {NULL, 0, 0, (size_t)max_bytes, 0};
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(easy, CURLOPT_URL, url);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "lacuna/" LACUNA_VERSION_STRING);
  CURLcode rc = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(easy);
  curl_global_cleanup();

  if (b.too_big) {
    free(b.data);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: larger than %I bytes", url, max_bytes);
    return 2;
  }
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    free(b.data);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: interrupted", url);
    return 2;
  }
  if (rc != CURLE_OK) {
    free(b.data);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return 2;
  }
  if (status != 200) {
    free(b.data);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: HTTP %d", url, (int)status);
    return 2;
  }
  lua_pushlstring(L, b.data ? b.data : "", b.len);
  free(b.data);
  return 1;
}

static const luaL_Reg fetch_funcs[] = {{"get", l_get}, {NULL, NULL}};

int lacuna_open_fetch(lua_State *L) {
  luaL_newlib(L, fetch_funcs);
  return 1;
}
