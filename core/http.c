/* HTTP over libcurl's multi interface, for the teacher: JSON POSTs, and for
 * the Batch API a multipart file upload and a GET that can stream a large
 * body to a file. A request made
 * inside a work item suspends only that item's task; the scheduler polls the
 * multi handle when no task can run, and completions wake their tasks. Curl's
 * callbacks only append bytes and note headers; Lua never runs inside them.
 * Outside a run (a script, the REPL) the same call blocks.
 *
 * Inside a run libcurl is driven by socket events (epoll and
 * curl_multi_socket_action, as curl's ephiperfifo.c example), so each poll
 * costs what the sockets with events cost, not a look at every transfer in
 * flight; a request goes out as soon as its task makes it, and replies are
 * handed to their tasks a few at a time, so that the requests those tasks
 * make leave between them (tests/bench/run_teacher.sh measures it).
 *
 * Retries, backoff, rate limits and caching are policy: lua/lacuna/teacher.lua. */
#include <curl/curl.h>
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "areas.h"
#include "sched.h"

#define CLIENT_MT "lacuna.HttpClient"
#define MAX_BODY ((size_t)256 << 20)
/* Easy handles kept for reuse: curl_easy_reset is much cheaper than a new
 * handle per request. */
#define SPARE_EASY_MAX 1024
/* Replies handed to their tasks per poll. The tasks run, and the requests
 * they make go out, before the next few are delivered: delivering a hundred
 * replies at once would hold every next request back until all hundred
 * tasks had run, and keep the requests in flight in bursts. */
#define DELIVER_MAX 8

typedef struct transfer {
  CURL *easy;
  struct http_client *client;
  struct transfer *prev, *next; /* in-flight list */
  unsigned long run_id;         /* 0: a blocking call outside any run */
  lua_Integer token;
  int done;
  char *body;
  size_t len, cap;
  int too_big;
  double retry_after; /* seconds, < 0 when absent */
  double limits[6];   /* x-ratelimit-* values (LIMIT_NAMES order); valid where limits_seen has the bit */
  unsigned limits_seen;
  struct curl_slist *headers;
  char *upload; /* the request body (CURLOPT_POSTFIELDS) */
  size_t upload_len;
  int sends;       /* times the request went out: > 1 when curl re-sent it */
  curl_mime *mime; /* upload(): the multipart form, its file part read by curl */
  FILE *sink;      /* get{to=}: where a 2xx body goes instead of memory */
  int sink_failed; /* a write to sink failed */
  long status;
  CURLcode result;
  char errbuf[CURL_ERROR_SIZE];
} transfer;

typedef struct http_client {
  CURLM *multi;
  transfer *inflight;
  int ninflight;
  /* Finished transfers of a run's tasks, in the order they finished, until
   * the scheduler's poll delivers them (a few at a time: DELIVER_MAX). */
  transfer *finished, *finished_tail;
  int nfinished;
  long long requests, failures;
  lacuna_sched *sched; /* the run whose poller list holds us */
  unsigned long sched_run;
  /* The run's event loop: libcurl tells which sockets to watch
   * (CURLMOPT_SOCKETFUNCTION) and when its next timeout is due
   * (CURLMOPT_TIMERFUNCTION); only the sockets with events are handed back
   * (curl_multi_socket_action), where curl_multi_perform would look at every
   * transfer in flight each time. */
  int epfd;
  double timer_due; /* monotonic seconds; < 0 when no timeout is set */
  CURL **spare;     /* finished easy handles, reset, for the next transfers */
  int nspare, capspare;
  struct fd_watch *fds; /* by descriptor: what the epoll set holds */
  int nfds;
} http_client;

/* Registry key of this state's hold on libcurl's global setup. libcurl counts
 * curl_global_init calls (thread-safe in builds with the "threadsafe"
 * feature), so each runtime takes its own hold and releases it when its state
 * closes, and no flag is shared between runtimes. */
static const char CURL_HOLD_KEY = 'C';

static int curl_hold_gc(lua_State *L) {
  int *held = lua_touserdata(L, 1);
  if (*held) curl_global_cleanup();
  *held = 0;
  return 0;
}

/* Takes this state's hold on libcurl once, before its first client, so the
 * hold is finalized after every client (Lua finalizes in reverse order). */
