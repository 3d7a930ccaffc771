/* cache — the teacher's response cache on SQLite (DESIGN §3.1 "cache").
 *
 * One row per key (the teacher's SHA-256 of the canonical request and sample
 * index). WAL lets several processes share one file: readers never block the
 * writer, writers wait for each other through busy_timeout. Every put is its
 * own transaction, so a response the teacher has handed to a recipe is on
 * disk before the recipe sees it; with synchronous=NORMAL a WAL commit
 * survives a killed process (only a power loss may undo the last commits).
 * Statements on the hot path are prepared once and reused.
 *
 * The schema has no column for an API key or headers: the cache stores only
 * what lacuna_cache_put is given. */
#include "cache.h"

#include <errno.h>
#include <lauxlib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "areas.h"
#include "json.h"
#include "sha256.h"

#define CACHE_MT "lacuna.Cache"
/* request_key's buffer is freed after a request larger than this, so one
 * huge request does not keep its size for the rest of the run. */
#define KEYBUF_KEEP_BYTES (1 << 20)
#define BUSY_TIMEOUT_MS 10000
/* The first 256 MiB of the file are read through a memory map (see setup). */
#define MMAP_BYTES "268435456"

struct lacuna_cache {
  sqlite3 *db;
  sqlite3_stmt *get, *has, *put;
  sqlite3_stmt *begin, *commit; /* the lookups' shared read transaction */
  sqlite3_stmt *data_version;   /* PRAGMA data_version: others' commits */
  int reading;                  /* a read transaction of lookups is open */
  double read_since;            /* when it began (monotonic seconds) */
  double quiet_check;           /* when others' commits are next looked for */
  long long seen_version;       /* data_version then; -1 before the first look */
  int others_write;             /* another connection committed lately */
  sqlite3_stmt *each;           /* the running c:each(), finalized by close */
  int readonly;
  int iterating;
  long long schema;
  int busy; /* the last error was SQLITE_BUSY/LOCKED: another connection held a lock */
  char *path;
  char err[512];
};

static const char SCHEMA_SQL[] = "CREATE TABLE IF NOT EXISTS meta("
                                 " key TEXT PRIMARY KEY,"
                                 " value TEXT NOT NULL);"
                                 "CREATE TABLE IF NOT EXISTS responses("
                                 " key TEXT PRIMARY KEY," /* 64 hex digits */
                                 " model TEXT NOT NULL,"
                                 " request TEXT,"       /* canonical request JSON, optional */
                                 " body TEXT NOT NULL," /* the chat completion JSON as received */
                                 " prompt_tokens INTEGER NOT NULL DEFAULT 0,"
                                 " completion_tokens INTEGER NOT NULL DEFAULT 0,"
                                 " created INTEGER NOT NULL);" /* unix seconds */
                                 "INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '1');";

/* ------------------------------------------------------------- C API */

int lacuna_cache_valid_key(const char *s, size_t len) {
  if (!s || len != 64) return 0;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

static int set_sqlite_error(lacuna_cache *c, const char *what) {
  int code = sqlite3_errcode(c->db) & 0xff;
  c->busy = code == SQLITE_BUSY || code == SQLITE_LOCKED;
  snprintf(c->err, sizeof c->err, "%s: %s: %s", c->path, what, sqlite3_errmsg(c->db));
  return -1;
}

const char *lacuna_cache_error(lacuna_cache *c) { return c ? c->err : "no cache"; }

/* mkdir -p of the directory part of path. */
static int make_parent_dirs(const char *path, char *err, size_t errlen) {
  char *dir = strdup(path);
  if (!dir) {
    snprintf(err, errlen, "%s: out of memory", path);
    return 0;
  }
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) {
    free(dir);
    return 1;
  }
  *slash = '\0';
  for (char *p = dir + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char saved = *p;
    *p = '\0';
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "%s: cannot create directory %s: %s", path, dir, strerror(errno));
      free(dir);
      return 0;
    }
    *p = saved;
    if (!saved) break;
  }
  free(dir);
  return 1;
}

