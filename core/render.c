/* The trainer formats (DESIGN §5), rendered in one pass over an Example's
 * resolved view (example.h): axolotl, openai, sharegpt and trl. Each renderer
 * decides whether the format can carry the example's loss mask and lays the
 * example out, writing through an `out` that is either JSON text (the output
 * line, straight from the example's memory: no Lua strings, no second UTF-8
 * check) or Lua tables with __jsonorder metatables (formats.render, for
 * recipes and tests). One layout, two destinations, so the two cannot drift.
 *
 * Lua: core.render.line(ex, format, split_partial, with_meta) -> json | nil, why
 *      core.render.table(ex, format, split_partial) -> table | nil, why
 * Both also return a note ("mask_history") when LLaMA-Factory needs it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "areas.h"
#include "example.h"
#include "json.h"
#include "render.h"
#include "utf8.h"

#define MAX_DEPTH 6
#define RENDER_KEEP_BYTES ((size_t)16 << 20) /* scratch kept between lines */
#define PIECE_MIN_BYTES ((size_t)64 << 10)   /* a text this long may be written as its own piece */

/* The kinds of JSON object the formats write, each with its key order (the
 * order trainers' documentation shows). */
enum shape { AX_TOP, AX_MSG, AX_DETAIL, OA_TOP, OA_MSG, SG_TOP, SG_TURN, TRL_TOP, TRL_MSG, NSHAPES };
static const char *const shape_keys[NSHAPES][5] = {
    [AX_TOP] = {"messages", "meta"},
    [AX_MSG] = {"role", "content", "train", "train_detail"},
    [AX_DETAIL] = {"begin_offset", "end_offset", "train"},
    [OA_TOP] = {"messages", "meta"},
    [OA_MSG] = {"role", "content", "weight"},
    [SG_TOP] = {"conversations", "system", "meta"},
    [SG_TURN] = {"from", "value"},
    [TRL_TOP] = {"prompt", "completion", "meta"},
    [TRL_MSG] = {"role", "content"},
};

/* ------------------------------------------------------------- the out */

/* Memory reused by every call, owned by a userdata (upvalue of both Lua
 * functions) whose __gc frees it, so an error never leaks. */
typedef struct scratch {
  lacuna_jsonbuf jb;
  lacuna_mask_run *runs;
  size_t runcap;
} scratch;

typedef struct out {
  lua_State *L;
  scratch *sc;
  const lacuna_example *ex; /* at stack index 1 */
  lacuna_jsonbuf *jb;       /* JSON text; NULL: Lua tables */
  int pieces;               /* JSON: Lua strings pushed so far, the line's text up to jb's */
  int defer_escapes;        /* JSON: a long shared text that needs escapes may be a piece {text} */
  int escaped_pieces;       /* pieces {text}, escaped when written */
  int shapes;               /* Lua tables: stack index of the shape metatables */
  int depth;
  int first[MAX_DEPTH];        /* JSON: no member written yet */
  lua_Integer next[MAX_DEPTH]; /* Lua: next array index, 0 for an object */
  const char *key[MAX_DEPTH];  /* Lua: the pending key of an object */
} out;

static void jb_add(out *o, const char *s, size_t n) {
  lacuna_jsonbuf *jb = o->jb;
  if (jb->cap - jb->len < n) {
    if (n > SIZE_MAX - jb->len) luaL_error(o->L, "not enough memory");
    size_t cap = jb->cap ? jb->cap : 1024;
    while (cap - jb->len < n) cap = cap > SIZE_MAX / 2 ? jb->len + n : cap * 2; /* no wrap-around */
    char *p = (char *)realloc(jb->data, cap);
    if (!p) luaL_error(o->L, "not enough memory");
    jb->data = p;
    jb->cap = cap;
  }
  memcpy(jb->data + jb->len, s, n);
  jb->len += n;
}

#define JB_LIT(o, s) jb_add(o, s, sizeof(s) - 1)

/* Lua: stores the value on top into the container below it. */
static void attach(out *o) {
  lua_State *L = o->L;
  int d = o->depth - 1;
  if (d < 0) return; /* the root stays on the stack */
  if (o->next[d])
    lua_rawseti(L, -2, o->next[d]++);
  else
    lua_setfield(L, -2, o->key[d]);
}

