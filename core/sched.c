/* One scheduler owns lua_resume. Work items run in their own coroutines inside
 * a window of `window` slots; results are handed to `done` strictly in input
 * order, so output order never depends on completion order, and memory is
 * bounded by the window, not by the input. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "areas.h"
#include "sched.h"
#include "sys.h"

enum slot_state { SLOT_FREE, SLOT_READY, SLOT_WAITING, SLOT_DONE };

typedef struct slot {
  lua_State *co;
  int co_ref;
  long long seq;
  enum slot_state state;
  int nargs;       /* values to pass to the next lua_resume */
  int suspended;   /* set by lacuna_sched_suspend just before it yields */
  int failed;      /* result is an error message + traceback */
  int result_ref;  /* first value returned by work, or the error message */
  int trace_ref;   /* traceback text of a failure */
  long long instructions;
} slot;

struct lacuna_sched {
  lua_State *L;
  slot *slots;
  int window;
  slot *current;          /* the slot being resumed, NULL between resumes */
  long long budget;       /* instructions per item, 0 = unlimited */
  lacuna_poller pollers[8];
  int npollers;
  int nwaiting;
};

#define HOOK_STEP 1000
static const char SCHED_KEY = 'S'; /* registry key: the running scheduler */

static lacuna_sched *get_sched(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &SCHED_KEY);
  lacuna_sched *s = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return s;
}

lacuna_sched *lacuna_sched_current(lua_State *L) {
  lacuna_sched *s = get_sched(L);
  return (s && s->current && s->current->co == L) ? s : NULL;
}

int lacuna_sched_add_poller(lacuna_sched *s, lacuna_poller p) {
  if (s->npollers >= (int)(sizeof s->pollers / sizeof s->pollers[0])) return 0;
  s->pollers[s->npollers++] = p;
  return 1;
}

int lacuna_sched_token(lua_State *L) {
  lacuna_sched *s = lacuna_sched_current(L);
  return s ? (int)(s->current - s->slots) : -1;
}

int lacuna_sched_suspend(lua_State *L, lua_KContext ctx, lua_KFunction k) {
  lacuna_sched *s = lacuna_sched_current(L);
  if (!s) return luaL_error(L, "this call can only wait inside a work item of lacuna's scheduler");
  s->current->suspended = 1;
  return lua_yieldk(L, 0, ctx, k);
}

lua_State *lacuna_sched_thread(lacuna_sched *s, int token) { return s->slots[token].co; }

void lacuna_sched_wake(lacuna_sched *s, int token, int nres) {
  slot *sl = &s->slots[token];
  if (sl->state != SLOT_WAITING) return;
  sl->state = SLOT_READY;
  sl->nargs = nres;
  s->nwaiting--;
}

/* Count hook: charges the running item and stops it past its budget. Once it
 * fires it fires again at the next instruction, so a pcall in the recipe
 * cannot swallow the limit. Also turns a pending Ctrl-C into an error. */
static void count_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lacuna_sched *s = get_sched(L);
  if (lacuna_sys_interrupted()) {
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "interrupted");
  }
  if (!s || !s->current || s->budget <= 0) return;
  s->current->instructions += HOOK_STEP;
  if (s->current->instructions > s->budget) {
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "instruction limit exceeded (%I per item; raise it with --max-instructions)",
               (lua_Integer)s->budget);
  }
}

static void release_slot(lua_State *L, slot *sl) {
  luaL_unref(L, LUA_REGISTRYINDEX, sl->co_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, sl->result_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, sl->trace_ref);
  memset(sl, 0, sizeof *sl);
  sl->co_ref = sl->result_ref = sl->trace_ref = LUA_NOREF;
  sl->state = SLOT_FREE;
}

static void finish_failed(lacuna_sched *s, slot *sl, const char *msg) {
  lua_State *L = s->L;
  lua_pushstring(L, msg);
  sl->result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  luaL_traceback(L, sl->co, NULL, 0);
  sl->trace_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  sl->failed = 1;
  sl->state = SLOT_DONE;
}

