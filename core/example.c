/* Examples: a list of chat messages, each with a train/ignore mask made of byte
 * spans over its content. The mask is what the trainer formats (core/render.c)
 * and the tokenizer label mapping read, so it lives in C, and text and spans
 * are validated when they are set, once, never when they are written out. */
#include "example.h"
#include "caller.h"
#include "utf8.h"

#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "areas.h"

/* A flag that may be unset: -1 unset (resolved by the role default), 0, 1. */
typedef signed char flag;
#define FLAG_UNSET ((flag)-1)

typedef struct span {
  size_t b, e; /* byte offsets, end exclusive */
  flag train;  /* unset: inherits the message's flag */
} span;

typedef struct msg {
  char *role;
  size_t rolelen;
  char *content; /* shared: the bytes of a Lua string the example anchors (never written, never freed) */
  size_t len, cap;
  int shared;
  flag train;
  int has_spans; /* 0: the whole content carries the message's flag */
  span *spans;
  size_t nspans, capspans;
} msg;

struct lacuna_example {
  msg *msgs;
  size_t n, cap;
  int closed;
};

/* A content this long is not copied: the message points into the Lua string
 * given, which the example keeps alive in its user value 2 ({[i] = string}).
 * A 300 MB turn then costs its record's string once, not twice. Shorter
 * contents are copied (anchoring costs a table slot, copying them nothing). */
#define SHARE_MIN_BYTES ((size_t)64 << 10)
#define UV_META 1
#define UV_SHARED 2

/* ---------------------------------------------------------------- memory */

/* Memory goes through the state's allocator so that a sandbox's memory cap
 * also counts examples (a 32K-token context is large). Returns NULL on
 * failure for nsz > 0. */
static void *xrealloc(lua_State *L, void *p, size_t osz, size_t nsz) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  return f(ud, p, osz, nsz);
}

static void xfree(lua_State *L, void *p, size_t osz) {
  if (p) xrealloc(L, p, osz, 0);
}

static int nomem(lua_State *L) {
  lua_pushliteral(L, "not enough memory");
  return lua_error(L);
}

/* Makes room for `need` elements of `size` bytes in *arr (capacity *cap),
 * doubling; raises on failure leaving *arr untouched. */
static void grow(lua_State *L, void **arr, size_t *cap, size_t need, size_t size) {
  size_t ncap;
  void *p;
  if (need <= *cap) return;
  ncap = *cap ? *cap : 4;
  while (ncap < need) {
    if (ncap > ((size_t)-1 / 2) / size) nomem(L);
    ncap *= 2;
  }
  p = xrealloc(L, *arr, *cap * size, ncap * size);
  if (!p) nomem(L);
  *arr = p;
  *cap = ncap;
}

static void free_msg(lua_State *L, msg *m) {
  xfree(L, m->role, m->rolelen + 1);
  if (!m->shared) xfree(L, m->content, m->cap);
  xfree(L, m->spans, m->capspans * sizeof(span));
  memset(m, 0, sizeof *m);
}

static void free_example(lua_State *L, lacuna_example *ex) {
  size_t i;
  for (i = 0; i < ex->n; i++) free_msg(L, &ex->msgs[i]);
  xfree(L, ex->msgs, ex->cap * sizeof(msg));
  ex->msgs = NULL;
  ex->n = ex->cap = 0;
}

/* ------------------------------------------------------------------ UTF-8 */

/* A boundary is the end of the text or any byte that is not a continuation. */
static int on_boundary(const msg *m, size_t off) {
  return off == m->len || (off < m->len && ((unsigned char)m->content[off] & 0xC0) != 0x80);
}

/* Code points in content[from..to): Python's str indices, which axolotl's
 * train_detail uses. */
static size_t count_chars(const msg *m, size_t from, size_t to) {
  if (to <= from) return 0; /* (empty content has no buffer: no NULL + 0) */
  return lacuna_utf8_count(m->content + from, to - from);
}

/* ------------------------------------------------------------- the mask */

static int role_default(const msg *m) { return m->rolelen == 9 && memcmp(m->role, "assistant", 9) == 0; }

static int resolved_flag(const msg *m) { return m->train == FLAG_UNSET ? role_default(m) : m->train; }

typedef struct runbuf {
  lacuna_mask_run *out;
  size_t cap, n;
  lacuna_mask_run cur;
  int have;
} runbuf;

