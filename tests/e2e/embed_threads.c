/* Two lacuna runtimes in one process: each thread makes its own Lua state and
 * runs its own command line through lacuna_main, at the same time as the other.
 * Usage: embed_threads ARGS_A... -- ARGS_B...   (each list as after `lacuna`)
 * Exits 0 when both runs returned 0; prints each run's exit code. */
#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lacuna.h"

typedef struct runtime_job {
  int argc;
  char **argv; /* argv[0] is the program name, as lacuna_main expects */
  int code;
} runtime_job;

static void *run_runtime(void *arg) {
  runtime_job *job = arg;
  lua_State *L = luaL_newstate();
  if (!L) {
    job->code = -1;
    return NULL;
  }
  luaL_openlibs(L);
  job->code = lacuna_main(L, job->argc, job->argv);
  lua_close(L);
  return NULL;
}

int main(int argc, char **argv) {
  int split = 1;
  while (split < argc && strcmp(argv[split], "--") != 0) split++;
  if (split == 1 || split >= argc - 1) {
    fprintf(stderr, "usage: embed_threads ARGS_A... -- ARGS_B...\n");
    return 2;
  }
  /* Each list gets the program name in front: B's reuses the "--" slot. */
  argv[split] = argv[0];
  runtime_job jobs[2] = {
      {.argc = split, .argv = argv},
      {.argc = argc - split, .argv = argv + split},
  };
  pthread_t threads[2];
  for (int i = 0; i < 2; i++) {
    if (pthread_create(&threads[i], NULL, run_runtime, &jobs[i]) != 0) {
      fprintf(stderr, "embed_threads: pthread_create failed\n");
      return 2;
    }
  }
  for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
  printf("A %d B %d\n", jobs[0].code, jobs[1].code);
  return jobs[0].code == 0 && jobs[1].code == 0 ? 0 : 1;
}
