/* The trainer formats' rendered lines (core/render.c) as the JSONL writer
 * sees them. A line whose long texts need JSON escapes is not made into one
 * Lua string when the caller allows (render.line's fifth argument): it is a
 * RenderedLine, its pieces and the texts it escapes while it is written, so
 * a 300 MB text is not held again, escaped, beside its line. */
#ifndef LACUNA_RENDER_H
#define LACUNA_RENDER_H

#include <stddef.h>

#include <lua.h>

#define LACUNA_RENDERED_LINE_MT "lacuna.RenderedLine"

/* If the value at idx is a RenderedLine, writes its bytes through
 * write(ud, p, n) (which returns 0 on failure) and returns 1, or 0 when a
 * write failed; returns -1 for any other value. */
int lacuna_rendered_line_write(lua_State *L, int idx, int (*write)(void *ud, const char *p, size_t n),
                               void *ud);

#endif
