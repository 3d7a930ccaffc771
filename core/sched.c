/* One scheduler owns lua_resume. Work items run in their own coroutines (root
 * tasks), at most `window` of them unfinished at a time; an item may spawn
 * child tasks and join them (fan-out). Results are handed to `done` strictly
 * in input order, so output order never depends on completion order. A
 * finished item waits for its turn in the order ring (`order` slots, at
 * least `window`): one slow item at the head does not stop new items from
 * starting until the ring is full, so memory is bounded by the window, the
 * ring and what finished items keep, not by the input. Tasks wait on outside I/O (pollers), timers
 * (sleep) or each other (park/unpark, join). */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "areas.h"
#include "sandbox.h"
#include "sched.h"
#include "sys.h"

enum task_state { T_FREE, T_READY, T_WAITING, T_DONE };
enum wait_kind { W_NONE, W_IO, W_SLEEP, W_PARK, W_JOIN };

typedef struct task {
  lua_State *co;
  int co_ref;
  enum task_state state;
  enum wait_kind wait;
  int nargs;                         /* values to pass to the next lua_resume */
  int suspended;                     /* set by a waiting primitive just before it yields */
  int item;                          /* index of the item slot the task works for */
  int parent;                        /* parent task id, -1 for an item's root task */
  unsigned gen;                      /* generation, so a stale handle is detected */
  double wake_at;                    /* W_SLEEP deadline */
  int join_ref;                      /* W_JOIN: table of the handles being joined */
  int failed, result_ref, trace_ref; /* a finished child's outcome */
} task;

typedef struct item {
  long long seq;
  int root; /* task id of the root, -1 once finished */
  int live; /* tasks of the item not finished yet */
  int root_done;
  int failed, result_ref, trace_ref;
  long long instructions;
} item;

struct lacuna_sched {
  lua_State *L;
  item *items;
  int window;  /* unfinished items at most */
  int order;   /* slots of the order ring: items launched and not yet emitted */
  int running; /* items launched and not finished */
  task *tasks;
  int ntasks, captasks;
  int *freelist, nfree;
  int *readyq, rq_head, rq_len; /* ring of ready task ids, capacity captasks */
  int current;                  /* running task id, -1 between resumes */
  long long budget;             /* instructions per item, 0 = unlimited */
  lacuna_poller pollers[8];
  int npollers;
  unsigned long run_id;
  /* Coroutines of tasks that returned normally, kept for the next tasks:
   * a fresh coroutine per item costs its allocation, the growth of its
   * stack and its collection. */
  lua_State **spare_co;
  int *spare_ref, nspare;
};

#define SPARE_CO_MAX 1024

/* What the scheduler keeps between runs, one per Lua state (not per process),
 * so two runtimes in one process never see each other. */
typedef struct sched_runtime {
  unsigned long runs;       /* runs started so far: the next run's id */
  lua_Integer plain_budget; /* call_limited: the budget of the innermost call */
  lua_Integer plain_used;   /* call_limited: instructions charged to it */
} sched_runtime;

#define HOOK_STEP 1000
static const char SCHED_KEY = 'S';   /* registry key: the running scheduler */
static const char RUNTIME_KEY = 'R'; /* registry key: this state's sched_runtime */
static const char BRIDGE_KEY = 'B';  /* registry key: weak set of bridged coroutines */

/* This state's sched_runtime, made by lacuna_open_sched. */
static sched_runtime *get_runtime(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &RUNTIME_KEY);
  sched_runtime *rt = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!rt) luaL_error(L, "lacuna.core.sched is not open in this state");
  return rt;
}

double lacuna_sched_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static lacuna_sched *get_sched(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &SCHED_KEY);
  lacuna_sched *s = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return s;
}

/* Whether L is a coroutine made through sched.bridge: one that passes a
 * waiting primitive's yield up to its task (lua/lacuna/coroutines.lua). */
static int is_bridged(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &BRIDGE_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushthread(L);
  lua_rawget(L, -2);
  int yes = lua_toboolean(L, -1);
  lua_pop(L, 2);
  return yes;
}

lacuna_sched *lacuna_sched_current(lua_State *L) {
  lacuna_sched *s = get_sched(L);
  if (!s || s->current < 0) return NULL;
  if (s->tasks[s->current].co == L || is_bridged(L)) return s;
  /* A coroutine that cannot pass the yield up: blocking here would stall
   * every other item, so the call fails where it was made. */
  luaL_error(L, "this call waits for lacuna (a teacher reply, a sleep) and cannot be made from this "
                "coroutine: use the coroutine library lacuna gives the recipe, and do not resume the "
                "coroutine from a metamethod or a table.sort or string.gsub callback");
  return NULL;
}

