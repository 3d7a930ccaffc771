/* json_arena — where cJSON's nodes live while core/json.c decodes.
 *
 * cJSON mallocs every node and every string of a parse, and cJSON_Delete
 * frees them one by one: per JSONL record that was about a tenth of a
 * foundation run (perf). json.c only reads the tree once, to build Lua
 * values, so while it parses, cJSON's allocations come from this bump arena
 * instead and the whole tree is dropped at once. Outside that window the
 * hooks are malloc and free, for the cJSON trees other areas keep (the
 * tokenizer loader, stats). Single-threaded, like the rest of the runtime. */
#ifndef LACUNA_JSON_ARENA_H
#define LACUNA_JSON_ARENA_H

#include <stddef.h>

/* The arena's top when a decode began: release goes back to it, so a decode
 * nested inside another one's Lua building (a __gc that decodes) keeps the
 * outer tree. */
typedef struct lacuna_json_arena_mark {
  void *block;
  size_t used;
} lacuna_json_arena_mark;

/* Installs the cJSON hooks (once), starts sending cJSON's allocations to the
 * arena and returns the mark to release to. */
lacuna_json_arena_mark lacuna_json_arena_begin(void);

/* cJSON's allocations go to malloc again; the arena's tree stays readable. */
void lacuna_json_arena_end_parse(void);

/* Drops everything allocated since mark. Back at the bottom, keeps one block
 * sized for the records seen (at most 1 MiB), so a huge line's memory is
 * given back and ordinary lines allocate nothing. */
void lacuna_json_arena_release(lacuna_json_arena_mark mark);

#endif