/* Adds [b, e) with flag t, merging with the previous run when they touch and
 * agree, so the result is the minimal list. */
static void run_push(runbuf *rb, size_t b, size_t e, int t) {
  if (rb->have && rb->cur.train == t && rb->cur.e == b) {
    rb->cur.e = e;
    return;
  }
  if (rb->have) {
    if (rb->n < rb->cap) rb->out[rb->n] = rb->cur;
    rb->n++;
  }
  rb->cur.b = b, rb->cur.e = e, rb->cur.train = t;
  rb->have = 1;
}

static size_t msg_runs(const msg *m, lacuna_mask_run *out, size_t cap) {
  runbuf rb = {out, cap, 0, {0, 0, 0}, 0};
  int d = resolved_flag(m);
  if (!m->has_spans) {
    if (m->len > 0) run_push(&rb, 0, m->len, d);
  } else {
    size_t pos = 0, k;
    for (k = 0; k < m->nspans; k++) {
      const span *s = &m->spans[k];
      if (s->b > pos) run_push(&rb, pos, s->b, 0); /* uncovered: untrained */
      run_push(&rb, s->b, s->e, s->train == FLAG_UNSET ? d : s->train);
      pos = s->e;
    }
    if (pos < m->len) run_push(&rb, pos, m->len, 0);
  }
  if (rb.have) {
    if (rb.n < rb.cap) rb.out[rb.n] = rb.cur;
    rb.n++;
  }
  return rb.n;
}

/* ---------------------------------------------------------- C interface */

lacuna_example *lacuna_check_example(lua_State *L, int idx) {
  lacuna_example *ex = (lacuna_example *)luaL_checkudata(L, idx, LACUNA_EXAMPLE_MT);
  if (ex->closed) luaL_error(L, "attempt to use a closed Example");
  return ex;
}

size_t lacuna_example_count(const lacuna_example *ex) { return ex->n; }

const char *lacuna_example_role(const lacuna_example *ex, size_t i, size_t *len) {
  if (i >= ex->n) return NULL;
  if (len) *len = ex->msgs[i].rolelen;
  return ex->msgs[i].role;
}

const char *lacuna_example_content(const lacuna_example *ex, size_t i, size_t *len) {
  if (i >= ex->n) return NULL;
  if (len) *len = ex->msgs[i].len;
  return ex->msgs[i].content ? ex->msgs[i].content : "";
}

size_t lacuna_example_runs(const lacuna_example *ex, size_t i, lacuna_mask_run *out, size_t cap) {
  return i < ex->n ? msg_runs(&ex->msgs[i], out, cap) : 0;
}

static enum lacuna_mask_state msg_state(const msg *m) {
  int any_t = 0, any_f = 0;
  size_t k, pos = 0;
  if (m->len == 0) return !m->has_spans && resolved_flag(m) ? LACUNA_TRAINED : LACUNA_UNTRAINED;
  if (!m->has_spans) return resolved_flag(m) ? LACUNA_TRAINED : LACUNA_UNTRAINED;
  for (k = 0; k < m->nspans; k++) {
    const span *s = &m->spans[k];
    if (s->b > pos) any_f = 1; /* a gap: untrained */
    if (s->train == FLAG_UNSET ? resolved_flag(m) : s->train)
      any_t = 1;
    else
      any_f = 1;
    pos = s->e;
  }
  if (pos < m->len) any_f = 1;
  return any_t && any_f ? LACUNA_PARTIAL : any_t ? LACUNA_TRAINED : LACUNA_UNTRAINED;
}

enum lacuna_mask_state lacuna_example_state(const lacuna_example *ex, size_t i) {
  return i < ex->n ? msg_state(&ex->msgs[i]) : LACUNA_UNTRAINED;
}

int lacuna_example_range_trained(const lacuna_example *ex, size_t i, size_t b, size_t e) {
  const msg *m;
  size_t k, pos;
  if (i >= ex->n || e <= b || e > ex->msgs[i].len) return 0;
  m = &ex->msgs[i];
  /* Gaps and spans tile the content: any untrained one touching [b, e)
   * makes the range untrained. */
  if (!m->has_spans) return resolved_flag(m);
  pos = 0;
  for (k = 0; k < m->nspans; k++) {
    const span *s = &m->spans[k];
    int t = s->train == FLAG_UNSET ? resolved_flag(m) : s->train;
    if (s->b > pos && b < s->b && e > pos) return 0; /* touches a gap */
    if (!t && b < s->e && e > s->b) return 0;
    pos = s->e;
  }
  return e <= pos; /* else it reaches the untrained tail */
}

