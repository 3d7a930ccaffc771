/* JSON <-> Lua for other C areas (core/json.c).
 *
 * Decoding follows json.decode: integers that fit int64 become Lua integers,
 * other numbers floats parsed exactly from their source text; null is the
 * lightuserdata NULL (json.null); arrays and objects carry the marker
 * metatables named below, so empty ones round-trip as [] and {}. */
#ifndef LACUNA_JSON_H
#define LACUNA_JSON_H

#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>

#include "utf8.h"

/* Registry names of the marker metatables (luaL_getmetatable). */
#define LACUNA_JSON_ARRAY_MT "lacuna.json.array"
#define LACUNA_JSON_OBJECT_MT "lacuna.json.object"

/* Default and ceiling of the nesting limit (cJSON refuses deeper input). */
#define LACUNA_JSON_DEFAULT_DEPTH 128
#define LACUNA_JSON_MAX_DEPTH 1000

/* lacuna_utf8_check (utf8.h) validates what decode accepts. */

/* Decodes s[0..n) (s need not be NUL-terminated). On success pushes the value
 * and returns 1. On malformed input (bad UTF-8, syntax, nesting deeper than
 * max_depth, 1..LACUNA_JSON_MAX_DEPTH) pushes nothing, writes
 * "byte N: ..." / "invalid UTF-8 at byte N" / "nesting deeper than D at
 * byte N" (N 1-based) into err and returns 0. Raises only on memory errors. */
int lacuna_json_decode(lua_State *L, const char *s, size_t n, int max_depth, char *err, size_t errlen);

/* The same, for a buffer the caller gives up: a long escaped string may be
 * unescaped over its own text, so s[0..n) must not be read afterwards when
 * the decode succeeded (the JSONL reader's line). */
int lacuna_json_decode_inplace(lua_State *L, char *s, size_t n, int max_depth, char *err, size_t errlen);

/* 1 (the default): decode reads plain valid JSON in one direct pass and
 * leaves the rest to cJSON; 0: everything goes through cJSON. Both give the
 * same values and errors: the switch is for the fuzz target that checks so. */
extern int lacuna_json_direct;

/* Appends the JSON text of the value at idx to b; raises on values that
 * cannot be encoded (the message names the path, e.g. messages[2].content).
 * Use it like luaL_addvalue: call it with the stack exactly as your last
 * buffer operation left it, and give idx as an absolute (positive) index of a
 * slot below the buffer, e.g. taken with lua_absindex before luaL_buffinit.
 * On return the stack is as it was, ready for the next buffer operation. */
void lacuna_json_encode(lua_State *L, int idx, luaL_Buffer *b);

/* A malloc'd output buffer for encoding without creating Lua strings, e.g. a
 * writer that reuses one buffer for every line. Zero-initialise it; the owner
 * must free it with lacuna_jsonbuf_free, also when an encode raises, so keep
 * it inside a userdata whose __gc frees it. */
typedef struct lacuna_jsonbuf {
  char *data;
  size_t len, cap;
  void *keys; /* private: scratch table of object keys for sorting */
  size_t nkeys, keycap;
} lacuna_jsonbuf;

/* Appends the JSON of the value at idx to jb->data (same rules and errors as
 * lacuna_json_encode). jb->data is not NUL-terminated. */
void lacuna_json_encode_into(lua_State *L, int idx, lacuna_jsonbuf *jb);

/* Appends s[0..n) to jb->data as a JSON string, escaped as encode escapes
 * strings, for writers that hold text outside Lua. s must be valid UTF-8
 * (it is not checked again). Raises only on memory errors. */
void lacuna_json_put_string(lua_State *L, lacuna_jsonbuf *jb, const char *s, size_t n);
/* The length of the longest prefix of s that lacuna_json_put_string writes
 * as it is (n: the whole string needs no escape). */
size_t lacuna_json_plain_prefix(const char *s, size_t n);
/* Escapes a prefix of s[0..n) as lacuna_json_put_string does (no quotes)
 * into out, at most cap bytes (cap >= 6): returns the input bytes consumed
 * and sets *outlen. Calling it again on the rest continues the same text, so
 * a long string is escaped in pieces without a copy of the whole. */
size_t lacuna_json_escape_some(const char *s, size_t n, char *out, size_t cap, size_t *outlen);
void lacuna_jsonbuf_free(lacuna_jsonbuf *jb);

/* Pushes a userdata owning an empty lacuna_jsonbuf (freed by its __gc), for a
 * buffer reused from call to call; lacuna_json_check_buffer gets it back. */
lacuna_jsonbuf *lacuna_json_push_buffer(lua_State *L);
lacuna_jsonbuf *lacuna_json_check_buffer(lua_State *L, int idx);

#endif