int lacuna_sched_add_poller(lacuna_sched *s, lacuna_poller p) {
  for (int i = 0; i < s->npollers; i++)
    if (s->pollers[i].ud == p.ud) return 1;
  if (s->npollers >= (int)(sizeof s->pollers / sizeof s->pollers[0])) return 0;
  s->pollers[s->npollers++] = p;
  return 1;
}

static lua_Integer handle_of(lacuna_sched *s, int id) { return ((lua_Integer)s->tasks[id].gen << 24) | id; }

static int task_of_handle(lacuna_sched *s, lua_Integer h) {
  int id = (int)(h & 0xffffff);
  if (id < 0 || id >= s->ntasks || s->tasks[id].gen != (unsigned)(h >> 24) || s->tasks[id].state == T_FREE)
    return -1;
  return id;
}

lua_Integer lacuna_sched_token(lua_State *L) {
  lacuna_sched *s = lacuna_sched_current(L);
  return s ? handle_of(s, s->current) : -1;
}

unsigned long lacuna_sched_run_id(lacuna_sched *s) { return s->run_id; }

lua_State *lacuna_sched_thread(lacuna_sched *s, lua_Integer token) {
  int id = task_of_handle(s, token);
  if (id < 0 || s->tasks[id].state != T_WAITING || s->tasks[id].wait != W_IO) return NULL;
  return s->tasks[id].co;
}

static void make_ready(lacuna_sched *s, int id, int nargs) {
  task *t = &s->tasks[id];
  t->state = T_READY;
  t->wait = W_NONE;
  t->nargs = nargs;
  s->readyq[(s->rq_head + s->rq_len) % s->captasks] = id;
  s->rq_len++;
}

void lacuna_sched_wake(lacuna_sched *s, lua_Integer token, int nres) {
  int id = task_of_handle(s, token);
  if (id < 0) return;
  task *t = &s->tasks[id];
  if (t->state != T_WAITING || t->wait != W_IO) return;
  make_ready(s, id, nres);
}

static int suspend_as(lua_State *L, enum wait_kind kind, lua_KContext ctx, lua_KFunction k) {
  lacuna_sched *s = lacuna_sched_current(L);
  if (!s) return luaL_error(L, "this call can only wait inside a work item run by lacuna's scheduler");
  s->tasks[s->current].suspended = 1;
  s->tasks[s->current].wait = kind;
  return lua_yieldk(L, 0, ctx, k);
}

int lacuna_sched_suspend(lua_State *L, lua_KContext ctx, lua_KFunction k) {
  return suspend_as(L, W_IO, ctx, k);
}

/* Count hook: charges the running item and stops it past its budget. Once it
 * fires it fires again at the next instruction, so a pcall in the recipe
 * cannot swallow the limit. Also turns a pending Ctrl-C into an error. */
static void count_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  if (lacuna_sys_interrupted()) {
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "interrupted");
  }
  lacuna_sched *s = get_sched(L);
  if (!s || s->current < 0 || s->budget <= 0) return;
  item *it = &s->items[s->tasks[s->current].item];
  it->instructions += HOOK_STEP;
  if (it->instructions > s->budget) {
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "instruction limit exceeded (%I per item; raise it with --max-instructions)",
               (lua_Integer)s->budget);
  }
}

/* ---- tasks ---- */

static int grow_tasks(lacuna_sched *s) {
  int cap = s->captasks ? s->captasks * 2 : 64;
  task *t = realloc(s->tasks, (size_t)cap * sizeof *t);
  if (!t) return 0;
  s->tasks = t;
  int *fl = realloc(s->freelist, (size_t)cap * sizeof *fl);
  if (!fl) return 0;
  s->freelist = fl;
  int *rq = malloc((size_t)cap * sizeof *rq);
  if (!rq) return 0;
  for (int i = 0; i < s->rq_len; i++) rq[i] = s->readyq[(s->rq_head + i) % s->captasks];
  free(s->readyq);
  s->readyq = rq;
  s->rq_head = 0;
  s->captasks = cap;
  return 1;
}

static void clear_refs(lua_State *L, int *refs[], int n) {
  for (int i = 0; i < n; i++) {
    luaL_unref(L, LUA_REGISTRYINDEX, *refs[i]);
    *refs[i] = LUA_NOREF;
  }
}

