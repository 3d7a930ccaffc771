/* SHA-256 written from FIPS 180-4 (sections 4.1.2, 4.2.2, 5.1.1, 6.2). */
#include "sha256.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "areas.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHA_NI 1
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

/* Big-endian loads/stores keep the digest identical on every host. */
static uint32_t load_be32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void store_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

static void compress(uint32_t h[8], const unsigned char block[64]) {
  uint32_t w[64];
  for (int t = 0; t < 16; t++) w[t] = load_be32(block + 4 * t);
  for (int t = 16; t < 64; t++) {
    uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
  uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int t = 0; t < 64; t++) {
    uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = hh + S1 + ch + K[t] + w[t];
    uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = S0 + maj;
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

#ifdef HAVE_SHA_NI
/* The same compression with the x86 SHA extensions (Intel SDM, SHA256RNDS2,
 * SHA256MSG1/2): four rounds per step, the state held as ABEF and CDGH.
 * Cache keys hash a request per teacher call, so this is on every call. */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_shani(uint32_t h[8], const unsigned char *p,
                                                                       size_t nblocks) {
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);
  __m128i hgfe = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);
  __m128i abef = _mm_alignr_epi8(dcba, hgfe, 8);
  __m128i cdgh = _mm_blend_epi16(hgfe, dcba, 0xF0);
  for (; nblocks > 0; nblocks--, p += 64) {
    __m128i abef0 = abef, cdgh0 = cdgh, m[4];
    for (int g = 0; g < 16; g++) { /* words 4g..4g+3; m[g & 3] holds the group four back */
      __m128i w;
      if (g < 4) {
        w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
      } else {
        w = _mm_sha256msg1_epu32(m[g & 3], m[(g + 1) & 3]);
        w = _mm_add_epi32(w, _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4));
        w = _mm_sha256msg2_epu32(w, m[(g + 3) & 3]);
      }
      m[g & 3] = w;
      __m128i wk = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[4 * g]));
      /* Two rounds each; a round pair's new CDGH is its old ABEF, so after
       * the second pair the variables hold ABEF and CDGH again. */
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
    }
    abef = _mm_add_epi32(abef, abef0);
    cdgh = _mm_add_epi32(cdgh, cdgh0);
  }
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}

/* 1 when the CPU has the SHA extensions and SSE4.1 (cpuid leaves 7 and 1). */
static int cpu_has_sha(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3)) return 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  return (b & bit_SHA) != 0;
}
#endif

/* Whether compress_shani is used: -1 until the CPU is asked. Atomic: Lua
 * states in several threads of one process (tests/e2e/embed_threads.c) may
 * ask at once, and all find the same answer. */
static atomic_int use_shani = -1;

int lacuna_sha256_accelerated(int enable) {
#ifdef HAVE_SHA_NI
  use_shani = enable && cpu_has_sha();
  return use_shani;
#else
  (void)enable;
  return 0;
#endif
}

/* Compresses nblocks whole blocks at p into h. */
static void compress_blocks(uint32_t h[8], const unsigned char *p, size_t nblocks) {
#ifdef HAVE_SHA_NI
  if (use_shani < 0) use_shani = cpu_has_sha();
  if (use_shani) {
    compress_shani(h, p, nblocks);
    return;
  }
#endif
  for (; nblocks > 0; nblocks--, p += 64) compress(h, p);
}

void lacuna_sha256_init(lacuna_sha256 *c) {
  static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, H0, sizeof H0);
  c->nbytes = 0;
  c->nbuf = 0;
}

void lacuna_sha256_update(lacuna_sha256 *c, const void *data, size_t n) {
  const unsigned char *p = data;
  c->nbytes += n;
  if (c->nbuf > 0) { /* top up the pending block first */
    size_t take = 64 - c->nbuf;
    if (take > n) take = n;
    memcpy(c->buf + c->nbuf, p, take);
    c->nbuf += take;
    p += take;
    n -= take;
    if (c->nbuf < 64) return;
    compress_blocks(c->h, c->buf, 1);
    c->nbuf = 0;
  }
  compress_blocks(c->h, p, n / 64);
  p += n / 64 * 64;
  n %= 64;
  if (n > 0) memcpy(c->buf, p, n);
  c->nbuf = n;
}

void lacuna_sha256_final(lacuna_sha256 *c, unsigned char out[32]) {
  uint64_t bits = c->nbytes * 8;
  /* Padding: 0x80, zeros, then the 64-bit big-endian bit length (5.1.1). */
  c->buf[c->nbuf++] = 0x80;
  if (c->nbuf > 56) {
    memset(c->buf + c->nbuf, 0, 64 - c->nbuf);
    compress_blocks(c->h, c->buf, 1);
    c->nbuf = 0;
  }
  memset(c->buf + c->nbuf, 0, 56 - c->nbuf);
  store_be32(c->buf + 56, (uint32_t)(bits >> 32));
  store_be32(c->buf + 60, (uint32_t)bits);
  compress_blocks(c->h, c->buf, 1);
  for (int i = 0; i < 8; i++) store_be32(out + 4 * i, c->h[i]);
  c->nbuf = 0;
}

void lacuna_sha256_tohex(const unsigned char digest[32], char out[65]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 15];
  }
  out[64] = '\0';
}

void lacuna_sha256_hex(const void *data, size_t n, char out[65]) {
  lacuna_sha256 c;
  unsigned char d[32];
  lacuna_sha256_init(&c);
  lacuna_sha256_update(&c, data, n);
  lacuna_sha256_final(&c, d);
  lacuna_sha256_tohex(d, out);
}

/* hash.sha256(s) -> lowercase hex */
static int l_sha256(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  char hex[65];
  lacuna_sha256_hex(s, n, hex);
  lua_pushlstring(L, hex, 64);
  return 1;
}

/* hash.sha256_file(path) -> hex | nil, message (a missing or unreadable file
 * is the outside world's failure, not the caller's). */
static int l_sha256_file(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  FILE *f = fopen(path, "rb");
  if (!f) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
  }
  lacuna_sha256 c;
  unsigned char buf[65536];
  size_t got;
  lacuna_sha256_init(&c);
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) lacuna_sha256_update(&c, buf, got);
  int failed = ferror(f);
  int saved = errno;
  fclose(f);
  if (failed) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: read error: %s", path, strerror(saved));
    return 2;
  }
  unsigned char d[32];
  char hex[65];
  lacuna_sha256_final(&c, d);
  lacuna_sha256_tohex(d, hex);
  lua_pushlstring(L, hex, 64);
  return 1;
}

static const luaL_Reg hash_funcs[] = {{"sha256", l_sha256}, {"sha256_file", l_sha256_file}, {NULL, NULL}};

int lacuna_open_hash(lua_State *L) {
  luaL_newlib(L, hash_funcs);
  return 1;
}
