/* Child processes of the lacuna executable itself, for `lacuna run --jobs N`:
 * each child runs /proc/self/exe with the arguments given, in one process
 * group of the children's own (so that the parent alone decides which signal
 * reaches them, once), and dies with the parent (PR_SET_PDEATHSIG) so that a
 * killed parent leaves no shard running. Linux only, like the rest of sys.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "areas.h"
#include "sys.h"

#define MAX_ARGS 4096

/* spawn.self({arg, ...} [, pgid]) -> pid | nil, message. The child's argv[0]
 * is "lacuna"; pgid 0 makes the child lead a new process group, another
 * child's pid puts it in that group. */
static int spawn_self(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer pgid = luaL_optinteger(L, 2, 0);
  lua_Integer n = luaL_len(L, 1);
  luaL_argcheck(L, n >= 0 && n < MAX_ARGS, 1, "too many arguments");
  luaL_argcheck(L, pgid >= 0, 2, "process group must be >= 0");
  const char **argv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 2), 0);
  argv[0] = "lacuna";
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_geti(L, 1, i) != LUA_TSTRING)
      return luaL_error(L, "spawn.self: argument %d is not a string", (int)i);
    argv[i] = lua_tostring(L, -1); /* stays alive: the table holds the string */
    lua_pop(L, 1);
  }
  argv[n + 1] = NULL;
  pid_t parent = getpid();
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot start a process: %s", strerror(errno));
    return 2;
  }
  if (pid == 0) {
    setpgid(0, (pid_t)pgid);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(130); /* the parent died before prctl */
    execv("/proc/self/exe", (char *const *)argv);
    _exit(127);
  }
  setpgid(pid, pgid ? (pid_t)pgid : pid); /* also here: no race with the first kill */
  lua_pushinteger(L, pid);
  return 1;
}

/* spawn.wait(seconds) -> pid, exit code | nil: the next child to end (a
 * child killed by signal s gives 128 + s), or nil after seconds or as soon as
 * sys.catch_signals has caught a signal. nil, message when there is no child. */
static int spawn_wait(lua_State *L) {
  double limit = luaL_checknumber(L, 1);
  struct timespec t0, now, tick = {0, 10 * 1000 * 1000};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
      lua_pushinteger(L, pid);
      lua_pushinteger(L, code);
      return 2;
    }
    if (pid < 0 && errno != EINTR) {
      lua_pushnil(L);
      lua_pushstring(L, strerror(errno));
      return 2;
    }
    if (lacuna_sys_interrupted()) break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >= limit) break;
    nanosleep(&tick, NULL);
  }
  lua_pushnil(L);
  return 1;
}

/* spawn.kill(pid, signal number) -> true | nil, message */
static int spawn_kill(lua_State *L) {
  lua_Integer pid = luaL_checkinteger(L, 1);
  lua_Integer sig = luaL_checkinteger(L, 2);
  luaL_argcheck(L, pid > 0, 1, "pid must be > 0");
  if (kill((pid_t)pid, (int)sig) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg spawn_funcs[] = {
    {"self", spawn_self},
    {"wait", spawn_wait},
    {"kill", spawn_kill},
    {NULL, NULL},
};

int lacuna_open_spawn(lua_State *L) {
  luaL_newlib(L, spawn_funcs);
  lua_pushinteger(L, SIGTERM);
  lua_setfield(L, -2, "SIGTERM");
  return 1;
}