static void open_container(out *o, int is_array, enum shape s) {
  if (o->depth >= MAX_DEPTH) luaL_error(o->L, "render: nesting too deep");
  if (o->jb) {
    jb_add(o, is_array ? "[" : "{", 1);
  } else {
    lua_checkstack(o->L, 4);
    lua_newtable(o->L);
    if (!is_array) {
      lua_rawgeti(o->L, o->shapes, (lua_Integer)s + 1);
      lua_setmetatable(o->L, -2);
    }
  }
  o->first[o->depth] = 1;
  o->next[o->depth] = is_array ? 1 : 0;
  o->depth++;
}

static void obj_begin(out *o, enum shape s) { open_container(o, 0, s); }
static void arr_begin(out *o) { open_container(o, 1, NSHAPES); }

static void close_container(out *o, int is_array) {
  o->depth--;
  if (o->jb)
    jb_add(o, is_array ? "]" : "}", 1);
  else
    attach(o);
}

static void obj_end(out *o) { close_container(o, 0); }
static void arr_end(out *o) { close_container(o, 1); }

/* Before a value: the separator, and the key in an object. */
static void member(out *o, const char *key) {
  int d = o->depth - 1;
  if (o->jb) {
    if (!o->first[d]) jb_add(o, ",", 1);
    if (key) {
      jb_add(o, "\"", 1);
      jb_add(o, key, strlen(key));
      jb_add(o, "\":", 2);
    }
  } else if (key) {
    o->key[d] = key;
  }
  o->first[d] = 0;
}

static void put_str(out *o, const char *key, const char *s, size_t n) {
  member(o, key);
  if (o->jb) {
    lacuna_json_put_string(o->L, o->jb, s, n);
  } else {
    lua_pushlstring(o->L, s, n);
    attach(o);
  }
}

/* JSON: moves the text in jb onto the stack as the next piece of the line. */
static void flush_piece(out *o) {
  if (o->jb->len == 0) return;
  if (!lua_checkstack(o->L, 2)) luaL_error(o->L, "render: too many pieces");
  lua_pushlstring(o->L, o->jb->data, o->jb->len);
  o->jb->len = 0;
  o->pieces++;
}

static void put_bool(out *o, const char *key, int b) {
  member(o, key);
  if (o->jb) {
    if (b)
      JB_LIT(o, "true");
    else
      JB_LIT(o, "false");
  } else {
    lua_pushboolean(o->L, b);
    attach(o);
  }
}

static void put_int(out *o, const char *key, size_t v) {
  member(o, key);
  if (o->jb) {
    char tmp[24], *p = tmp + sizeof tmp;
    do {
      *--p = (char)('0' + v % 10);
      v /= 10;
    } while (v);
    jb_add(o, p, (size_t)(tmp + sizeof tmp - p));
  } else {
    lua_pushinteger(o->L, (lua_Integer)v);
    attach(o);
  }
}

/* Opens a container as the value of `key` (NULL inside an array). */
static void obj_member(out *o, const char *key, enum shape s) {
  member(o, key);
  obj_begin(o, s);
}
static void arr_member(out *o, const char *key) {
  member(o, key);
  arr_begin(o);
}

/* ------------------------------------------------------- the view */

typedef struct view {
  const lacuna_example *ex;
  size_t n;
} view;

typedef struct mview {
  size_t index; /* 1-based, for messages */
  const char *role, *content;
  size_t rolelen, len;
  enum lacuna_mask_state state;
} mview;

static mview message(const view *v, size_t i) {
  mview m;
  m.index = i + 1;
  m.role = lacuna_example_role(v->ex, i, &m.rolelen);
  m.content = lacuna_example_content(v->ex, i, &m.len);
  m.state = lacuna_example_state(v->ex, i);
  return m;
}

static int role_is(const mview *m, const char *r) {
  return m->rolelen == strlen(r) && memcmp(m->role, r, m->rolelen) == 0;
}

/* The reason a format cannot carry the example: pushed, and NULL returned by
 * the renderer. */
static const char *refuse(lua_State *L, const mview *m, const char *fmt) {
  if (m)
    lua_pushfstring(L, "message %d (%s)%s", (int)m->index, m->role, fmt);
  else
    lua_pushstring(L, fmt);
  return NULL;
}

