/* jsonl — streaming JSON Lines reader and atomic writer (DESIGN §3.1).
 *
 * The reader pulls big chunks into one growable buffer: straight from the
 * file, or, when the file starts with the gzip magic, through inflate driven
 * here (not gzread, which drops the output of a call that ends in a bad
 * trailer and ignores bytes after the last member), so every line that was
 * decompressed is delivered before a corrupt stream is reported. The
 * buffer and finds line ends with memchr; a line is decoded straight from the
 * buffer, so there is no allocation per line. A malformed line is reported
 * with FILE:LINE and the reader goes on: the caller records the failure, and
 * nothing is dropped silently.
 *
 * The writer writes to a sibling temporary file (PATH.tmp.PID) through its
 * own buffer over write(2), checking every write, flush, fsync and close; an
 * error is sticky, so a file that lost bytes can never be committed. seal()
 * completes the temporary file, commit() renames it over the target, so a
 * crash never leaves a half-written output under the final name. */
#include "jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "areas.h"
#include "crc32.h"
#include "json.h"
#include "render.h"
#include "sys.h"

#define READ_CHUNK ((size_t)1 << 20)    /* least free space before a read */
#define READ_BUF_INIT ((size_t)4 << 20) /* initial line buffer */
#define GZ_BUF (1u << 18)               /* compressed input buffer */
#define WRITE_BUF ((size_t)1 << 20)     /* stdio / zlib output buffer */
#define DEFAULT_MAX_LINE ((size_t)1 << 30)
#define MAX_MAX_LINE ((lua_Integer)1 << 62) /* no overflow in the size arithmetic */

/* ------------------------------------------------------------- reader */

typedef struct Reader {
  int fd;   /* -1: closed */
  int gzip; /* the file starts with the gzip magic */
  z_stream zs;
  int zs_ready;       /* inflateInit2 succeeded: inflateEnd is due */
  int member_done;    /* inflate ended a gzip member: another may follow */
  int in_eof;         /* read(2) on fd has returned 0 */
  unsigned char *in;  /* GZ_BUF bytes: raw input not yet given to inflate */
  long long raw_read; /* bytes read from fd */
  char pending[128];  /* a stream error found after its data was delivered */
  int pending_at_end; /* the data before it is whole: deliver a last unterminated line */
  char *buf;
  size_t cap, start, end; /* unread bytes are buf[start..end) */
  size_t scan;            /* buf[start..scan) is known to hold no '\n' */
  size_t max_line;
  long long lineno, consumed;
  int max_depth;
  int eof;      /* the stream is at its end */
  int dead;     /* an I/O error was reported: the reader is at its end */
  int skipping; /* dropping the rest of a line longer than max_line */
  char *name;   /* the path as given, or "<stdin>", for messages */
} Reader;

enum { RL_LINE, RL_END, RL_ERROR, RL_TOOLONG };

static Reader *check_reader(lua_State *L, int idx) {
  return (Reader *)luaL_checkudata(L, idx, LACUNA_JSONL_READER_MT);
}

static Reader *check_open_reader(lua_State *L, int idx) {
  Reader *r = check_reader(L, idx);
  if (r->fd < 0) luaL_error(L, "attempt to use a closed jsonl reader");
  return r;
}

/* Reads up to want raw bytes into dst: >= 0 bytes, or -1 with errno set. */
static long read_raw(Reader *r, unsigned char *dst, size_t want) {
  ssize_t n;
  do n = read(r->fd, dst, want);
  while (n < 0 && errno == EINTR);
  if (n > 0) r->raw_read += n;
  if (n == 0) r->in_eof = 1;
  return (long)n;
}

/* Keeps the unread input at the front of r->in and reads more after it. */
static int refill(Reader *r) {
  if (r->zs.avail_in > 0) memmove(r->in, r->zs.next_in, r->zs.avail_in);
  r->zs.next_in = r->in;
  long n = read_raw(r, r->in + r->zs.avail_in, GZ_BUF - r->zs.avail_in);
  if (n < 0) return -1;
  r->zs.avail_in += (uInt)n;
  return 0;
}

/* Decompresses into dst: the byte count (0 at the end of the stream), or -1
 * with err set. An error found after some output is kept in r->pending and
 * returned by the next call, so the output before it is never lost. */