static void resume_slot(lacuna_sched *s, slot *sl) {
  lua_State *L = s->L, *co = sl->co;
  int nres = 0;
  s->current = sl;
  sl->suspended = 0;
  int status = lua_resume(co, L, sl->nargs, &nres);
  s->current = NULL;
  sl->nargs = 0;
  if (status == LUA_OK) {
    if (nres > 0) {
      lua_pop(co, nres - 1);
      lua_xmove(co, L, 1);
    } else {
      lua_pushnil(L);
    }
    sl->result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    sl->state = SLOT_DONE;
  } else if (status == LUA_YIELD) {
    lua_pop(co, nres);
    if (sl->suspended) {
      sl->state = SLOT_WAITING;
      s->nwaiting++;
    } else {
      finish_failed(s, sl, "coroutine.yield outside a coroutine created by the recipe");
    }
  } else {
    /* The error object stays on the dead coroutine's stack. */
    const char *msg = luaL_tolstring(co, -1, NULL);
    lua_pushstring(L, msg);
    lua_pop(co, 1);
    finish_failed(s, sl, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
}

/* Waits for outside events when no coroutine can run. */
static int wait_for_events(lacuna_sched *s) {
  int pending = 0;
  for (int i = 0; i < s->npollers; i++)
    pending += s->pollers[i].poll(s->pollers[i].ud, s, s->npollers == 1 ? -1 : 10);
  (void)pending;
  return s->npollers > 0;
}

/* Calls opts.done(seq, ok, value, traceback) for the slot. */
static void emit(lua_State *L, slot *sl, int done_idx) {
  lua_pushvalue(L, done_idx);
  lua_pushinteger(L, sl->seq);
  lua_pushboolean(L, !sl->failed);
  lua_rawgeti(L, LUA_REGISTRYINDEX, sl->result_ref);
  if (sl->failed)
    lua_rawgeti(L, LUA_REGISTRYINDEX, sl->trace_ref);
  else
    lua_pushnil(L);
  lua_call(L, 4, 0);
}

static int sched_gc(lua_State *L) {
  lacuna_sched *s = lua_touserdata(L, 1);
  free(s->slots);
  s->slots = NULL;
  return 0;
}

static int field_function(lua_State *L, int opts, const char *name) {
  if (lua_getfield(L, opts, name) != LUA_TFUNCTION)
    return luaL_error(L, "sched.run: field '%s' must be a function", name);
  return lua_gettop(L);
}

/* The body of sched.run, called protected: (sched, next, work, done). */
static int sched_loop(lua_State *L) {
  lacuna_sched *s = lua_touserdata(L, 1);
  const int next_idx = 2, work_idx = 3, done_idx = 4;
  long long launched = 0, emitted = 0;
  int exhausted = 0, interrupted = 0;
  for (;;) {
    if (lacuna_sys_interrupted()) interrupted = 1;
    /* Start new items while the window has room. */
    while (!exhausted && !interrupted && launched - emitted < s->window) {
      lua_pushvalue(L, next_idx);
      lua_call(L, 0, 1);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        exhausted = 1;
        break;
      }
      slot *sl = &s->slots[launched % s->window];
      lua_State *co = lua_newthread(L);
      sl->co = co;
      sl->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
      sl->seq = launched + 1;
      if (s->budget > 0 || lacuna_sys_interrupt_armed()) lua_sethook(co, count_hook, LUA_MASKCOUNT, HOOK_STEP);
      lua_pushvalue(L, work_idx);
      lua_xmove(L, co, 1);
      lua_xmove(L, co, 1); /* the item */
      lua_pushinteger(co, sl->seq);
      sl->nargs = 2;
      sl->state = SLOT_READY;
      launched++;
      resume_slot(s, sl);
      /* Emit whatever is complete at the head, keeping memory flat. */
      while (emitted < launched && s->slots[emitted % s->window].state == SLOT_DONE) {
        slot *head = &s->slots[emitted % s->window];
        emit(L, head, done_idx);
        release_slot(L, head);
        emitted++;
      }
    }
    while (emitted < launched && s->slots[emitted % s->window].state == SLOT_DONE) {
      slot *head = &s->slots[emitted % s->window];
      emit(L, head, done_idx);
      release_slot(L, head);
      emitted++;
    }
    if (emitted == launched && (exhausted || interrupted)) break;
    int ran = 0;
    for (int i = 0; i < s->window; i++) {
      if (s->slots[i].state == SLOT_READY) {
        resume_slot(s, &s->slots[i]);
        ran = 1;
      }
    }
    if (ran) continue;
    if (emitted < launched && s->nwaiting > 0) {
      if (interrupted) {
        /* Waiting items are abandoned; the caller reports the interruption. */
        for (int i = 0; i < s->window; i++)
          if (s->slots[i].state == SLOT_WAITING) finish_failed(s, &s->slots[i], "interrupted");
        s->nwaiting = 0;
        continue;
      }
      if (!wait_for_events(s)) {
        for (int i = 0; i < s->window; i++)
          if (s->slots[i].state == SLOT_WAITING)
            finish_failed(s, &s->slots[i], "work item waits for an event nobody will deliver");
        s->nwaiting = 0;
      }
    } else if (emitted < launched && !exhausted && !interrupted) {
      continue; /* window full of done items was drained above */
    } else if (emitted < launched) {
      return luaL_error(L, "sched.run: internal error: %d items neither done nor waiting",
                        (int)(launched - emitted));
    }
  }

  lua_pushinteger(L, (lua_Integer)emitted);
  lua_pushboolean(L, interrupted);
  return 2;
}

/* sched.run{window=, next=, work=, done=, budget=} -> items, interrupted
 * next() returns the next work item or nil; work(item, seq) runs in a fresh
 * coroutine; done(seq, ok, value, traceback) is called in seq order. */
static int sched_run(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "window");
  lua_Integer window = luaL_optinteger(L, -1, 16);
  lua_pop(L, 1);
  luaL_argcheck(L, window >= 1 && window <= 1 << 20, 1, "window must be in 1..1048576");
  lua_getfield(L, 1, "budget");
  lua_Integer budget = luaL_optinteger(L, -1, 0);
  lua_pop(L, 1);
  int next_idx = field_function(L, 1, "next");
  int work_idx = field_function(L, 1, "work");
  int done_idx = field_function(L, 1, "done");

  if (get_sched(L)) return luaL_error(L, "sched.run: a run is already in progress");
  lacuna_sched *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  lua_newtable(L);
  lua_pushcfunction(L, sched_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  s->L = L;
  s->window = (int)window;
  s->budget = budget;
  s->slots = calloc((size_t)window, sizeof *s->slots);
  if (!s->slots) return luaL_error(L, "sched.run: out of memory");
  for (int i = 0; i < s->window; i++) release_slot(L, &s->slots[i]);

  lua_pushlightuserdata(L, s);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &SCHED_KEY);
  /* The loop runs protected so that the scheduler is always unregistered and
   * its coroutines released, even when next or done raise. */
  lua_pushcfunction(L, sched_loop);
  lua_pushlightuserdata(L, s);
  lua_pushvalue(L, next_idx);
  lua_pushvalue(L, work_idx);
  lua_pushvalue(L, done_idx);
  int status = lua_pcall(L, 4, 2, 0);
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &SCHED_KEY);
  for (int i = 0; i < s->window; i++) release_slot(L, &s->slots[i]);
  if (status != LUA_OK) return lua_error(L);
  return 2;
}

