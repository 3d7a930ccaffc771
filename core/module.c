/* luaopen_lacuna: gathers the C areas into `lacuna.core`, makes the embedded Lua
 * modules loadable as `lacuna.<name>`, then returns what lua/lacuna/init.lua
 * builds on top of them. */
#include <lauxlib.h>
#include <string.h>

#include "alloc.h"
#include "areas.h"
#include "embedded.h"
#include "lacuna.h"

const char *lacuna_version(void) { return LACUNA_VERSION_STRING; }

static const struct {
  const char *name;
  lua_CFunction open;
} areas[] = {
    {"json", lacuna_open_json},
    {"jsonl", lacuna_open_jsonl},
    {"rng", lacuna_open_rng},
    {"hash", lacuna_open_hash},
    {"example", lacuna_open_example},
    {"sched", lacuna_open_sched},
    {"sandbox", lacuna_open_sandbox},
    {"sys", lacuna_open_sys},
    {"http", lacuna_open_http},
    {"reply", lacuna_open_reply},
    {"cache", lacuna_open_cache},
    {"caller", lacuna_open_caller},
    {"render", lacuna_open_render},
    {"stats", lacuna_open_stats},
    {"tokenizer", lacuna_open_tokenizer},
    {"text", lacuna_open_text},
    {"sql", lacuna_open_sql},
    {"fetch", lacuna_open_fetch},
    {"lineedit", lacuna_open_lineedit},
    {"pycase", lacuna_open_pycase},
    {"versions", lacuna_open_versions},
    {"spawn", lacuna_open_spawn},
    {NULL, NULL},
};

/* package.preload loader for an embedded module; upvalue 1 is the blob. */
static int load_embedded(lua_State *L) {
  const lacuna_blob *blob = lua_touserdata(L, lua_upvalueindex(1));
  const char *modname = luaL_checkstring(L, 1);
  /* Embedded modules are our own bytecode, compiled at build time with their
   * debug information (core/tools/lua_precompile.c): their chunk names point at
   * the source tree so tracebacks read lua/lacuna/x.lua:N. Only this loader
   * takes binary chunks; recipes and user modules load as text. */
  if (luaL_loadbufferx(L, blob->data, blob->size, blob->chunk, "b") != LUA_OK) return lua_error(L);
  lua_pushstring(L, modname);
  lua_call(L, 1, 1);
  return 1;
}

static void push_core(lua_State *L) {
  lua_newtable(L);
  for (int i = 0; areas[i].name; i++) {
    lua_pushcfunction(L, areas[i].open);
    lua_call(L, 0, 1);
    lua_setfield(L, -2, areas[i].name);
  }
  lua_pushstring(L, lacuna_version());
  lua_setfield(L, -2, "version");
  /* Shipped recipes by name, so `lacuna run chat_mask` works from anywhere. */
  lua_newtable(L);
  for (const lacuna_blob *b = lacuna_embedded_recipes; b->name; b++) {
    lua_pushlstring(L, b->data, b->size);
    lua_setfield(L, -2, b->name);
  }
  lua_setfield(L, -2, "shipped_recipes");
}

LUAMOD_API int luaopen_lacuna(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "lacuna.core") == LUA_TNIL) {
    lua_pop(L, 1);
    lacuna_alloc_adopt(L);
    push_core(L);
    lua_setfield(L, -2, "lacuna.core");
  } else {
    lua_pop(L, 1);
  }
  lua_pop(L, 1);

  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const lacuna_blob *b = lacuna_embedded_modules; b->name; b++) {
    lua_pushlightuserdata(L, (void *)b);
    lua_pushcclosure(L, load_embedded, 1);
    lua_setfield(L, -2, b->name);
  }
  lua_pop(L, 1);

  lua_getglobal(L, "require");
  lua_pushliteral(L, "lacuna.init");
  lua_call(L, 1, 1);
  return 1;
}