static long inflate_some(Reader *r, char *dst, size_t want, char *err, size_t errlen) {
  if (r->pending[0]) {
    snprintf(err, errlen, "%s", r->pending);
    return -1;
  }
  r->zs.next_out = (Bytef *)dst;
  r->zs.avail_out = (uInt)want;
  const char *fail = NULL;
  while (r->zs.avail_out > 0) {
    if (r->zs.avail_in < 2 && !r->in_eof && refill(r) < 0) {
      fail = strerror(errno ? errno : EIO);
      break;
    }
    if (r->member_done) { /* another member, or the true end, or garbage */
      if (r->zs.avail_in == 0) break;
      if (r->zs.avail_in >= 2 && r->zs.next_in[0] == 0x1f && r->zs.next_in[1] == 0x8b) {
        inflateReset(&r->zs);
        r->member_done = 0;
        continue;
      }
      fail = "the compressed stream is corrupt (trailing bytes after the compressed stream)";
      r->pending_at_end = 1;
      break;
    }
    if (r->zs.avail_in == 0) {
      fail = "the compressed stream ends early (truncated file)";
      break;
    }
    int rc = inflate(&r->zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      r->member_done = 1;
    } else if (rc == Z_DATA_ERROR) {
      const char *msg = r->zs.msg ? r->zs.msg : "";
      r->pending_at_end =
          strcmp(msg, "incorrect data check") == 0 || strcmp(msg, "incorrect length check") == 0;
      if (strcmp(msg, "incorrect data check") == 0)
        fail = "the compressed stream is corrupt (CRC mismatch)";
      else if (strcmp(msg, "incorrect length check") == 0)
        fail = "the compressed stream is corrupt (length mismatch)";
      else {
        snprintf(r->pending, sizeof r->pending, "corrupt compressed data: %s", *msg ? msg : "invalid data");
        break;
      }
      break;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      fail = rc == Z_MEM_ERROR ? "out of memory for the decompressor" : "the decompressor failed";
      break;
    }
  }
  if (fail) snprintf(r->pending, sizeof r->pending, "%s", fail);
  long got = (long)(want - r->zs.avail_out);
  if (got == 0 && r->pending[0]) {
    snprintf(err, errlen, "%s", r->pending);
    return -1;
  }
  return got;
}

/* Fills dst with the next bytes of the stream (see inflate_some). */
static long read_stream(Reader *r, char *dst, size_t want, char *err, size_t errlen) {
  if (r->gzip) return inflate_some(r, dst, want, err, errlen);
  size_t have = r->zs.avail_in; /* bytes read while looking for the magic */
  if (have > 0) {
    if (have > want) have = want;
    memcpy(dst, r->zs.next_in, have);
    r->zs.next_in += have;
    r->zs.avail_in -= (uInt)have;
    return (long)have;
  }
  if (r->in_eof) return 0;
  errno = 0;
  long n = read_raw(r, (unsigned char *)dst, want);
  if (n < 0) snprintf(err, errlen, "%s", strerror(errno ? errno : EIO));
  return n;
}

/* Sets line and len to the next line (without its '\n'). Lines longer than
 * max_line come back as RL_TOOLONG (line counted, contents dropped); the '\r'
 * of a CRLF ending does not count, so a file's line endings never decide
 * which of its lines are read. */
