/* The public header and the Example's internal header in one translation unit
 * (issue 9.7): lacuna_run, the public function, and the internal mask-run type
 * must not collide. Compiling this file is most of the test. */
#include "example.h"
#include "lacuna.h"

#include "check.h"

int main(void) {
  int (*run)(lua_State *, const lacuna_run_options *, lacuna_counts *, char *, size_t) = lacuna_run;
  lacuna_mask_run r = {0, 3, 1};
  CHECK(run != NULL);
  CHECK(r.e - r.b == 3 && r.train == 1);
  return CHECK_DONE();
}