/* Runs of message i, in the scratch memory (valid until the next call). */
static lacuna_mask_run *runs_of(out *o, const view *v, size_t i, size_t *n) {
  scratch *sc = o->sc;
  *n = lacuna_example_runs(v->ex, i, NULL, 0);
  if (*n > sc->runcap) {
    if (*n > SIZE_MAX / sizeof *sc->runs) luaL_error(o->L, "not enough memory");
    lacuna_mask_run *r = (lacuna_mask_run *)realloc(sc->runs, *n * sizeof *r);
    if (!r) luaL_error(o->L, "not enough memory");
    sc->runs = r;
    sc->runcap = *n;
  }
  lacuna_example_runs(v->ex, i, sc->runs, *n);
  return sc->runs;
}

/* A message's text (content, or ShareGPT's value and system). In JSON, a long
 * text that needs no escape and that the example shares with a Lua string
 * (example.c) goes into the line as that string, a piece of its own: the line
 * is then made by one concatenation, with no copy of the text in jb. */
static void put_text(out *o, const char *key, const mview *m) {
  if (o->jb && m->len >= PIECE_MIN_BYTES) {
    lua_State *L = o->L;
    luaL_checkstack(L, 6, "render: too many pieces");
    int plain = lacuna_json_plain_prefix(m->content, m->len) == m->len;
    int shared = lacuna_example_push_shared(L, 1, o->ex, m->index - 1);
    if (shared) lua_pop(L, 1);
    if (plain || (shared && o->defer_escapes)) {
      member(o, key);
      jb_add(o, "\"", 1);
      flush_piece(o);
      if (shared) {
        lacuna_example_push_shared(L, 1, o->ex, m->index - 1);
        if (!plain) { /* {text}: escaped as it is written */
          lua_createtable(L, 1, 0);
          lua_insert(L, -2);
          lua_rawseti(L, -2, 1);
          o->escaped_pieces++;
        }
        o->pieces++;
      } else { /* (its own copy: as put_str would write it, unescaped) */
        jb_add(o, m->content, m->len);
      }
      jb_add(o, "\"", 1);
      return;
    }
  }
  put_str(o, key, m->content, m->len);
}

static void put_role_content(out *o, const mview *m) {
  put_str(o, "role", m->role, m->rolelen);
  put_text(o, "content", m);
}

/* --------------------------------------------------------- the formats */

/* axolotl chat_template with message_field_training: train and
 * message_field_training_detail: train_detail. A partly trained message gets
 * no train key (axolotl then trains it iff train_detail is present) and a
 * detail list covering its whole content: character offsets, end inclusive. */
static const char *render_axolotl(out *o, const view *v, int split_partial, const char **note) {
  (void)split_partial, (void)note;
  obj_begin(o, AX_TOP);
  arr_member(o, "messages");
  for (size_t i = 0; i < v->n; i++) {
    mview m = message(v, i);
    obj_member(o, NULL, AX_MSG);
    put_role_content(o, &m);
    if (m.state == LACUNA_PARTIAL) {
      size_t nr, chars = 0;
      lacuna_mask_run *r;
      r = runs_of(o, v, i, &nr);
      arr_member(o, "train_detail");
      for (size_t k = 0; k < nr; k++) {
        size_t cb = chars;
        chars += lacuna_utf8_count(m.content + r[k].b, r[k].e - r[k].b);
        obj_member(o, NULL, AX_DETAIL);
        put_int(o, "begin_offset", cb);
        put_int(o, "end_offset", chars - 1);
        put_bool(o, "train", r[k].train);
        obj_end(o);
      }
      arr_end(o);
    } else {
      put_bool(o, "train", m.state == LACUNA_TRAINED);
    }
    obj_end(o);
  }
  arr_end(o);
  return "";
}

