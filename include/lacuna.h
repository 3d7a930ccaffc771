/* lacuna — a Lua 5.4 runtime for recipes that design fine-tuning data.
 *
 * Three ways in, one module:
 *   - the `lacuna` executable (core/main.c) is lacuna_main() in a fresh state;
 *   - `require "lacuna"` from a stock lua5.4 loads lacuna.so (luaopen_lacuna);
 *   - a C program links liblacuna_core and calls the functions below.
 *
 * All of lacuna's state lives in the lua_State: two states are two independent
 * runtimes and may run at the same time in two threads (one state per thread);
 * only SIGINT/SIGTERM, once a run has caught them, stop every runtime. The two
 * entries below run protected: errors, even while opening the module, come
 * back as their return value, never as a Lua panic.
 */
#ifndef LACUNA_H
#define LACUNA_H

#include <lua.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the runtime, e.g. "0.1.0". */
const char *lacuna_version(void);

/* Opens the lacuna module in L and pushes its table (the same table that
 * `require "lacuna"` returns). L needs the standard libraries. */
LUAMOD_API int luaopen_lacuna(lua_State *L);

/* Runs the command line `lacuna ARGS...` (argv[0] is the program name) in L,
 * which must have the standard libraries open. Returns the process exit code:
 * 0 every item done, 1 some items failed, 2 usage or configuration error,
 * 3 requests exported for the Batch API, 130 interrupted. */
int lacuna_main(lua_State *L, int argc, char **argv);

/* Counts of one run. Every item read is accounted for: read == ok + skipped + failed. */
typedef struct lacuna_counts {
  long long read;     /* items read from the inputs */
  long long ok;       /* items that produced at least one example */
  long long examples; /* examples written */
  long long skipped;  /* items recorded in OUT.skipped.jsonl */
  long long failed;   /* items recorded in OUT.failed.jsonl */
} lacuna_counts;

/* Runs RECIPE (a path or a shipped recipe's name) over one input file into
 * OUTPUT in FORMAT (NULL: the recipe's default), with params as "key=value"
 * strings. On a configuration error returns 2 and writes the message to err;
 * otherwise returns 0 or 1 like lacuna_main and fills counts. */
typedef struct lacuna_run_options {
  const char *recipe;
  const char *const *inputs; /* ninputs paths */
  int ninputs;
  const char *output;
  const char *format;
  const char *const *params; /* nparams "key=value" */
  int nparams;
  long long seed;
  int trust; /* nonzero: no sandbox */
} lacuna_run_options;

int lacuna_run(lua_State *L, const lacuna_run_options *opts, lacuna_counts *counts, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
