/* Each C area pushes one table of raw primitives; module.c collects them into
 * the `lacuna.core` table. The friendly API lives in lua/lacuna/. */
#ifndef LACUNA_AREAS_H
#define LACUNA_AREAS_H

#include <lua.h>

int lacuna_open_json(lua_State *L);      /* core/json.c    */
int lacuna_open_jsonl(lua_State *L);     /* core/jsonl.c   */
int lacuna_open_rng(lua_State *L);       /* core/rng.c     */
int lacuna_open_hash(lua_State *L);      /* core/sha256.c  */
int lacuna_open_example(lua_State *L);   /* core/example.c */
int lacuna_open_sched(lua_State *L);     /* core/sched.c   */
int lacuna_open_sandbox(lua_State *L);   /* core/sandbox.c */
int lacuna_open_sys(lua_State *L);       /* core/sys.c     */
int lacuna_open_tokenizer(lua_State *L); /* core/tokenizer/tokenizer.c */
int lacuna_open_http(lua_State *L);      /* core/http.c    */
int lacuna_open_reply(lua_State *L);     /* core/reply.c   */
int lacuna_open_cache(lua_State *L);     /* core/cache.c   */
int lacuna_open_caller(lua_State *L);    /* core/caller.c  */
int lacuna_open_render(lua_State *L);    /* core/render.c  */
int lacuna_open_stats(lua_State *L);     /* core/stats.c   */
int lacuna_open_text(lua_State *L);      /* core/text/lua_text.c */
int lacuna_open_sql(lua_State *L);       /* core/sql.c     */
int lacuna_open_fetch(lua_State *L);     /* core/fetch.c   */
int lacuna_open_lineedit(lua_State *L);  /* core/lineedit.c */
int lacuna_open_pycase(lua_State *L);    /* core/pycase.c  */
int lacuna_open_versions(lua_State *L);  /* core/versions.c */
int lacuna_open_spawn(lua_State *L);     /* core/spawn.c   */

#endif
