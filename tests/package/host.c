/* A C host that owns its lua_State and runs a shipped recipe through
 * include/lacuna.h (README "Embedding"): IN2 in its no-key mode on CORPUS.
 *   host CORPUS OUT.jsonl */
#include <lacuna.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: host CORPUS OUT.jsonl\n"), 2;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  const char *inputs[] = {argv[1]};
  const char *params[] = {"qa=extractive", "min_tokens=1024", "max_tokens=4096"};
  lacuna_run_options o = {.recipe = "in2",
                          .inputs = inputs,
                          .ninputs = 1,
                          .output = argv[2],
                          .params = params,
                          .nparams = 3,
                          .seed = 7};
  lacuna_counts n;
  char err[512];
  int rc = lacuna_run(L, &o, &n, err, sizeof err);
  if (rc == 2)
    fprintf(stderr, "host: %s\n", err);
  else
    printf("lacuna %s: %lld read = %lld ok + %lld skipped + %lld failed\n", lacuna_version(), n.read, n.ok,
           n.skipped, n.failed);
  lua_close(L);
  return rc;
}