/* OpenAI chat fine-tuning: weight 0/1 on assistant messages only. */
static const char *render_openai(out *o, const view *v, int split_partial, const char **note) {
  lua_State *L = o->L;
  (void)note;
  /* Decided before anything is written. */
  for (size_t i = 0; i < v->n; i++) {
    mview m = message(v, i);
    if (!role_is(&m, "assistant")) {
      if (m.state != LACUNA_UNTRAINED)
        return refuse(L, &m, " is trained, but OpenAI fine-tuning trains only assistant messages");
    } else if (m.state == LACUNA_PARTIAL && !split_partial) {
      return refuse(L, &m,
                    " is partly trained, but OpenAI's weight applies to a whole message (split_partial splits"
                    " it into consecutive assistant messages)");
    }
  }
  obj_begin(o, OA_TOP);
  arr_member(o, "messages");
  for (size_t i = 0; i < v->n; i++) {
    mview m = message(v, i);
    if (!role_is(&m, "assistant")) {
      obj_member(o, NULL, OA_MSG);
      put_role_content(o, &m);
      obj_end(o);
    } else if (m.state != LACUNA_PARTIAL) {
      obj_member(o, NULL, OA_MSG);
      put_role_content(o, &m);
      put_int(o, "weight", m.state == LACUNA_TRAINED);
      obj_end(o);
    } else {
      /* Consecutive assistant messages, one per mask run, each with its weight. */
      size_t nr;
      lacuna_mask_run *r = runs_of(o, v, i, &nr);
      for (size_t k = 0; k < nr; k++) {
        obj_member(o, NULL, OA_MSG);
        put_str(o, "role", m.role, m.rolelen);
        put_str(o, "content", m.content + r[k].b, r[k].e - r[k].b);
        put_int(o, "weight", (size_t)r[k].train);
        obj_end(o);
      }
    }
  }
  arr_end(o);
  return "";
}

/* ShareGPT as LLaMA-Factory reads it: a leading system message becomes the
 * top-level "system"; turns must alternate user side (human, observation) and
 * model side (gpt, function_call), or LLaMA-Factory drops the example. */
static const char *sharegpt_from(const mview *m, int *model) {
  *model = 0;
  if (role_is(m, "user")) return "human";
  if (role_is(m, "tool")) return "observation";
  *model = 1;
  if (role_is(m, "assistant")) return "gpt";
  if (role_is(m, "function_call")) return "function_call";
  return NULL;
}

static const char *render_sharegpt(out *o, const view *v, int split_partial, const char **note) {
  lua_State *L = o->L;
  size_t first = 0, nconv = 0, nmodel = 0, ntrained = 0;
  int last_model_trained = 0;
  (void)split_partial;
  mview m0 = message(v, 0);
  if (role_is(&m0, "system")) {
    if (m0.state != LACUNA_UNTRAINED)
      return refuse(L, &m0, " is trained; LLaMA-Factory never trains the system prompt");
    first = 1;
  }
  for (size_t i = first; i < v->n; i++) {
    mview m = message(v, i);
    int model;
    const char *from = sharegpt_from(&m, &model);
    int want_model = nconv % 2 == 1;
    if (role_is(&m, "system"))
      return refuse(L, &m, ": ShareGPT has a system prompt only as the first message");
    if (!from) return refuse(L, &m, ": ShareGPT has no such role (user, assistant, tool, function_call)");
    if (model != want_model)
      return refuse(L, &m,
                    " is out of turn: LLaMA-Factory needs turns alternating user/tool and"
                    " assistant/function_call, starting with a user turn");
    if (m.state == LACUNA_PARTIAL)
      return refuse(L, &m, " is partly trained; LLaMA-Factory trains whole turns");
    if (!want_model && m.state == LACUNA_TRAINED)
      return refuse(L, &m, " is trained; LLaMA-Factory trains only assistant turns");
    if (want_model) {
      nmodel++;
      last_model_trained = m.state == LACUNA_TRAINED;
      if (last_model_trained) ntrained++;
    }
    nconv++;
  }
  if (nconv == 0 || nconv % 2 == 1)
    return refuse(L, NULL,
                  "the conversation must end with an assistant turn (LLaMA-Factory drops it otherwise)");
  if (ntrained == 0) return refuse(L, NULL, "nothing is trained");
  if (ntrained < nmodel && !(ntrained == 1 && last_model_trained))
    return refuse(
        L, NULL,
        "some assistant turns are trained and others not; LLaMA-Factory trains every assistant turn,"
        " or only the last one (mask_history)");
  if (ntrained < nmodel) *note = "mask_history";
  obj_begin(o, SG_TOP);
  arr_member(o, "conversations");
  for (size_t i = first; i < v->n; i++) {
    mview m = message(v, i);
    int model;
    const char *from = sharegpt_from(&m, &model);
    obj_member(o, NULL, SG_TURN);
    put_str(o, "from", from, strlen(from));
    put_text(o, "value", &m);
    obj_end(o);
  }
  arr_end(o);
  if (first) put_text(o, "system", &m0);
  return "";
}

