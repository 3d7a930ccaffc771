/* sql — plain SQLite statements for lacuna's own bookkeeping beside the
 * response cache (the Batch API's jobs and requests, lua/lacuna/batch_store.lua).
 * The cache itself keeps its prepared hot path in core/cache.c; this is the
 * raw primitive for the few, small, rarely run statements of the batch
 * commands, with parameters bound (never spliced into the text).
 *
 * The connection uses WAL and a busy timeout like the cache, so a batch
 * command and a run may share one database file. */
#include <lauxlib.h>
#include <sqlite3.h>
#include <string.h>

#include "areas.h"

#define SQL_MT "lacuna.Sql"
#define BUSY_TIMEOUT_MS 10000

typedef struct {
  sqlite3 *db;
} LSql;

static LSql *check_sql(lua_State *L, int idx) { return (LSql *)luaL_checkudata(L, idx, SQL_MT); }

static sqlite3 *check_open(lua_State *L, int idx) {
  LSql *u = check_sql(L, idx);
  if (!u->db) luaL_error(L, "sql database is closed");
  return u->db;
}

static int push_fail(lua_State *L, sqlite3 *db) {
  lua_pushnil(L);
  lua_pushstring(L, sqlite3_errmsg(db));
  return 2;
}

/* sql.open(path) -> db | nil, message (read-write, WAL, the file must exist) */
static int l_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  LSql *u = (LSql *)lua_newuserdatauv(L, sizeof *u, 0);
  u->db = NULL;
  luaL_setmetatable(L, SQL_MT);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return 2;
  }
  sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return 2;
  }
  u->db = db;
  return 1;
}

/* Binds the Lua values from index first to the end of the stack to st's
 * parameters ?1, ?2, ...: nil, integers, floats, strings, booleans (0/1). */
static void bind_all(lua_State *L, sqlite3_stmt *st, int first) {
  int top = lua_gettop(L);
  for (int i = first; i <= top; i++) {
    int p = i - first + 1;
    switch (lua_type(L, i)) {
      case LUA_TNIL: sqlite3_bind_null(st, p); break;
      case LUA_TBOOLEAN: sqlite3_bind_int(st, p, lua_toboolean(L, i)); break;
      case LUA_TNUMBER:
        if (lua_isinteger(L, i))
          sqlite3_bind_int64(st, p, (sqlite3_int64)lua_tointeger(L, i));
        else
          sqlite3_bind_double(st, p, lua_tonumber(L, i));
        break;
      case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, i, &n);
        sqlite3_bind_text(st, p, s, (int)n, SQLITE_TRANSIENT);
        break;
      }
      default:
        sqlite3_finalize(st);
        luaL_error(L, "sql: parameter %d is a %s (nil, number, string or boolean expected)", p,
                   luaL_typename(L, i));
    }
  }
}

static void push_column(lua_State *L, sqlite3_stmt *st, int col) {
  switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER: lua_pushinteger(L, (lua_Integer)sqlite3_column_int64(st, col)); break;
    case SQLITE_FLOAT: lua_pushnumber(L, sqlite3_column_double(st, col)); break;
    case SQLITE_NULL: lua_pushnil(L); break;
    default:
      lua_pushlstring(L, (const char *)sqlite3_column_text(st, col), (size_t)sqlite3_column_bytes(st, col));
  }
}

/* db:rows(sql, ...) -> {{col = value, ...}, ...} | nil, message. One
 * statement; its rows as tables keyed by column name (NULL columns absent). */
static int db_rows(lua_State *L) {
  sqlite3 *db = check_open(L, 1);
  const char *sql = luaL_checkstring(L, 2);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return push_fail(L, db);
  bind_all(L, st, 3);
  lua_newtable(L);
  int ncol = sqlite3_column_count(st), rc;
  lua_Integer n = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    lua_createtable(L, 0, ncol);
    for (int c = 0; c < ncol; c++) {
      push_column(L, st, c);
      lua_setfield(L, -2, sqlite3_column_name(st, c));
    }
    lua_rawseti(L, -2, ++n);
  }
  if (rc != SQLITE_DONE) {
    sqlite3_finalize(st);
    return push_fail(L, db);
  }
  sqlite3_finalize(st);
  return 1;
}

/* db:exec(sql, ...) -> changes | nil, message. With parameters: one
 * statement; without: any number of them (a script, BEGIN/COMMIT). */
static int db_exec(lua_State *L) {
  sqlite3 *db = check_open(L, 1);
  const char *sql = luaL_checkstring(L, 2);
  if (lua_gettop(L) == 2) {
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) return push_fail(L, db);
    lua_pushinteger(L, sqlite3_changes(db));
    return 1;
  }
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return push_fail(L, db);
  bind_all(L, st, 3);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {}
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return push_fail(L, db);
  lua_pushinteger(L, sqlite3_changes(db));
  return 1;
}

static int db_close(lua_State *L) {
  LSql *u = check_sql(L, 1);
  if (u->db) {
    /* an open transaction (a failed step left it) is rolled back */
    if (!sqlite3_get_autocommit(u->db)) sqlite3_exec(u->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close_v2(u->db);
  }
  u->db = NULL;
  return 0;
}

static int db_tostring(lua_State *L) {
  LSql *u = check_sql(L, 1);
  lua_pushstring(L, u->db ? "lacuna.Sql" : "lacuna.Sql (closed)");
  return 1;
}

static const luaL_Reg sql_methods[] = {
    {"rows", db_rows},
    {"exec", db_exec},
    {"close", db_close},
    {NULL, NULL},
};

static const luaL_Reg sql_meta[] = {
    {"__gc", db_close}, {"__close", db_close}, {"__tostring", db_tostring}, {"__index", NULL}, {NULL, NULL},
};

static const luaL_Reg sql_funcs[] = {
    {"open", l_open},
    {NULL, NULL},
};

int lacuna_open_sql(lua_State *L) {
  if (luaL_newmetatable(L, SQL_MT)) {
    luaL_setfuncs(L, sql_meta, 0);
    luaL_newlib(L, sql_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, sql_funcs);
  return 1;
}