static void free_task(lacuna_sched *s, int id) {
  task *t = &s->tasks[id];
  int *refs[] = {&t->co_ref, &t->join_ref, &t->result_ref, &t->trace_ref};
  clear_refs(s->L, refs, 4);
  unsigned gen = t->gen + 1;
  memset(t, 0, sizeof *t);
  t->co_ref = t->join_ref = t->result_ref = t->trace_ref = LUA_NOREF;
  t->gen = gen;
  t->state = T_FREE;
  s->freelist[s->nfree++] = id;
}

/* Creates a ready task running the function and nargs arguments on top of the
 * main state's stack (function first), which it moves to the new coroutine. */
static int new_task(lacuna_sched *s, int item_idx, int parent, int nargs) {
  lua_State *L = s->L;
  if (s->nfree == 0) {
    if (s->ntasks == s->captasks && !grow_tasks(s)) luaL_error(L, "scheduler: out of memory");
    int id = s->ntasks++;
    memset(&s->tasks[id], 0, sizeof s->tasks[id]);
    s->tasks[id].co_ref = s->tasks[id].join_ref = LUA_NOREF;
    s->tasks[id].result_ref = s->tasks[id].trace_ref = LUA_NOREF;
    s->freelist[s->nfree++] = id;
  }
  int id = s->freelist[--s->nfree];
  task *t = &s->tasks[id];
  lua_State *co;
  if (s->nspare > 0) {
    s->nspare--;
    co = s->spare_co[s->nspare];
    t->co_ref = s->spare_ref[s->nspare];
    lua_sethook(co, NULL, 0, 0); /* the count starts again below */
  } else {
    co = lua_newthread(L);
    t->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  t->co = co;
  t->item = item_idx;
  t->parent = parent;
  t->state = T_WAITING; /* until make_ready */
  if (s->budget > 0 || lacuna_sys_interrupt_armed()) lua_sethook(co, count_hook, LUA_MASKCOUNT, HOOK_STEP);
  lua_xmove(L, co, nargs + 1);
  s->items[item_idx].live++;
  make_ready(s, id, nargs);
  return id;
}

/* Pushes {ok=, value=, traceback=} for a finished child. */
static void push_outcome(lua_State *L, task *t) {
  lua_createtable(L, 0, 3);
  lua_pushboolean(L, !t->failed);
  lua_setfield(L, -2, "ok");
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->result_ref);
  lua_setfield(L, -2, "value");
  if (t->failed) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->trace_ref);
    lua_setfield(L, -2, "traceback");
  }
}

/* If every handle joined by task `id` is finished, wakes it with the list of
 * outcomes and frees the children. */
static void try_finish_join(lacuna_sched *s, int id) {
  lua_State *L = s->L;
  task *t = &s->tasks[id];
  if (t->state != T_WAITING || t->wait != W_JOIN) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->join_ref);
  int list = lua_gettop(L);
  lua_Integer n = luaL_len(L, list);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, list, i);
    int c = task_of_handle(s, lua_tointeger(L, -1));
    lua_pop(L, 1);
    if (c >= 0 && s->tasks[c].state != T_DONE) {
      lua_pop(L, 1);
      return;
    }
  }
  lua_createtable(L, (int)n, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, list, i);
    int c = task_of_handle(s, lua_tointeger(L, -1));
    lua_pop(L, 1);
    push_outcome(L, &s->tasks[c]);
    lua_rawseti(L, -2, i);
    free_task(s, c);
  }
  lua_xmove(L, t->co, 1);
  lua_pop(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, t->join_ref);
  t->join_ref = LUA_NOREF;
  make_ready(s, id, 1);
}

/* Records how task `id` ended; the error object or first result is on L. */
static int item_done(item *it) { return it->root_done && it->live == 0; }