/* --------------------------------------------------------- Lua methods */

static lacuna_example *toexample(lua_State *L) { return lacuna_check_example(L, 1); }

/* Message index argument (1-based in Lua) to a 0-based index. */
static size_t check_index(lua_State *L, lacuna_example *ex, int arg) {
  lua_Integer i = luaL_checkinteger(L, arg);
  if (i < 1 || (lua_Unsigned)i > ex->n)
    luaL_argerror(
        L, arg,
        lua_pushfstring(L, "message index %I out of range (1..%I)", (LUAI_UACINT)i, (LUAI_UACINT)ex->n));
  return (size_t)(i - 1);
}

/* true / false / nil (or absent) to a flag. */
static flag opt_flag(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return FLAG_UNSET;
  luaL_argexpected(L, lua_isboolean(L, arg), arg, "boolean or nil");
  return (flag)lua_toboolean(L, arg);
}

static void push_flag(lua_State *L, flag f) {
  if (f == FLAG_UNSET)
    lua_pushnil(L);
  else
    lua_pushboolean(L, f);
}

static int ex_new(lua_State *L) {
  /* Created empty before anything is allocated, so __gc is always safe. */
  lacuna_example *ex = (lacuna_example *)lua_newuserdatauv(L, sizeof *ex, 2);
  memset(ex, 0, sizeof *ex);
  luaL_setmetatable(L, LACUNA_EXAMPLE_MT);
  return 1;
}

static int ex_is(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, LACUNA_EXAMPLE_MT) != NULL);
  return 1;
}

/* Sets (or, with nil on top, clears) the anchor of message i (0-based) of the
 * example at stack index 1; pops the value. */
static void set_anchor(lua_State *L, size_t i) {
  if (lua_getiuservalue(L, 1, UV_SHARED) != LUA_TTABLE) {
    lua_pop(L, 1);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      return;
    }
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, UV_SHARED);
  }
  lua_insert(L, -2);
  lua_rawseti(L, -2, (lua_Integer)i + 1);
  lua_pop(L, 1);
}

/* Pushes message i's anchored string (shared content) and returns 1, or
 * returns 0 with nothing pushed. The example is at stack index idx. */
int lacuna_example_push_shared(lua_State *L, int idx, const lacuna_example *ex, size_t i) {
  if (i >= ex->n || !ex->msgs[i].shared) return 0;
  if (lua_getiuservalue(L, idx, UV_SHARED) == LUA_TTABLE &&
      lua_rawgeti(L, -1, (lua_Integer)i + 1) == LUA_TSTRING) {
    lua_remove(L, -2);
    return 1;
  }
  lua_pop(L, 2);
  return 0;
}

/* Gives message i a content buffer of its own before it is changed. */
static void own_content(lua_State *L, msg *m, size_t i) {
  if (!m->shared) return;
  char *p = (char *)xrealloc(L, NULL, 0, m->len);
  if (!p) nomem(L);
  memcpy(p, m->content, m->len);
  m->content = p;
  m->cap = m->len;
  m->shared = 0;
  lua_pushnil(L);
  set_anchor(L, i);
}