static int read_line(Reader *r, const char **line, size_t *len, char *err, size_t errlen) {
  for (;;) {
    char *nl = r->end > r->scan ? (char *)memchr(r->buf + r->scan, '\n', r->end - r->scan) : NULL;
    if (nl || (r->eof && r->start < r->end)) {
      size_t stop = nl ? (size_t)(nl - r->buf) : r->end;
      size_t next = nl ? stop + 1 : stop;
      *line = r->buf + r->start;
      *len = stop - r->start;
      r->consumed += (long long)(next - r->start);
      r->lineno++;
      r->start = r->scan = next;
      if (r->skipping || *len - (*len > 0 && (*line)[*len - 1] == '\r') > r->max_line) {
        r->skipping = 0;
        return RL_TOOLONG;
      }
      return RL_LINE;
    }
    r->scan = r->end;
    if (r->eof) {
      if (r->skipping) { /* the long line ran to the end of the file */
        r->skipping = 0;
        r->lineno++;
        return RL_TOOLONG;
      }
      if (r->pending_at_end) {
        snprintf(err, errlen, "%s", r->pending);
        r->pending_at_end = 0;
        return RL_ERROR;
      }
      return RL_END;
    }
    if (r->end - r->start > r->max_line + 1) { /* (+1: a '\r' before the '\n' to come) */
      r->consumed += (long long)(r->end - r->start);
      r->start = r->scan = r->end = 0;
      r->skipping = 1;
    }
    if (r->start > 0) { /* keep the partial line at the front */
      memmove(r->buf, r->buf + r->start, r->end - r->start);
      r->end -= r->start;
      r->scan -= r->start;
      r->start = 0;
    }
    if (r->cap - r->end < READ_CHUNK) {
      size_t cap = r->cap * 2;
      char *p = (char *)realloc(r->buf, cap);
      if (!p) {
        snprintf(err, errlen, "out of memory for a line of %zu bytes", r->end);
        return RL_ERROR;
      }
      r->buf = p;
      r->cap = cap;
    }
    size_t want = r->cap - r->end;
    if (want > ((size_t)1 << 30)) want = (size_t)1 << 30;
    long got = read_stream(r, r->buf + r->end, want, err, errlen);
    if (got < 0 && r->pending_at_end && !r->eof) {
      /* the data is whole (a bad trailer, bytes after the end): its last
       * line counts even without a '\n'; the error follows it */
      r->eof = 1;
      continue;
    }
    if (got < 0) return RL_ERROR;
    if (got == 0) r->eof = 1;
    r->end += (size_t)got;
  }
}

/* After a line that made the buffer grow has been turned into a Lua value,
 * gives the memory back: a 300 MB line must not keep 300 MB for the rest of
 * the file while the recipe, the example and the rendered line need theirs. */
static void shrink_buffer(Reader *r) {
  size_t rest = r->end - r->start;
  if (r->cap <= READ_BUF_INIT || rest > READ_BUF_INIT / 2) return;
  memmove(r->buf, r->buf + r->start, rest);
  r->end = rest;
  r->scan -= r->start;
  r->start = 0;
  char *p = (char *)realloc(r->buf, READ_BUF_INIT);
  if (p) { /* (else keep the larger one) */
    r->buf = p;
    r->cap = READ_BUF_INIT;
  }
}

static int is_blank(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
  return 1;
}

/* Gets the next non-blank line into p and n (CR and, on line 1, a BOM
 * stripped) and returns -1; or pushes the end / error results and returns
 * their count. */
static int fetch(lua_State *L, Reader *r, const char **p, size_t *n) {
  char err[256];
  if (r->dead) {
    lua_pushnil(L);
    return 1;
  }
  for (;;) {
    const char *line;
    size_t len;
    switch (read_line(r, &line, &len, err, sizeof err)) {
      case RL_END: lua_pushnil(L); return 1;
      case RL_ERROR:
        r->dead = 1;
        lua_pushboolean(L, 0);
        /* The line being read when the stream broke: the ones before it are
         * whole and were returned. */
        lua_pushfstring(L, "%s:%I: %s", r->name, (lua_Integer)r->lineno + 1, err);
        lua_pushinteger(L, (lua_Integer)r->lineno + 1);
        return 3;
      case RL_TOOLONG:
        lua_pushboolean(L, 0);
        lua_pushfstring(L, "%s:%I: line longer than %I bytes (the max_line limit, --max-line-bytes)", r->name,
                        (lua_Integer)r->lineno, (lua_Integer)r->max_line);
        lua_pushinteger(L, (lua_Integer)r->lineno);
        return 3;
      default: break;
    }
    if (r->lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
      line += 3;
      len -= 3;
    }
    if (len > 0 && line[len - 1] == '\r') len--;
    if (!is_blank(line, len)) {
      *p = line;
      *n = len;
      return -1;
    }
  }
}