static void task_finished(lacuna_sched *s, int id, int failed, const char *trace) {
  lua_State *L = s->L;
  task *t = &s->tasks[id];
  item *it = &s->items[t->item];
  it->live--;
  /* The item's last task: it leaves the running set and waits for its turn. */
  if (it->live == 0) s->running--;
  if (t->parent < 0) {
    it->failed = failed;
    it->result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (trace) {
      lua_pushstring(L, trace);
      it->trace_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    it->root_done = 1;
    it->root = -1;
    free_task(s, id);
  } else {
    t->failed = failed;
    t->result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (trace) {
      lua_pushstring(L, trace);
      t->trace_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    t->state = T_DONE;
    /* The coroutine is no longer needed; its outcome is kept in refs. */
    luaL_unref(L, LUA_REGISTRYINDEX, t->co_ref);
    t->co_ref = LUA_NOREF;
    t->co = NULL;
    if (s->tasks[t->parent].state != T_FREE) try_finish_join(s, t->parent);
  }
}

/* Closes the pending to-be-closed variables of a suspended coroutine that
 * will never be resumed, so that what it holds (a teacher slot, a queue
 * place) is given back. Without its hook: the closing must not be cut short
 * by the interrupt or the budget. An error in a closing method is dropped
 * with the coroutine. */
static void close_suspended(lua_State *co) {
  lua_sethook(co, NULL, 0, 0);
#if LUA_VERSION_RELEASE_NUM >= 50406
  lua_closethread(co, NULL);
#else
  lua_resetthread(co);
#endif
}

static void fail_task(lacuna_sched *s, int id, const char *msg) {
  lua_State *L = s->L;
  luaL_traceback(L, s->tasks[id].co, NULL, 0);
  const char *trace = lua_tostring(L, -1);
  close_suspended(s->tasks[id].co);
  lua_pushstring(L, msg);
  task_finished(s, id, 1, trace);
  lua_pop(L, 1); /* the traceback */
}

/* Keeps the coroutine of task t, which has returned and holds nothing, for
 * a later task (lua_resume starts a function pushed on a returned coroutine
 * like on a new one). */
static void keep_coroutine(lacuna_sched *s, task *t) {
  if (s->nspare >= SPARE_CO_MAX || !s->spare_co || lua_status(t->co) != LUA_OK || lua_gettop(t->co) != 0)
    return;
  s->spare_co[s->nspare] = t->co;
  s->spare_ref[s->nspare] = t->co_ref;
  s->nspare++;
  t->co_ref = LUA_NOREF; /* now the spare list's */
}

static void resume_task(lacuna_sched *s, int id) {
  lua_State *L = s->L;
  task *t = &s->tasks[id];
  lua_State *co = t->co;
  int nres = 0, nargs = t->nargs;
  s->current = id;
  t->suspended = 0;
  t->nargs = 0;
  int status = lua_resume(co, L, nargs, &nres);
  s->current = -1;
  t = &s->tasks[id]; /* the array may have grown during the resume */
  if (status == LUA_OK) {
    if (nres > 0) {
      lua_pop(co, nres - 1);
      lua_xmove(co, L, 1);
    } else {
      lua_pushnil(L);
    }
    keep_coroutine(s, t);
    task_finished(s, id, 0, NULL);
  } else if (status == LUA_YIELD) {
    lua_pop(co, nres);
    if (t->suspended) {
      t->state = T_WAITING;
      if (t->wait == W_JOIN) try_finish_join(s, id);
    } else {
      fail_task(s, id, "coroutine.yield outside a coroutine created by the recipe");
    }
  } else {
    /* The error value itself, not its text: a typed error keeps its type,
     * and no __tostring runs here, outside the budget (the runner turns it
     * into text under a budget: output.text). */
    luaL_traceback(L, co, NULL, 0);
    const char *trace = lua_tostring(L, -1);
    lua_xmove(co, L, 1);
    task_finished(s, id, 1, trace);
    lua_pop(L, 1); /* the traceback */
  }
}

static void run_ready(lacuna_sched *s) {
  while (s->rq_len > 0) {
    int id = s->readyq[s->rq_head];
    s->rq_head = (s->rq_head + 1) % s->captasks;
    s->rq_len--;
    if (s->tasks[id].state == T_READY) resume_task(s, id);
  }
}

/* Makes the sleepers whose deadline has passed ready, earliest deadline
 * first: a process descheduled past several deadlines must still wake them
 * in the order their sleeps end, not in task-slot order. */
static void wake_sleepers(lacuna_sched *s, double now) {
  for (;;) {
    int first = -1;
    for (int i = 0; i < s->ntasks; i++) {
      task *t = &s->tasks[i];
      if (t->state == T_WAITING && t->wait == W_SLEEP && t->wake_at <= now &&
          (first < 0 || t->wake_at < s->tasks[first].wake_at))
        first = i;
    }
    if (first < 0) return;
    make_ready(s, first, 0);
  }
}

/* Waits for I/O or the next timer when no task can run. Returns 0 when
 * nothing could ever wake the waiting tasks. */
static int wait_for_events(lacuna_sched *s) {
  double now = lacuna_sched_now(), next = -1;
  for (int i = 0; i < s->ntasks; i++) {
    task *t = &s->tasks[i];
    if (t->state == T_WAITING && t->wait == W_SLEEP && (next < 0 || t->wake_at < next)) next = t->wake_at;
  }
  int io = 0;
  for (int i = 0; i < s->npollers; i++) io += s->pollers[i].pending(s->pollers[i].ud);
  if (!io && next < 0) return 0;
  /* Bounded waits, so that Ctrl-C is noticed promptly. */
  int timeout = 200;
  if (next >= 0) {
    double ms = (next - now) * 1000.0;
    timeout = ms <= 0 ? 0 : ms < 200 ? (int)ms + 1 : 200;
  }
  if (io) {
    for (int i = 0; i < s->npollers; i++)
      if (s->pollers[i].pending(s->pollers[i].ud))
        s->pollers[i].poll(s->pollers[i].ud, s, s->npollers > 1 ? 0 : timeout);
  } else if (timeout > 0) {
    struct timespec ts = {timeout / 1000, (long)(timeout % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  wake_sleepers(s, lacuna_sched_now());
  return 1;
}

static void reset_item(item *it) {
  memset(it, 0, sizeof *it);
  it->root = -1;
  it->result_ref = it->trace_ref = LUA_NOREF;
}

static void release_item(lacuna_sched *s, item *it) {
  int *refs[] = {&it->result_ref, &it->trace_ref};
  clear_refs(s->L, refs, 2);
  reset_item(it);
}

/* Calls done(seq, ok, value, traceback) for a finished item. */
static void emit(lua_State *L, item *it, int done_idx) {
  lua_pushvalue(L, done_idx);
  lua_pushinteger(L, it->seq);
  lua_pushboolean(L, !it->failed);
  lua_rawgeti(L, LUA_REGISTRYINDEX, it->result_ref);
  if (it->failed)
    lua_rawgeti(L, LUA_REGISTRYINDEX, it->trace_ref);
  else
    lua_pushnil(L);
  lua_call(L, 4, 0);
}

static void fail_all_waiting(lacuna_sched *s, const char *why) {
  for (int i = 0; i < s->ntasks; i++)
    if (s->tasks[i].state == T_WAITING) fail_task(s, i, why);
}

/* Frees the finished children nobody joined once their item is emitted. */
static void free_orphans(lacuna_sched *s, int item_idx) {
  for (int i = 0; i < s->ntasks; i++)
    if (s->tasks[i].state == T_DONE && s->tasks[i].item == item_idx) free_task(s, i);
}

/* Hands the finished items at the head of the window to done, in order, and
 * frees their slots; returns the new count of emitted items. */
static long long emit_finished(lua_State *L, lacuna_sched *s, int done_idx, long long emitted,
                               long long launched) {
  while (emitted < launched && item_done(&s->items[emitted % s->order])) {
    int idx = (int)(emitted % s->order);
    emit(L, &s->items[idx], done_idx);
    free_orphans(s, idx);
    release_item(s, &s->items[idx]);
    emitted++;
  }
  return emitted;
}

/* Whether admit() (sched.run's optional gate) lets one more item start. */
static int admitted(lua_State *L, int admit_idx) {
  if (lua_isnil(L, admit_idx)) return 1;
  lua_pushvalue(L, admit_idx);
  lua_call(L, 0, 1);
  int yes = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return yes;
}

/* Whether another item may start now: the window, the order ring and admit. */
static int can_launch(lua_State *L, lacuna_sched *s, int admit_idx, long long launched, long long emitted) {
  return s->running < s->window && launched - emitted < s->order &&
         (s->running == 0 || admitted(L, admit_idx));
}

/* The body of sched.run, called protected: (sched, next, work, done, admit). */
static int sched_loop(lua_State *L) {
  lacuna_sched *s = lua_touserdata(L, 1);
  const int next_idx = 2, work_idx = 3, done_idx = 4, admit_idx = 5;
  long long launched = 0, emitted = 0;
  int exhausted = 0, interrupted = 0;
  for (;;) {
    /* Checked before every launch too: items that finish synchronously
     * never reach the count hook, and would otherwise run to the end. */
    while (!exhausted && !(interrupted = lacuna_sys_interrupted()) &&
           can_launch(L, s, admit_idx, launched, emitted)) {
      lua_pushvalue(L, next_idx);
      lua_call(L, 0, 1);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        exhausted = 1;
        break;
      }
      int idx = (int)(launched % s->order);
      item *it = &s->items[idx];
      it->seq = launched + 1;
      lua_pushvalue(L, work_idx);
      lua_insert(L, -2);
      lua_pushinteger(L, it->seq);
      s->running++;
      it->root = new_task(s, idx, -1, 2);
      launched++;
      run_ready(s);
      emitted = emit_finished(L, s, done_idx, emitted, launched);
    }
    run_ready(s);
    emitted = emit_finished(L, s, done_idx, emitted, launched);
    interrupted = lacuna_sys_interrupted();
    if (emitted == launched && (exhausted || interrupted)) break;
    if (s->rq_len > 0) continue;
    /* An item finished in this pass may have made room: start the next
     * ones before waiting for events. */
    if (!exhausted && !interrupted && can_launch(L, s, admit_idx, launched, emitted)) continue;
    if (emitted < launched) {
      if (interrupted) {
        fail_all_waiting(s, "interrupted");
      } else if (!wait_for_events(s)) {
        fail_all_waiting(s, "work item waits for an event nobody will deliver");
      }
    }
  }
  lua_pushinteger(L, (lua_Integer)emitted);
  /* A signal during the last items counts too: the run did not finish. */
  lua_pushboolean(L, lacuna_sys_interrupted());
  return 2;
}

static int sched_gc(lua_State *L) {
  lacuna_sched *s = lua_touserdata(L, 1);
  free(s->spare_co);
  free(s->spare_ref);
  free(s->items);
  free(s->tasks);
  free(s->freelist);
  free(s->readyq);
  memset(s, 0, sizeof *s);
  return 0;
}

static int field_function(lua_State *L, int opts, const char *name) {
  if (lua_getfield(L, opts, name) != LUA_TFUNCTION)
    return luaL_error(L, "sched.run: field '%s' must be a function", name);
  return lua_gettop(L);
}

/* sched.run{window=, order=, next=, work=, done=, admit=, budget=} -> items, interrupted
 * next() returns the next work item or nil; work(item, seq) runs in a fresh
 * coroutine; done(seq, ok, value, traceback) is called in seq order. At most
 * `window` items are unfinished and at most `order` (default: window) are
 * launched and not yet handed to done. admit(), when given, is asked before
 * each launch while some item runs: false holds new items back (the teacher
 * has requests queued, so a new item would only wait and cost memory). */
static int sched_run(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "window");
  lua_Integer window = luaL_optinteger(L, -1, 16);
  lua_pop(L, 1);
  luaL_argcheck(L, window >= 1 && window <= 1 << 20, 1, "window must be in 1..1048576");
  lua_getfield(L, 1, "order");
  lua_Integer order = luaL_optinteger(L, -1, window);
  lua_pop(L, 1);
  luaL_argcheck(L, order >= window && order <= 1 << 22, 1, "order must be in window..4194304");
  lua_getfield(L, 1, "budget");
  lua_Integer budget = luaL_optinteger(L, -1, 0);
  lua_pop(L, 1);
  int next_idx = field_function(L, 1, "next");
  int work_idx = field_function(L, 1, "work");
  int done_idx = field_function(L, 1, "done");
  int admit_type = lua_getfield(L, 1, "admit");
  if (admit_type != LUA_TNIL && admit_type != LUA_TFUNCTION)
    return luaL_error(L, "sched.run: field 'admit' must be a function");
  int admit_idx = lua_gettop(L);

  if (get_sched(L)) return luaL_error(L, "sched.run: a run is already in progress");
  lacuna_sched *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  lua_newtable(L);
  lua_pushcfunction(L, sched_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  s->L = L;
  s->window = (int)window;
  s->order = (int)order;
  s->budget = budget;
  s->current = -1;
  s->run_id = ++get_runtime(L)->runs;
  s->items = calloc((size_t)order, sizeof *s->items);
  if (!s->items || !grow_tasks(s)) return luaL_error(L, "sched.run: out of memory");
  /* (without room for spares every task gets a new coroutine) */
  s->spare_co = malloc(SPARE_CO_MAX * sizeof *s->spare_co);
  s->spare_ref = malloc(SPARE_CO_MAX * sizeof *s->spare_ref);
  if (!s->spare_co || !s->spare_ref) {
    free(s->spare_co);
    s->spare_co = NULL;
  }
  /* (not release_item: a zeroed slot's refs would be unref'd as ref 0, which
   * luaL_unref takes for a real one and so empties the registry's free list) */
  for (int i = 0; i < s->order; i++) reset_item(&s->items[i]);

  lua_pushlightuserdata(L, s);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &SCHED_KEY);
  /* The loop runs protected so that the scheduler is always unregistered and
   * its coroutines released, even when next or done raise. */
  lua_pushcfunction(L, sched_loop);
  lua_pushlightuserdata(L, s);
  lua_pushvalue(L, next_idx);
  lua_pushvalue(L, work_idx);
  lua_pushvalue(L, done_idx);
  lua_pushvalue(L, admit_idx);
  int status = lua_pcall(L, 5, 2, 0);
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &SCHED_KEY);
  for (int i = 0; i < s->ntasks; i++)
    if (s->tasks[i].state != T_FREE) free_task(s, i);
  for (int i = 0; i < s->order; i++) release_item(s, &s->items[i]);
  while (s->nspare > 0) luaL_unref(L, LUA_REGISTRYINDEX, s->spare_ref[--s->nspare]);
  if (status != LUA_OK) return lua_error(L);
  return 2;
}

/* ---- primitives for tasks ---- */

static int k_return_all(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  return lua_gettop(L);
}

/* sched.sleep(seconds): suspends the task; outside a run, blocks. */
static int sched_sleep(lua_State *L) {
  lua_Number secs = luaL_checknumber(L, 1);
  luaL_argcheck(L, secs >= 0, 1, "must be >= 0");
  lacuna_sched *s = lacuna_sched_current(L);
  if (!s) {
    struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && !lacuna_sys_interrupted()) {}
    return 0;
  }
  s->tasks[s->current].wake_at = lacuna_sched_now() + secs;
  lua_settop(L, 0);
  return suspend_as(L, W_SLEEP, 0, k_return_all);
}

/* sched.self() -> handle of the running task, or nil outside a run. */
static int sched_self(lua_State *L) {
  lacuna_sched *s = lacuna_sched_current(L);
  if (!s) return 0;
  lua_pushinteger(L, handle_of(s, s->current));
  return 1;
}

/* sched.park() -> values given to unpark. */
static int sched_park(lua_State *L) {
  lua_settop(L, 0);
  return suspend_as(L, W_PARK, 0, k_return_all);
}

/* sched.unpark(handle, ...) -> true if the task was parked and is now ready. */
static int sched_unpark(lua_State *L) {
  lua_Integer h = luaL_checkinteger(L, 1);
  lacuna_sched *s = get_sched(L);
  int id = s ? task_of_handle(s, h) : -1;
  if (id < 0 || s->tasks[id].state != T_WAITING || s->tasks[id].wait != W_PARK) {
    lua_pushboolean(L, 0);
    return 1;
  }
  int n = lua_gettop(L) - 1;
  lua_xmove(L, s->tasks[id].co, n);
  make_ready(s, id, n);
  lua_pushboolean(L, 1);
  return 1;
}

/* sched.spawn(fn, ...) -> handle: a child task of the running one. */
static int sched_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lacuna_sched *s = lacuna_sched_current(L);
  if (!s) return luaL_error(L, "sched.spawn: only inside a work item run by lacuna's scheduler");
  int parent = s->current;
  int nargs = lua_gettop(L) - 1;
  /* new_task moves the function and its arguments from the main state. */
  lua_State *main = s->L;
  lua_xmove(L, main, nargs + 1);
  int id = new_task(s, s->tasks[parent].item, parent, nargs);
  lua_pushinteger(L, handle_of(s, id));
  return 1;
}

