/* The lacuna executable's Lua allocator (see alloc.h). Blocks of up to
 * SMALL_MAX bytes come in size classes of GRAIN bytes; a freed one is kept on
 * its class's list (up to KEEP of them) for the next allocation of that
 * class. A block goes to the class its usable size fills (malloc_usable_size),
 * so a block the state allocated before the install, of any size, is as safe
 * to keep as one of ours: every block on class c's list holds at least
 * (c + 1) * GRAIN bytes. Kept blocks stay the process's memory (at most
 * CLASSES * KEEP of them, about 2 MiB) until lacuna_alloc_free. */
#include "alloc.h"

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

typedef struct kept_block {
  struct kept_block *next;
} kept_block;

struct lacuna_alloc {
  kept_block *kept[CLASSES];
  unsigned count[CLASSES];
};

#if defined(__GLIBC__) && !defined(LACUNA_ASAN)

/* The class whose blocks all hold n bytes, 1 <= n <= SMALL_MAX. */
static unsigned class_for(size_t n) { return (unsigned)((n + GRAIN - 1) / GRAIN - 1); }

/* Keeps a freed block on the list of the largest class it fills, or frees it. */
static void give_back(lacuna_alloc *a, void *p) {
  size_t usable = malloc_usable_size(p);
  if (usable >= GRAIN && usable < SMALL_MAX + GRAIN) {
    unsigned c = (unsigned)(usable / GRAIN - 1);
    if (a->count[c] < KEEP) {
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

lacuna_alloc *lacuna_alloc_install(lua_State *L) {
  lacuna_alloc *a = (lacuna_alloc *)calloc(1, sizeof *a);
  if (a) lua_setallocf(L, pool_alloc, a);
  return a;
}

void lacuna_alloc_free(lacuna_alloc *a) {
  if (!a) return;
  for (int c = 0; c < CLASSES; c++) {
    while (a->kept[c]) {
      kept_block *k = a->kept[c];
      a->kept[c] = k->next;
      free(k);
    }
  }
  free(a);
}

#else /* no malloc_usable_size, or AddressSanitizer: the state keeps malloc */

lacuna_alloc *lacuna_alloc_install(lua_State *L) {
  (void)L;
  return NULL;
}

void lacuna_alloc_free(lacuna_alloc *a) { free(a); }

#endif