/* TRL conversational prompt/completion: the completion is the trailing run of
 * wholly trained messages, the prompt everything before, wholly untrained. */
static const char *render_trl(out *o, const view *v, int split_partial, const char **note) {
  lua_State *L = o->L;
  size_t n = v->n, k = n;
  (void)split_partial, (void)note;
  while (k >= 1 && lacuna_example_state(v->ex, k - 1) == LACUNA_TRAINED) k--;
  if (k == n) {
    mview last = message(v, n - 1);
    if (last.state == LACUNA_PARTIAL)
      return refuse(L, &last, " is partly trained; TRL's completion is whole messages");
    return refuse(L, &last, " is not trained; TRL trains the completion, which must be the last message(s)");
  }
  if (k == 0)
    return refuse(L, NULL, "every message is trained; TRL's prompt/completion needs an untrained prompt");
  for (size_t i = 0; i < k; i++) {
    mview m = message(v, i);
    if (m.state == LACUNA_PARTIAL)
      return refuse(L, &m, " is partly trained; TRL trains only whole completion messages");
    if (m.state == LACUNA_TRAINED)
      return refuse(
          L, &m, " is trained but is followed by untrained text; TRL trains only the completion at the end");
  }
  obj_begin(o, TRL_TOP);
  arr_member(o, "prompt");
  for (size_t i = 0; i < n; i++) {
    mview m = message(v, i);
    if (i == k) {
      arr_end(o);
      arr_member(o, "completion");
    }
    obj_member(o, NULL, TRL_MSG);
    put_role_content(o, &m);
    obj_end(o);
  }
  arr_end(o);
  return "";
}

typedef const char *(*renderer)(out *, const view *, int, const char **);

static const struct {
  const char *name;
  renderer fn;
} formats[] = {
    {"axolotl", render_axolotl},
    {"openai", render_openai},
    {"sharegpt", render_sharegpt},
    {"trl", render_trl},
    {NULL, NULL},
};

/* ------------------------------------------------------------ Lua side */

/* Encodes the metadata table at idx as the root of jb (called protected, so
 * that an error can name the meta field). */
static int encode_meta(lua_State *L) {
  lacuna_jsonbuf *jb = (lacuna_jsonbuf *)lua_touserdata(L, 1);
  lacuna_json_encode_into(L, 2, jb);
  return 0;
}

/* The example's metadata table, pushed, or nothing (returns 0) when it is
 * absent or empty. */
static int push_meta(lua_State *L) {
  if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) {
    lua_pushnil(L);
    if (lua_next(L, -2)) {
      lua_pop(L, 2);
      return 1;
    }
  }
  lua_pop(L, 1);
  return 0;
}

/* Common part of line and table: checks the arguments and runs the renderer.
 * On success the layout is done (JSON in o->jb, or the table on top) and the
 * function returns 1; otherwise it pushes nil and the reason and returns 0. */
static int run(lua_State *L, out *o, const char **note) {
  o->sc = (scratch *)lua_touserdata(L, lua_upvalueindex(1));
  lacuna_example *ex = lacuna_check_example(L, 1);
  const char *name = luaL_checkstring(L, 2);
  int split_partial = lua_toboolean(L, 3), i;
  view v = {ex, lacuna_example_count(ex)};
  for (i = 0; formats[i].name && strcmp(formats[i].name, name) != 0; i++) {}
  if (!formats[i].name) return luaL_argerror(L, 2, lua_pushfstring(L, "unknown format '%s'", name));
  if (v.n == 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "the example has no messages");
    return 0;
  }
  o->L = L;
  o->ex = ex;
  if (!formats[i].fn(o, &v, split_partial, note)) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 0;
  }
  return 1;
}

static void push_note(lua_State *L, const char *note) {
  if (note)
    lua_pushstring(L, note);
  else
    lua_pushnil(L);
}