/* sched.join(handles) -> {{ok=, value=, traceback=}...} in the same order. */
static int sched_join(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lacuna_sched *s = lacuna_sched_current(L);
  if (!s) return luaL_error(L, "sched.join: only inside a work item run by lacuna's scheduler");
  lua_Integer n = luaL_len(L, 1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    int id = task_of_handle(s, lua_tointeger(L, -1));
    if (id < 0 || s->tasks[id].parent != s->current)
      return luaL_error(L, "sched.join: element %d is not a live child of this task", (int)i);
    lua_pop(L, 1);
  }
  lua_settop(L, 1);
  lua_xmove(L, s->L, 1);
  s->tasks[s->current].join_ref = luaL_ref(s->L, LUA_REGISTRYINDEX);
  return suspend_as(L, W_JOIN, 0, k_return_all);
}

/* Runs fn(...) under an instruction budget in the calling thread, for recipe
 * code outside work items (the recipe chunk itself, setup, finish). */
static void plain_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  if (lacuna_sys_interrupted()) {
    lua_sethook(L, plain_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "interrupted");
  }
  sched_runtime *rt = get_runtime(L);
  if (rt->plain_budget <= 0) return;
  rt->plain_used += HOOK_STEP;
  if (rt->plain_used > rt->plain_budget) {
    lua_sethook(L, plain_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "instruction limit exceeded (%I; raise it with --max-instructions)", rt->plain_budget);
  }
}

