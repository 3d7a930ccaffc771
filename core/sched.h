/* The scheduler: every work item runs in its own coroutine (a task); an item
 * may spawn child tasks (fan-out) and join them. This file owns the only
 * lua_resume loop. An area that waits on the outside world (the teacher's
 * HTTP) suspends the running task with lacuna_sched_suspend and wakes it from
 * its poller with lacuna_sched_wake — never from inside a library callback,
 * and never by running Lua itself. */
#ifndef LACUNA_SCHED_H
#define LACUNA_SCHED_H

#include <lua.h>

typedef struct lacuna_sched lacuna_sched;

/* A source of outside events. pending() says how many operations are in
 * flight; poll() waits at most timeout_ms (-1: until something happens) and
 * wakes the tasks whose operations finished. */
typedef struct lacuna_poller {
  int (*pending)(void *ud);
  void (*poll)(void *ud, lacuna_sched *s, int timeout_ms);
  void *ud;
} lacuna_poller;

/* The scheduler running the task L, or NULL when no task is running (a plain
 * script, the REPL, set-up code), in which case callers must block instead.
 * L may also be a coroutine marked with sched.bridge (the recipe's coroutine
 * library), whose resumer passes a wait up to the task. From any other
 * coroutine of a running task it raises a Lua error: blocking there would
 * stall every item, and suspending would lose the reply. */
lacuna_sched *lacuna_sched_current(lua_State *L);

/* Registers a poller for the rest of the run; the same ud twice is a no-op.
 * Returns 0 when the table of pollers is full. */
int lacuna_sched_add_poller(lacuna_sched *s, lacuna_poller p);

/* Token naming the running task; pass it to lacuna_sched_wake. Tokens carry a
 * generation, so waking a task that has since ended (failed, interrupted) is
 * a harmless no-op. */
lua_Integer lacuna_sched_token(lua_State *L);

/* A number unique to each sched.run, for pollers that outlive a run. */
unsigned long lacuna_sched_run_id(lacuna_sched *s);

/* Yields the running task until woken; k continues with the values the waker
 * pushed. Must be called as `return lacuna_sched_suspend(...)`. */
int lacuna_sched_suspend(lua_State *L, lua_KContext ctx, lua_KFunction k);

/* The coroutine of a suspended task, so the waker can push results. */
lua_State *lacuna_sched_thread(lacuna_sched *s, lua_Integer token);

/* Marks the task ready; it resumes with the nres values on top of its stack. */
void lacuna_sched_wake(lacuna_sched *s, lua_Integer token, int nres);

/* Monotonic clock in seconds. */
double lacuna_sched_now(void);

#endif