int lacuna_jsonl_next(lua_State *L, int idx) {
  Reader *r = check_open_reader(L, idx);
  const char *line;
  size_t len;
  int nres = fetch(L, r, &line, &len);
  if (nres >= 0) return nres;
  char err[256];
  int decoded = lacuna_json_decode_inplace(L, (char *)line, len, r->max_depth, err, sizeof err);
  shrink_buffer(r); /* line is not used below */
  if (decoded) {
    if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
      /* false is how a bad line comes back: a record `false` must not look
       * like one whose message is its line number (found by tests/fuzz) */
      lua_pop(L, 1);
      lua_pushboolean(L, 0);
      lua_pushfstring(L, "%s:%I: the line is the JSON value false, not a record", r->name,
                      (lua_Integer)r->lineno);
      lua_pushinteger(L, (lua_Integer)r->lineno);
      return 3;
    }
    lua_pushinteger(L, (lua_Integer)r->lineno);
    return 2;
  }
  lua_pushboolean(L, 0);
  lua_pushfstring(L, "%s:%I: %s", r->name, (lua_Integer)r->lineno, err);
  lua_pushinteger(L, (lua_Integer)r->lineno);
  return 3;
}

static int r_next(lua_State *L) { return lacuna_jsonl_next(L, 1); }

static int r_next_raw(lua_State *L) {
  Reader *r = check_open_reader(L, 1);
  const char *line;
  size_t len;
  int nres = fetch(L, r, &line, &len);
  if (nres >= 0) return nres;
  lua_pushlstring(L, line, len);
  shrink_buffer(r);
  lua_pushinteger(L, (lua_Integer)r->lineno);
  return 2;
}

static int r_lines_read(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check_reader(L, 1)->lineno);
  return 1;
}

/* Bytes of the (decompressed) stream consumed through the last line, and
 * the raw file offset read so far: for a .gz file only the second compares
 * with the file's size. */
static int r_bytes_read(lua_State *L) {
  Reader *r = check_reader(L, 1);
  lua_pushinteger(L, (lua_Integer)r->consumed);
  lua_pushinteger(L, r->gzip ? (lua_Integer)r->raw_read : (lua_Integer)r->consumed);
  return 2;
}

static void reader_release(Reader *r) {
  if (r->fd >= 0) {
    close(r->fd);
    r->fd = -1;
  }
  if (r->zs_ready) {
    inflateEnd(&r->zs);
    r->zs_ready = 0;
  }
  free(r->in);
  r->in = NULL;
  free(r->buf);
  r->buf = NULL;
}

static int r_close(lua_State *L) {
  reader_release(check_reader(L, 1));
  return 0;
}

static int r_gc(lua_State *L) {
  Reader *r = check_reader(L, 1);
  reader_release(r);
  free(r->name);
  r->name = NULL;
  return 0;
}

static int r_tostring(lua_State *L) {
  Reader *r = check_reader(L, 1);
  if (r->fd >= 0)
    lua_pushfstring(L, "lacuna.JsonlReader (%s, line %I)", r->name, (lua_Integer)r->lineno);
  else
    lua_pushliteral(L, "lacuna.JsonlReader (closed)");
  return 1;
}

static lua_Integer opt_int_field(lua_State *L, int opts, const char *key, lua_Integer def, lua_Integer lo,
                                 lua_Integer hi) {
  lua_Integer v = def;
  if (opts && lua_getfield(L, opts, key) != LUA_TNIL) {
    if (!lua_isinteger(L, -1)) luaL_error(L, "option '%s' must be an integer", key);
    v = lua_tointeger(L, -1);
    if (v < lo || v > hi) luaL_error(L, "option '%s' must be in %I..%I", key, lo, hi);
  }
  if (opts) lua_pop(L, 1);
  return v;
}