static int msgh(lua_State *L) {
  /* A message handler runs with hooks off when the error came from the
   * count hook: nothing of the recipe's may run here (no __tostring). */
  const char *msg = lacuna_error_text(L, 1);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* sched.call_limited(budget, fn, ...) -> true, results... | false, message_with_traceback */
static int sched_call_limited(lua_State *L) {
  lua_Integer budget = luaL_checkinteger(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int nargs = lua_gettop(L) - 2;
  sched_runtime *rt = get_runtime(L);
  lua_Integer saved_budget = rt->plain_budget, saved_used = rt->plain_used;
  lua_Hook saved_hook = lua_gethook(L);
  int saved_mask = lua_gethookmask(L), saved_count = lua_gethookcount(L);
  rt->plain_budget = budget;
  rt->plain_used = 0;
  lua_sethook(L, plain_hook, LUA_MASKCOUNT, HOOK_STEP);
  lua_pushcfunction(L, msgh);
  lua_insert(L, 2);
  int status = lua_pcall(L, nargs, LUA_MULTRET, 2);
  lua_sethook(L, saved_hook, saved_mask, saved_count);
  rt->plain_budget = saved_budget;
  rt->plain_used = saved_used;
  lua_remove(L, 2); /* msgh */
  lua_pushboolean(L, status == LUA_OK);
  lua_replace(L, 1);
  return lua_gettop(L);
}

/* sched.bridge(co [, on]) -> co: marks (or, with on = false, unmarks) a
 * coroutine made by lacuna's coroutine library, whose resume passes waits
 * up to the task. */
static int sched_bridge(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTHREAD);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &BRIDGE_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &BRIDGE_KEY);
  }
  lua_pushvalue(L, 1);
  if (lua_isnone(L, 2) || lua_toboolean(L, 2))
    lua_pushboolean(L, 1);
  else
    lua_pushnil(L);
  lua_rawset(L, -3);
  lua_settop(L, 1);
  return 1;
}