static int ex_add_message(lua_State *L) {
  lacuna_example *ex = toexample(L);
  size_t rolelen, len;
  const char *role = luaL_checklstring(L, 2, &rolelen);
  const char *content = luaL_checklstring(L, 3, &len);
  flag train = opt_flag(L, 4);
  size_t bad;
  msg m;
  /* Checked here, once: every text of an Example is valid UTF-8 from the
   * moment it is added, so no later reader validates it again. */
  if (rolelen == 0) return lacuna_caller_error(L, "message %d: role must not be empty", (int)ex->n + 1);
  if (!lacuna_utf8_check(role, rolelen, &bad))
    return lacuna_caller_error(L, "message %d: role is not valid UTF-8 (byte offset %I)", (int)ex->n + 1,
                               (LUAI_UACINT)bad);
  if (!lacuna_utf8_check(content, len, &bad))
    return lacuna_caller_error(L, "message %d (%s): invalid UTF-8 at byte offset %I", (int)ex->n + 1, role,
                               (LUAI_UACINT)bad);
  grow(L, (void **)&ex->msgs, &ex->cap, ex->n + 1, sizeof(msg));
  memset(&m, 0, sizeof m);
  if (len >= SHARE_MIN_BYTES) { /* anchored before anything is allocated: an error leaks nothing */
    lua_pushvalue(L, 3);
    set_anchor(L, ex->n);
    m.shared = 1;
  }
  m.train = train;
  m.role = (char *)xrealloc(L, NULL, 0, rolelen + 1);
  if (!m.role) nomem(L);
  memcpy(m.role, role, rolelen + 1);
  m.rolelen = rolelen;
  if (m.shared) {
    m.content = (char *)content;
    m.len = len;
  } else if (len > 0) {
    m.content = (char *)xrealloc(L, NULL, 0, len);
    if (!m.content) {
      xfree(L, m.role, rolelen + 1);
      nomem(L);
    }
    memcpy(m.content, content, len);
    m.len = m.cap = len;
  }
  ex->msgs[ex->n++] = m;
  lua_pushinteger(L, (lua_Integer)ex->n);
  return 1;
}

static int ex_append_part(lua_State *L) {
  lacuna_example *ex = toexample(L);
  size_t i = check_index(L, ex, 2), len;
  const char *text = luaL_checklstring(L, 3, &len);
  flag train = opt_flag(L, 4);
  msg *m = &ex->msgs[i];
  size_t need, bad;
  if (len == 0) return 0;
  if (!lacuna_utf8_check(text, len, &bad))
    return lacuna_caller_error(L, "message %d (%s): invalid UTF-8 at byte offset %I", (int)i + 1, m->role,
                               (LUAI_UACINT)(m->len + bad));
  /* Text added before the first part keeps the message's own flag. */
  need = m->nspans + ((!m->has_spans && m->len > 0) ? 2 : 1);
  if (len > (size_t)-1 - m->len) nomem(L);
  own_content(L, m, i);
  grow(L, (void **)&m->spans, &m->capspans, need, sizeof(span));
  grow(L, (void **)&m->content, &m->cap, m->len + len, 1);
  if (!m->has_spans && m->len > 0) {
    m->spans[0].b = 0, m->spans[0].e = m->len, m->spans[0].train = FLAG_UNSET;
    m->nspans = 1;
  }
  m->has_spans = 1;
  memcpy(m->content + m->len, text, len);
  m->spans[m->nspans].b = m->len;
  m->spans[m->nspans].e = m->len + len;
  m->spans[m->nspans].train = train;
  m->nspans++;
  m->len += len;
  return 0;
}

/* Reads field `pos` (or `name`) of the span table at the top of the stack as an
 * integer offset; raises naming the span. */