/* jsonl.open(path [, {max_line=, max_depth=}]) -> reader | nil, message */
static int l_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int opts = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    opts = 2;
  }
  /* (any limit memory could hold is taken; the line itself is what costs) */
  lua_Integer max_line = opt_int_field(L, opts, "max_line", (lua_Integer)DEFAULT_MAX_LINE, 1, MAX_MAX_LINE);
  lua_Integer depth =
      opt_int_field(L, opts, "max_depth", LACUNA_JSON_DEFAULT_DEPTH, 1, LACUNA_JSON_MAX_DEPTH);
  int is_stdin = strcmp(path, "-") == 0;

  Reader *r = (Reader *)lua_newuserdatauv(L, sizeof *r, 0);
  memset(r, 0, sizeof *r); /* closed until the file is open */
  r->fd = -1;
  luaL_setmetatable(L, LACUNA_JSONL_READER_MT);
  r->max_line = (size_t)max_line;
  r->max_depth = (int)depth;
  r->name = strdup(is_stdin ? "<stdin>" : path);
  r->buf = (char *)malloc(READ_BUF_INIT);
  r->in = (unsigned char *)malloc(GZ_BUF);
  if (!r->name || !r->buf || !r->in) return luaL_error(L, "jsonl.open: out of memory");
  r->cap = READ_BUF_INIT;

  struct stat st;
  if (!is_stdin && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: is a directory", path);
    return 2;
  }
  errno = 0;
  r->fd = is_stdin ? dup(0) /* closing it leaves our stdin open */ : open(path, O_RDONLY | O_CLOEXEC);
  r->zs.next_in = r->in;
  /* the gzip magic decides, as gzread's transparent mode did */
  while (r->fd >= 0 && r->zs.avail_in < 2 && !r->in_eof) {
    long n = read_raw(r, r->in + r->zs.avail_in, GZ_BUF - r->zs.avail_in);
    if (n < 0) {
      int e = errno;
      close(r->fd);
      r->fd = -1;
      errno = e;
    } else {
      r->zs.avail_in += (uInt)n;
    }
  }
  if (r->fd < 0) {
    int e = errno;
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", r->name, e ? strerror(e) : "cannot open");
    return 2;
  }
  r->gzip = r->zs.avail_in >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
  if (r->gzip) {
    if (inflateInit2(&r->zs, 16 + MAX_WBITS) != Z_OK) {
      close(r->fd);
      r->fd = -1;
      lua_pushnil(L);
      lua_pushfstring(L, "%s: out of memory for the decompressor", r->name);
      return 2;
    }
    r->zs_ready = 1;
  }
  return 1;
}

/* ------------------------------------------------------------- writer */

/* W_SEALED: the temporary file is complete, synced and closed; commit only
 * renames it. A direct writer (stdout, a device, a FIFO) has no temporary
 * file: its bytes go straight to the target. */
enum { W_NEW, W_OPEN, W_SEALED, W_COMMITTED, W_ABORTED };

typedef struct Writer {
  int fd;    /* plain output: our own buffer over write(2), or */
  gzFile gz; /* gzip output, over a dup of fd (fd stays for fsync) */
  int state;
  int direct; /* no temporary file, no rename, no fsync */
  int err;    /* first errno of a failed write: sticky, so a torn file never commits */
  char *path, *tmp;
  char *iobuf;
  size_t nbuf;
  long long count, bytes, size; /* lines, content bytes, bytes on disk once sealed */
  uLong crc;                    /* CRC-32 of the content (what gzip's trailer also holds) */
  lacuna_jsonbuf jb;            /* reused for every line */
} Writer;

static const char *const writer_state_names[] = {"new", "open", "sealed", "committed", "aborted"};

static Writer *check_writer(lua_State *L, int idx) {
  return (Writer *)luaL_checkudata(L, idx, LACUNA_JSONL_WRITER_MT);
}

static Writer *check_open_writer(lua_State *L, int idx) {
  Writer *w = check_writer(L, idx);
  if (w->state != W_OPEN)
    luaL_error(L, "attempt to use a %s jsonl writer",
               w->state == W_ABORTED || w->state == W_NEW ? "closed" : writer_state_names[w->state]);
  return w;
}

/* write(2) until done; 0 with errno set on failure. */
static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return 0;
    }
    if (k == 0) {
      errno = EIO;
      return 0;
    }
    p += k;
    n -= (size_t)k;
  }
  return 1;
}

static int flush_buf(Writer *w) {
  if (w->nbuf == 0) return 1;
  int ok = write_all(w->fd, w->iobuf, w->nbuf);
  w->nbuf = 0;
  return ok;
}

static const char *writer_errmsg(Writer *w) {
  if (w->gz && w->err == 0) {
    int code = Z_OK;
    const char *msg = gzerror(w->gz, &code);
    if (code != Z_ERRNO && msg && *msg) return msg;
  }
  return strerror(w->err ? w->err : EIO);
}