static void hold_curl(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &CURL_HOLD_KEY) != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  int *held = lua_newuserdatauv(L, sizeof *held, 0);
  *held = 0;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, curl_hold_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    lua_pop(L, 1);
    luaL_error(L, "http: curl_global_init failed");
  }
  *held = 1;
  lua_rawsetp(L, LUA_REGISTRYINDEX, &CURL_HOLD_KEY);
}

static http_client *check_client(lua_State *L, int idx) {
  http_client *c = luaL_checkudata(L, idx, CLIENT_MT);
  if (!c->multi) luaL_error(L, "http client is closed");
  return c;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  size_t add = size * n;
  if (t->sink) {
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      if (fwrite(data, 1, add, t->sink) != add) {
        t->sink_failed = 1;
        return 0;
      }
      return add;
    }
  }
  if (t->len + add > MAX_BODY) {
    t->too_big = 1;
    return 0; /* makes curl fail the transfer */
  }
  if (t->len + add + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + add + 1) cap *= 2;
    char *p = realloc(t->body, cap);
    if (!p) return 0;
    t->body = p;
    t->cap = cap;
  }
  memcpy(t->body + t->len, data, add);
  t->len += add;
  return add;
}

/* The rate-limit headers OpenAI sends (OpenRouter and many proxies too), after
 * "x-ratelimit-"; handed to Lua as the fields of the same names with '_'. */
static const char *const LIMIT_NAMES[6] = {"limit-requests",   "limit-tokens",   "remaining-requests",
                                           "remaining-tokens", "reset-requests", "reset-tokens"};
static const char *const LIMIT_FIELDS[6] = {"limit_requests",   "limit_tokens",   "remaining_requests",
                                            "remaining_tokens", "reset_requests", "reset_tokens"};

/* A duration as OpenAI writes its resets (Go's format: "1s", "6m0s",
 * "20ms", "1h2m3.5s") or plain seconds ("0.5"). Returns seconds, or -1. */
static double parse_duration(const char *v) {
  char *end;
  double secs = strtod(v, &end);
  if (end == v || secs < 0) return -1;
  if (*end == '\0') return secs; /* plain seconds */
  secs = 0;
  const char *p = v;
  while (*p) {
    double x = strtod(p, &end);
    if (end == p || x < 0) return -1;
    p = end;
    double unit;
    if (strncmp(p, "ms", 2) == 0)
      unit = 1e-3, p += 2;
    else if (strncmp(p, "us", 2) == 0)
      unit = 1e-6, p += 2;
    else if (strncmp(p, "\xc2\xb5s", 3) == 0)
      unit = 1e-6, p += 3; /* µs */
    else if (strncmp(p, "ns", 2) == 0)
      unit = 1e-9, p += 2;
    else if (*p == 'h')
      unit = 3600, p++;
    else if (*p == 'm')
      unit = 60, p++;
    else if (*p == 's')
      unit = 1, p++;
    else
      return -1;
    secs += x * unit;
  }
  return secs;
}

