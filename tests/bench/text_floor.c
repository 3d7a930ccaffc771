/* The memory floor of context assembly for tests/bench/run_text.sh: what the
 * machine needs just to gather a context's bytes from random places of a
 * pool of the same size and copy them out, with none of the assembly's work
 * (no exclusion, counting, trimming, placing or Lua). Segments of the pool's
 * mean length are laid end to end in one arena; each context draws whole
 * segments uniformly (records fetched 32 ahead, texts prefetched, as
 * core/text does), until it holds CONTEXT_BYTES, then copies them into one
 * buffer and that into a fresh block (the Lua string).
 *   text_floor SEGMENTS TEXT_BYTES CONTEXT_BYTES N -> median-free CPU us per context */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  uint64_t off;
  uint32_t len, tokens;
  int64_t doc;
} record;

static uint64_t state = 0x9E3779B97F4A7C15u;
static uint64_t next(void) { /* xorshift64: the floor needs no better */
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: text_floor SEGMENTS TEXT_BYTES CONTEXT_BYTES N\n");
    return 2;
  }
  size_t n = strtoull(argv[1], NULL, 10), text = strtoull(argv[2], NULL, 10);
  size_t want = strtoull(argv[3], NULL, 10), contexts = strtoull(argv[4], NULL, 10);
  size_t mean = text / n;
  record *rec = malloc(n * sizeof *rec);
  char *arena = malloc(text + n), *buf = malloc(want + 4 * mean + 64);
  const record **sel = malloc((want / (mean / 2) + 64) * sizeof *sel);
  if (!rec || !arena || !buf || !sel || mean < 2) return 1;
  size_t off = 0;
  for (size_t i = 0; i < n; i++) { /* lengths spread over [mean/2, 3*mean/2) */
    rec[i] = (record){off, (uint32_t)(mean / 2 + next() % mean), 128, (int64_t)(i / 4)};
    off += rec[i].len;
  }
  memset(arena, 'a', off);
  unsigned long sink = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  for (size_t c = 0; c < contexts; c++) {
    size_t queue[32], got = 0, ns = 0;
    for (size_t k = 0; got < want; k++) {
      if (k % 32 == 0)
        for (int q = 0; q < 32; q++) __builtin_prefetch(&rec[queue[q] = next() % n]);
      const record *r = &rec[queue[k % 32]];
      if (r->doc < 0) continue; /* the record is read, as an exclusion test reads it */
      for (uintptr_t a = (uintptr_t)(arena + r->off) & ~(uintptr_t)63,
                     z = (uintptr_t)(arena + r->off + r->len - 1);
           a <= z; a += 64)
        __builtin_prefetch((const void *)a);
      sel[ns++] = r;
      got += r->len + 1;
    }
    size_t len = 0;
    for (size_t k = 0; k < ns; k++) {
      if (k) buf[len++] = '\n';
      memcpy(buf + len, arena + sel[k]->off, sel[k]->len);
      len += sel[k]->len;
    }
    char *out = malloc(len);
    if (!out) return 1;
    memcpy(out, buf, len);
    sink += (unsigned char)out[len / 2];
    free(out);
  }
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("{\"contexts\": %zu, \"secs\": %.6f, \"sink\": %lu}\n", contexts, secs, sink % 2);
  return 0;
}
