/* The Lua allocator of the states lacuna runs in (see alloc.h). Blocks of up
 * to SMALL_MAX bytes come in size classes of GRAIN bytes; a freed one is kept
 * on its class's list (up to KEEP of them) for the next allocation of that
 * class. A block goes to the class its usable size fills (malloc_usable_size),
 * so a block the state allocated before the adoption, of any size, is as
 * safe to keep as one of ours: every block on class c's list holds at least
 * (c + 1) * GRAIN bytes. Kept blocks stay the process's memory (at most
 * CLASSES * KEEP of them, about 2 MiB) until the state closes. */
#include "alloc.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define LACUNA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LACUNA_ASAN 1
#endif
#endif

#define GRAIN 16
#define CLASSES 16 /* 16, 32, ..., 256 bytes */
#define SMALL_MAX (GRAIN * CLASSES)
#define KEEP 1024 /* freed blocks kept per class */

typedef struct lacuna_alloc lacuna_alloc;

typedef struct kept_block {
  struct kept_block *next;
} kept_block;

struct lacuna_alloc {
  kept_block *kept[CLASSES];
  unsigned count[CLASSES];
  int draining;    /* adopted state closing: free, keep nothing */
  lua_Alloc inner; /* adopt: the state's allocator before */
  void *inner_ud;
};

#if defined(__GLIBC__) && !defined(LACUNA_ASAN)

/* The class whose blocks all hold n bytes, 1 <= n <= SMALL_MAX. */
static unsigned class_for(size_t n) { return (unsigned)((n + GRAIN - 1) / GRAIN - 1); }

/* Keeps a freed block on the list of the largest class it fills, or frees it. */
static void give_back(lacuna_alloc *a, void *p) {
  size_t usable = malloc_usable_size(p);
  if (usable >= GRAIN && usable < SMALL_MAX + GRAIN) {
    unsigned c = (unsigned)(usable / GRAIN - 1);
    if (a->count[c] < KEEP && !a->draining) {
      kept_block *k = p;
      k->next = a->kept[c];
      a->kept[c] = k;
      a->count[c]++;
      return;
    }
  }
  free(p);
}

/* A block for n bytes, 1 <= n <= SMALL_MAX: a kept one of n's class, or a new
 * one of the class's full size. */
static void *take(lacuna_alloc *a, size_t n) {
  unsigned c = class_for(n);
  kept_block *k = a->kept[c];
  if (k) {
    a->kept[c] = k->next;
    a->count[c]--;
    return k;
  }
  return malloc((size_t)(c + 1) * GRAIN);
}

/* lua_Alloc: ptr NULL allocates (osize is then a type tag), nsize 0 frees,
 * otherwise resizes a block of osize bytes. A shrink never fails. */
static void *pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  lacuna_alloc *a = ud;
  if (nsize == 0) {
    if (ptr) give_back(a, ptr);
    return NULL;
  }
  if (!ptr) return nsize <= SMALL_MAX ? take(a, nsize) : malloc(nsize);
  if (nsize <= SMALL_MAX) {
    if (osize <= SMALL_MAX && malloc_usable_size(ptr) >= nsize) return ptr;
    void *q = take(a, nsize);
    if (!q) return nsize <= osize ? ptr : NULL; /* a shrink keeps its block */
    memcpy(q, ptr, nsize < osize ? nsize : osize);
    give_back(a, ptr);
    return q;
  }
  if (osize <= SMALL_MAX) {
    void *q = malloc(nsize);
    if (!q) return NULL;
    memcpy(q, ptr, osize);
    give_back(a, ptr);
    return q;
  }
  return realloc(ptr, nsize);
}

static void free_kept(lacuna_alloc *a) {
  for (int c = 0; c < CLASSES; c++) {
    while (a->kept[c]) {
      kept_block *k = a->kept[c];
      a->kept[c] = k->next;
      free(k);
    }
    a->count[c] = 0;
  }
}

static void free_alloc(lacuna_alloc *a) {
  free_kept(a);
  free(a);
}

/* An adopted state closing: its allocator goes back to the C library's and
 * the kept blocks are freed, before the objects still alive are (Lua runs
 * finalizers first, the sandbox's memory cap, made later, before this). */
static int adopted_gc(lua_State *L) {
  lacuna_alloc **box = (lacuna_alloc **)lua_touserdata(L, 1);
  lacuna_alloc *a = *box;
  if (!a) return 0;
  *box = NULL;
  void *ud;
  if (lua_getallocf(L, &ud) == pool_alloc && ud == a) {
    lua_setallocf(L, a->inner, a->inner_ud);
    free_alloc(a);
  } else {
    /* Another wrapper still calls pool_alloc: a stays, keeping nothing. */
    a->draining = 1;
    free_kept(a);
  }
  return 0;
}

static const char ADOPTED_KEY = 'A';

void lacuna_alloc_adopt(lua_State *L) {
  lua_State *probe = luaL_newstate();
  if (!probe) return;
  lua_Alloc standard = lua_getallocf(probe, NULL);
  lua_close(probe);
  void *inner_ud;
  lua_Alloc inner = lua_getallocf(L, &inner_ud);
  if (inner != standard) return; /* someone's own allocator, or ours already */
  lacuna_alloc **box = (lacuna_alloc **)lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  lua_newtable(L);
  lua_pushcfunction(L, adopted_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &ADOPTED_KEY);
  lacuna_alloc *a = (lacuna_alloc *)calloc(1, sizeof *a);
  if (!a) return;
  a->inner = inner;
  a->inner_ud = inner_ud;
  *box = a;
  lua_setallocf(L, pool_alloc, a);
}

#else /* no malloc_usable_size, or AddressSanitizer: the state keeps malloc */

void lacuna_alloc_adopt(lua_State *L) { (void)L; }

#endif