/* Copies a header's value (after the colon) without surrounding blanks. */
static void header_value(const char *data, size_t len, size_t skip, char *value, size_t cap) {
  size_t vlen = len - skip;
  if (vlen >= cap) vlen = cap - 1;
  memcpy(value, data + skip, vlen);
  value[vlen] = '\0';
  char *v = value;
  while (*v == ' ' || *v == '\t') v++;
  memmove(value, v, strlen(v) + 1);
  for (char *e = value + strlen(value); e > value && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '); e--)
    e[-1] = '\0';
}

/* x-ratelimit-*: noted in the transfer, read by Lua after the reply. */
static void note_limit(transfer *t, const char *data, size_t len) {
  static const char prefix[] = "x-ratelimit-";
  const size_t plen = sizeof prefix - 1;
  if (len <= plen || strncasecmp(data, prefix, plen) != 0) return;
  for (int i = 0; i < 6; i++) {
    size_t nlen = strlen(LIMIT_NAMES[i]);
    if (len > plen + nlen && data[plen + nlen] == ':' &&
        strncasecmp(data + plen, LIMIT_NAMES[i], nlen) == 0) {
      char value[64];
      header_value(data, len, plen + nlen + 1, value, sizeof value);
      double v;
      if (i >= 4) {
        v = parse_duration(value);
      } else {
        char *end;
        v = strtod(value, &end);
        if (end == value || *end != '\0') v = -1;
      }
      if (v >= 0 && isfinite(v)) {
        t->limits[i] = v;
        t->limits_seen |= 1u << i;
      }
      return;
    }
  }
}

/* Retry-After: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
static size_t on_header(char *data, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  size_t len = size * n;
  static const char name[] = "retry-after:";
  /* A new status line (a redirect, a 100 Continue) starts a new set. */
  if (len > 5 && strncmp(data, "HTTP/", 5) == 0) t->limits_seen = 0;
  note_limit(t, data, len);
  if (len > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
    char value[128];
    size_t vlen = len - (sizeof name - 1);
    if (vlen >= sizeof value) vlen = sizeof value - 1;
    memcpy(value, data + sizeof name - 1, vlen);
    value[vlen] = '\0';
    char *v = value;
    while (*v == ' ' || *v == '\t') v++;
    for (char *e = v + strlen(v); e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '); e--)
      e[-1] = '\0';
    char *end;
    double secs = strtod(v, &end);
    if (end != v && *end == '\0' && secs >= 0) {
      t->retry_after = secs;
    } else {
      time_t when = curl_getdate(v, NULL);
      if (when != -1) {
        double d = difftime(when, time(NULL));
        t->retry_after = d > 0 ? d : 0;
      }
    }
  }
  return len;
}

/* Called each time a request is about to go out on a connection: when a
 * reused keep-alive connection turns out dead before the reply, libcurl
 * sends the whole request again on another one, by itself, and this sees
 * it. sends > 1 then (each send may have been billed). */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port) {
  (void)primary_ip;
  (void)local_ip;
  (void)primary_port;
  (void)local_port;
  transfer *t = ud;
  t->sends++;
  return CURL_PREREQFUNC_OK;
}

/* POSTs a copy of body. As CURLOPT_POSTFIELDS, libcurl writes a small body
 * with the headers, in one send (a read callback would cost a second send
 * and a second packet per request). 0 when out of memory. */
static int attach_body(transfer *t, const char *body, size_t blen) {
  t->upload = malloc(blen ? blen : 1);
  if (!t->upload) return 0;
  memcpy(t->upload, body, blen);
  t->upload_len = blen;
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->upload);
  curl_easy_setopt(t->easy, CURLOPT_PREREQFUNCTION, on_prereq);
  curl_easy_setopt(t->easy, CURLOPT_PREREQDATA, t);
  return 1;
}

static void unlink_transfer(http_client *c, transfer *t) {
  if (t->prev)
    t->prev->next = t->next;
  else
    c->inflight = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = NULL;
  c->ninflight--;
}

/* Keeps a finished transfer's easy handle (reset) for the next one. */
static void recycle_easy(http_client *c, CURL *e) {
  if (c && c->multi && c->nspare < SPARE_EASY_MAX) {
    if (c->nspare == c->capspare) {
      int cap = c->capspare ? c->capspare * 2 : 64;
      CURL **p = realloc(c->spare, (size_t)cap * sizeof *p);
      if (p) {
        c->spare = p;
        c->capspare = cap;
      }
    }
    if (c->nspare < c->capspare) {
      curl_easy_reset(e);
      c->spare[c->nspare++] = e;
      return;
    }
  }
  curl_easy_cleanup(e);
}

static void free_transfer(transfer *t) {
  if (t->easy) recycle_easy(t->client, t->easy);
  curl_mime_free(t->mime);
  if (t->sink) fclose(t->sink);
  curl_slist_free_all(t->headers);
  free(t->upload);
  free(t->body);
  free(t);
}

/* Pushes the x-ratelimit-* values seen as a table, or nil when none. */
static void push_limits(lua_State *L, transfer *t) {
  if (!t->limits_seen) {
    lua_pushnil(L);
    return;
  }
  lua_createtable(L, 0, 6);
  for (int i = 0; i < 6; i++) {
    if (!(t->limits_seen & (1u << i))) continue;
    lua_pushnumber(L, t->limits[i]);
    lua_setfield(L, -2, LIMIT_FIELDS[i]);
  }
}

/* What kind of transport failure: "timeout", "body" (the reply was cut or
 * could not be decoded) or "reset" (the connection failed or was dropped). */
