/* The arena behind cJSON's hooks while json.c parses (see json_arena.h): a
 * stack of malloc'd blocks, each bumped from its start. */
#include "json_arena.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>

#define FIRST_BLOCK ((size_t)64 << 10)
#define KEEP_MAX ((size_t)1 << 20)  /* the most the bottom block keeps between decodes */
#define GROW_MAX ((size_t)64 << 20) /* blocks stop doubling here: a huge line wastes little */
#define ALIGN 16

typedef struct Block {
  struct Block *below;
  size_t size, used;
} Block;

/* Data starts after the header, rounded up to ALIGN. */
#define HEADER ((sizeof(Block) + ALIGN - 1) / ALIGN * ALIGN)

/* Per thread: two runtimes in two threads parse at the same time (the hooks
 * are cJSON's, process-wide; the state they read is the thread's own). */
static _Thread_local Block *top;
static _Thread_local int parsing; /* cJSON's allocations go to the arena */
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
static pthread_key_t arena_key;

static void *block_data(Block *b) { return (char *)b + HEADER; }

static Block *new_block(size_t size, Block *below) {
  Block *b = (Block *)malloc(HEADER + size);
  if (!b) return NULL;
  b->below = below;
  b->size = size;
  b->used = 0;
  return b;
}

static void *arena_alloc(size_t n) {
  n = (n + ALIGN - 1) / ALIGN * ALIGN;
  if (!top || top->size - top->used < n) {
    size_t size = !top ? FIRST_BLOCK : top->size < GROW_MAX / 2 ? top->size * 2 : GROW_MAX;
    if (size < n) size = n;
    Block *b = new_block(size, top);
    if (!b) return NULL; /* cJSON reports the parse as failed */
    top = b;
  }
  void *p = (char *)block_data(top) + top->used;
  top->used += n;
  return p;
}

static void *hook_malloc(size_t n) { return parsing ? arena_alloc(n) : malloc(n); }

/* While parsing, cJSON frees only what it allocated (a failed parse deletes
 * its partial tree): arena memory, released with the rest. */
static void hook_free(void *p) {
  if (!parsing) free(p);
}

/* The kept bottom block goes when its thread ends, or (the main thread's)
 * when lacuna.so is unloaded (see json.c). */
static void free_arena(void) {
  while (top) {
    Block *b = top;
    top = b->below;
    free(b);
  }
}

static void free_arena_at_exit(void *unused) {
  (void)unused;
  free_arena();
}

static int installed;
static void install_hooks(void) {
  cJSON_Hooks hooks = {hook_malloc, hook_free};
  cJSON_InitHooks(&hooks);
  installed = pthread_key_create(&arena_key, free_arena_at_exit) == 0;
}

/* (the key and cJSON's hooks go too: nothing may call into unloaded code) */
__attribute__((destructor)) static void free_arena_at_unload(void) {
  free_arena();
  if (installed) {
    pthread_key_delete(arena_key);
    cJSON_InitHooks(NULL);
  }
}

lacuna_json_arena_mark lacuna_json_arena_begin(void) {
  pthread_once(&hooks_once, install_hooks);
  if (!top) pthread_setspecific(arena_key, &arena_key); /* (freed when the thread ends) */
  lacuna_json_arena_mark m = {top, top ? top->used : 0};
  parsing = 1;
  return m;
}

void lacuna_json_arena_end_parse(void) { parsing = 0; }

void lacuna_json_arena_release(lacuna_json_arena_mark mark) {
  size_t dropped = 0;
  while (top && top != (Block *)mark.block) {
    Block *b = top;
    top = b->below;
    dropped += b->used;
    free(b);
  }
  if (top) top->used = mark.used;
  if (mark.used != 0 || (top && top->below)) return;
  /* Back at the bottom: make the one block fit the records seen. */
  size_t want = (top ? top->size : 0) + dropped;
  if (want > KEEP_MAX) want = KEEP_MAX;
  if (top && top->size >= want) return;
  free(top);
  top = new_block(want < FIRST_BLOCK ? FIRST_BLOCK : want, NULL);
}
