/* The versions of lacuna and of the libraries it runs with, as the libraries
 * report them at run time (lacuna version, the manifest's "runtime"): a
 * dataset says which build made it. Lua gives its release from the headers
 * lacuna was built against (the running interpreter reports only 5.4). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <lauxlib.h>
#include <pcre2.h>
#include <stdio.h> /* before readline.h, which uses FILE */
#include <readline/readline.h>
#include <sqlite3.h>
#include <utf8proc.h>
#include <zlib.h>

#include "areas.h"
#include "lacuna.h"

static void set(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v ? v : "unknown");
  lua_setfield(L, -2, k);
}

/* versions() -> {lacuna=, lua=, curl=, sqlite=, pcre2=, utf8proc=, cjson=, zlib=, readline=} */
static int versions(lua_State *L) {
  char pcre2[64] = "unknown";
  if (pcre2_config(PCRE2_CONFIG_VERSION, NULL) <= (int)sizeof pcre2)
    pcre2_config(PCRE2_CONFIG_VERSION, pcre2);
  lua_createtable(L, 0, 9);
  set(L, "lacuna", lacuna_version());
  set(L, "lua", LUA_RELEASE);
  set(L, "curl", curl_version_info(CURLVERSION_NOW)->version);
  set(L, "sqlite", sqlite3_libversion());
  set(L, "pcre2", pcre2);
  set(L, "utf8proc", utf8proc_version());
  set(L, "cjson", cJSON_Version());
  set(L, "zlib", zlibVersion());
  set(L, "readline", rl_library_version);
  return 1;
}

static const luaL_Reg functions[] = {{"versions", versions}, {NULL, NULL}};

int lacuna_open_versions(lua_State *L) {
  luaL_newlib(L, functions);
  return 1;
}