static int exec(lacuna_cache *c, const char *sql, const char *what) {
  if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK) return set_sqlite_error(c, what);
  return 0;
}

/* Runs a one-row query and stores its first column as an integer in *out;
 * returns 1 row, 0 no row, -1 error. */
static int query_int(lacuna_cache *c, const char *sql, long long *out) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) return set_sqlite_error(c, "query");
  int rc = sqlite3_step(st), res;
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    res = 1;
  } else if (rc == SQLITE_DONE) {
    res = 0;
  } else {
    res = set_sqlite_error(c, "query");
  }
  sqlite3_finalize(st);
  return res;
}

/* Creates the tables (in a write transaction, so concurrent first opens do
 * not race), refusing a database that holds something else. */
static int create_schema(lacuna_cache *c) {
  if (exec(c, "BEGIN IMMEDIATE", "begin") < 0) return -1;
  long long all = 0, meta = 0;
  if (query_int(c, "SELECT count(*) FROM sqlite_master", &all) < 0 ||
      query_int(c, "SELECT count(*) FROM sqlite_master WHERE name = 'meta'", &meta) < 0)
    goto fail;
  if (all > 0 && meta == 0) {
    snprintf(c->err, sizeof c->err, "%s: not a lacuna cache (a SQLite database without a meta table)",
             c->path);
    goto fail;
  }
  if (exec(c, SCHEMA_SQL, "create schema") < 0 || exec(c, "COMMIT", "commit") < 0) goto fail;
  return 0;
fail:
  sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
  return -1;
}