static int out_write(Writer *w, const char *p, size_t n) {
  if (w->err) return 0;
  errno = 0;
  if (w->gz) {
    while (n > 0) { /* gzwrite takes an unsigned count */
      unsigned part = n > (1u << 30) ? (1u << 30) : (unsigned)n;
      if (gzwrite(w->gz, p, part) != (int)part) {
        w->err = errno ? errno : EIO;
        return 0;
      }
      w->crc = lacuna_crc32(w->crc, p, part);
      w->bytes += part;
      p += part;
      n -= part;
    }
    return 1;
  }
  w->crc = lacuna_crc32(w->crc, p, n);
  w->bytes += (long long)n;
  if (w->nbuf + n > WRITE_BUF) {
    if (!flush_buf(w)) goto fail;
    if (n >= WRITE_BUF) {
      if (!write_all(w->fd, p, n)) goto fail;
      return 1;
    }
  }
  memcpy(w->iobuf + w->nbuf, p, n);
  w->nbuf += n;
  return 1;
fail:
  w->err = errno ? errno : EIO;
  return 0;
}

/* Flushes and closes the output (with fsync unless direct, when `sync`).
 * Returns 1, or 0 with a message in err. */
static int close_output(Writer *w, int sync, char *err, size_t errlen) {
  int ok = !w->err;
  if (w->gz) {
    errno = 0;
    int rc = gzclose(w->gz);
    w->gz = NULL;
    if (rc != Z_OK && ok) {
      ok = 0;
      w->err = rc == Z_ERRNO && errno ? errno : EIO;
    }
  } else if (w->fd >= 0 && ok && !flush_buf(w)) {
    ok = 0;
    w->err = errno ? errno : EIO;
  }
  if (w->fd >= 0) {
    struct stat st;
    if (ok && sync && !w->direct && fsync(w->fd) != 0) ok = 0, w->err = errno;
    if (ok && fstat(w->fd, &st) == 0) w->size = (long long)st.st_size;
    if (close(w->fd) != 0 && ok && errno != EINTR) ok = 0, w->err = errno;
    w->fd = -1;
  }
  if (!ok) snprintf(err, errlen, "%s: %s", w->tmp ? w->tmp : w->path, strerror(w->err ? w->err : EIO));
  free(w->iobuf);
  w->iobuf = NULL;
  return ok;
}

static void writer_abort(Writer *w) {
  char err[8];
  close_output(w, 0, err, sizeof err);
  if (w->tmp && w->state != W_NEW) unlink(w->tmp);
  w->state = W_ABORTED;
}

static int write_piece(void *w, const char *p, size_t n) { return out_write((Writer *)w, p, n); }

int lacuna_jsonl_write(lua_State *L, int idx, int vidx) {
  Writer *w = check_open_writer(L, idx);
  vidx = lua_absindex(L, vidx);
  const char *data;
  size_t len;
  int rendered =
      lua_type(L, vidx) == LUA_TUSERDATA ? lacuna_rendered_line_write(L, vidx, write_piece, w) : -1;
  if (rendered >= 0) { /* (written in pieces: a long text is escaped on its way out) */
    data = "";
    len = 0;
  } else if (lua_type(L, vidx) == LUA_TSTRING) {
    data = lua_tolstring(L, vidx, &len);
    if (memchr(data, '\n', len)) return luaL_error(L, "jsonl writer: a line must not contain a newline");
  } else {
    luaL_checkany(L, vidx);
    w->jb.len = 0;
    lacuna_json_encode_into(L, vidx, &w->jb);
    data = w->jb.data ? w->jb.data : "";
    len = w->jb.len;
  }
  if (!out_write(w, data, len) || !out_write(w, "\n", 1)) {
    lua_pushfstring(L, "%s: %s", w->tmp ? w->tmp : w->path, writer_errmsg(w));
    return 0;
  }
  w->count++;
  return 1;
}