static const char *failure_kind(transfer *t) {
  if (t->result == CURLE_OPERATION_TIMEDOUT) return "timeout";
  if (t->too_big || t->result == CURLE_PARTIAL_FILE || t->result == CURLE_BAD_CONTENT_ENCODING ||
      t->result == CURLE_WRITE_ERROR)
    return "body";
  return "reset";
}

/* Pushes status, body, retry_after, error, sends, limits, failure kind — the
 * results of one POST. */
static void push_results(lua_State *L, transfer *t) {
  if (t->result == CURLE_OK) {
    lua_pushinteger(L, t->status);
    lua_pushlstring(L, t->body ? t->body : "", t->len);
    if (t->retry_after >= 0)
      lua_pushnumber(L, t->retry_after);
    else
      lua_pushnil(L);
    lua_pushnil(L);
  } else {
    lua_pushinteger(L, t->status); /* 0 unless the error came after the headers */
    lua_pushlstring(L, t->body ? t->body : "", t->len);
    lua_pushnil(L);
    if (t->too_big)
      lua_pushfstring(L, "response larger than %d MB", (int)(MAX_BODY >> 20));
    else if (t->sink_failed)
      lua_pushliteral(L, "cannot write the downloaded body");
    else
      lua_pushfstring(L, "%s%s%s", curl_easy_strerror(t->result), t->errbuf[0] ? ": " : "", t->errbuf);
  }
  lua_pushinteger(L, t->sends);
  push_limits(L, t);
  if (t->result == CURLE_OK)
    lua_pushnil(L);
  else
    lua_pushstring(L, failure_kind(t));
}

/* Hands a finished transfer of a run's task to its task (which the run may
 * have ended meanwhile), then frees it. */
static void deliver(lacuna_sched *s, transfer *t) {
  lua_State *co = (s && t->run_id == lacuna_sched_run_id(s)) ? lacuna_sched_thread(s, t->token) : NULL;
  if (co) {
    push_results(co, t);
    lacuna_sched_wake(s, t->token, 7);
  }
  free_transfer(t);
}

/* Collects finished transfers: marks a blocking call's done, and queues a
 * task's for the scheduler's poll to deliver (also when a blocking call is
 * draining: freeing it would leave its task waiting for an event nobody
 * delivers). */
static void drain(http_client *c) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    transfer *t;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    t->result = msg->data.result;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    curl_multi_remove_handle(c->multi, t->easy);
    unlink_transfer(c, t);
    if (t->result != CURLE_OK) c->failures++;
    if (t->sends > 1) c->requests += t->sends - 1; /* libcurl's own re-sends */
    if (t->run_id == 0) {
      t->done = 1; /* the blocking caller reads and frees it */
    } else {
      if (c->finished_tail)
        c->finished_tail->next = t;
      else
        c->finished = t;
      c->finished_tail = t;
      c->nfinished++;
    }
  }
}

/* Delivers up to max finished transfers, oldest first; returns how many. */
static int deliver_finished(http_client *c, lacuna_sched *s, int max) {
  int n = 0;
  for (; n < max && c->finished; n++) {
    transfer *t = c->finished;
    c->finished = t->next;
    if (!c->finished) c->finished_tail = NULL;
    c->nfinished--;
    t->next = NULL;
    deliver(s, t);
  }
  return n;
}

static int poller_pending(void *ud) {
  http_client *c = ud;
  return c->ninflight + c->nfinished;
}

/* What the epoll set holds for a descriptor (http_client.fds). A socket
 * libcurl no longer wants watched (its transfer is done; the connection
 * waits for the next request) stays in the set: taking it out and putting
 * it back would cost two system calls per request. An event on it is
 * stray: then it leaves the set. A descriptor leaves the set by itself
 * when closed, so on_close_socket forgets it. */
enum { FD_IN_SET = 1, FD_WANTED = 2 };
typedef struct fd_watch {
  unsigned char flags;
  unsigned events; /* EPOLLIN | EPOLLOUT, as registered */
} fd_watch;

/* The entry of descriptor fd, or NULL when out of memory. */
static fd_watch *fd_entry(http_client *c, int fd) {
  if (fd < 0) return NULL;
  if (fd >= c->nfds) {
    int n = c->nfds ? c->nfds : 64;
    while (n <= fd) n *= 2;
    fd_watch *p = realloc(c->fds, (size_t)n * sizeof *p);
    if (!p) return NULL;
    memset(p + c->nfds, 0, (size_t)(n - c->nfds) * sizeof *p);
    c->fds = p;
    c->nfds = n;
  }
  return &c->fds[fd];
}

