/* lacuna side of the tokenizer conformance test: encodes every record of a
 * corpus with lacuna's C tokenizer and writes one JSON line per record, in
 * exactly the bytes hf_dump.mjs writes for the same encoding:
 *   {"ids":[...],"offsets":[[start,end],...]}
 * Offsets are lacuna's character offsets (code points of the repaired text),
 * the unit HF's binding reports. The byte offsets are not printed but checked
 * against the character offsets on the original bytes; a disagreement adds
 *   ,"bad_byte_offsets":[token,byte_start,byte_end,char_start,char_end]
 * so the line no longer matches the reference and shows up in the report. An
 * encode error writes {"error":"..."} for that record.
 *
 * Usage: tok_dump [--no-special] MODEL_DIR CORPUS OUT.jsonl [CORPUS OUT.jsonl]...
 * Exit status: 0 written, 1 load/IO failure, 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_corpus.h"
#include "tokenizer/tokenizer.h"

static void put_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

/* Index of the first token whose byte offsets disagree with its character
 * offsets, or -1. A non-empty byte span [bs,be) must give the characters
 * holding bytes bs and be-1; an empty one the character at bs (or the end). */
static long check_offsets(const lacuna_encoding *e, const size_t *map, size_t len, size_t nchars) {
  for (size_t i = 0; i < e->n; i++) {
    size_t bs = e->byte_start[i], be = e->byte_end[i];
    size_t cs = e->char_start[i], ce = e->char_end[i];
    if (bs > be || be > len) return (long)i;
    size_t want_s, want_e;
    if (be > bs) {
      want_s = map[bs];
      want_e = map[be - 1] + 1;
    } else {
      want_s = want_e = bs < len ? map[bs] : nchars;
    }
    if (cs != want_s || ce != want_e) return (long)i;
  }
  return -1;
}

static int dump(const lacuna_tokenizer *tok, int special, const char *corpus_path,
                const char *out_path) {
  tok_corpus c;
  if (tok_corpus_read(corpus_path, &c) != 0) return -1;
  size_t tmplen = strlen(out_path) + 5;
  char *tmp = malloc(tmplen);
  size_t *map = malloc((c.size + 1) * sizeof *map);
  FILE *f = NULL;
  if (tmp && map) {
    snprintf(tmp, tmplen, "%s.tmp", out_path);
    f = fopen(tmp, "wb");
  }
  if (!f) {
    fprintf(stderr, "tok_dump: cannot write %s\n", out_path);
    free(tmp);
    free(map);
    tok_corpus_free(&c);
    return -1;
  }
  /* Full buffering: millions of small writes. */
  setvbuf(f, NULL, _IOFBF, 1 << 20);
  lacuna_encoding e;
  lacuna_encoding_init(&e);
  for (size_t r = 0; r < c.n; r++) {
    const char *text = c.data + c.off[r];
    char err[512] = "";
    e.n = 0;
    if (lacuna_tokenizer_encode(tok, text, c.len[r], special, &e, err, sizeof err) != 0) {
      fputs("{\"error\":", f);
      put_json_string(f, err[0] ? err : "encode failed");
      fputs("}\n", f);
      continue;
    }
    fputs("{\"ids\":[", f);
    for (size_t i = 0; i < e.n; i++) fprintf(f, i ? ",%ld" : "%ld", (long)e.ids[i]);
    fputs("],\"offsets\":[", f);
    for (size_t i = 0; i < e.n; i++)
      fprintf(f, i ? ",[%zu,%zu]" : "[%zu,%zu]", e.char_start[i], e.char_end[i]);
    fputc(']', f);
    size_t nchars = tok_utf8_char_map((const unsigned char *)text, c.len[r], map);
    long bad = check_offsets(&e, map, c.len[r], nchars);
    if (bad >= 0)
      fprintf(f, ",\"bad_byte_offsets\":[%ld,%zu,%zu,%zu,%zu]", bad, e.byte_start[bad],
              e.byte_end[bad], e.char_start[bad], e.char_end[bad]);
    fputs("}\n", f);
  }
  lacuna_encoding_free(&e);
  int rc = ferror(f) ? -1 : 0;
  if (fclose(f) != 0) rc = -1;
  if (rc == 0 && rename(tmp, out_path) != 0) rc = -1;
  if (rc != 0) fprintf(stderr, "tok_dump: writing %s failed\n", out_path);
  free(tmp);
  free(map);
  tok_corpus_free(&c);
  return rc;
}

int main(int argc, char **argv) {
  int special = 1, a = 1;
  if (a < argc && strcmp(argv[a], "--no-special") == 0) {
    special = 0;
    a++;
  }
  if (argc - a < 3 || (argc - a) % 2 != 1) {
    fprintf(stderr,
            "usage: tok_dump [--no-special] MODEL_DIR CORPUS OUT.jsonl [CORPUS OUT.jsonl]...\n");
    return 2;
  }
  char err[1024] = "";
  lacuna_tokenizer *tok = lacuna_tokenizer_load(argv[a], err, sizeof err);
  if (!tok) {
    fprintf(stderr, "tok_dump: %s: %s\n", argv[a], err);
    return 1;
  }
  int rc = 0;
  for (int i = a + 1; i + 1 < argc; i += 2)
    if (dump(tok, special, argv[i], argv[i + 1]) != 0) rc = 1;
  lacuna_tokenizer_free(tok);
  return rc;
}
