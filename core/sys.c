/* The few operating-system services the runner needs beyond Lua's os/io:
 * monotonic time, atomic rename, process facts, signals as a flag. */
#include <errno.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "areas.h"
#include "sys.h"

static volatile sig_atomic_t interrupted;
static int armed;

int lacuna_sys_interrupted(void) { return interrupted != 0; }
int lacuna_sys_interrupt_armed(void) { return armed; }

static void on_signal(int sig) { interrupted = sig; }

/* sys.catch_signals() — SIGINT/SIGTERM only set a flag from now on. */
static int sys_catch_signals(lua_State *L) {
  (void)L;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  armed = 1;
  return 0;
}

/* sys.interrupted() -> signal number or false */
static int sys_interrupted(lua_State *L) {
  if (interrupted)
    lua_pushinteger(L, interrupted);
  else
    lua_pushboolean(L, 0);
  return 1;
}

static int sys_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

static int sys_cputime(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

static int sys_pid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

/* sys.peak_rss() -> peak resident set size in kilobytes */
static int sys_peak_rss(lua_State *L) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  lua_pushinteger(L, (lua_Integer)ru.ru_maxrss);
  return 1;
}

static int sys_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
  return 1;
}

static int fail(lua_State *L, const char *what) {
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: %s", what, strerror(errno));
  return 2;
}

/* sys.rename(from, to) -> true | nil, msg (atomic within one file system) */
static int sys_rename(lua_State *L) {
  const char *from = luaL_checkstring(L, 1), *to = luaL_checkstring(L, 2);
  if (rename(from, to) != 0) return fail(L, to);
  lua_pushboolean(L, 1);
  return 1;
}

/* sys.stat(path) -> {size=, mtime=, dir=} | nil, msg */
static int sys_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) return fail(L, path);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)st.st_mtime);
  lua_setfield(L, -2, "mtime");
  lua_pushboolean(L, S_ISDIR(st.st_mode));
  lua_setfield(L, -2, "dir");
  return 1;
}

/* sys.mkdirs(dir) -> true | nil, msg: creates dir and its missing parents. */
static int sys_mkdirs(lua_State *L) {
  size_t n;
  const char *dir = luaL_checklstring(L, 1, &n);
  luaL_Buffer b;
  char *path = luaL_buffinitsize(L, &b, n + 1);
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != '\0') continue;
    char saved = path[i];
    path[i] = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST) return fail(L, path);
    path[i] = saved;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* sys.utc_iso8601() -> "2026-11-24T00:00:00Z" */
static int sys_utc(lua_State *L) {
  time_t now = time(NULL);
  struct tm tm;
  char buf[32];
  gmtime_r(&now, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  lua_pushstring(L, buf);
  return 1;
}

static const luaL_Reg sys_funcs[] = {
    {"catch_signals", sys_catch_signals},
    {"interrupted", sys_interrupted},
    {"clock", sys_clock},
    {"cputime", sys_cputime},
    {"pid", sys_pid},
    {"peak_rss", sys_peak_rss},
    {"isatty", sys_isatty},
    {"rename", sys_rename},
    {"stat", sys_stat},
    {"mkdirs", sys_mkdirs},
    {"utc_iso8601", sys_utc},
    {NULL, NULL},
};

int lacuna_open_sys(lua_State *L) {
  luaL_newlib(L, sys_funcs);
  return 1;
}