static int w_write(lua_State *L) {
  luaL_checkany(L, 2);
  if (lacuna_jsonl_write(L, 1, 2)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

static int push_failure(lua_State *L, Writer *w, const char *err) {
  if (w->tmp) unlink(w->tmp);
  w->state = W_ABORTED;
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

/* w:seal() -> true | nil, message: flushes, syncs and closes the temporary
 * file, which stays under its temporary name until commit. On failure the
 * temporary file is removed. */
static int w_seal(lua_State *L) {
  Writer *w = check_open_writer(L, 1);
  char err[512];
  if (!close_output(w, 1, err, sizeof err)) return push_failure(L, w, err);
  w->state = W_SEALED;
  lua_pushboolean(L, 1);
  return 1;
}

/* w:commit() -> true | nil, message: seals an open writer, then renames the
 * temporary file over the target and syncs the directory. On failure the
 * temporary file is removed and the target is left as it was. */
static int w_commit(lua_State *L) {
  Writer *w = check_writer(L, 1);
  if (w->state != W_SEALED) check_open_writer(L, 1);
  char err[512];
  if (w->state == W_OPEN && !close_output(w, 1, err, sizeof err)) return push_failure(L, w, err);
  if (!w->direct) {
    if (rename(w->tmp, w->path) != 0) {
      snprintf(err, sizeof err, "%s: %s", w->path, strerror(errno));
      return push_failure(L, w, err);
    }
    if (!lacuna_sync_parent_dir(w->path)) {
      /* The file is in place; only its durability is in doubt. */
      snprintf(err, sizeof err, "%s: syncing its directory: %s", w->path, strerror(errno));
      w->state = W_COMMITTED;
      lua_pushnil(L);
      lua_pushstring(L, err);
      return 2;
    }
  }
  w->state = W_COMMITTED;
  lua_pushboolean(L, 1);
  return 1;
}

/* w:abort() -> true if an open or sealed writer was aborted, false if there was none */
static int w_abort(lua_State *L) {
  Writer *w = check_writer(L, 1);
  int was_open = w->state == W_OPEN || w->state == W_SEALED;
  if (was_open) writer_abort(w);
  lua_pushboolean(L, was_open);
  return 1;
}

static int w_close(lua_State *L) {
  Writer *w = check_writer(L, 1);
  if (w->state == W_OPEN || w->state == W_SEALED) writer_abort(w);
  return 0;
}

static int w_gc(lua_State *L) {
  Writer *w = check_writer(L, 1);
  if (w->state == W_OPEN || w->state == W_SEALED)
    writer_abort(w);
  else
    close_output(w, 0, (char[8]){0}, 8); /* a writer that failed to open */
  free(w->path);
  free(w->tmp);
  w->path = w->tmp = NULL;
  lacuna_jsonbuf_free(&w->jb);
  return 0;
}

static int w_count(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check_writer(L, 1)->count);
  return 1;
}

/* w:stats() -> {lines=, bytes=, crc32=, size=}: bytes and crc32 of the
 * content (uncompressed), size on disk once sealed (nil before). */
static int w_stats(lua_State *L) {
  Writer *w = check_writer(L, 1);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)w->count);
  lua_setfield(L, -2, "lines");
  lua_pushinteger(L, (lua_Integer)w->bytes);
  lua_setfield(L, -2, "bytes");
  char hex[9];
  snprintf(hex, sizeof hex, "%08lx", (unsigned long)w->crc & 0xffffffffUL);
  lua_pushstring(L, hex);
  lua_setfield(L, -2, "crc32");
  if (w->state == W_SEALED || w->state == W_COMMITTED) {
    lua_pushinteger(L, (lua_Integer)w->size);
    lua_setfield(L, -2, "size");
  }
  return 1;
}

/* w:temp_path() -> the temporary file's name (nil for a direct writer) */
static int w_temp_path(lua_State *L) {
  Writer *w = check_writer(L, 1);
  if (w->tmp)
    lua_pushstring(L, w->tmp);
  else
    lua_pushnil(L);
  return 1;
}

static int w_tostring(lua_State *L) {
  Writer *w = check_writer(L, 1);
  lua_pushfstring(L, "lacuna.JsonlWriter (%s, %I lines, %s)", w->path ? w->path : "?", (lua_Integer)w->count,
                  writer_state_names[w->state]);
  return 1;
}

