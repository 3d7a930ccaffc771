/* CRC-32 of the output, as zlib's crc32 computes it, faster on x86-64.
 *
 * Every byte a run writes goes through the CRC the manifest records; zlib's
 * table-driven crc32_z took 4.7% of a foundation run's instructions. Where
 * the CPU has carry-less multiplication (PCLMULQDQ, checked at run time), a
 * buffer of 64 bytes or more is folded 64 bytes a step with it, the standard
 * method (Gopal et al., "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ Instruction", Intel, 2009), for the reflected polynomial
 * 0x04C11DB7; the constants are powers of x modulo that polynomial. The tail
 * of fewer than 16 bytes, short buffers and other CPUs use zlib. */
#include "crc32.h"

#include <zlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_CLMUL_PATH 1

/* Folds buf[0..len) (len >= 64, a multiple of 16) into the CRC state (the
 * complemented CRC, as zlib keeps it inside). */
__attribute__((target("pclmul,sse2"))) static uint32_t fold_clmul(uint32_t state, const unsigned char *buf,
                                                                  size_t len) {
  const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4); /* x^(4*128+32), x^(4*128-32) mod P */
  const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0); /* x^(128+32), x^(128-32) mod P */
  const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);              /* x^64 mod P */
  const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641); /* Barrett: mu, P' */
  const __m128i low32 = _mm_set_epi32(0, -1, 0, -1);

  __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)buf);
  __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(buf + 16));
  __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(buf + 32));
  __m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(buf + 48));
  x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)state));
  buf += 64;
  len -= 64;
#define FOLD(x, k, next)                                                                                     \
  _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), (next))
  while (len >= 64) {
    x0 = FOLD(x0, k1k2, _mm_loadu_si128((const __m128i *)(const void *)buf));
    x1 = FOLD(x1, k1k2, _mm_loadu_si128((const __m128i *)(const void *)(buf + 16)));
    x2 = FOLD(x2, k1k2, _mm_loadu_si128((const __m128i *)(const void *)(buf + 32)));
    x3 = FOLD(x3, k1k2, _mm_loadu_si128((const __m128i *)(const void *)(buf + 48)));
    buf += 64;
    len -= 64;
  }
  /* four lanes into one, then the remaining 16-byte blocks */
  x0 = FOLD(x0, k3k4, x1);
  x0 = FOLD(x0, k3k4, x2);
  x0 = FOLD(x0, k3k4, x3);
  while (len >= 16) {
    x0 = FOLD(x0, k3k4, _mm_loadu_si128((const __m128i *)(const void *)buf));
    buf += 16;
    len -= 16;
  }
#undef FOLD
  /* 128 bits to 64, to 32 (Barrett reduction) */
  __m128i t = _mm_clmulepi64_si128(x0, k3k4, 0x10);
  x0 = _mm_xor_si128(_mm_srli_si128(x0, 8), t);
  t = _mm_srli_si128(x0, 4);
  x0 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x0, low32), k5, 0x00), t);
  t = _mm_clmulepi64_si128(_mm_and_si128(x0, low32), poly, 0x10);
  t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), poly, 0x00);
  x0 = _mm_xor_si128(x0, t);
  return (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(x0, 4));
}

static int have_clmul(void) {
  static int known = -1;
  if (known < 0) {
    __builtin_cpu_init();
    known = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
  }
  return known;
}
#endif

uint32_t lacuna_crc32(uint32_t crc, const void *buf, size_t len) {
  const unsigned char *p = (const unsigned char *)buf;
#ifdef HAVE_CLMUL_PATH
  if (len >= 64 && have_clmul()) {
    size_t bulk = len & ~(size_t)15;
    crc = ~fold_clmul(~crc, p, bulk);
    p += bulk;
    len -= bulk;
  }
#endif
  return (uint32_t)crc32_z(crc, p, len);
}
