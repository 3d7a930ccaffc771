/* Examples: chat messages whose content carries a train/ignore mask made of
 * byte spans. Every text is valid UTF-8 and every span lies on character
 * boundaries from the moment it is added, so readers never validate again.
 * Other C areas (the trainer formats in core/render.c, tokenizer label
 * mapping) read an Example through these functions; Lua sees core.example. */
#ifndef LACUNA_EXAMPLE_H
#define LACUNA_EXAMPLE_H

#include <stddef.h>

#include <lua.h>

#define LACUNA_EXAMPLE_MT "lacuna.Example"

typedef struct lacuna_example lacuna_example;

/* One contiguous run of a message's resolved mask, byte offsets into the
 * content, end exclusive. */
typedef struct lacuna_mask_run {
  size_t b, e;
  int train; /* 0 or 1 */
} lacuna_mask_run;

/* The Example at stack index idx; raises if it is not one or is closed. */
lacuna_example *lacuna_check_example(lua_State *L, int idx);

size_t lacuna_example_count(const lacuna_example *ex);

/* Message i (0-based, i < count): its role and content (len may be NULL). */
const char *lacuna_example_role(const lacuna_example *ex, size_t i, size_t *len);
const char *lacuna_example_content(const lacuna_example *ex, size_t i, size_t *len);

/* Pushes message i's content as the Lua string the example shares it with
 * (a long content is not copied, see example.c) and returns 1; returns 0 with
 * nothing pushed when the message has its own copy. ex is at stack index idx. */
int lacuna_example_push_shared(lua_State *L, int idx, const lacuna_example *ex, size_t i);

/* Writes at most cap runs of message i's mask into out (unset flags resolved
 * by the role default: assistant trained, others not) and returns how many
 * runs the mask has; call with cap 0 to size the array. Empty content has 0. */
size_t lacuna_example_runs(const lacuna_example *ex, size_t i, lacuna_mask_run *out, size_t cap);

/* The resolved mask of message i as a whole. Empty content takes the
 * message's own flag (explicit spans on it: untrained). */
enum lacuna_mask_state { LACUNA_UNTRAINED = 0, LACUNA_TRAINED = 1, LACUNA_PARTIAL = 2 };
enum lacuna_mask_state lacuna_example_state(const lacuna_example *ex, size_t i);

/* 1 if every byte of [b, e) in message i is trained (e > b), else 0: a token
 * is trained only when it lies wholly inside trained text. */
int lacuna_example_range_trained(const lacuna_example *ex, size_t i, size_t b, size_t e);

#endif
