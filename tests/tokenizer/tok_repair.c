/* Writes a NUL-separated corpus back with every record repaired the way
 * tok_corpus.c sees it (each maximal ill-formed UTF-8 subpart -> U+FFFD, the
 * code point map tok_dump checks byte offsets with). selftest.sh compares the
 * result with Python's and Node's repair of the same bytes.
 * Usage: tok_repair CORPUS > REPAIRED */
#include <stdio.h>
#include <stdlib.h>

#include "tok_corpus.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: tok_repair CORPUS > REPAIRED\n");
    return 2;
  }
  tok_corpus c;
  if (tok_corpus_read(argv[1], &c) != 0) return 1;
  unsigned char *buf = malloc(3 * c.size + 1);
  size_t *map = malloc((c.size + 1) * sizeof *map);
  if (!buf || !map) return 1;
  size_t chars = 0;
  for (size_t i = 0; i < c.n; i++) {
    const unsigned char *rec = (const unsigned char *)c.data + c.off[i];
    size_t n = tok_utf8_repair(rec, c.len[i], buf);
    chars += tok_utf8_char_map(rec, c.len[i], map);
    if (i) putchar('\0');
    fwrite(buf, 1, n, stdout);
  }
  fprintf(stderr, "tok_repair: %zu records, %zu code points\n", c.n, chars);
  free(buf);
  free(map);
  tok_corpus_free(&c);
  return ferror(stdout) ? 1 : 0;
}
