/* The few operating-system services the runner needs beyond Lua's os/io:
 * monotonic time, atomic rename, file facts, an exclusive lock, process
 * facts, signals as a flag. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
void lacuna_sys_clear_interrupt(void) { interrupted = 0; }

/* The first SIGINT/SIGTERM only sets the flag (the scheduler stops the run
 * and nothing is committed); a second one ends the process at once: the
 * temporary files it leaves are removed by the next run of the same output. */
static void on_signal(int sig) {
  if (interrupted) _exit(130);
  interrupted = sig;
}

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

/* sys.clear_interrupt(): the caught signal is handled (the REPL goes on). */
static int sys_clear_interrupt(lua_State *L) {
  (void)L;
  lacuna_sys_clear_interrupt();
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

static const char *file_type(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "dir";
  if (S_ISCHR(m)) return "char";
  if (S_ISBLK(m)) return "block";
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISSOCK(m)) return "socket";
  return "other";
}

/* sys.stat(path) -> {size=, mtime=, dir=, type=, dev=, ino=} | nil, msg
 * (follows symbolic links; type is file|dir|char|block|fifo|socket|other) */
static int sys_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) return fail(L, path);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)st.st_mtime);
  lua_setfield(L, -2, "mtime");
  lua_pushboolean(L, S_ISDIR(st.st_mode));
  lua_setfield(L, -2, "dir");
  lua_pushstring(L, file_type(st.st_mode));
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)st.st_dev);
  lua_setfield(L, -2, "dev");
  lua_pushinteger(L, (lua_Integer)st.st_ino);
  lua_setfield(L, -2, "ino");
  return 1;
}

/* sys.list_dir(dir) -> {names...} (without . and ..) | nil, msg */
static int sys_list_dir(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  DIR *d = opendir(dir);
  if (!d) return fail(L, dir);
  lua_newtable(L);
  lua_Integer n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    lua_pushstring(L, e->d_name);
    lua_rawseti(L, -2, ++n);
  }
  closedir(d);
  return 1;
}

/* sys.sync_dir(path) -> true | nil, msg: makes a rename or removal in the
 * directory holding path durable. */
static int sys_sync_dir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (!lacuna_sync_parent_dir(path)) return fail(L, path);
  lua_pushboolean(L, 1);
  return 1;
}

/* sys.pid_alive(pid) -> whether a process of that id exists */
static int sys_pid_alive(lua_State *L) {
  lua_Integer pid = luaL_checkinteger(L, 1);
  lua_pushboolean(L, pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM));
  return 1;
}

/* ---- an exclusive lock on a file, held while the process lives ---- */

#define LOCK_MT "lacuna.FileLock"

typedef struct file_lock {
  int fd; /* -1: released */
  char *path;
} file_lock;

static file_lock *check_lock(lua_State *L, int idx) { return (file_lock *)luaL_checkudata(L, idx, LOCK_MT); }

static void lock_release(file_lock *k) {
  if (k->fd >= 0) {
    /* Unlink first, while still holding the lock: a process that opened the
     * old file and gets the lock after us sees that the path is gone, and
     * tries again on a new file. */
    unlink(k->path);
    close(k->fd);
    k->fd = -1;
  }
  free(k->path);
  k->path = NULL;
}

/* sys.lock(path) -> lock | nil, msg, holder_pid: creates path and takes an
 * exclusive flock on it without waiting. The kernel drops the lock when the
 * process dies, however it dies; lock:release() also removes the file. */
static int sys_lock(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  file_lock *k = (file_lock *)lua_newuserdatauv(L, sizeof *k, 0);
  k->fd = -1;
  k->path = NULL;
  luaL_setmetatable(L, LOCK_MT);
  if (!(k->path = strdup(path))) return luaL_error(L, "sys.lock: out of memory");
  for (int tries = 0; tries < 100; tries++) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return fail(L, path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      char buf[32] = {0};
      ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
      close(fd);
      if (e != EWOULDBLOCK) {
        errno = e;
        return fail(L, path);
      }
      luaL_pushfail(L);
      lua_pushfstring(L, "%s: locked by another process", path);
      lua_pushinteger(L, n > 0 ? (lua_Integer)strtol(buf, NULL, 10) : 0);
      return 3;
    }
    struct stat held, now;
    if (fstat(fd, &held) == 0 && stat(path, &now) == 0 && held.st_dev == now.st_dev &&
        held.st_ino == now.st_ino) {
      char buf[32];
      int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
      /* The pid only feeds the message a second run prints; the lock holds
       * without it, so a failure to record it is not an error. */
      int recorded = ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)len, 0) == len;
      (void)recorded;
      k->fd = fd;
      return 1;
    }
    close(fd); /* the holder before us removed it: take the new file */
  }
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: cannot take the lock (the file keeps changing)", path);
  return 2;
}

static int lock_release_m(lua_State *L) {
  lock_release(check_lock(L, 1));
  return 0;
}

static int lock_tostring(lua_State *L) {
  file_lock *k = check_lock(L, 1);
  lua_pushfstring(L, "lacuna.FileLock (%s)", k->fd >= 0 ? k->path : "released");
  return 1;
}

static const luaL_Reg lock_methods[] = {{"release", lock_release_m}, {NULL, NULL}};
static const luaL_Reg lock_meta[] = {{"__gc", lock_release_m},
                                     {"__close", lock_release_m},
                                     {"__tostring", lock_tostring},
                                     {"__index", NULL},
                                     {NULL, NULL}};

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

/* Makes a rename durable: fsync of the directory. 1, or 0 with errno set. */
int lacuna_sync_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == path)
    snprintf(dir, sizeof dir, "/");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  int ok = fsync(fd) == 0 || errno == EINVAL; /* some file systems cannot sync a directory */
  int e = errno;
  close(fd);
  errno = e;
  return ok;
}

static const luaL_Reg sys_funcs[] = {
    {"catch_signals", sys_catch_signals},
    {"interrupted", sys_interrupted},
    {"clear_interrupt", sys_clear_interrupt},
    {"clock", sys_clock},
    {"cputime", sys_cputime},
    {"pid", sys_pid},
    {"peak_rss", sys_peak_rss},
    {"isatty", sys_isatty},
    {"rename", sys_rename},
    {"stat", sys_stat},
    {"list_dir", sys_list_dir},
    {"sync_dir", sys_sync_dir},
    {"pid_alive", sys_pid_alive},
    {"lock", sys_lock},
    {"mkdirs", sys_mkdirs},
    {"utc_iso8601", sys_utc},
    {NULL, NULL},
};

int lacuna_open_sys(lua_State *L) {
  luaL_newmetatable(L, LOCK_MT);
  luaL_setfuncs(L, lock_meta, 0);
  luaL_newlib(L, lock_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, sys_funcs);
  return 1;
}
