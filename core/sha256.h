/* SHA-256 (FIPS 180-4): incremental hashing for the cache keys, recipe pins and
 * provenance; lacuna_open_hash exposes it to Lua as core.hash. */
#ifndef LACUNA_SHA256_H
#define LACUNA_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct lacuna_sha256 {
  uint32_t h[8];         /* chaining value */
  uint64_t nbytes;       /* message length so far */
  unsigned char buf[64]; /* pending partial block */
  size_t nbuf;           /* bytes used in buf */
} lacuna_sha256;

void lacuna_sha256_init(lacuna_sha256 *c);
void lacuna_sha256_update(lacuna_sha256 *c, const void *data, size_t n);
/* Writes the 32-byte digest; c must be re-initialised before reuse. */
void lacuna_sha256_final(lacuna_sha256 *c, unsigned char out[32]);
/* One-shot: lowercase hex digest plus a terminating NUL. */
void lacuna_sha256_hex(const void *data, size_t n, char out[65]);
/* The x86 SHA extensions are used where the CPU has them. 0 turns them off
 * (the portable code runs), 1 back on; returns 1 when they are in use. For
 * tests that check both. */
int lacuna_sha256_accelerated(int enable);
/* Lowercase hex of a finished 32-byte digest. */
void lacuna_sha256_tohex(const unsigned char digest[32], char out[65]);

#endif
