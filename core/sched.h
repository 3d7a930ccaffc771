/* The scheduler: every work item runs in its own coroutine; this file owns the
 * only lua_resume loop. An area that waits on the outside world (the teacher's
 * HTTP, later) suspends the item's coroutine with lacuna_sched_suspend and wakes
 * it from its poller with lacuna_sched_wake — never from inside a library
 * callback, and never by running Lua itself. */
#ifndef LACUNA_SCHED_H
#define LACUNA_SCHED_H

#include <lua.h>

typedef struct lacuna_sched lacuna_sched;

/* A source of outside events. poll waits at most timeout_ms (-1: until
 * something happens) and wakes the coroutines whose operations finished; it
 * returns how many operations are still pending. */
typedef struct lacuna_poller {
  int (*poll)(void *ud, lacuna_sched *s, int timeout_ms);
  void *ud;
} lacuna_poller;

/* The scheduler driving the coroutine L, or NULL when L does not run under one
 * (a plain script or the REPL), in which case callers must block instead. */
lacuna_sched *lacuna_sched_current(lua_State *L);

/* Registers a poller for the rest of the run (at most 8). */
int lacuna_sched_add_poller(lacuna_sched *s, lacuna_poller p);

/* Token naming the work item that L belongs to; pass it to lacuna_sched_wake. */
int lacuna_sched_token(lua_State *L);

/* Yields the item's coroutine until woken; k continues with the values the
 * waker pushed. Must be called as `return lacuna_sched_suspend(...)`. */
int lacuna_sched_suspend(lua_State *L, lua_KContext ctx, lua_KFunction k);

/* Returns the coroutine of a suspended item so the waker can push results. */
lua_State *lacuna_sched_thread(lacuna_sched *s, int token);

/* Marks the item ready; it resumes with the nres values on top of its stack. */
void lacuna_sched_wake(lacuna_sched *s, int token, int nres);

#endif