/* ------------------------------------------------------ RenderedLine */

typedef struct rendered_line {
  size_t len; /* bytes of the line as written */
} rendered_line;

#define ESCAPE_CHUNK ((size_t)16 << 10)

/* Bytes text s[0..n) takes once escaped. */
static size_t escaped_len(const char *s, size_t n) {
  char buf[ESCAPE_CHUNK];
  size_t total = 0, i = 0;
  while (i < n) {
    size_t k;
    i += lacuna_json_escape_some(s + i, n - i, buf, sizeof buf, &k);
    total += k;
  }
  return total;
}

/* Pushes piece k of the line at idx (its uservalue table); returns 1 for a
 * text to escape (the string pushed), 0 for text as it is. */
static int push_piece(lua_State *L, int pieces, lua_Integer k) {
  if (lua_rawgeti(L, pieces, k) == LUA_TSTRING) return 0;
  lua_rawgeti(L, -1, 1);
  lua_remove(L, -2);
  return 1;
}

int lacuna_rendered_line_write(lua_State *L, int idx, int (*write)(void *ud, const char *p, size_t n),
                               void *ud) {
  if (!luaL_testudata(L, idx, LACUNA_RENDERED_LINE_MT)) return -1;
  luaL_checkstack(L, 4, "render: stack overflow");
  lua_getiuservalue(L, idx, 1);
  int pieces = lua_gettop(L), ok = 1;
  lua_Integer count = (lua_Integer)lua_rawlen(L, pieces);
  for (lua_Integer k = 1; ok && k <= count; k++) {
    int escape = push_piece(L, pieces, k);
    size_t n, i = 0;
    const char *s = lua_tolstring(L, -1, &n);
    if (!escape) ok = write(ud, s, n);
    while (escape && ok && i < n) {
      char buf[ESCAPE_CHUNK];
      size_t len;
      i += lacuna_json_escape_some(s + i, n - i, buf, sizeof buf, &len);
      ok = write(ud, buf, len);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return ok;
}

static int line_len(lua_State *L) {
  rendered_line *rl = (rendered_line *)luaL_checkudata(L, 1, LACUNA_RENDERED_LINE_MT);
  lua_pushinteger(L, (lua_Integer)rl->len);
  return 1;
}

/* The line as one Lua string (for the callers that need one: the order
 * buffer's spill file, `lacuna check`). */
static int line_tostring(lua_State *L) {
  rendered_line *rl = (rendered_line *)luaL_checkudata(L, 1, LACUNA_RENDERED_LINE_MT);
  luaL_Buffer b;
  lua_getiuservalue(L, 1, 1);
  int pieces = lua_gettop(L);
  lua_Integer count = (lua_Integer)lua_rawlen(L, pieces);
  char *dst = luaL_buffinitsize(L, &b, rl->len);
  size_t at = 0;
  for (lua_Integer k = 1; k <= count; k++) {
    int escape = push_piece(L, pieces, k);
    size_t n, i = 0;
    const char *s = lua_tolstring(L, -1, &n);
    if (!escape) {
      memcpy(dst + at, s, n);
      at += n;
    }
    while (escape && i < n) {
      size_t len;
      i += lacuna_json_escape_some(s + i, n - i, dst + at, rl->len - at, &len);
      at += len;
    }
    lua_pop(L, 1);
  }
  luaL_pushresultsize(&b, at);
  return 1;
}

/* Replaces the n pieces on top of the stack with a RenderedLine. */
static void make_rendered_line(lua_State *L, int n) {
  int base = lua_gettop(L) - n;
  size_t len = 0;
  lua_createtable(L, n, 0);
  for (int k = 1; k <= n; k++) {
    size_t sl;
    const char *s;
    if (lua_type(L, base + k) == LUA_TSTRING) {
      lua_tolstring(L, base + k, &sl);
      len += sl;
    } else {
      lua_rawgeti(L, base + k, 1);
      s = lua_tolstring(L, -1, &sl);
      len += escaped_len(s, sl);
      lua_pop(L, 1);
    }
    lua_pushvalue(L, base + k);
    lua_rawseti(L, -2, k);
  }
  rendered_line *rl = (rendered_line *)lua_newuserdatauv(L, sizeof *rl, 1);
  rl->len = len;
  lua_insert(L, -2);
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, LACUNA_RENDERED_LINE_MT);
  lua_replace(L, base + 1);
  lua_settop(L, base + 1);
}

/* render.line(ex, format, split_partial, with_meta [, pieces]) -> json line |
 * nil, why; then the note. pieces: the line may be a RenderedLine (see
 * render.h) rather than a string. Upvalue 1: the scratch memory. */
static int render_line(lua_State *L) {
  lacuna_jsonbuf *jb = &((scratch *)lua_touserdata(L, lua_upvalueindex(1)))->jb;
  out o;
  const char *note = NULL;
  memset(&o, 0, sizeof o);
  o.jb = jb;
  jb->len = 0;
  o.defer_escapes = lua_toboolean(L, 5);
  lua_settop(L, 4);
  if (!run(L, &o, &note)) return 2;
  if (lua_toboolean(L, 4) && push_meta(L)) {
    int meta = lua_gettop(L);
    jb_add(&o, ",\"meta\":", 8);
    lua_pushcfunction(L, encode_meta);
    lua_pushlightuserdata(L, jb);
    lua_pushvalue(L, meta);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
      const char *msg = lua_tostring(L, -1);
      /* the example's data is at fault, not a line of lacuna: no position */
      lua_pushfstring(L, "meta: %s", msg ? msg : "cannot be encoded");
      return lua_error(L);
    }
    lua_remove(L, meta); /* (the pieces are the top values) */
  }
  jb_add(&o, "}", 1);
  if (o.pieces > 0) {
    flush_piece(&o);
    if (o.escaped_pieces > 0)
      make_rendered_line(L, o.pieces);
    else
      lua_concat(L, o.pieces);
  } else {
    lua_pushlstring(L, jb->data, jb->len);
  }
  if (jb->cap > RENDER_KEEP_BYTES) lacuna_jsonbuf_free(jb); /* one huge line does not pin its copy */
  push_note(L, note);
  return 2;
}