static lua_Integer span_field(lua_State *L, size_t mi, size_t k, int pos, const char *name) {
  lua_Integer v;
  int ok;
  if (lua_rawgeti(L, -1, pos) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_getfield(L, -1, name);
  }
  v = lua_tointegerx(L, -1, &ok);
  if (!ok || lua_type(L, -1) != LUA_TNUMBER)
    luaL_error(L, "message %d, span %d: %s must be an integer, got %s", (int)mi + 1, (int)k + 1, name,
               luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

static int ex_set_spans(lua_State *L) {
  lacuna_example *ex = toexample(L);
  size_t i = check_index(L, ex, 2), n, k;
  msg *m = &ex->msgs[i];
  span *tmp;
  luaL_checktype(L, 3, LUA_TTABLE);
  n = (size_t)luaL_len(L, 3);
  /* Validate into scratch memory owned by Lua, so an error leaks nothing and
   * leaves the message unchanged. */
  tmp = (span *)lua_newuserdatauv(L, n ? n * sizeof(span) : 1, 0);
  for (k = 0; k < n; k++) {
    lua_Integer b, e;
    int t;
    if (lua_rawgeti(L, 3, (lua_Integer)k + 1) != LUA_TTABLE)
      return luaL_error(L, "message %d, span %d: expected a table {b, e, train}, got %s", (int)i + 1,
                        (int)k + 1, luaL_typename(L, -1));
    b = span_field(L, i, k, 1, "b");
    e = span_field(L, i, k, 2, "e");
    if (lua_rawgeti(L, -1, 3) == LUA_TNIL) {
      lua_pop(L, 1);
      lua_getfield(L, -1, "train");
    }
    t = lua_type(L, -1);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
      return luaL_error(L, "message %d, span %d: train must be a boolean or nil, got %s", (int)i + 1,
                        (int)k + 1, luaL_typename(L, -1));
    tmp[k].train = t == LUA_TNIL ? FLAG_UNSET : (flag)lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (b < 0)
      return luaL_error(L, "message %d, span %d: begin %I is negative", (int)i + 1, (int)k + 1,
                        (LUAI_UACINT)b);
    if (e <= b)
      return luaL_error(L, "message %d, span %d: end %I must be greater than begin %I", (int)i + 1,
                        (int)k + 1, (LUAI_UACINT)e, (LUAI_UACINT)b);
    if ((lua_Unsigned)e > m->len)
      return luaL_error(L, "message %d, span %d: end %I is beyond the content (%I bytes)", (int)i + 1,
                        (int)k + 1, (LUAI_UACINT)e, (LUAI_UACINT)m->len);
    if (!on_boundary(m, (size_t)b))
      return luaL_error(L, "message %d, span %d: begin %I is inside a UTF-8 character", (int)i + 1,
                        (int)k + 1, (LUAI_UACINT)b);
    if (!on_boundary(m, (size_t)e))
      return luaL_error(L, "message %d, span %d: end %I is inside a UTF-8 character", (int)i + 1, (int)k + 1,
                        (LUAI_UACINT)e);
    if (k > 0 && (size_t)b < tmp[k - 1].b)
      return luaL_error(L,
                        "message %d, span %d: spans must be in order (begin %I is "
                        "before span %d's begin %I)",
                        (int)i + 1, (int)k + 1, (LUAI_UACINT)b, (int)k, (LUAI_UACINT)tmp[k - 1].b);
    if (k > 0 && (size_t)b < tmp[k - 1].e)
      return luaL_error(L,
                        "message %d, span %d: overlaps span %d (begin %I is before "
                        "its end %I)",
                        (int)i + 1, (int)k + 1, (int)k, (LUAI_UACINT)b, (LUAI_UACINT)tmp[k - 1].e);
    tmp[k].b = (size_t)b;
    tmp[k].e = (size_t)e;
  }
  grow(L, (void **)&m->spans, &m->capspans, n, sizeof(span));
  if (n) memcpy(m->spans, tmp, n * sizeof(span));
  m->nspans = n;
  m->has_spans = 1;
  return 0;
}

/* Removes the last message (used to undo a message whose spans failed). */
static int ex_pop(lua_State *L) {
  lacuna_example *ex = toexample(L);
  if (ex->n > 0) {
    int shared = ex->msgs[ex->n - 1].shared;
    free_msg(L, &ex->msgs[--ex->n]);
    if (shared) {
      lua_pushnil(L);
      set_anchor(L, ex->n);
    }
  }
  return 0;
}

static int ex_count(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)toexample(L)->n);
  return 1;
}

/* Message i's content as a Lua string (the anchored one itself when shared);
 * the example is at stack index 1. */
static void push_content(lua_State *L, const lacuna_example *ex, size_t i) {
  const msg *m = &ex->msgs[i];
  if (!lacuna_example_push_shared(L, 1, ex, i)) lua_pushlstring(L, m->len ? m->content : "", m->len);
}

static int ex_message(lua_State *L) {
  lacuna_example *ex = toexample(L);
  size_t i = check_index(L, ex, 2), k;
  const msg *m = &ex->msgs[i];
  lua_createtable(L, 0, 4);
  lua_pushlstring(L, m->role, m->rolelen);
  lua_setfield(L, -2, "role");
  push_content(L, ex, i);
  lua_setfield(L, -2, "content");
  push_flag(L, m->train);
  lua_setfield(L, -2, "train");
  if (m->has_spans) {
    lua_createtable(L, (int)m->nspans, 0);
    for (k = 0; k < m->nspans; k++) {
      lua_createtable(L, 3, 0);
      lua_pushinteger(L, (lua_Integer)m->spans[k].b);
      lua_rawseti(L, -2, 1);
      lua_pushinteger(L, (lua_Integer)m->spans[k].e);
      lua_rawseti(L, -2, 2);
      push_flag(L, m->spans[k].train);
      lua_rawseti(L, -2, 3);
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, -2, "spans");
  }
  return 1;
}

