/* lacuna side of the tokenizer benchmark (tests/bench/run_tokenizer.sh):
 * load time and single-thread encode throughput of lacuna's C tokenizer.
 *
 * Usage: tok_bench MODEL_DIR CORPUS [REPS]
 * Loads the tokenizer REPS times (default 3), then encodes every record of the
 * NUL-separated corpus one at a time, add_special_tokens on, REPS times, and
 * prints one JSON line:
 *   {"load_ms":M,"encode_s":S,"mb_per_s":X,"bytes":B,"records":R,"tokens":T,
 *    "ids_hash":"H","encode_cpu_s":C}
 * (medians; MB = 10^6 bytes of UTF-8 input; encode_cpu_s is the CPU time of
 * the encode loop, which a loaded machine inflates less than the clock). ids_hash is a 32-bit FNV-1a over
 * every id and a -1 after each record, computed outside the timed loop, the
 * same way hf_bench.mjs does, so equal hashes mean equal ids. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_corpus.h"
#include "tokenizer/tokenizer.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint32_t fnv(uint32_t h, uint32_t v) {
  h ^= v;
  return h * 16777619u;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: tok_bench MODEL_DIR CORPUS [REPS]\n");
    return 2;
  }
  int reps = argc == 4 ? atoi(argv[3]) : 3;
  if (reps < 1 || reps > 100) {
    fprintf(stderr, "tok_bench: REPS must be 1..100\n");
    return 2;
  }
  double *t = malloc((size_t)reps * sizeof *t), *cpu = malloc((size_t)reps * sizeof *cpu);
  tok_corpus c;
  if (!t || !cpu || tok_corpus_read(argv[2], &c) != 0) return 1;

  char err[1024] = "";
  lacuna_tokenizer *tok = NULL;
  for (int r = 0; r < reps; r++) {
    if (tok) lacuna_tokenizer_free(tok);
    double t0 = tok_now_ms();
    tok = lacuna_tokenizer_load(argv[1], err, sizeof err);
    t[r] = tok_now_ms() - t0;
    if (!tok) {
      fprintf(stderr, "tok_bench: %s: %s\n", argv[1], err);
      return 1;
    }
  }
  double load_ms = median(t, reps);

  lacuna_encoding e;
  lacuna_encoding_init(&e);
  size_t tokens = 0, bytes = 0;
  for (size_t i = 0; i < c.n; i++) bytes += c.len[i];
  for (int r = 0; r < reps; r++) {
    tokens = 0;
    double c0 = tok_cpu_ms(), t0 = tok_now_ms();
    for (size_t i = 0; i < c.n; i++) {
      e.n = 0;
      if (lacuna_tokenizer_encode(tok, c.data + c.off[i], c.len[i], 1, &e, err, sizeof err) != 0) {
        fprintf(stderr, "tok_bench: record %zu: %s\n", i + 1, err);
        return 1;
      }
      tokens += e.n;
    }
    t[r] = (tok_now_ms() - t0) / 1e3;
    cpu[r] = (tok_cpu_ms() - c0) / 1e3;
  }
  double encode_s = median(t, reps), encode_cpu_s = median(cpu, reps);

  uint32_t h = 2166136261u;
  for (size_t i = 0; i < c.n; i++) {
    e.n = 0;
    if (lacuna_tokenizer_encode(tok, c.data + c.off[i], c.len[i], 1, &e, err, sizeof err) != 0) return 1;
    for (size_t k = 0; k < e.n; k++) h = fnv(h, (uint32_t)e.ids[k]);
    h = fnv(h, 0xFFFFFFFFu);
  }
  printf("{\"load_ms\":%.1f,\"encode_s\":%.4f,\"mb_per_s\":%.2f,\"bytes\":%zu,"
         "\"records\":%zu,\"tokens\":%zu,\"ids_hash\":\"%08x\",\"encode_cpu_s\":%.4f}\n",
         load_ms, encode_s, (double)bytes / 1e6 / encode_s, bytes, c.n, tokens, (unsigned)h, encode_cpu_s);
  lacuna_encoding_free(&e);
  lacuna_tokenizer_free(tok);
  tok_corpus_free(&c);
  free(t);
  free(cpu);
  return 0;
}