static int check_schema(lacuna_cache *c) {
  long long tables = 0;
  if (query_int(c, "SELECT count(*) FROM sqlite_master WHERE name IN ('meta', 'responses')", &tables) < 0)
    return -1;
  if (tables != 2) {
    snprintf(c->err, sizeof c->err, "%s: not a lacuna cache (no meta/responses tables)", c->path);
    return -1;
  }
  int r = query_int(c, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema'", &c->schema);
  if (r < 0) return -1;
  if (r == 0 || c->schema < 1) {
    snprintf(c->err, sizeof c->err, "%s: not a lacuna cache (no schema version)", c->path);
    return -1;
  }
  if (c->schema > LACUNA_CACHE_SCHEMA) {
    snprintf(c->err, sizeof c->err, "%s: cache schema %lld is newer than this lacuna understands (%d)",
             c->path, c->schema, LACUNA_CACHE_SCHEMA);
    return -1;
  }
  return 0;
}

static int prepare(lacuna_cache *c, const char *sql, sqlite3_stmt **st) {
  if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
    return set_sqlite_error(c, "prepare");
  return 0;
}

static int setup(lacuna_cache *c, int readonly) {
  int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(c->path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
    return c->db ? set_sqlite_error(c, "open")
                 : (snprintf(c->err, sizeof c->err, "%s: out of memory", c->path), -1);
  sqlite3_extended_result_codes(c->db, 1);
  sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
  if (!readonly) {
    /* journal_mode answers with the mode in force; anything but "wal" (e.g.
     * a file system without shared memory) would break sharing. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK)
      return set_sqlite_error(c, "journal_mode");
    int rc = sqlite3_step(st);
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int wal = mode && strcmp(mode, "wal") == 0;
    if (rc != SQLITE_ROW) {
      set_sqlite_error(c, "journal_mode");
    } else if (!wal) {
      snprintf(c->err, sizeof c->err, "%s: cannot switch to WAL (journal_mode is %s)", c->path,
               mode ? mode : "?");
    }
    sqlite3_finalize(st);
    if (!wal) return -1;
    if (exec(c, "PRAGMA synchronous=NORMAL", "synchronous") < 0 || create_schema(c) < 0) return -1;
  }
  /* Pages are read through a memory map rather than read() into SQLite's
   * own page cache: no system call and no copy per page a lookup visits.
   * The pages a run has read count in its RSS, up to MMAP_BYTES; they are
   * the kernel's page cache, shared by every process reading the file
   * (--jobs), and given back under memory pressure. */
  if (exec(c, "PRAGMA mmap_size=" MMAP_BYTES, "mmap_size") < 0) return -1;
  if (check_schema(c) < 0) return -1;
  c->seen_version = -1;
  if (prepare(c, "BEGIN", &c->begin) < 0 || prepare(c, "COMMIT", &c->commit) < 0 ||
      prepare(c, "PRAGMA data_version", &c->data_version) < 0 ||
      prepare(c, "SELECT body FROM responses WHERE key = ?1", &c->get) < 0 ||
      prepare(c, "SELECT 1 FROM responses WHERE key = ?1", &c->has) < 0)
    return -1;
  if (!readonly && prepare(c,
                           "INSERT OR IGNORE INTO responses(key, model, request, body, prompt_tokens,"
                           " completion_tokens, created) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           &c->put) < 0)
    return -1;
  return 0;
}

/* Lookups share one read transaction instead of one implicit transaction
 * each: in WAL mode every transaction takes and drops a read lock on the
 * -shm file and checks the database's size (three system calls), which was
 * most of a hit's cost. Rows are never changed once written (a put keeps the
 * first value), so a hit from a slightly older snapshot is the same hit; a
 * miss ends the transaction and, when the snapshot is older than this
 * lookup, looks again outside it, so a row written since (by this process's
 * other connections or another process) is never missed. The transaction
 * ends before a put, before stats and each, at close, and once it is
 * READ_SNAPSHOT_MAX_S old, so a writer elsewhere is never kept from
 * checkpointing the WAL for long. A writer also needs a moment with no
 * reader holding an old snapshot to start the WAL over (else it grows, as
 * SQLite's checkpoint-starvation tests show with back-to-back readers): while
 * another connection commits (PRAGMA data_version moved in the last
 * READ_SNAPSHOT_MAX_S), lookups take no snapshot, each its own transaction. */
#define READ_SNAPSHOT_MAX_S 0.05

static double monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void end_read(lacuna_cache *c) {
  if (!c->reading) return;
  c->reading = 0;
  int rc = sqlite3_step(c->commit);
  sqlite3_reset(c->commit);
  /* A read transaction cannot fail to end; if it did, roll back. */
  if (rc != SQLITE_DONE && !sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Whether another connection committed since the last look, looked at
 * most every READ_SNAPSHOT_MAX_S (outside any transaction of ours). */
static int others_writing(lacuna_cache *c, double now) {
  if (now < c->quiet_check) return c->others_write;
  c->quiet_check = now + READ_SNAPSHOT_MAX_S;
  long long v = -1;
  if (sqlite3_step(c->data_version) == SQLITE_ROW) v = sqlite3_column_int64(c->data_version, 0);
  sqlite3_reset(c->data_version);
  c->others_write = v < 0 || (c->seen_version >= 0 && v != c->seen_version);
  c->seen_version = v;
  return c->others_write;
}

/* 1 if a read transaction was begun; 0: the lookup runs on its own. */
static int begin_read(lacuna_cache *c, double now) {
  if (c->iterating || !sqlite3_get_autocommit(c->db) || others_writing(c, now)) return 0;
  int rc = sqlite3_step(c->begin);
  sqlite3_reset(c->begin);
  if (rc != SQLITE_DONE) return 0;
  c->reading = 1;
  c->read_since = now;
  return 1;
}

/* Closes the connection and its statements, keeping c itself. */
static void close_db(lacuna_cache *c) {
  end_read(c);
  sqlite3_finalize(c->begin);
  sqlite3_finalize(c->commit);
  sqlite3_finalize(c->data_version);
  sqlite3_finalize(c->get);
  sqlite3_finalize(c->has);
  sqlite3_finalize(c->put);
  sqlite3_finalize(c->each);
  c->get = c->has = c->put = c->each = c->begin = c->commit = c->data_version = NULL;
  sqlite3_close(c->db); /* the last connection checkpoints and removes the WAL */
  c->db = NULL;
}

lacuna_cache *lacuna_cache_open(const char *path, int readonly, char *err, size_t errlen) {
  if (!path || !*path) {
    snprintf(err, errlen, "cache path is empty");
    return NULL;
  }
  if (readonly) {
    struct stat st;
    if (stat(path, &st) != 0) {
      snprintf(err, errlen, "%s: %s", path, strerror(errno));
      return NULL;
    }
  } else if (!make_parent_dirs(path, err, errlen)) {
    return NULL;
  }
  lacuna_cache *c = (lacuna_cache *)calloc(1, sizeof *c);
  if (!c || !(c->path = strdup(path))) {
    free(c);
    snprintf(err, errlen, "%s: out of memory", path);
    return NULL;
  }
  c->readonly = readonly;
  /* Processes opening a new cache at once race for the switch to WAL and
   * the schema; SQLite answers some of those lock conflicts with SQLITE_BUSY
   * at once, without calling the busy handler (to avoid a deadlock). Start
   * again after a short randomized pause, up to the busy timeout. */
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  unsigned seed = (unsigned)start.tv_nsec ^ (unsigned)getpid();
  for (;;) {
    c->busy = 0;
    if (setup(c, readonly) == 0) return c;
    close_db(c);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double waited_ms =
        (double)(now.tv_sec - start.tv_sec) * 1e3 + (double)(now.tv_nsec - start.tv_nsec) / 1e6;
    if (!c->busy || waited_ms > BUSY_TIMEOUT_MS) break;
    seed = seed * 1103515245u + 12345u;
    struct timespec pause = {0, (long)(1 + (seed >> 16) % 20) * 1000000L};
    nanosleep(&pause, NULL);
  }
  snprintf(err, errlen, "%s", c->err);
  lacuna_cache_close(c);
  return NULL;
}

void lacuna_cache_close(lacuna_cache *c) {
  if (!c) return;
  close_db(c);
  free(c->path);
  free(c);
}

/* Binds key to st's ?1 and steps once: 1 row, 0 none, -1 error. */
static int step_key(lacuna_cache *c, sqlite3_stmt *st, const char *key) {
  sqlite3_bind_text(st, 1, key, 64, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) return 1;
  if (rc == SQLITE_DONE) return 0;
  return set_sqlite_error(c, "get");
}

/* Looks key (64 hex digits, checked by the caller) up with st (see above):
 * 1 row, 0 none, -1 error. The caller reads the row and resets st. */
static int lookup(lacuna_cache *c, sqlite3_stmt *st, const char *key) {
  double now = monotonic_seconds();
  if (c->reading && now - c->read_since > READ_SNAPSHOT_MAX_S) end_read(c);
  int older = c->reading;
  if (!c->reading) begin_read(c, now);
  int r = step_key(c, st, key);
  if (r == 1) return 1;
  sqlite3_reset(st);
  end_read(c);
  if (r == 0 && older) r = step_key(c, st, key);
  return r;
}

int lacuna_cache_get(lacuna_cache *c, const char *key, char **body, size_t *len) {
  *body = NULL;
  *len = 0;
  if (!lacuna_cache_valid_key(key, key ? strlen(key) : 0)) {
    snprintf(c->err, sizeof c->err, "invalid cache key (want 64 lowercase hex digits)");
    return -1;
  }
  int r = lookup(c, c->get, key);
  if (r == 1) {
    const char *p = (const char *)sqlite3_column_text(c->get, 0);
    size_t n = (size_t)sqlite3_column_bytes(c->get, 0);
    char *copy = (char *)malloc(n + 1);
    if (!copy) {
      snprintf(c->err, sizeof c->err, "out of memory");
      r = -1;
    } else {
      if (n) memcpy(copy, p, n);
      copy[n] = '\0';
      *body = copy;
      *len = n;
    }
  }
  sqlite3_reset(c->get);
  return r;
}

/* The put behind both APIs: 1 inserted, 0 already present, -1 error. */
static int put_row(lacuna_cache *c, const char *key, const char *model, const char *request,
                   size_t request_len, const char *body, size_t body_len, long long prompt_tokens,
                   long long completion_tokens) {
  if (c->readonly) {
    snprintf(c->err, sizeof c->err, "%s: cache is open read-only", c->path);
    return -1;
  }
  if (!lacuna_cache_valid_key(key, key ? strlen(key) : 0)) {
    snprintf(c->err, sizeof c->err, "invalid cache key (want 64 lowercase hex digits)");
    return -1;
  }
  if (!model || !body || prompt_tokens < 0 || completion_tokens < 0) {
    snprintf(c->err, sizeof c->err, "put: %s",
             !model  ? "model missing"
             : !body ? "body missing"
                     : "negative token count");
    return -1;
  }
  end_read(c); /* the put is its own transaction, committed before it returns */
  sqlite3_stmt *st = c->put;
  sqlite3_bind_text(st, 1, key, 64, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
  if (request)
    sqlite3_bind_text64(st, 3, request, request_len, SQLITE_STATIC, SQLITE_UTF8);
  else
    sqlite3_bind_null(st, 3);
  sqlite3_bind_text64(st, 4, body, body_len, SQLITE_STATIC, SQLITE_UTF8);
  sqlite3_bind_int64(st, 5, prompt_tokens);
  sqlite3_bind_int64(st, 6, completion_tokens);
  sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
  int rc = sqlite3_step(st), r;
  if (rc == SQLITE_DONE)
    r = sqlite3_changes(c->db) > 0;
  else
    r = set_sqlite_error(c, "put");
  sqlite3_reset(st);
  sqlite3_clear_bindings(st); /* the bound strings are the caller's */
  return r;
}

int lacuna_cache_put(lacuna_cache *c, const char *key, const char *model, const char *request_json,
                     const char *body, size_t body_len, long long prompt_tokens,
                     long long completion_tokens) {
  int r = put_row(c, key, model, request_json, request_json ? strlen(request_json) : 0, body, body_len,
                  prompt_tokens, completion_tokens);
  return r < 0 ? -1 : 0;
}

/* ------------------------------------------------------------- Lua */

typedef struct LCache {
  lacuna_cache *c; /* NULL: closed */
} LCache;

static LCache *check_cache(lua_State *L, int idx) { return (LCache *)luaL_checkudata(L, idx, CACHE_MT); }

static lacuna_cache *check_open(lua_State *L, int idx) {
  LCache *u = check_cache(L, idx);
  if (!u->c) luaL_error(L, "attempt to use a closed cache");
  return u->c;
}

static const char *check_key(lua_State *L, int arg) {
  size_t n;
  const char *k = luaL_checklstring(L, arg, &n);
  luaL_argcheck(L, lacuna_cache_valid_key(k, n), arg, "cache key must be 64 lowercase hex digits");
  return k;
}

static int push_fail(lua_State *L, const char *msg) {
  lua_pushnil(L);
  lua_pushstring(L, msg);
  return 2;
}

/* cache.open(path [, {readonly=bool}]) -> Cache | nil, message */
static int l_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int readonly = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "readonly");
    readonly = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  LCache *u = (LCache *)lua_newuserdatauv(L, sizeof *u, 0);
  u->c = NULL; /* closed until the database is open */
  luaL_setmetatable(L, CACHE_MT);
  char err[512];
  u->c = lacuna_cache_open(path, readonly, err, sizeof err);
  if (!u->c) return push_fail(L, err);
  return 1;
}

/* c:get(key) -> body | nil (miss) | nil, message */
static int c_get(lua_State *L) {
  lacuna_cache *c = check_open(L, 1);
  const char *key = check_key(L, 2);
  int r = lookup(c, c->get, key);
  if (r == 1) /* pushed straight from SQLite's row: no extra copy */
    lua_pushlstring(L, (const char *)sqlite3_column_text(c->get, 0), (size_t)sqlite3_column_bytes(c->get, 0));
  sqlite3_reset(c->get);
  if (r < 0) return push_fail(L, c->err);
  if (r == 0) lua_pushnil(L);
  return 1;
}

/* c:has(key) -> boolean | nil, message */
static int c_has(lua_State *L) {
  lacuna_cache *c = check_open(L, 1);
  const char *key = check_key(L, 2);
  int r = lookup(c, c->has, key);
  sqlite3_reset(c->has);
  if (r < 0) return push_fail(L, c->err);
  lua_pushboolean(L, r);
  return 1;
}

static lua_Integer opt_count(lua_State *L, const char *field) {
  lua_Integer v = 0;
  if (lua_getfield(L, 3, field) != LUA_TNIL) {
    if (!lua_isinteger(L, -1)) luaL_error(L, "put: '%s' must be an integer", field);
    v = lua_tointeger(L, -1);
    if (v < 0) luaL_error(L, "put: '%s' must not be negative", field);
  }
  lua_pop(L, 1);
  return v;
}

/* c:put(key, {model=, body=, request=, prompt_tokens=, completion_tokens=})
 * -> true, inserted | nil, message. inserted is false when the key was
 * already there (the first value is kept). Unknown fields are refused, so
 * nothing else (an API key, headers) can slip into the file. */
static int c_put(lua_State *L) {
  lacuna_cache *c = check_open(L, 1);
  const char *key = check_key(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  if (c->readonly) return luaL_error(L, "put: cache %s is open read-only", c->path);
  static const char *const known[] = {"model", "body", "request", "prompt_tokens", "completion_tokens", NULL};
  lua_pushnil(L);
  while (lua_next(L, 3)) {
    lua_pop(L, 1);
    int ok = 0;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (int i = 0; known[i] && !ok; i++) ok = strcmp(lua_tostring(L, -1), known[i]) == 0;
    if (!ok) return luaL_error(L, "put: unknown field '%s'", luaL_tolstring(L, -1, NULL));
  }
  lua_getfield(L, 3, "model");
  lua_getfield(L, 3, "body");
  lua_getfield(L, 3, "request");
  if (lua_type(L, 4) != LUA_TSTRING || lua_rawlen(L, 4) == 0)
    return luaL_error(L, "put: 'model' must be a non-empty string");
  if (lua_type(L, 5) != LUA_TSTRING) return luaL_error(L, "put: 'body' must be a string (the response JSON)");
  if (!lua_isnil(L, 6) && lua_type(L, 6) != LUA_TSTRING)
    return luaL_error(L, "put: 'request' must be a string (the request JSON) or nil");
  lua_Integer pt = opt_count(L, "prompt_tokens");
  lua_Integer ct = opt_count(L, "completion_tokens");
  size_t blen, rlen = 0;
  const char *body = lua_tolstring(L, 5, &blen);
  const char *req = lua_isnil(L, 6) ? NULL : lua_tolstring(L, 6, &rlen);
  int r = put_row(c, key, lua_tostring(L, 4), req, rlen, body, blen, (long long)pt, (long long)ct);
  if (r < 0) return push_fail(L, c->err);
  lua_pushboolean(L, 1);
  lua_pushboolean(L, r);
  return 2;
}

/* c:stats() -> {entries=, bytes=, file_bytes=, models={[m]={entries=,
 * prompt_tokens=, completion_tokens=}}, path=, schema=} | nil, message */
static int c_stats(lua_State *L) {
  lacuna_cache *c = check_open(L, 1);
  end_read(c); /* the counts as of now */
  sqlite3_stmt *st;
  lua_newtable(L);
  lua_pushstring(L, c->path);
  lua_setfield(L, -2, "path");
  lua_pushinteger(L, (lua_Integer)c->schema);
  lua_setfield(L, -2, "schema");
  long long pages = 0, page_size = 0;
  if (query_int(c, "PRAGMA page_count", &pages) < 0 || query_int(c, "PRAGMA page_size", &page_size) < 0)
    return push_fail(L, c->err);
  lua_pushinteger(L, (lua_Integer)(pages * page_size));
  lua_setfield(L, -2, "file_bytes");

  if (sqlite3_prepare_v2(c->db,
                         "SELECT model, count(*), total(length(CAST(body AS BLOB))),"
                         " sum(prompt_tokens), sum(completion_tokens)"
                         " FROM responses GROUP BY model ORDER BY model",
                         -1, &st, NULL) != SQLITE_OK)
    return push_fail(L, (set_sqlite_error(c, "stats"), c->err));
  lua_Integer entries = 0, bytes = 0;
  lua_newtable(L);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    entries += sqlite3_column_int64(st, 1);
    bytes += (lua_Integer)sqlite3_column_double(st, 2);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, sqlite3_column_int64(st, 1));
    lua_setfield(L, -2, "entries");
    lua_pushinteger(L, sqlite3_column_int64(st, 3));
    lua_setfield(L, -2, "prompt_tokens");
    lua_pushinteger(L, sqlite3_column_int64(st, 4));
    lua_setfield(L, -2, "completion_tokens");
    lua_setfield(L, -2, (const char *)sqlite3_column_text(st, 0));
  }
  if (rc != SQLITE_DONE) {
    set_sqlite_error(c, "stats");
    sqlite3_finalize(st);
    return push_fail(L, c->err);
  }
  sqlite3_finalize(st);
  lua_setfield(L, -2, "models");
  lua_pushinteger(L, entries);
  lua_setfield(L, -2, "entries");
  lua_pushinteger(L, bytes);
  lua_setfield(L, -2, "bytes");
  return 1;
}

static void push_row(lua_State *L, sqlite3_stmt *st) {
  static const char *const cols[] = {"key", "model", "request", "body"};
  lua_createtable(L, 0, 7);
  for (int i = 0; i < 4; i++) {
    if (sqlite3_column_type(st, i) == SQLITE_NULL) continue; /* a missing request stays nil */
    lua_pushlstring(L, (const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
    lua_setfield(L, -2, cols[i]);
  }
  lua_pushinteger(L, sqlite3_column_int64(st, 4));
  lua_setfield(L, -2, "prompt_tokens");
  lua_pushinteger(L, sqlite3_column_int64(st, 5));
  lua_setfield(L, -2, "completion_tokens");
  lua_pushinteger(L, sqlite3_column_int64(st, 6));
  lua_setfield(L, -2, "created");
}

/* The loop of c:each, run under lua_pcall so that c_each can always reset
 * the statement (ending its read transaction) and clear the flag. */
static int each_loop(lua_State *L) {
  lacuna_cache *c = (lacuna_cache *)lua_touserdata(L, 1);
  lua_Integer n = 0;
  int rc;
  while ((rc = sqlite3_step(c->each)) == SQLITE_ROW) {
    n++;
    lua_pushvalue(L, 2);
    push_row(L, c->each);
    lua_call(L, 1, 1);
    int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (stop) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    set_sqlite_error(c, "each");
    lua_pushnil(L);
    lua_pushstring(L, c->err);
    return 2;
  }
  lua_pushinteger(L, n);
  return 1;
}

/* c:each(fn) -> rows visited | nil, message. fn(row) gets {key=, model=,
 * request= (or nil), body=, prompt_tokens=, completion_tokens=, created=} in
 * key order; returning false stops. */
static int c_each(lua_State *L) {
  lacuna_cache *c = check_open(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (c->iterating) return luaL_error(L, "each: already iterating this cache (nested each)");
  if (!c->each && prepare(c,
                          "SELECT key, model, request, body, prompt_tokens, completion_tokens, created"
                          " FROM responses ORDER BY key",
                          &c->each) < 0)
    return push_fail(L, c->err);
  end_read(c); /* the rows as of now */
  lua_settop(L, 2);
  lua_pushcfunction(L, each_loop);
  lua_pushlightuserdata(L, c);
  lua_pushvalue(L, 2);
  c->iterating = 1;
  int status = lua_pcall(L, 2, LUA_MULTRET, 0);
  sqlite3_reset(c->each);
  c->iterating = 0;
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - 2;
}

/* c:end_read(): ends the read transaction lookups share, if one is open
 * (see lookup). For a caller about to wait: a process that idles with a
 * snapshot open keeps other processes' writers from restarting the WAL. */
static int c_end_read(lua_State *L) {
  end_read(check_open(L, 1));
  return 0;
}

static int c_close(lua_State *L) {
  LCache *u = check_cache(L, 1);
  if (u->c && u->c->iterating) return luaL_error(L, "close: cannot close a cache inside its own each()");
  lacuna_cache_close(u->c);
  u->c = NULL;
  return 0;
}

static int c_gc(lua_State *L) {
  LCache *u = check_cache(L, 1);
  lacuna_cache_close(u->c);
  u->c = NULL;
  return 0;
}

static int c_tostring(lua_State *L) {
  LCache *u = check_cache(L, 1);
  if (!u->c)
    lua_pushliteral(L, "lacuna.Cache (closed)");
  else
    lua_pushfstring(L, "lacuna.Cache (%s%s)", u->c->path, u->c->readonly ? ", read-only" : "");
  return 1;
}

static const luaL_Reg cache_methods[] = {
    {"get", c_get},   {"has", c_has},     {"put", c_put},           {"stats", c_stats},
    {"each", c_each}, {"close", c_close}, {"end_read", c_end_read}, {NULL, NULL},
};

static const luaL_Reg cache_meta[] = {
    {"__gc", c_gc},    {"__close", c_close}, {"__tostring", c_tostring},
    {"__index", NULL}, /* set to the methods below */
    {NULL, NULL},
};

/* cache.request_key(body, sample) -> key: the teacher's cache key of a
 * request, sha256(json.encode(body) .. "\n" .. sample) in lowercase hex,
 * computed without making the JSON text or the concatenation Lua strings (a
 * cache hit never needs them). Raises what json.encode raises. */
static int l_request_key(lua_State *L) {
  luaL_checkany(L, 1);
  lua_Integer sample = luaL_checkinteger(L, 2);
  /* the buffer it encodes into, reused from call to call */
  lacuna_jsonbuf *jb = lacuna_json_check_buffer(L, lua_upvalueindex(1));
  lua_settop(L, 2);
  jb->len = 0;
  lacuna_json_encode_into(L, 1, jb);
  char tail[32];
  int tn = snprintf(tail, sizeof tail, "\n" LUA_INTEGER_FMT, (LUAI_UACINT)sample);
  lacuna_sha256 h;
  lacuna_sha256_init(&h);
  lacuna_sha256_update(&h, jb->data, jb->len);
  lacuna_sha256_update(&h, tail, (size_t)tn);
  unsigned char digest[32];
  lacuna_sha256_final(&h, digest);
  char hex[65];
  lacuna_sha256_tohex(digest, hex);
  if (jb->cap > KEYBUF_KEEP_BYTES) lacuna_jsonbuf_free(jb);
  lua_pushlstring(L, hex, 64);
  return 1;
}

/* cache.valid_key(s) -> boolean */
static int l_valid_key(lua_State *L) {
  size_t n;
  const char *s = lua_tolstring(L, 1, &n);
  lua_pushboolean(L, lua_type(L, 1) == LUA_TSTRING && lacuna_cache_valid_key(s, n));
  return 1;
}

static const luaL_Reg cache_funcs[] = {
    {"open", l_open},
    {"valid_key", l_valid_key},
    {NULL, NULL},
};

int lacuna_open_cache(lua_State *L) {
  if (luaL_newmetatable(L, CACHE_MT)) {
    luaL_setfuncs(L, cache_meta, 0);
    luaL_newlib(L, cache_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, cache_funcs);
  lacuna_json_push_buffer(L);
  lua_pushcclosure(L, l_request_key, 1);
  lua_setfield(L, -2, "request_key");
  lua_pushliteral(L, LACUNA_CACHE_DEFAULT_PATH);
  lua_setfield(L, -2, "default_path");
  lua_pushinteger(L, LACUNA_CACHE_SCHEMA);
  lua_setfield(L, -2, "schema");
  return 1;
}
