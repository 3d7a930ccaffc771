/* The teacher cache for other C areas (core/cache.c): SQLite in WAL mode,
 * shared safely by several processes. A key is the 64-hex-digit SHA-256 the
 * teacher computes over the canonical request plus a sample index; the value
 * is the response body as received, the model and the token counts. There is
 * no place for an API key or any header: only what is passed below is stored.
 */
#ifndef LACUNA_CACHE_H
#define LACUNA_CACHE_H

#include <stddef.h>

/* Where the CLI keeps the cache when --cache is not given. */
#define LACUNA_CACHE_DEFAULT_PATH ".lacuna/cache.db"
/* The newest schema version this code reads (meta table, key "schema"): 1
 * (responses), 2 (and the Batch API tables, lua/lacuna/batch_store.lua). */
#define LACUNA_CACHE_SCHEMA 2

typedef struct lacuna_cache lacuna_cache;

/* Opens (read-write: creates the file and its parent directories) or opens
 * read-only an existing cache. Returns NULL with a message in err on failure. */
lacuna_cache *lacuna_cache_open(const char *path, int readonly, char *err, size_t errlen);
void lacuna_cache_close(lacuna_cache *c);

/* 1: hit, *body is a malloc'd NUL-terminated copy (the caller frees it) and
 * *len its length; 0: miss; -1: error (see lacuna_cache_error). Lookups
 * share a read transaction (at most 50 ms old, ended by a miss or a put, none
 * while another connection writes): a miss is always checked against what
 * is committed now. */
int lacuna_cache_get(lacuna_cache *c, const char *key, char **body, size_t *len);

/* Stores one response, committed before it returns (durable across a killed
 * process). A key already present keeps its first value and still returns 0.
 * request_json may be NULL. -1 on error (bad key, read-only, SQLite error). */
int lacuna_cache_put(lacuna_cache *c, const char *key, const char *model, const char *request_json,
                     const char *body, size_t body_len, long long prompt_tokens, long long completion_tokens);

/* The message of the last failure on c. */
const char *lacuna_cache_error(lacuna_cache *c);

/* 1 if s is a cache key: exactly 64 lowercase hex digits. */
int lacuna_cache_valid_key(const char *s, size_t len);

#endif