/* Runs fn(...) under an instruction budget in the calling thread, for recipe
 * code outside work items (the recipe chunk itself, setup, finish). */
static lua_Integer plain_budget;
static lua_Integer plain_used;
static void plain_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  if (lacuna_sys_interrupted()) {
    lua_sethook(L, plain_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "interrupted");
  }
  if (plain_budget <= 0) return;
  plain_used += HOOK_STEP;
  if (plain_used > plain_budget) {
    lua_sethook(L, plain_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "instruction limit exceeded (%I; raise it with --max-instructions)", plain_budget);
  }
}

static int msgh(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = luaL_tolstring(L, 1, NULL);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* sched.call_limited(budget, fn, ...) -> true, results... | false, message_with_traceback */
static int sched_call_limited(lua_State *L) {
  lua_Integer budget = luaL_checkinteger(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int nargs = lua_gettop(L) - 2;
  lua_Integer saved_budget = plain_budget, saved_used = plain_used;
  lua_Hook saved_hook = lua_gethook(L);
  int saved_mask = lua_gethookmask(L), saved_count = lua_gethookcount(L);
  plain_budget = budget;
  plain_used = 0;
  lua_sethook(L, plain_hook, LUA_MASKCOUNT, HOOK_STEP);
  lua_pushcfunction(L, msgh);
  lua_insert(L, 2);
  int status = lua_pcall(L, nargs, LUA_MULTRET, 2);
  lua_sethook(L, saved_hook, saved_mask, saved_count);
  plain_budget = saved_budget;
  plain_used = saved_used;
  lua_remove(L, 2); /* msgh */
  lua_pushboolean(L, status == LUA_OK);
  lua_replace(L, 1);
  return lua_gettop(L);
}

static const luaL_Reg sched_funcs[] = {
    {"run", sched_run},
    {"call_limited", sched_call_limited},
    {NULL, NULL},
};

int lacuna_open_sched(lua_State *L) {
  luaL_newlib(L, sched_funcs);
  return 1;
}