/* render.table(ex, format, split_partial) -> table | nil, why; then the note.
 * Upvalues: the scratch memory, the shape metatables. */
static int render_table(lua_State *L) {
  out o;
  const char *note = NULL;
  memset(&o, 0, sizeof o);
  lua_settop(L, 3);
  lua_pushvalue(L, lua_upvalueindex(2));
  o.shapes = lua_gettop(L);
  if (!run(L, &o, &note)) return 2;
  push_note(L, note);
  return 2;
}

static int scratch_gc(lua_State *L) {
  scratch *sc = (scratch *)lua_touserdata(L, 1);
  lacuna_jsonbuf_free(&sc->jb);
  free(sc->runs);
  sc->runs = NULL;
  sc->runcap = 0;
  return 0;
}

static const luaL_Reg rendered_line_meta[] = {
    {"__len", line_len},
    {"__tostring", line_tostring},
    {NULL, NULL},
};

int lacuna_open_render(lua_State *L) {
  if (luaL_newmetatable(L, LACUNA_RENDERED_LINE_MT)) luaL_setfuncs(L, rendered_line_meta, 0);
  lua_pop(L, 1);
  lua_newtable(L);
  /* Scratch memory: one per state, reused by every call. */
  scratch *sc = (scratch *)lua_newuserdatauv(L, sizeof *sc, 0);
  memset(sc, 0, sizeof *sc);
  lua_newtable(L);
  lua_pushcfunction(L, scratch_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, render_line, 1);
  lua_setfield(L, -3, "line");
  /* table's metatables: {__jsonorder = {keys...}} per shape. */
  lua_createtable(L, NSHAPES, 0);
  for (int s = 0; s < NSHAPES; s++) {
    lua_createtable(L, 0, 1);
    lua_newtable(L);
    for (int k = 0; k < 5 && shape_keys[s][k]; k++) {
      lua_pushstring(L, shape_keys[s][k]);
      lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "__jsonorder");
    lua_rawseti(L, -2, s + 1);
  }
  lua_pushcclosure(L, render_table, 2);
  lua_setfield(L, -2, "table");
  lua_newtable(L);
  for (int i = 0; formats[i].name; i++) {
    lua_pushstring(L, formats[i].name);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "names");
  return 1;
}
