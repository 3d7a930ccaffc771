/* fault_io.so — an LD_PRELOAD shim that makes file I/O fail, for the
 * end-to-end tests of write errors (tests/e2e/test_outputs_faults.sh).
 *
 * Only files whose path contains LACUNA_FAULT_PATH are affected:
 *   LACUNA_FAULT_WRITE_AFTER=N  write(2) fails with ENOSPC once N bytes went
 *                               to such files (the write that crosses N is
 *                               cut short first, as on a full disk)
 *   LACUNA_FAULT_WRITE_FAILS=K  only K writes fail, later ones succeed again
 *                               (a disk that was full for a moment)
 *   LACUNA_FAULT_FSYNC=1        fsync(2) fails with EIO
 *   LACUNA_FAULT_CLOSE=1        close(2) closes, then reports EIO
 *   LACUNA_FAULT_RENAME=1       rename(2) onto such a path fails with EIO
 * zlib and lacuna's writer call these through the PLT, so the shim sees them. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long long written, failures;

static int env_on(const char *name) {
  const char *v = getenv(name);
  return v && *v && strcmp(v, "0") != 0;
}

static int fd_matches(int fd) {
  const char *want = getenv("LACUNA_FAULT_PATH");
  if (!want || !*want || fd < 0) return 0;
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  return strstr(path, want) != NULL;
}

ssize_t write(int fd, const void *buf, size_t count) {
  static ssize_t (*real)(int, const void *, size_t);
  if (!real) real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
  const char *after = getenv("LACUNA_FAULT_WRITE_AFTER");
  if (after && fd_matches(fd)) {
    long long limit = atoll(after);
    const char *fails = getenv("LACUNA_FAULT_WRITE_FAILS");
    if (written >= limit && (!fails || failures < atoll(fails))) {
      failures++;
      errno = ENOSPC;
      return -1;
    }
    if (written + (long long)count > limit) count = (size_t)(limit - written);
    ssize_t k = real(fd, buf, count);
    if (k > 0) written += k;
    return k;
  }
  return real(fd, buf, count);
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  if (env_on("LACUNA_FAULT_FSYNC") && fd_matches(fd)) {
    errno = EIO;
    return -1;
  }
  return real(fd);
}

int close(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "close");
  int fail = env_on("LACUNA_FAULT_CLOSE") && fd_matches(fd);
  int rc = real(fd);
  if (fail && rc == 0) {
    errno = EIO;
    return -1;
  }
  return rc;
}

int rename(const char *from, const char *to) {
  static int (*real)(const char *, const char *);
  if (!real) real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
  const char *want = getenv("LACUNA_FAULT_PATH");
  if (env_on("LACUNA_FAULT_RENAME") && want && *want && strstr(to, want)) {
    errno = EIO;
    return -1;
  }
  return real(from, to);
}