/* sched.waiting() -> true when the running task has just suspended on a
 * wait (I/O, sleep, park, join) rather than a coroutine's own yield. */
static int sched_waiting(lua_State *L) {
  lacuna_sched *s = get_sched(L);
  lua_pushboolean(L, s && s->current >= 0 && s->tasks[s->current].suspended);
  return 1;
}

static int sched_now(lua_State *L) {
  lua_pushnumber(L, lacuna_sched_now());
  return 1;
}

/* ---- unmetered library code ---- */

/* What sched.unmetered suspended: the thread's hook, given back by __close on
 * return and on an error unwinding through it. */
typedef struct saved_hook {
  lua_Hook hook;
  int mask, count;
} saved_hook;

#define SAVED_HOOK_MT "lacuna.sched.saved_hook"

static int saved_hook_close(lua_State *L) {
  saved_hook *sv = luaL_checkudata(L, 1, SAVED_HOOK_MT);
  lua_sethook(L, sv->hook, sv->mask, sv->count);
  return 0;
}

static int unmetered_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status, (void)ctx;
  return lua_gettop(L) - 1; /* f's results, above the saved hook */
}

/* sched.unmetered(f, ...) -> f(...) with the calling thread's count hook off.
 * The hook charges a recipe's own instructions against its budget, but in
 * Lua 5.4 any count hook makes every instruction of the thread stop in
 * luaG_traceexec; lacuna's own per-request code (the teacher's transport and
 * retry policy) calls no recipe code, so it runs without it. f may yield; the
 * hook stays off until f returns or raises (its closing restores it, so a
 * recipe's pcall around a failed call runs metered again). A limit already
 * exceeded (the hook set to fire at the next instruction) fires again at once. */