/* CURLMOPT_SOCKETFUNCTION: keeps the epoll set in step with the sockets
 * libcurl wants watched. */
static int on_socket(CURL *easy, curl_socket_t sock, int what, void *ud, void *sockp) {
  (void)easy;
  (void)sockp;
  http_client *c = ud;
  fd_watch *w = fd_entry(c, sock);
  if (what == CURL_POLL_REMOVE) {
    if (w) w->flags &= (unsigned char)~FD_WANTED;
    return 0;
  }
  unsigned events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
  if (w && (w->flags & FD_IN_SET) && w->events == events) {
    w->flags |= FD_WANTED;
    return 0;
  }
  struct epoll_event ev = {0};
  ev.events = events;
  ev.data.fd = sock;
  int op = w && (w->flags & FD_IN_SET) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(c->epfd, op, sock, &ev) != 0) {
    /* (a descriptor that left the set when closed, or is in it already) */
    op = errno == EEXIST ? EPOLL_CTL_MOD : errno == ENOENT ? EPOLL_CTL_ADD : -1;
    if (op < 0 || epoll_ctl(c->epfd, op, sock, &ev) != 0) return -1;
  }
  if (w) {
    w->flags = FD_IN_SET | FD_WANTED;
    w->events = events;
  }
  return 0;
}

/* CURLOPT_CLOSESOCKETFUNCTION: a closed descriptor has left the epoll set,
 * and its number may come back for another socket. */
static int on_close_socket(void *ud, curl_socket_t sock) {
  http_client *c = ud;
  if (sock >= 0 && sock < c->nfds) c->fds[sock].flags = 0;
  return close(sock);
}

/* CURLMOPT_TIMERFUNCTION: when libcurl wants curl_multi_socket_action
 * called with CURL_SOCKET_TIMEOUT (-1: never). */
static int on_timer(CURLM *multi, long timeout_ms, void *ud) {
  (void)multi;
  http_client *c = ud;
  c->timer_due = timeout_ms < 0 ? -1 : lacuna_sched_now() + (double)timeout_ms / 1000.0;
  return 0;
}

/* Runs libcurl's due timeout, if any: starts new transfers, times out old. */
static void run_timer(http_client *c) {
  if (c->timer_due < 0 || c->timer_due > lacuna_sched_now()) return;
  int running;
  c->timer_due = -1;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

/* Waits up to timeout_ms for socket events and hands them to libcurl. */
static void wait_sockets(http_client *c, int timeout_ms) {
  if (c->timer_due >= 0) {
    double ms = (c->timer_due - lacuna_sched_now()) * 1000.0;
    int due = ms <= 0 ? 0 : (int)ms + 1;
    if (due < timeout_ms) timeout_ms = due;
  }
  struct epoll_event evs[256];
  int n = epoll_wait(c->epfd, evs, (int)(sizeof evs / sizeof evs[0]), timeout_ms);
  for (int i = 0; i < n; i++) {
    int fd = evs[i].data.fd;
    if (fd < c->nfds && !(c->fds[fd].flags & FD_WANTED)) {
      /* stray: an idle connection's socket (the server closed it, say);
       * libcurl looks at it again before reusing it */
      epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
      c->fds[fd].flags = 0;
      continue;
    }
    int mask = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
               (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
               (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    int running;
    curl_multi_socket_action(c->multi, evs[i].data.fd, mask, &running);
  }
  run_timer(c);
}

/* The scheduler's poll: delivers what finished; when nothing has, waits for
 * socket events or libcurl's next timeout (at most timeout_ms). */
static void poller_poll(void *ud, lacuna_sched *s, int timeout_ms) {
  http_client *c = ud;
  run_timer(c);
  drain(c);
  if (!c->nfinished && c->ninflight > 0) {
    wait_sockets(c, timeout_ms < 0 ? 1000 : timeout_ms);
    drain(c);
  }
  deliver_finished(c, s, DELIVER_MAX);
}

static int k_post(lua_State *L, int status, lua_KContext ctx) {
  (void)L;
  (void)status;
  (void)ctx;
  return 7;
}

static double opt_number(lua_State *L, int idx, const char *field, double dflt) {
  if (lua_isnoneornil(L, idx)) return dflt;
  lua_getfield(L, idx, field);
  double v = lua_isnil(L, -1) ? dflt : luaL_checknumber(L, -1);
  lua_pop(L, 1);
  return v;
}

/* A transfer to url with the header list at index hidx and the common
 * options (timeouts from the table at oidx); raises on a caller mistake. */
static transfer *new_transfer(lua_State *L, http_client *c, const char *url, int hidx, int oidx) {
  luaL_checktype(L, hidx, LUA_TTABLE);
  double timeout = opt_number(L, oidx, "timeout", 120);
  double connect_timeout = opt_number(L, oidx, "connect_timeout", 10);
  double stall = opt_number(L, oidx, "stall", 60);
  transfer *t = calloc(1, sizeof *t);
  if (!t) luaL_error(L, "http: out of memory");
  t->client = c;
  t->retry_after = -1;
  t->easy = c->nspare > 0 ? c->spare[--c->nspare] : curl_easy_init();
  if (!t->easy) {
    free(t);
    luaL_error(L, "http: curl_easy_init failed");
  }
  lua_Integer nh = luaL_len(L, hidx);
  for (lua_Integer i = 1; i <= nh; i++) {
    lua_rawgeti(L, hidx, i);
    const char *h = lua_tostring(L, -1);
    if (!h) {
      free_transfer(t);
      luaL_error(L, "http: header %d is not a string", (int)i);
    }
    t->headers = curl_slist_append(t->headers, h);
    lua_pop(L, 1);
  }
  CURL *e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, url);
  /* The teacher speaks HTTP: never file://, ftp:// or anything else curl
   * knows, not even through a redirect. */
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_timeout * 1000));
  /* A stalled server (no byte for `stall` seconds) fails fast, before the
   * overall timeout. */
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(stall < 1 ? 1 : stall));
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  return t;
}

