/* Line editing for `lacuna repl` on GNU readline: lineedit.read(prompt) with
 * history, and Ctrl-C that abandons the line being typed instead of ending the
 * process. readline's alternate (callback) interface is driven from a select
 * loop, so a SIGINT caught by sys.catch_signals (which only sets a flag,
 * without SA_RESTART) wakes select with EINTR; the line is then dropped and
 * the flag cleared. readline keeps the terminal and its history per process,
 * so the line being read is the one piece of state here that is not per
 * runtime: only one prompt can be open in a process at a time.
 *
 * Lua: lineedit.read(prompt [, complete]) -> line | nil (end of input) | false (Ctrl-C);
 *        complete(word, line) -> {candidates} is called on Tab
 *      lineedit.add_history(line), lineedit.load_history(path [, max]) -> true | nil, msg
 *      lineedit.save_history(path [, max]) -> true | nil, msg */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include <readline/history.h>
#include <readline/readline.h>

#include <lauxlib.h>

#include "areas.h"
#include "sys.h"

/* What the line handler hands back to the loop in lineedit_read. */
static struct {
  int done;   /* the handler ran */
  char *line; /* malloc'd by readline; NULL at end of input */
} pending;

/* Tab completion during one lineedit.read: the Lua function complete(word,
 * line) -> {candidates}, called from readline's completion hook (never from a
 * signal handler or a libcurl callback), protected; its error means no
 * candidates. */
static struct {
  lua_State *L;
  int ref; /* LUA_NOREF: no completer */
  char **list;
  size_t n, next;
} completion = {NULL, LUA_NOREF, NULL, 0, 0};

static void free_candidates(void) {
  for (size_t i = completion.next; i < completion.n; i++) free(completion.list[i]);
  free(completion.list);
  completion.list = NULL;
  completion.n = completion.next = 0;
}

/* Fills completion.list from the Lua completer. */
static void gather(const char *word) {
  lua_State *L = completion.L;
  int top = lua_gettop(L);
  free_candidates();
  lua_rawgeti(L, LUA_REGISTRYINDEX, completion.ref);
  lua_pushstring(L, word);
  lua_pushstring(L, rl_line_buffer ? rl_line_buffer : "");
  if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_istable(L, -1)) {
    lua_Integer n = luaL_len(L, -1);
    completion.list = n > 0 ? calloc((size_t)n, sizeof *completion.list) : NULL;
    for (lua_Integer i = 1; completion.list && i <= n; i++) {
      lua_rawgeti(L, -1, i);
      const char *c = lua_tostring(L, -1);
      if (c) {
        char *copy = strdup(c);
        if (copy) completion.list[completion.n++] = copy;
      }
      lua_pop(L, 1);
    }
  }
  lua_settop(L, top);
}

/* readline's generator: the candidates one by one, each malloc'd (readline
 * frees them). */
static char *next_candidate(const char *word, int state) {
  if (state == 0) gather(word);
  if (completion.next < completion.n) return completion.list[completion.next++];
  return NULL;
}

static char **attempt_completion(const char *word, int start, int end) {
  (void)start, (void)end;
  rl_attempted_completion_over = 1; /* no file names */
  rl_completion_append_character = '\0';
  return rl_completion_matches(word, next_candidate);
}

static void on_line(char *line) {
  pending.done = 1;
  pending.line = line;
  /* Removing the handler here keeps readline from printing the prompt again. */
  rl_callback_handler_remove();
}

static int read_line(lua_State *L);

/* lineedit.read(prompt [, complete]) */
static int lineedit_read(lua_State *L) {
  luaL_optstring(L, 1, "> ");
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  completion.L = L;
  completion.ref = lua_isnil(L, 2) ? LUA_NOREF : luaL_ref(L, LUA_REGISTRYINDEX);
  rl_attempted_completion_function = completion.ref == LUA_NOREF ? NULL : attempt_completion;
  /* read_line runs protected so that the completer is always released. */
  lua_pushcfunction(L, read_line);
  lua_pushvalue(L, 1);
  int status = lua_pcall(L, 1, 1, 0);
  luaL_unref(L, LUA_REGISTRYINDEX, completion.ref);
  completion.ref = LUA_NOREF;
  free_candidates();
  rl_attempted_completion_function = NULL;
  if (status != LUA_OK) return lua_error(L);
  return 1;
}

static int read_line(lua_State *L) {
  const char *prompt = luaL_optstring(L, 1, "> ");
  /* The flag belongs to sys.c; readline must not install handlers of its own
   * that would turn Ctrl-C into something else. */
  rl_catch_signals = 0;
  rl_catch_sigwinch = 1;
  pending.done = 0;
  pending.line = NULL;
  rl_callback_handler_install(prompt, on_line);
  while (!pending.done) {
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(fileno(rl_instream ? rl_instream : stdin), &fds);
    int r = select(fileno(rl_instream ? rl_instream : stdin) + 1, &fds, NULL, NULL, NULL);
    if (r < 0 && errno == EINTR) {
      if (lacuna_sys_interrupted()) {
        /* Ctrl-C at the prompt: drop the typed line, start a fresh one. */
        lacuna_sys_clear_interrupt();
        rl_echo_signal_char(SIGINT);
        rl_crlf();
        rl_free_line_state();
        rl_callback_sigcleanup();
        rl_callback_handler_remove();
        lua_pushboolean(L, 0);
        return 1;
      }
      continue;
    }
    if (r < 0) {
      rl_callback_handler_remove();
      return luaL_error(L, "lineedit.read: select: %s", strerror(errno));
    }
    rl_callback_read_char();
  }
  if (!pending.line) {
    fputc('\n', rl_outstream ? rl_outstream : stdout);
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, pending.line);
  free(pending.line);
  pending.line = NULL;
  return 1;
}

static int lineedit_add_history(lua_State *L) {
  const char *line = luaL_checkstring(L, 1);
  if (*line) add_history(line);
  return 0;
}

static int push_result(lua_State *L, int err, const char *path) {
  if (err == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: %s", path, strerror(err));
  return 2;
}

/* load_history(path [, max]): reads the history file (missing is fine) and
 * keeps at most max entries (default 1000). Entries are written with
 * timestamp lines between them, so that a chunk of several lines comes back
 * as one entry. */
static int lineedit_load_history(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, 1000);
  luaL_argcheck(L, max > 0 && max <= 1000000, 2, "must be in 1..1000000");
  history_comment_char = '#'; /* timestamp lines are "#<seconds>" */
  history_write_timestamps = 1;
  history_multiline_entries = 1;
  stifle_history((int)max);
  int err = read_history(path);
  return push_result(L, err == ENOENT ? 0 : err, path);
}

/* save_history(path [, max]): writes the history, then trims the file to max
 * entries. */
static int lineedit_save_history(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, 1000);
  luaL_argcheck(L, max > 0 && max <= 1000000, 2, "must be in 1..1000000");
  int err = write_history(path);
  if (err == 0) err = history_truncate_file(path, (int)max);
  return push_result(L, err, path);
}

static const luaL_Reg lineedit_funcs[] = {
    {"read", lineedit_read},
    {"add_history", lineedit_add_history},
    {"load_history", lineedit_load_history},
    {"save_history", lineedit_save_history},
    {NULL, NULL},
};

int lacuna_open_lineedit(lua_State *L) {
  luaL_newlib(L, lineedit_funcs);
  return 1;
}