/* Opens the output: a direct writer writes to the target itself ("-" is
 * stdout), any other to PATH.tmp.PID. Returns 0 or an errno. */
static int open_output(Writer *w, int gz, int is_stdout) {
  if (w->direct)
    w->fd = is_stdout ? dup(1) : open(w->path, O_WRONLY | O_APPEND | O_CLOEXEC);
  else
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (w->fd < 0) return errno;
  if (!gz) {
    w->iobuf = (char *)malloc(WRITE_BUF);
    return w->iobuf ? 0 : ENOMEM;
  }
  int fd2 = dup(w->fd); /* gzclose closes this one; fd stays for fsync */
  if (fd2 < 0) return errno;
  w->gz = gzdopen(fd2, "wb");
  if (!w->gz) {
    close(fd2);
    return ENOMEM;
  }
  gzbuffer(w->gz, (unsigned)WRITE_BUF);
  return 0;
}

/* jsonl.writer(path [, {gzip=bool, direct=bool}]) -> writer | nil, message
 * direct: write to path itself (a device, a FIFO; "-" is stdout) with no
 * temporary file and no rename. */
static int l_writer(lua_State *L) {
  size_t plen;
  const char *path = luaL_checklstring(L, 1, &plen);
  int gz = plen >= 3 && strcmp(path + plen - 3, ".gz") == 0;
  int direct = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    if (lua_getfield(L, 2, "gzip") != LUA_TNIL) gz = lua_toboolean(L, -1);
    if (lua_getfield(L, 2, "direct") != LUA_TNIL) direct = lua_toboolean(L, -1);
    lua_pop(L, 2);
  }
  int is_stdout = direct && strcmp(path, "-") == 0;

  Writer *w = (Writer *)lua_newuserdatauv(L, sizeof *w, 0);
  memset(w, 0, sizeof *w); /* W_NEW: nothing to close yet */
  w->fd = -1;
  w->direct = direct;
  w->crc = crc32(0L, Z_NULL, 0);
  luaL_setmetatable(L, LACUNA_JSONL_WRITER_MT);
  w->path = strdup(is_stdout ? "<stdout>" : path);
  if (!w->path) return luaL_error(L, "jsonl.writer: out of memory");
  if (!direct) {
    w->tmp = (char *)malloc(plen + 32);
    if (!w->tmp) return luaL_error(L, "jsonl.writer: out of memory");
    snprintf(w->tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
  }
  int e = open_output(w, gz, is_stdout);
  if (e) {
    char err[8];
    int created = !direct && w->fd >= 0;
    close_output(w, 0, err, sizeof err);
    if (created) unlink(w->tmp);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", direct ? w->path : w->tmp, strerror(e));
    return 2;
  }
  w->state = W_OPEN;
  return 1;
}

/* ------------------------------------------------------------- module */

static const luaL_Reg reader_methods[] = {
    {"next", r_next},
    {"next_raw", r_next_raw},
    {"lines_read", r_lines_read},
    {"bytes_read", r_bytes_read},
    {"close", r_close},
    {NULL, NULL},
};

static const luaL_Reg reader_meta[] = {
    {"__gc", r_gc},    {"__close", r_close}, {"__tostring", r_tostring},
    {"__index", NULL}, /* set to the methods below */
    {NULL, NULL},
};

static const luaL_Reg writer_methods[] = {
    {"write", w_write}, {"seal", w_seal},   {"commit", w_commit},       {"abort", w_abort},
    {"count", w_count}, {"stats", w_stats}, {"temp_path", w_temp_path}, {NULL, NULL},
};

static const luaL_Reg writer_meta[] = {
    {"__gc", w_gc}, {"__close", w_close}, {"__tostring", w_tostring}, {"__index", NULL}, {NULL, NULL},
};

static const luaL_Reg jsonl_funcs[] = {
    {"open", l_open},
    {"writer", l_writer},
    {NULL, NULL},
};

static void new_type(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

int lacuna_open_jsonl(lua_State *L) {
  new_type(L, LACUNA_JSONL_READER_MT, reader_meta, reader_methods);
  new_type(L, LACUNA_JSONL_WRITER_MT, writer_meta, writer_methods);
  luaL_newlib(L, jsonl_funcs);
  return 1;
}
