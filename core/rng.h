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

/* The two draws below are inline: a context assembly makes hundreds of them
 * per context, and a call each was a sixth of its instructions. */

static inline uint64_t lacuna_rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* Next 64 random bits. */
static inline uint64_t lacuna_rng_next(lacuna_rng *g) {
  uint64_t *s = g->s;
  uint64_t result = lacuna_rng_rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = lacuna_rng_rotl(s[3], 45);
  return result;
}

/* Full 128-bit product of two 64-bit words in portable C: the reference for
 * the compiler's 128-bit product (test_rng checks they agree), and the path
 * where there is none, so every draw is the same on every compiler. */
static inline void lacuna_mul128_portable(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo) {
  uint64_t al = a & 0xffffffffu, ah = a >> 32;
  uint64_t bl = b & 0xffffffffu, bh = b >> 32;
  uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
  uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
  *lo = (mid << 32) | (ll & 0xffffffffu);
  *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

static inline void lacuna_mul128(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo) {
#ifdef __SIZEOF_INT128__
  unsigned __int128 m = (unsigned __int128)a * b;
  *lo = (uint64_t)m;
  *hi = (uint64_t)(m >> 64);
#else
  lacuna_mul128_portable(a, b, hi, lo);
#endif
}

/* Uniform in [0, n), unbiased; returns 0 for n == 0. Lemire's
 * multiply-and-reject: the high word of x*n is uniform in [0, n) once the low
 * words falling in the short first bucket are rejected. */
static inline uint64_t lacuna_rng_below(lacuna_rng *g, uint64_t n) {
  if (n == 0) return 0;
  uint64_t hi, lo;
  lacuna_mul128(lacuna_rng_next(g), n, &hi, &lo);
  if (lo < n) {
    uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
    while (lo < threshold) lacuna_mul128(lacuna_rng_next(g), n, &hi, &lo);
  }
  return hi;
}

/* Uniform in [0, 1) with 53 random bits. */
double lacuna_rng_double(lacuna_rng *g);
/* Pushes a new "lacuna.Rng" userdata seeded with (seed, stream); returns its
 * generator, owned by the Lua value. */
lacuna_rng *lacuna_rng_push(lua_State *L, uint64_t seed, uint64_t stream);
/* The generator of the "lacuna.Rng" userdata at idx; raises if it is none. */
lacuna_rng *lacuna_rng_check(lua_State *L, int idx);

#endif
