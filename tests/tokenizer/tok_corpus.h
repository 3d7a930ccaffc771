/* Helpers shared by tok_dump and tok_bench: NUL-separated corpus files (see
 * make_corpus.py) and the byte -> code point map of a possibly ill-formed UTF-8
 * record, repaired the way Rust's from_utf8_lossy and Node do it. */
#ifndef LACUNA_TOK_CORPUS_H
#define LACUNA_TOK_CORPUS_H

#include <stddef.h>

typedef struct tok_corpus {
  char *data; /* the whole file, NUL-separated records */
  size_t size;
  size_t n;          /* record count */
  size_t *off, *len; /* record i is data[off[i] .. off[i]+len[i]) */
} tok_corpus;

/* 0 on success; -1 with a message on stderr. */
int tok_corpus_read(const char *path, tok_corpus *c);
void tok_corpus_free(tok_corpus *c);

/* Fills map[i] (i < len) with the index of the code point that byte i belongs
 * to after lossy repair: each well-formed character is one code point and each
 * maximal ill-formed subpart one U+FFFD (Unicode 3.9, "U+FFFD substitution of
 * maximal subparts"). Returns the code point count. */
size_t tok_utf8_char_map(const unsigned char *s, size_t len, size_t *map);

/* Writes the repaired text (each maximal ill-formed subpart replaced by
 * U+FFFD) to out, which has room for 3 * len bytes; returns its length. */
size_t tok_utf8_repair(const unsigned char *s, size_t len, unsigned char *out);

/* Milliseconds on a monotonic clock. */
double tok_now_ms(void);
/* CPU time of this process (user + system), in ms: steadier than the clock on
 * a loaded machine, for comparing builds. */
double tok_cpu_ms(void);

#endif
