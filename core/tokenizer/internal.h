/* Internals shared by the tokenizer files (core/tokenizer/).
 * The pipeline mirrors HF tokenizers: added-token split → normalize → added-token
 * split on the normalized text → pre-tokenize → BPE → post-process. A piece of
 * text is a "normalized string": bytes plus, for every byte, the range of the
 * ORIGINAL text it came from (absolute offsets), like HF's NormalizedString. */
#ifndef LACUNA_TOK_INTERNAL_H
#define LACUNA_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* ---- errors ---------------------------------------------------------------- */
typedef struct {
  char *buf;
  size_t len;
} tk_err;
void tk_seterr(tk_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- memory ---------------------------------------------------------------- */
typedef struct tk_chunk tk_chunk;
typedef struct {
  tk_chunk *head;
} tk_arena; /* bump allocator, reset once per encode */
void *tk_alloc(tk_arena *a, size_t n);
void tk_arena_reset(tk_arena *a);
void tk_arena_free(tk_arena *a);

/* A growable byte buffer (malloc based). */
typedef struct {
  char *p;
  size_t len, cap;
} tk_buf;
int tk_buf_add(tk_buf *b, const void *p, size_t n);
int tk_buf_addc(tk_buf *b, char c);

/* ---- UTF-8 and Unicode ----------------------------------------------------- */
/* Decodes one code point of VALID UTF-8 at s (n > 0 bytes left); *len gets its size. */
uint32_t tk_utf8_dec(const unsigned char *s, size_t n, int *len);
int tk_utf8_enc(uint32_t cp, char *out); /* returns 1..4 */
static inline int tk_utf8_len(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}
/* Rust String::from_utf8_lossy. Returns malloc'd text (NUL-terminated) or NULL
 * when s is already valid (then *outlen = n). */
char *tk_utf8_lossy(const char *s, size_t n, size_t *outlen, int *oom);
/* At s[i]: 1 and *ok = length of a valid sequence, or 0 and *bad = length of the
 * maximal invalid subpart that one U+FFFD replaces. */
int tk_utf8_step(const char *s, size_t n, size_t i, size_t *ok, size_t *bad);
int tk_is_whitespace(uint32_t cp); /* Rust char::is_whitespace (White_Space) */
/* Major categories (unicode_tables.h's TK_GC_* bits, 1 L, 2 M, 4 N, 8 P, 16 S,
 * 32 Z, 64 C). tk_newer_category: the category that a Unicode newer than
 * lacuna's tables gives a code point those tables leave unassigned, else 0. */
enum { TK_GC_L = 1, TK_GC_M = 2, TK_GC_N = 4, TK_GC_P = 8, TK_GC_S = 16, TK_GC_Z = 32, TK_GC_C = 64 };
#define TK_GC_ALL 127
int tk_newer_category(uint32_t cp);
/* A code point that Unicode 15 added to a category (PCRE2 10.42 has Unicode 14). */
int tk_is_added_cp(uint32_t cp);
/* A combining mark or decomposable character newer than the Unicode of HF
 * tokenizers' normalization tables (9.0): normalizers leave it as it is. */
int tk_norm_unknown(uint32_t cp);
const char *tk_unicode_version(void);
int tk_is_word(uint32_t cp);    /* regex \w (Unicode) */
int tk_is_numeric(uint32_t cp); /* Rust char::is_numeric (N*) */

/* ---- string → id map --------------------------------------------------------- */
typedef struct {
  char *pool;
  size_t pool_len, pool_cap;
  struct tk_sent {
    uint32_t off, len, hash;
    int32_t id;
  } * ents;
  size_t n, cap;
  struct tk_sslot {
    uint32_t hash, idx; /* idx: entry index + 1, 0 = empty; hash spares a visit to ents */
  } * slots;
  uint32_t mask;
} tk_strmap;
uint32_t tk_hash(const void *p, size_t n);
int tk_strmap_put(tk_strmap *m, const char *s, size_t n, int32_t id); /* -1 OOM */
/* put with h = tk_hash(s, n) already known */
int tk_strmap_put_h(tk_strmap *m, const char *s, size_t n, uint32_t h, int32_t id);
/* Hints that the slot of hash h will be probed soon (bulk inserts). */
static inline void tk_strmap_prefetch(const tk_strmap *m, uint32_t h) {
  if (m->mask) __builtin_prefetch(&m->slots[h & m->mask], 1);
}
/* Sizes the table for n entries and pool_bytes of text up front (-1 OOM). */
int tk_strmap_reserve(tk_strmap *m, size_t n, size_t pool_bytes);
int32_t tk_strmap_get(const tk_strmap *m, const char *s, size_t n); /* -1 absent */
int32_t tk_strmap_get_h(const tk_strmap *m, const char *s, size_t n, uint32_t h);
void tk_strmap_free(tk_strmap *m);

/* ---- normalized strings ------------------------------------------------------ */
typedef struct {
  uint32_t s, e;
} tk_al;
typedef struct {
  const char *p;
  const tk_al *al;
  uint32_t len;
  uint32_t shift; /* HF original_shift: absolute start of this piece's original */
} tk_ns;

/* Builds a new normalized string with HF's transform() semantics: each output char
 * comes with a change (1 inserted, 0 replaces the next source char, -N replaces it
 * and removes N more). Supports transforming a sub-range (transform_range). */
typedef struct {
  tk_arena *A;
  const tk_ns *src;
  char *p;
  tk_al *al;
  size_t len, cap;
  size_t idx;    /* read position in src */
  size_t rs, re; /* current range being transformed */
  int oom;
} tk_xf;
void tk_xf_begin(tk_xf *x, tk_arena *A, const tk_ns *src);
void tk_xf_copy_to(tk_xf *x, size_t upto); /* copy src bytes unchanged up to upto */
void tk_xf_range(tk_xf *x, size_t rs, size_t re, size_t initial_chars);
void tk_xf_push(tk_xf *x, uint32_t cp, int change);
void tk_xf_range_end(tk_xf *x);      /* drops unconsumed source chars of the range */
int tk_xf_end(tk_xf *x, tk_ns *out); /* copies the rest; -1 on OOM */

/* ---- regex (PCRE2) ---------------------------------------------------------- */
typedef struct {
  pcre2_code *code;
  pcre2_code *code15; /* with Unicode 15's additions to the classes, or NULL */
  char *literal;      /* when the pattern is a plain string: searched with memmem */
  size_t litlen;
  int cats; /* TK_GC_* bits of the major categories the pattern names */
  int jit;  /* bit 0: code is JIT-compiled, bit 1: code15 is */
} tk_regex;
typedef struct tk_scratch tk_scratch;
int tk_regex_compile(tk_regex *r, const char *pat, size_t n, int literal, tk_err *e);
void tk_regex_free(tk_regex *r);
/* Next match at or after start: 1 found (*ms,*me), 0 none, -1 error. */
int tk_regex_find(const tk_regex *r, tk_scratch *S, const char *s, size_t n, size_t start, size_t *ms,
                  size_t *me, tk_err *e);
/* HF Pattern::find_matches: (start, end, is_match) covering the whole string. */
typedef struct {
  uint32_t s, e;
  uint8_t m;
} tk_match;
int tk_find_matches(const tk_regex *r, tk_scratch *S, const char *s, size_t n, tk_match **out, size_t *nout,
                    tk_err *e);

/* ---- the Llama 3 / Qwen split regex, hand-coded (scan.c) --------------------- */
typedef struct tk_scan tk_scan;
/* The two split patterns scan.c matches by hand (their exact text). */
extern const char tk_scan_llama3_pattern[], tk_scan_qwen_pattern[];
/* *out: a matcher when pat is one of the patterns scan.c knows, else NULL. -1 on error. */
int tk_scan_new(tk_scan **out, const char *pat, size_t n, tk_err *e);
void tk_scan_free(tk_scan *sc);
/* Same output as tk_find_matches with the pattern sc was made from. */
int tk_scan_matches(const tk_scan *sc, tk_scratch *S, const char *s, size_t n, tk_match **out, size_t *nout,
                    tk_err *e);

/* ---- splits (HF PreTokenizedString) ----------------------------------------- */
typedef struct {
  tk_ns ns;
  int32_t id;        /* >= 0: already a token (added token), -1: text */
  uint8_t bytelevel; /* ByteLevel's byte→char mapping applies (done lazily) */
  uint8_t special;
} tk_split;

typedef struct {
  tk_split *v;
  size_t n, cap;
} tk_splits;
int tk_splits_push(tk_scratch *S, tk_splits *l, const tk_split *sp);
int tk_splits_reserve(tk_scratch *S, tk_splits *l, size_t extra); /* room for extra more (-1 OOM) */

/* Tokens before post-processing. */
typedef struct {
  int32_t id;
  uint32_t bs, be; /* byte offsets into the (repaired) input */
  const char *str; /* token text for offset trimming (added tokens), or NULL */
  uint32_t slen;
  uint8_t special;
} tk_tok;

/* ---- BPE model ---------------------------------------------------------------- */
typedef struct {
  struct tk_mslot {
    uint64_t key; /* ((a << 32) | b) + 1, 0 = empty */
    uint32_t rank, nid;
  } * slots; /* one cache line holds a probe's whole answer */
  size_t cap, n;
} tk_merges;

typedef struct {
  tk_strmap vocab;
  char **id_str; /* id → token text (NUL-terminated) */
  uint32_t *id_len;
  size_t id_cap;  /* size of id_str */
  size_t vocab_n; /* distinct tokens (HF get_vocab_size) */
  tk_merges merges;
  int32_t unk_id; /* -2 none, -1 unk_token given but not in vocab */
  char *unk_token;
  char *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix */
  size_t prefix_len, suffix_len;
  int fuse_unk, byte_fallback, ignore_merges;
  int32_t byte_id[256];    /* "<0xNN>" ids for byte_fallback, -1 absent */
  int32_t bl_byte_id[256]; /* id of the byte-level char of each byte, -1 absent */
} tk_bpe;

/* Per-caller scratch: the only mutable state during encode. */
/* The word cache (bpe.c): a pre-token's bytes → its tokens. Each entry is one
 * record in data (header, key, then (id, len) pairs), and its slot holds the
 * key's hash beside the record's offset, so a hit reads two places. */
typedef struct {
  uint64_t *slots; /* (hash << 32) | (offset + 1), 0 = empty */
  uint32_t mask;
  size_t n;
  char *data;
  size_t len, cap;
} tk_cache;

struct tk_scratch {
  tk_arena A;
  int unicode15; /* this text holds a code point of tk_is_added_cp: run code15 */
  pcre2_match_data *md;
  pcre2_match_context *mc;
  pcre2_jit_stack *js;
  tk_cache cache;
  /* BPE work arrays */
  struct tk_sym {
    int32_t id;
    int32_t prev, next;
    uint32_t len;
  } * syms;
  size_t syms_cap;
  struct tk_heap {
    uint32_t rank, pos, nid;
    int32_t a, b; /* the pair's ids when pushed */
  } * heap;
  size_t heap_cap;
  char *tmp;
  size_t tmp_cap;
  tk_tok *toks; /* the encoder's tokens, kept for the next text (bounded) */
  size_t toks_cap;
};
tk_scratch *tk_scratch_new(void);
void tk_scratch_free(tk_scratch *S);

/* model.vocab and model.merges read straight from the text (model_json.c). */
typedef struct {
  const char *s;
  uint32_t n;
  int32_t id;
} tk_vocab_ent;
typedef struct {
  const char *a, *b;
  uint32_t al, bl;
} tk_merge_ent;
typedef struct {
  const char *text; /* the tokenizer.json text: strings without escapes point into it */
  tk_arena arena;   /* the unescaped strings */
  tk_vocab_ent *vocab;
  size_t nvocab, vocab_cap;
  tk_merge_ent *merges;
  size_t nmerges, merges_cap;
  size_t vocab_at, vocab_len, merges_at, merges_len;
  char *rest; /* the text with the two values cut to {} and [] (NUL-terminated) */
  size_t rest_len;
} tk_model_json;
/* 1 read (then parse o->rest with cJSON), 0 declined (parse all of json with
 * cJSON), -1 out of memory. */
int tk_model_json_read(tk_model_json *o, const char *json, size_t len);
void tk_model_json_free(tk_model_json *o);

/* json_model: the cJSON model object; fast: its vocab and merges when
 * model_json.c read them (json_model's are then empty), else NULL. */
int tk_bpe_load(tk_bpe *m, const void *json_model, const tk_model_json *fast, tk_err *e);
void tk_bpe_free(tk_bpe *m);
/* Tokenizes one split, appending to *toks (offsets already mapped to the original). */
int tk_bpe_tokenize(const tk_bpe *m, tk_scratch *S, const tk_split *sp, tk_tok **toks, size_t *n, size_t *cap,
                    tk_err *e);
const char *tk_bpe_id_to_token(const tk_bpe *m, int32_t id, size_t *len);

/* ---- normalizers ---------------------------------------------------------------- */
typedef struct tk_norm tk_norm;
tk_norm *tk_norm_load(const void *json, const char *path, tk_err *e);
void tk_norm_free(tk_norm *n);
int tk_norm_apply(const tk_norm *n, tk_scratch *S, tk_ns *ns, tk_err *e);
/* Unicode normalization of ns (NFD; NFC with compose; NFK* with compat). quick:
 * return at once when a scan shows the text cannot change, and for NFC
 * normalize only the windows around chars that may change (the normalizers'
 * way); 0 always runs the full algorithm over the whole text (tests compare). */
int tk_unorm(tk_scratch *S, tk_ns *ns, int compat, int compose, int quick, tk_err *e);

/* ---- pre-tokenizers ------------------------------------------------------------- */
typedef struct tk_pretok tk_pretok;
tk_pretok *tk_pretok_load(const void *json, const char *path, tk_err *e);
void tk_pretok_free(tk_pretok *p);
/* Replaces *l's text splits by their pre-tokens. */
int tk_pretok_apply(const tk_pretok *p, tk_scratch *S, tk_splits *l, tk_err *e);
/* Whether the pre-tokenizer classifies characters by Unicode properties
 * (regexes, Digits), so that a code point unassigned in lacuna's tables may
 * split differently from a tokenizer that knows a newer Unicode:
 * TK_CLASSIFIES, plus TK_NAMES_SYMBOLS when a regex names \p{P}, \p{S} or
 * \p{C} (then symbols are told apart from unassigned code points). */
int tk_pretok_uses_unicode(const tk_pretok *p);
/* Materializes a pending byte-level mapping (needed before normalize-like steps). */
int tk_bytelevel_materialize(tk_scratch *S, tk_split *sp);
uint32_t tk_byte_char(unsigned char b);
int tk_char_byte(uint32_t cp); /* inverse of tk_bytes_char, -1 if none */

/* Splits the normalized string by matches with an HF SplitDelimiterBehavior. */
enum { TK_REMOVED, TK_ISOLATED, TK_MERGED_PREV, TK_MERGED_NEXT, TK_CONTIGUOUS };
int tk_split_by(tk_scratch *S, const tk_split *sp, tk_match *m, size_t nm, int behavior, tk_splits *out);

/* ---- added vocabulary ------------------------------------------------------------ */
typedef struct tk_added tk_added;
typedef struct {
  char *content;
  size_t len;
  int single_word, lstrip, rstrip, normalized, special;
  int32_t id;
} tk_added_tok;
tk_added *tk_added_new(void);
void tk_added_free(tk_added *a);
/* HF AddedVocabulary::add_tokens for one token; model lookups through the BPE. */
int tk_added_add(tk_added *a, const tk_added_tok *t, const tk_bpe *m, tk_err *e);
/* Builds the two tries (normalized contents go through the normalizer). */
int tk_added_build(tk_added *a, const tk_norm *norm, tk_scratch *S, tk_err *e);
int32_t tk_added_token_to_id(const tk_added *a, const char *s, size_t n); /* -1 */
const tk_added_tok *tk_added_by_id(const tk_added *a, int32_t id);
int tk_added_is_special(const tk_added *a, const char *s, size_t n);
size_t tk_added_count(const tk_added *a);
size_t tk_added_extra(const tk_added *a, const tk_bpe *m); /* contents not in the model */
/* Splits text splits of *l on added tokens; which = 0 raw trie, 1 normalized trie. */
int tk_added_split(const tk_added *a, int which, tk_scratch *S, tk_splits *l, tk_err *e);

/* ---- post-processors ----------------------------------------------------------------- */
typedef struct tk_post tk_post;
tk_post *tk_post_load(const void *json, const char *path, const lacuna_tokenizer *tok, tk_err *e);
void tk_post_free(tk_post *p);
int tk_post_apply(const tk_post *p, const lacuna_tokenizer *tok, tk_tok **toks, size_t *n, size_t *cap,
                  int add_special, tk_err *e);

/* ---- decoders ------------------------------------------------------------------------- */
typedef struct tk_dec tk_dec;
tk_dec *tk_dec_load(const void *json, const char *path, tk_err *e);
void tk_dec_free(tk_dec *d);
/* tokens: n NUL-terminated strings (malloc'd, owned by the array; may be replaced). */
typedef struct {
  char **s;
  size_t *len;
  size_t n, cap;
} tk_strs;
int tk_strs_push(tk_strs *v, const char *s, size_t n);
void tk_strs_free(tk_strs *v);
int tk_dec_apply(const tk_dec *d, tk_scratch *S, tk_strs *v, tk_err *e);

/* ---- the tokenizer ----------------------------------------------------------------- */
struct lacuna_tokenizer {
  tk_bpe bpe;
  tk_added *added;
  tk_norm *norm;
  tk_pretok *pretok;
  tk_post *post;
  tk_dec *dec;
  int classifies;              /* tk_pretok_uses_unicode(): which unassigned code points to refuse */
  _Atomic(tk_scratch *) spare; /* one reusable scratch for the common single caller */
};
int32_t tk_token_to_id(const lacuna_tokenizer *t, const char *s, size_t n);
const char *tk_id_to_token(const lacuna_tokenizer *t, int32_t id, size_t *len);

/* JSON helpers (cJSON) */
const char *tk_json_type(const void *obj); /* "type" string or NULL */

#endif
