/* Hugging Face tokenizer.json in C: load, encode (with offsets), decode.
 * Ids and offsets equal HF `tokenizers` for the supported features; anything
 * else is refused at load time with a message naming the type and JSON path. */
#ifndef LACUNA_TOKENIZER_H
#define LACUNA_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct lacuna_tokenizer lacuna_tokenizer;

/* Loads tokenizer.json (path to the file, or to a directory holding it). NULL +
 * message on failure; an unsupported feature names itself ("normalizer type
 * 'BertNormalizer' is not supported"). */
lacuna_tokenizer *lacuna_tokenizer_load(const char *path, char *err, size_t errlen);
lacuna_tokenizer *lacuna_tokenizer_load_json(const char *json, size_t len, char *err, size_t errlen);
void lacuna_tokenizer_free(lacuna_tokenizer *tok);

typedef struct lacuna_encoding {
  int32_t *ids;
  size_t *byte_start, *byte_end; /* byte offsets into the ORIGINAL input text, end
                                    exclusive (HF offsets, in bytes) */
  size_t *char_start, *char_end; /* the same in Unicode code points (what HF's
                                    Python API reports) */
  unsigned char *special;        /* 1 for special/added-special tokens */
  size_t n, cap;
} lacuna_encoding;

void lacuna_encoding_init(lacuna_encoding *e);
void lacuna_encoding_free(lacuna_encoding *e);

/* Encodes text (UTF-8, len bytes) like HF `tokenizer.encode(text,
 * add_special_tokens)`. Invalid UTF-8 is repaired like Rust's
 * String::from_utf8_lossy (each maximal invalid subpart becomes one U+FFFD, the
 * WHATWG/TextDecoder rule) and the repaired text is what gets encoded. Byte
 * offsets still refer to the ORIGINAL input bytes: a U+FFFD stands for exactly
 * the invalid bytes it replaced. Char offsets count code points of the repaired
 * text (so one per invalid subpart), which is what HF reports for it. For valid
 * input both are plain HF offsets. Tokens added by the post-processor (e.g.
 * <|begin_of_text|>) get offsets 0..0. Returns 0 on success, -1 with err. */
int lacuna_tokenizer_encode(const lacuna_tokenizer *tok, const char *text, size_t len, int add_special_tokens,
                            lacuna_encoding *out, char *err, size_t errlen);

/* Decodes ids like HF `decode(ids, skip_special_tokens)`; returns malloc'd
 * NUL-terminated UTF-8 (caller frees), NULL + err on failure. */
char *lacuna_tokenizer_decode(const lacuna_tokenizer *tok, const int32_t *ids, size_t n,
                              int skip_special_tokens, size_t *outlen, char *err, size_t errlen);

/* A byte range [from, to) of the encoded text. */
typedef struct {
  size_t from, to;
} lacuna_span;
typedef struct {
  size_t straddling; /* tokens partly inside a trained span (left masked) */
  size_t first;      /* index of the first of them, SIZE_MAX if none */
} lacuna_label_stats;

/* Sets train[i] (e->n entries) to 1 for the tokens to train: those lying
 * wholly inside one of the `trained` spans (sorted, not overlapping), and for
 * each `eot` window the first special token starting inside it. Counts the
 * tokens that straddle a trained span's boundary. One pass over the tokens.
 * Returns -1 (nothing written) when the spans are unsorted or reversed. */
int lacuna_labels_from_spans(const lacuna_encoding *e, const lacuna_span *trained, size_t ntrained,
                             const lacuna_span *eot, size_t neot, unsigned char *train,
                             lacuna_label_stats *st);

/* An estimate of the token count of text without any tokenizer (approx.c):
 * within a few percent of Llama 3 on English, CJK and code. */
size_t lacuna_tokens_approx(const char *text, size_t n);

int32_t lacuna_tokenizer_token_to_id(const lacuna_tokenizer *tok, const char *token,
                                     size_t len); /* -1 if absent */
const char *lacuna_tokenizer_id_to_token(const lacuna_tokenizer *tok, int32_t id,
                                         size_t *len); /* NULL if absent */
size_t lacuna_tokenizer_vocab_size(const lacuna_tokenizer *tok);

/* The tokenizer of the "lacuna.Tokenizer" userdata at idx (for other C
 * areas); raises if it is none or closed. */
struct lua_State;
lacuna_tokenizer *lacuna_tokenizer_check(struct lua_State *L, int idx);

#endif
