/* The allocator of the executable's Lua state.
 *
 * A JSONL run makes and drops dozens of small Lua objects per record (tables
 * and their nodes, strings, closures, a coroutine per item): through glibc's
 * malloc, allocating and freeing them was a tenth of a foundation run's time
 * (perf: _int_malloc, malloc_consolidate, _int_free; preloading jemalloc cut
 * the run's CPU time by as much). Lua passes a block's size whenever it
 * frees or resizes it, so blocks up to MAX_SMALL bytes need no header: they
 * are carved from slabs and kept, when freed, on one free list per 16-byte
 * size class, for the next block of that class. Bigger blocks go to
 * realloc/free. Freed small blocks stay the state's until it closes: what it
 * needed at its peak, which for a run the window and order buffer bound.
 * One pool per state and no locks, as a state is used by one thread at a
 * time. Sanitizer builds use realloc/free for everything, so that ASan still
 * sees each Lua block. */
#include "lua_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define POOL_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_OFF 1
#endif
#endif
#ifndef POOL_OFF
#define POOL_OFF 0
#endif

#define GRAIN 16
#define MAX_SMALL 512
#define CLASSES (MAX_SMALL / GRAIN)
#define SLAB_BYTES ((size_t)64 << 10)

typedef struct Slab {
  struct Slab *next;
} Slab;

/* Slab data starts after the header, at GRAIN alignment. */
#define SLAB_HEADER ((sizeof(Slab) + GRAIN - 1) / GRAIN * GRAIN)

typedef struct FreeBlock {
  struct FreeBlock *next;
} FreeBlock;

struct lacuna_lua_pool {
  FreeBlock *free[CLASSES]; /* free[c]: blocks of (c + 1) * GRAIN bytes */
  Slab *slabs;
  char *cur; /* the unused rest of the newest slab */
  size_t left;
};

static size_t class_of(size_t size) { return (size - 1) / GRAIN; }

static void *small_alloc(lacuna_lua_pool *p, size_t c) {
  FreeBlock *b = p->free[c];
  if (b) {
    p->free[c] = b->next;
    return b;
  }
  size_t size = (c + 1) * GRAIN;
  if (p->left < size) {
    /* The slab's rest (less than one block) is dropped: at most MAX_SMALL
     * bytes of each 64 KiB. */
    Slab *s = (Slab *)malloc(SLAB_BYTES);
    if (!s) return NULL;
    s->next = p->slabs;
    p->slabs = s;
    p->cur = (char *)s + SLAB_HEADER;
    p->left = SLAB_BYTES - SLAB_HEADER;
  }
  void *r = p->cur;
  p->cur += size;
  p->left -= size;
  return r;
}

static void small_free(lacuna_lua_pool *p, void *ptr, size_t c) {
  FreeBlock *b = (FreeBlock *)ptr;
  b->next = p->free[c];
  p->free[c] = b;
}

/* lua_Alloc: with ptr NULL, osize is a type tag, not a size. */
static void *pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  lacuna_lua_pool *p = (lacuna_lua_pool *)ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    if (old > 0 && old <= MAX_SMALL)
      small_free(p, ptr, class_of(old));
    else
      free(ptr);
    return NULL;
  }
  int old_small = old > 0 && old <= MAX_SMALL, new_small = nsize <= MAX_SMALL;
  if (!old_small && !new_small) return realloc(ptr, nsize);
  if (old_small && new_small && class_of(old) == class_of(nsize)) return ptr;
  void *r = new_small ? small_alloc(p, class_of(nsize)) : malloc(nsize);
  if (!r) return NULL; /* Lua keeps the old block */
  if (old > 0) {
    memcpy(r, ptr, old < nsize ? old : nsize);
    if (old_small)
      small_free(p, ptr, class_of(old));
    else
      free(ptr);
  }
  return r;
}

static void *plain_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud, (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}

/* What luaL_newstate installs, in our words: an error outside any protected
 * call is reported before Lua aborts; warnings are off until a "@on". */
static int panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n",
          msg ? msg : "error object is not a string");
  return 0;
}

static void warn_off(void *ud, const char *msg, int tocont);
static void warn_on(void *ud, const char *msg, int tocont);
static void warn_cont(void *ud, const char *msg, int tocont);

/* A control message ("@on", "@off") switches warnings; returns 1 if msg was one. */
static int warn_control(lua_State *L, const char *msg, int tocont) {
  if (tocont || msg[0] != '@') return 0;
  if (strcmp(msg, "@off") == 0)
    lua_setwarnf(L, warn_off, L);
  else if (strcmp(msg, "@on") == 0)
    lua_setwarnf(L, warn_on, L);
  return 1;
}

static void warn_off(void *ud, const char *msg, int tocont) { warn_control((lua_State *)ud, msg, tocont); }

static void warn_cont(void *ud, const char *msg, int tocont) {
  lua_State *L = (lua_State *)ud;
  fputs(msg, stderr);
  fflush(stderr);
  if (tocont) {
    lua_setwarnf(L, warn_cont, L);
  } else {
    fputs("\n", stderr);
    fflush(stderr);
    lua_setwarnf(L, warn_on, L);
  }
}

static void warn_on(void *ud, const char *msg, int tocont) {
  if (warn_control((lua_State *)ud, msg, tocont)) return;
  fputs("Lua warning: ", stderr);
  fflush(stderr);
  warn_cont(ud, msg, tocont);
}

lua_State *lacuna_lua_newstate(lacuna_lua_pool **pool) {
  lacuna_lua_pool *p = (lacuna_lua_pool *)calloc(1, sizeof *p);
  *pool = p;
  if (!p) return NULL;
  lua_State *L = lua_newstate(POOL_OFF ? plain_alloc : pool_alloc, p);
  if (!L) {
    free(p);
    *pool = NULL;
    return NULL;
  }
  lua_atpanic(L, panic);
  lua_setwarnf(L, warn_off, L);
  return L;
}

void lacuna_lua_pool_free(lacuna_lua_pool *p) {
  if (!p) return;
  while (p->slabs) {
    Slab *s = p->slabs;
    p->slabs = s->next;
    free(s);
  }
  free(p);
}
