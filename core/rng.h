/* Deterministic random streams: xoshiro256** seeded through SplitMix64 from
 * (seed, stream), so every work item gets its own reproducible stream and the
 * same (seed, stream) gives the same numbers on every platform. */
#ifndef LACUNA_RNG_H
#define LACUNA_RNG_H

#include <stdint.h>

#include <lua.h>

typedef struct lacuna_rng {
  uint64_t s[4]; /* xoshiro256** state; never all zero */
  uint64_t key;  /* hash of (seed, stream): what split() derives from */
} lacuna_rng;

void lacuna_rng_seed(lacuna_rng *g, uint64_t seed, uint64_t stream);
/* Next 64 random bits. */
uint64_t lacuna_rng_next(lacuna_rng *g);
/* Uniform in [0, n), unbiased; n must be > 0 (returns 0 for n == 0). */
uint64_t lacuna_rng_below(lacuna_rng *g, uint64_t n);
/* Uniform in [0, 1) with 53 random bits. */
double lacuna_rng_double(lacuna_rng *g);
/* Pushes a new "lacuna.Rng" userdata seeded with (seed, stream); returns its
 * generator, owned by the Lua value. */
lacuna_rng *lacuna_rng_push(lua_State *L, uint64_t seed, uint64_t stream);
/* The generator of the "lacuna.Rng" userdata at idx; raises if it is none. */
lacuna_rng *lacuna_rng_check(lua_State *L, int idx);

#endif