/* Hands t to the multi handle: suspends the calling task until it is done
 * (inside a run) or drives the transfer to its end (outside). s is
 * lacuna_sched_current(L), taken before t was allocated. */
static int start_transfer(lua_State *L, http_client *c, transfer *t, lacuna_sched *s) {
  if (s) {
    t->run_id = lacuna_sched_run_id(s);
    t->token = lacuna_sched_token(L);
    if (c->sched != s || c->sched_run != t->run_id) {
      lacuna_poller p = {poller_pending, poller_poll, c};
      if (!lacuna_sched_add_poller(s, p)) {
        free_transfer(t);
        return luaL_error(L, "http: too many pollers");
      }
      c->sched = s;
      c->sched_run = t->run_id;
    }
  }
  if (curl_multi_add_handle(c->multi, t->easy) != CURLM_OK) {
    free_transfer(t);
    return luaL_error(L, "http: cannot add the transfer");
  }
  t->next = c->inflight;
  if (c->inflight) c->inflight->prev = t;
  c->inflight = t;
  c->ninflight++;
  c->requests++;
  if (s) {
    /* Sent now, not when every task made ready with this one has run: a
     * request that waits for the others' work comes back that much later. */
    run_timer(c);
    lua_settop(L, 0);
    return lacuna_sched_suspend(L, 0, k_post);
  }
  /* Blocking: drive the multi handle until this transfer is done. */
  while (!t->done) {
    int running;
    curl_multi_perform(c->multi, &running);
    drain(c);
    if (!t->done) curl_multi_poll(c->multi, NULL, 0, 100, NULL);
  }
  push_results(L, t);
  free_transfer(t);
  return 7;
}

/* client:post(url, headers, body [, {timeout=, connect_timeout=, stall=}])
 *   -> status, body, retry_after|nil, error|nil, sends, limits|nil, failure|nil
 * A transport failure (timeout, reset, refused, truncated body) is not raised:
 * it comes back as `error`, and its kind as `failure` ("timeout", "reset",
 * "body"), for the caller's retry policy. sends counts the times the request
 * went out (libcurl re-sends on a dead reused connection). limits: the
 * x-ratelimit-* headers of the reply, {limit_requests=, limit_tokens=,
 * remaining_requests=, remaining_tokens=, reset_requests=, reset_tokens=}
 * (the resets in seconds), the ones present. */