static void set_int(lua_State *L, const char *k, size_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* Pushes message m's resolved runs: {{b=, e=, cb=, ce=, train=}...}, byte and
 * character offsets, end exclusive. */
static void push_runs(lua_State *L, const msg *m) {
  size_t n, k, chars = 0;
  lacuna_mask_run *runs;
  n = msg_runs(m, NULL, 0);
  runs = (lacuna_mask_run *)lua_newuserdatauv(L, n ? n * sizeof *runs : 1, 0);
  msg_runs(m, runs, n);
  lua_createtable(L, (int)n, 0);
  for (k = 0; k < n; k++) {
    size_t cb = chars;
    chars += count_chars(m, runs[k].b, runs[k].e);
    lua_createtable(L, 0, 5);
    set_int(L, "b", runs[k].b);
    set_int(L, "e", runs[k].e);
    set_int(L, "cb", cb);
    set_int(L, "ce", chars);
    lua_pushboolean(L, runs[k].train);
    lua_setfield(L, -2, "train");
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_remove(L, -2); /* the scratch runs */
}

static int ex_segments(lua_State *L) {
  lacuna_example *ex = toexample(L);
  size_t i = check_index(L, ex, 2);
  push_runs(L, &ex->msgs[i]);
  return 1;
}

static const char *const state_names[] = {"untrained", "trained", "partial"};

/* ex:snapshot() -> the whole example resolved in one call, one table per
 * message: {index=, role=, content=, state=, runs=} (see example.lua). */
static int ex_snapshot(lua_State *L) {
  lacuna_example *ex = toexample(L);
  size_t i;
  lua_createtable(L, (int)ex->n, 0);
  for (i = 0; i < ex->n; i++) {
    const msg *m = &ex->msgs[i];
    lua_createtable(L, 0, 5);
    set_int(L, "index", i + 1);
    lua_pushlstring(L, m->role, m->rolelen);
    lua_setfield(L, -2, "role");
    push_content(L, ex, i);
    lua_setfield(L, -2, "content");
    lua_pushstring(L, state_names[msg_state(m)]);
    lua_setfield(L, -2, "state");
    push_runs(L, m);
    lua_setfield(L, -2, "runs");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int ex_validate(lua_State *L) {
  lacuna_example *ex = toexample(L);
  size_t i, k, bad;
  for (i = 0; i < ex->n; i++) {
    const msg *m = &ex->msgs[i];
    if (!lacuna_utf8_check(m->content, m->len, &bad))
      return luaL_error(L, "message %d (%s): invalid UTF-8 at byte offset %I", (int)i + 1, m->role,
                        (LUAI_UACINT)bad);
    for (k = 0; k < m->nspans; k++) {
      const span *s = &m->spans[k];
      if (s->b >= s->e || s->e > m->len || !on_boundary(m, s->b) || !on_boundary(m, s->e) ||
          (k > 0 && s->b < m->spans[k - 1].e))
        return luaL_error(L, "message %d (%s): span %d [%I, %I) is invalid", (int)i + 1, m->role, (int)k + 1,
                          (LUAI_UACINT)s->b, (LUAI_UACINT)s->e);
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int ex_char_offset(lua_State *L) {
  lacuna_example *ex = toexample(L);
  size_t i = check_index(L, ex, 2);
  lua_Integer b = luaL_checkinteger(L, 3);
  const msg *m = &ex->msgs[i];
  luaL_argcheck(L, b >= 0 && (lua_Unsigned)b <= m->len, 3, "byte offset out of range");
  luaL_argcheck(L, on_boundary(m, (size_t)b), 3, "byte offset is inside a UTF-8 character");
  lua_pushinteger(L, (lua_Integer)count_chars(m, 0, (size_t)b));
  return 1;
}

/* The metadata table is the userdata's user value, created on first use, so
 * that `ex:meta().k = v` just works and the GC owns it. */
static int ex_meta(lua_State *L) {
  toexample(L);
  if (lua_getiuservalue(L, 1, UV_META) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, UV_META);
  }
  return 1;
}

static int ex_tostring(lua_State *L) {
  lacuna_example *ex = (lacuna_example *)luaL_checkudata(L, 1, LACUNA_EXAMPLE_MT);
  luaL_Buffer B;
  size_t i;
  if (ex->closed) {
    lua_pushliteral(L, "Example (closed)");
    return 1;
  }
  luaL_buffinit(L, &B);
  lua_pushfstring(L, "Example (%I message%s", (LUAI_UACINT)ex->n, ex->n == 1 ? "" : "s");
  luaL_addvalue(&B);
  for (i = 0; i < ex->n && i < 8; i++) {
    luaL_addstring(&B, i == 0 ? ": " : ", ");
    luaL_addlstring(&B, ex->msgs[i].role, ex->msgs[i].rolelen);
  }
  if (ex->n > 8) luaL_addstring(&B, ", ...");
  luaL_addchar(&B, ')');
  luaL_pushresult(&B);
  return 1;
}

static int ex_len(lua_State *L) { return ex_count(L); }

static int ex_gc(lua_State *L) {
  lacuna_example *ex = (lacuna_example *)luaL_checkudata(L, 1, LACUNA_EXAMPLE_MT);
  free_example(L, ex);
  return 0;
}

/* `local ex <close>` frees a large example now; later use raises. */
static int ex_close(lua_State *L) {
  lacuna_example *ex = (lacuna_example *)luaL_checkudata(L, 1, LACUNA_EXAMPLE_MT);
  free_example(L, ex);
  ex->closed = 1;
  lua_pushnil(L);
  lua_setiuservalue(L, 1, UV_SHARED);
  return 0;
}

/* Returns the Lua method's results (the continuation of a call that yielded). */
static int message_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status, (void)ctx;
  return lua_gettop(L);
}

/* ex:message as lua/lacuna/example.lua defines it, behind one C function:
 * a string role and text with a boolean or no train flag (every turn of
 * every record, in most recipes) is added here, as ex:add_message adds it;
 * any other call goes to the Lua method (upvalue 1). Being C, it also keeps
 * the recipe's frame on a tail call, for its mistakes (core/caller.c). */
static int ex_message_entry(lua_State *L) {
  int n = lua_gettop(L);
  if (n >= 3 && n <= 4 && lua_type(L, 2) == LUA_TSTRING && lua_type(L, 3) == LUA_TSTRING &&
      (n == 3 || lua_type(L, 4) == LUA_TNIL || lua_type(L, 4) == LUA_TBOOLEAN)) {
    ex_add_message(L);
    lua_settop(L, 1);
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_callk(L, n, LUA_MULTRET, 0, message_k);
  return lua_gettop(L);
}

/* example.message_entry(f): the ex:message above, falling back on f. */
static int ex_message_entry_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_pushcclosure(L, ex_message_entry, 1);
  return 1;
}

static const luaL_Reg ex_methods[] = {
    {"add_message", ex_add_message},
    {"append_part", ex_append_part},
    {"set_spans", ex_set_spans},
    {"pop", ex_pop},
    {"count", ex_count},
    {"message", ex_message},
    {"segments", ex_segments},
    {"snapshot", ex_snapshot},
    {"validate", ex_validate},
    {"char_offset", ex_char_offset},
    {"meta", ex_meta},
    {NULL, NULL},
};

static const luaL_Reg ex_meta_methods[] = {
    {"__index", NULL}, /* set to the methods table below */
    {"__tostring", ex_tostring}, {"__len", ex_len}, {"__gc", ex_gc}, {"__close", ex_close}, {NULL, NULL},
};

static const luaL_Reg ex_funcs[] = {
    {"new", ex_new},
    {"is", ex_is},
    {"message_entry", ex_message_entry_new},
    {NULL, NULL},
};

int lacuna_open_example(lua_State *L) {
  luaL_newlib(L, ex_funcs);
  if (luaL_newmetatable(L, LACUNA_EXAMPLE_MT)) {
    luaL_setfuncs(L, ex_meta_methods, 0);
    luaL_newlib(L, ex_methods);
    lua_setfield(L, -2, "__index");
  }
  /* The methods table is exposed so lua/lacuna/example.lua can add the
   * friendly builders to every Example. */
  lua_getfield(L, -1, "__index");
  lua_setfield(L, -3, "methods");
  lua_pop(L, 1);
  return 1;
}
