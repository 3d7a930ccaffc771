/* Line editing for `lacuna repl` on GNU readline: lineedit.read(prompt) with
 * history, and Ctrl-C that abandons the line being typed instead of ending the
 * process. readline's alternate (callback) interface is driven from a select
 * loop, so a SIGINT caught by sys.catch_signals (which only sets a flag,
 * without SA_RESTART) wakes select with EINTR; the line is then dropped and
 * the flag cleared. readline keeps the terminal and its history per process,
 * so the line being read is the one piece of state here that is not per
 * runtime: only one prompt can be open in a process at a time.
 *
 * Lua: lineedit.read(prompt) -> line | nil (end of input) | false (Ctrl-C)
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

static void on_line(char *line) {
  pending.done = 1;
  pending.line = line;
  /* Removing the handler here keeps readline from printing the prompt again. */
  rl_callback_handler_remove();
}

static int lineedit_read(lua_State *L) {
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