static int client_post(lua_State *L) {
  http_client *c = check_client(L, 1);
  const char *url = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  size_t blen;
  const char *body = luaL_checklstring(L, 4, &blen);
  /* Raises here, before anything is allocated, when L is a coroutine that
   * cannot wait. */
  lacuna_sched *s = lacuna_sched_current(L);
  transfer *t = new_transfer(L, c, url, 3, 5);
  /* No "Expect: 100-continue" (libcurl sends it before a large body): a
   * teacher answers after the whole body anyway, and waiting for a 100 costs
   * a round trip, or a second when the server sends none. */
  t->headers = curl_slist_append(t->headers, "Expect:");
  curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
  if (!t->headers || !attach_body(t, body, blen)) {
    free_transfer(t);
    return luaL_error(L, "http: out of memory");
  }
  return start_transfer(L, c, t, s);
}

/* client:get(url, headers [, {timeout=, connect_timeout=, stall=, to=PATH}])
 *   -> as client:post
 * With `to`, a 2xx body is written to PATH (created or truncated) as it
 * arrives, so a large file never sits in memory; body is then "". An error
 * status keeps its body in memory, for the message. */
static int client_get(lua_State *L) {
  http_client *c = check_client(L, 1);
  const char *url = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  const char *to = NULL;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_getfield(L, 4, "to");
    to = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_pop(L, 1); /* the string stays alive in the options table */
  }
  lacuna_sched *s = lacuna_sched_current(L);
  FILE *sink = NULL;
  if (to && !(sink = fopen(to, "wb"))) {
    lua_pushinteger(L, 0);
    lua_pushliteral(L, "");
    lua_pushnil(L);
    lua_pushfstring(L, "cannot create %s", to);
    lua_pushinteger(L, 0);
    lua_pushnil(L);
    lua_pushnil(L);
    return 7;
  }
  transfer *t = new_transfer(L, c, url, 3, 4);
  t->sink = sink;
  curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
  t->sends = 1;
  return start_transfer(L, c, t, s);
}

/* client:upload(url, headers, fields, file [, opts])
 *   -> as client:post
 * A multipart/form-data POST: fields is {name = value} (sent in name order,
 * so the request is the same every time), file is {name=, path=, filename=,
 * type=}; curl reads the file itself, in pieces. */
static int client_upload(lua_State *L) {
  http_client *c = check_client(L, 1);
  const char *url = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  luaL_checktype(L, 5, LUA_TTABLE);
  lua_getfield(L, 5, "name");
  lua_getfield(L, 5, "path");
  lua_getfield(L, 5, "filename");
  lua_getfield(L, 5, "type");
  const char *fname = luaL_checkstring(L, -4), *fpath = luaL_checkstring(L, -3);
  const char *ffilename = luaL_optstring(L, -2, NULL), *ftype = luaL_optstring(L, -1, NULL);
  /* the four strings stay alive in the file table while this call runs */
  lua_pop(L, 4);
  /* Field names, sorted: pairs() has no order. */
  lua_newtable(L);
  int names = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, 4)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      return luaL_error(L, "http: upload fields must be strings");
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, names, (lua_Integer)lua_rawlen(L, names) + 1);
  }
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_pushvalue(L, names);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  lacuna_sched *s = lacuna_sched_current(L);
  transfer *t = new_transfer(L, c, url, 3, 6);
  t->mime = curl_mime_init(t->easy);
  if (!t->mime) {
    free_transfer(t);
    return luaL_error(L, "http: out of memory");
  }
  lua_Integer n = (lua_Integer)lua_rawlen(L, names);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, names, i);
    lua_pushvalue(L, -1);
    lua_gettable(L, 4);
    curl_mimepart *part = curl_mime_addpart(t->mime);
    curl_mime_name(part, lua_tostring(L, -2));
    curl_mime_data(part, lua_tostring(L, -1), CURL_ZERO_TERMINATED);
    lua_pop(L, 2);
  }
  curl_mimepart *part = curl_mime_addpart(t->mime);
  curl_mime_name(part, fname);
  if (curl_mime_filedata(part, fpath) != CURLE_OK) {
    free_transfer(t);
    lua_pushinteger(L, 0);
    lua_pushliteral(L, "");
    lua_pushnil(L);
    lua_pushfstring(L, "cannot read %s", fpath);
    lua_pushinteger(L, 0);
    lua_pushnil(L);
    lua_pushnil(L);
    return 7;
  }
  if (ffilename) curl_mime_filename(part, ffilename);
  if (ftype) curl_mime_type(part, ftype);
  curl_easy_setopt(t->easy, CURLOPT_MIMEPOST, t->mime);
  t->sends = 1;
  return start_transfer(L, c, t, s);
}

