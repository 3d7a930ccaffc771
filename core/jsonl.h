/* JSONL reader and writer for other C areas (core/jsonl.c). The objects are
 * the same userdata that jsonl.open / jsonl.writer return to Lua. */
#ifndef LACUNA_JSONL_H
#define LACUNA_JSONL_H

#include <lua.h>

#define LACUNA_JSONL_READER_MT "lacuna.JsonlReader"
#define LACUNA_JSONL_WRITER_MT "lacuna.JsonlWriter"

/* reader:next() for the reader at idx: pushes `value, lineno`, or `nil` at
 * the end, or `false, message, lineno` for a malformed line (the next call
 * goes on with the next line; a line holding the JSON value false is one,
 * as false marks the failure), or `false, message, lineno` for an I/O error
 * or a broken compressed stream at line lineno (after which the reader is at
 * its end). Returns the number of values pushed. */
int lacuna_jsonl_next(lua_State *L, int idx);

/* w:write(v) for the writer at idx: the value at vidx (a string is written
 * as it is) and a newline. Returns 1 on success, or 0 with the message of
 * an I/O error pushed. Raises on caller mistakes and unencodable values. */
int lacuna_jsonl_write(lua_State *L, int idx, int vidx);

#endif
