#include "tok_corpus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int tok_corpus_read(const char *path, tok_corpus *c) {
  memset(c, 0, sizeof *c);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "%s: cannot size the file\n", path);
    fclose(f);
    return -1;
  }
  c->size = (size_t)size;
  c->data = malloc(c->size + 1); /* +1: an empty file still gets a buffer */
  int bad = !c->data || fread(c->data, 1, c->size, f) != c->size;
  fclose(f);
  if (bad) {
    fprintf(stderr, "%s: read failed\n", path);
    free(c->data);
    c->data = NULL;
    return -1;
  }
  size_t n = 1;
  for (size_t i = 0; i < c->size; i++) n += c->data[i] == '\0';
  c->off = malloc(n * sizeof *c->off);
  c->len = malloc(n * sizeof *c->len);
  if (!c->off || !c->len) {
    fprintf(stderr, "%s: out of memory\n", path);
    tok_corpus_free(c);
    return -1;
  }
  size_t start = 0;
  for (size_t i = 0; i <= c->size; i++) {
    if (i == c->size || c->data[i] == '\0') {
      c->off[c->n] = start;
      c->len[c->n] = i - start;
      c->n++;
      start = i + 1;
    }
  }
  return 0;
}

void tok_corpus_free(tok_corpus *c) {
  free(c->data);
  free(c->off);
  free(c->len);
  memset(c, 0, sizeof *c);
}

/* Length of the well-formed prefix of a sequence starting at s[0] (1..4), or
 * of its maximal ill-formed subpart; *ok says which. Table 3-7 of the Unicode
 * standard: the second byte's range depends on the lead byte. */
static size_t utf8_unit(const unsigned char *s, size_t avail, int *ok) {
  unsigned char b = s[0];
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  *ok = 1;
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) {
    need = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    *ok = 0;
    return 1;
  }
  size_t i = 1;
  for (; i < need; i++) {
    if (i >= avail) break;
    unsigned char x = s[i];
    if (i == 1 ? (x < lo || x > hi) : (x < 0x80 || x > 0xBF)) break;
  }
  if (i < need) *ok = 0;
  return i;
}

size_t tok_utf8_char_map(const unsigned char *s, size_t len, size_t *map) {
  size_t chars = 0;
  for (size_t i = 0; i < len;) {
    int ok;
    size_t k = utf8_unit(s + i, len - i, &ok);
    for (size_t j = 0; j < k; j++) map[i + j] = chars;
    chars++;
    i += k;
  }
  return chars;
}

size_t tok_utf8_repair(const unsigned char *s, size_t len, unsigned char *out) {
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    int ok;
    size_t k = utf8_unit(s + i, len - i, &ok);
    if (ok) {
      memcpy(out + o, s + i, k);
      o += k;
    } else {
      memcpy(out + o, "\xEF\xBF\xBD", 3);
      o += 3;
    }
    i += k;
  }
  return o;
}

double tok_cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double tok_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