static void close_client(http_client *c) {
  if (!c->multi) return;
  while (c->inflight) {
    transfer *t = c->inflight;
    curl_multi_remove_handle(c->multi, t->easy);
    unlink_transfer(c, t);
    free_transfer(t);
  }
  while (c->finished) {
    transfer *t = c->finished;
    c->finished = t->next;
    free_transfer(t);
  }
  c->nfinished = 0;
  c->finished_tail = NULL;
  curl_multi_cleanup(c->multi);
  c->multi = NULL;
  while (c->nspare > 0) curl_easy_cleanup(c->spare[--c->nspare]);
  free(c->spare);
  c->spare = NULL;
  free(c->fds);
  c->fds = NULL;
  c->nfds = 0;
  if (c->epfd >= 0) close(c->epfd);
  c->epfd = -1;
}

static int client_gc(lua_State *L) {
  close_client(luaL_checkudata(L, 1, CLIENT_MT));
  return 0;
}

/* client:stats() -> {requests=, in_flight=, transport_failures=}; requests
 * counts every send, libcurl's re-sends included. */
static int client_stats(lua_State *L) {
  http_client *c = check_client(L, 1);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, c->requests);
  lua_setfield(L, -2, "requests");
  lua_pushinteger(L, c->ninflight);
  lua_setfield(L, -2, "in_flight");
  lua_pushinteger(L, c->failures);
  lua_setfield(L, -2, "transport_failures");
  return 1;
}

static int client_tostring(lua_State *L) {
  http_client *c = luaL_checkudata(L, 1, CLIENT_MT);
  if (!c->multi)
    lua_pushliteral(L, "http client (closed)");
  else
    lua_pushfstring(L, "http client (%d in flight)", c->ninflight);
  return 1;
}

/* http.client{max_connections=, max_host_connections=} -> client */
static int http_client_new(lua_State *L) {
  lua_Integer maxconn = 0, maxhost = 0;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "max_connections");
    maxconn = luaL_optinteger(L, -1, 0);
    lua_getfield(L, 1, "max_host_connections");
    maxhost = luaL_optinteger(L, -1, 0);
    lua_pop(L, 2);
  }
  hold_curl(L);
  http_client *c = lua_newuserdatauv(L, sizeof *c, 0);
  memset(c, 0, sizeof *c);
  c->epfd = -1;
  c->timer_due = -1;
  luaL_setmetatable(L, CLIENT_MT);
  c->multi = curl_multi_init();
  if (!c->multi) return luaL_error(L, "http: curl_multi_init failed");
  c->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (c->epfd < 0) return luaL_error(L, "http: epoll_create1 failed");
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  if (maxconn > 0) curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)maxconn);
  if (maxhost > 0) curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)maxhost);
  /* Keep every connection of the window alive between requests; the default
   * cache can close some and open new ones under churn. */
  lua_Integer keep = (maxconn > maxhost ? maxconn : maxhost) * 2;
  if (keep > 0) curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)keep);
  curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  return 1;
}

/* http.version() -> libcurl's version string */
static int http_version(lua_State *L) {
  lua_pushstring(L, curl_version());
  return 1;
}

static const luaL_Reg client_methods[] = {
    {"post", client_post},   {"get", client_get}, {"upload", client_upload},
    {"stats", client_stats}, {NULL, NULL},
};

static const luaL_Reg client_meta[] = {
    {"__gc", client_gc}, {"__close", client_gc}, {"__tostring", client_tostring},
    {"__index", NULL},   {NULL, NULL},
};

static const luaL_Reg http_funcs[] = {
    {"client", http_client_new},
    {"version", http_version},
    {NULL, NULL},
};

int lacuna_open_http(lua_State *L) {
  if (luaL_newmetatable(L, CLIENT_MT)) {
    luaL_setfuncs(L, client_meta, 0);
    luaL_newlib(L, client_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, http_funcs);
  return 1;
}