static int sched_unmetered(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  int nargs = lua_gettop(L) - 1;
  saved_hook *sv = lua_newuserdatauv(L, sizeof *sv, 0);
  sv->hook = lua_gethook(L);
  sv->mask = lua_gethookmask(L);
  sv->count = lua_gethookcount(L);
  luaL_setmetatable(L, SAVED_HOOK_MT);
  lua_insert(L, 1);
  lua_toclose(L, 1);
  lua_sethook(L, NULL, 0, 0);
  lua_callk(L, nargs, LUA_MULTRET, 0, unmetered_k);
  return unmetered_k(L, LUA_OK, 0);
}

static const luaL_Reg sched_funcs[] = {
    {"run", sched_run},
    {"call_limited", sched_call_limited},
    {"sleep", sched_sleep},
    {"self", sched_self},
    {"park", sched_park},
    {"unpark", sched_unpark},
    {"spawn", sched_spawn},
    {"join", sched_join},
    {"now", sched_now},
    {"bridge", sched_bridge},
    {"waiting", sched_waiting},
    {"unmetered", sched_unmetered},
    {NULL, NULL},
};

int lacuna_open_sched(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &RUNTIME_KEY) == LUA_TNIL) {
    sched_runtime *rt = lua_newuserdatauv(L, sizeof *rt, 0);
    memset(rt, 0, sizeof *rt);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &RUNTIME_KEY);
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, SAVED_HOOK_MT)) {
    lua_pushcfunction(L, saved_hook_close);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  luaL_newlib(L, sched_funcs);
  return 1;
}
