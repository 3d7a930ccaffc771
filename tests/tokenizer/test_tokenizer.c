/* The C tokenizer on small hand-written tokenizer.json fixtures
 * (tests/fixtures/tokenizer). Expected values follow HF tokenizers' rules by hand:
 * merge order by rank, added-token matching, template tokens, byte fallback,
 * normalizer alignments, decoders, and errors for unsupported features. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "areas.h"
#include "check.h"
#include "tokenizer/tokenizer.h"

static char path[1024];
static const char *fixture(const char *name) {
  const char *dir = getenv("LACUNA_FIXTURES");
  snprintf(path, sizeof path, "%s/tokenizer/%s", dir ? dir : "tests/fixtures", name);
  return path;
}

/* Encodes and compares ids (and byte offsets when want_b is not NULL). */
static int enc_is(const lacuna_tokenizer *t, const char *text, int special, const int32_t *ids,
                  size_t n, const size_t *want_b) {
  lacuna_encoding e;
  lacuna_encoding_init(&e);
  char err[256];
  int ok = lacuna_tokenizer_encode(t, text, strlen(text), special, &e, err, sizeof err) == 0 &&
           e.n == n;
  for (size_t i = 0; ok && i < n; i++) {
    if (e.ids[i] != ids[i]) ok = 0;
    if (want_b && (e.byte_start[i] != want_b[2 * i] || e.byte_end[i] != want_b[2 * i + 1])) ok = 0;
  }
  if (!ok) {
    fprintf(stderr, "encode(\"%s\") gave %zu tokens:", text, e.n);
    for (size_t i = 0; i < e.n; i++)
      fprintf(stderr, " %d[%zu,%zu)", e.ids[i], e.byte_start[i], e.byte_end[i]);
    fprintf(stderr, "\n");
  }
  lacuna_encoding_free(&e);
  return ok;
}

static void test_bytelevel(void) {
  char err[256];
  lacuna_tokenizer *t = lacuna_tokenizer_load(fixture("bytelevel.json"), err, sizeof err);
  CHECK(t != NULL);
  if (!t) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  /* " ab": the rank-0 merge (a b) goes before (Ġ a), so Ġ + ab, not Ġa + b */
  CHECK(enc_is(t, " ab", 0, (int32_t[]){3, 4}, 2, (size_t[]){0, 1, 1, 3}));
  /* "abc ab": the first "ab" is inside a word (single_word), the second is not */
  CHECK(enc_is(t, "abc ab", 0, (int32_t[]){6, 3, 4}, 3, (size_t[]){0, 3, 3, 4, 4, 6}));
  /* lstrip/rstrip: <x> swallows the spaces around it, in its offsets too */
  CHECK(enc_is(t, "a <x> b", 0, (int32_t[]){0, 10, 1}, 3, (size_t[]){0, 1, 1, 6, 6, 7}));
  /* the template adds <s> (id given by HF's rule: first id after the vocab) */
  CHECK(enc_is(t, "ab", 1, (int32_t[]){9, 4}, 2, (size_t[]){0, 0, 0, 2}));
  CHECK(enc_is(t, "", 1, (int32_t[]){9}, 1, NULL));
  CHECK(enc_is(t, "", 0, NULL, 0, NULL));
  /* special tokens in text are matched before anything else */
  CHECK(enc_is(t, "<s>ab", 0, (int32_t[]){9, 4}, 2, (size_t[]){0, 3, 3, 5}));
  CHECK(lacuna_tokenizer_token_to_id(t, "<x>", 3) == 10);
  CHECK(lacuna_tokenizer_token_to_id(t, "Ġab", strlen("Ġab")) == 7);
  CHECK(lacuna_tokenizer_token_to_id(t, "zz", 2) == -1);
  size_t l;
  CHECK_STR(lacuna_tokenizer_id_to_token(t, 9, &l), "<s>");
  CHECK(lacuna_tokenizer_id_to_token(t, 999, &l) == NULL);
  CHECK(lacuna_tokenizer_vocab_size(t) == 11); /* 9 model tokens + <s> + <x> */

  int32_t ids[] = {9, 4, 3, 6, 999};
  char *s = lacuna_tokenizer_decode(t, ids, 5, 0, &l, err, sizeof err);
  CHECK_STR(s, "<s>ab abc");
  free(s);
  s = lacuna_tokenizer_decode(t, ids, 5, 1, &l, err, sizeof err);
  CHECK_STR(s, "ab abc");
  free(s);
  lacuna_tokenizer_free(t);
}

static void test_sentencepiece(void) {
  char err[256];
  lacuna_tokenizer *t = lacuna_tokenizer_load(fixture("sentencepiece.json"), err, sizeof err);
  CHECK(t != NULL);
  if (!t) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  /* "▁hi▁é": é falls back to its bytes, each aligned with the whole é */
  lacuna_encoding e;
  lacuna_encoding_init(&e);
  CHECK(lacuna_tokenizer_encode(t, "hi \xC3\xA9", 5, 1, &e, err, sizeof err) == 0);
  int32_t ids[] = {1, 9, 5, 3, 4};
  size_t bs[] = {0, 0, 2, 3, 3}, be[] = {0, 2, 3, 5, 5}, cs[] = {0, 0, 2, 3, 3},
         ce[] = {0, 2, 3, 4, 4};
  CHECK(e.n == 5);
  for (size_t i = 0; i < e.n && i < 5; i++) {
    CHECK(e.ids[i] == ids[i]);
    CHECK(e.byte_start[i] == bs[i] && e.byte_end[i] == be[i]);
    CHECK(e.char_start[i] == cs[i] && e.char_end[i] == ce[i]);
  }
  CHECK(e.n == 5 && e.special[0] == 1 && e.special[1] == 0);
  /* invalid UTF-8: one U+FFFD per maximal invalid subpart; byte offsets stay on
   * the original bytes (\xFF is 1 byte there, 3 bytes once repaired) */
  CHECK(lacuna_tokenizer_encode(t, "h\xFF", 2, 0, &e, err, sizeof err) == 0);
  /* "▁h" + U+FFFD (EF BF BD bytes, not in vocab → unk) */
  CHECK(e.n == 2 && e.ids[0] == 8 && e.ids[1] == 0);
  CHECK(e.n == 2 && e.byte_start[1] == 1 && e.byte_end[1] == 2);
  CHECK(e.n == 2 && e.char_start[1] == 1 && e.char_end[1] == 2);
  lacuna_encoding_free(&e);
  /* unknown chars without byte tokens become <unk>, one each (fuse_unk off) */
  CHECK(enc_is(t, "zz", 0, (int32_t[]){5, 0, 0}, 3, (size_t[]){0, 1, 0, 1, 1, 2}));
  size_t l;
  char *s = lacuna_tokenizer_decode(t, ids, 5, 1, &l, err, sizeof err);
  CHECK_STR(s, "hi \xC3\xA9");
  free(s);
  s = lacuna_tokenizer_decode(t, (int32_t[]){9, 3}, 2, 1, &l, err, sizeof err);
  CHECK_STR(s, "hi\xEF\xBF\xBD"); /* a lone byte decodes to U+FFFD */
  free(s);
  lacuna_tokenizer_free(t);
}

static void test_errors(void) {
  char err[256];
  CHECK(lacuna_tokenizer_load(fixture("unsupported_normalizer.json"), err, sizeof err) == NULL);
  CHECK(strstr(err, "normalizer type 'BertNormalizer' is not supported") != NULL);
  CHECK(strstr(err, "normalizer.normalizers[1]") != NULL);
  CHECK(lacuna_tokenizer_load(fixture("unigram.json"), err, sizeof err) == NULL);
  CHECK(strstr(err, "model type 'Unigram' is not supported") != NULL);
  CHECK(lacuna_tokenizer_load(fixture("no-such-file.json"), err, sizeof err) == NULL);
  CHECK(strstr(err, "no-such-file.json") != NULL);
  const char *bad = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}";
  CHECK(lacuna_tokenizer_load_json(bad, strlen(bad), err, sizeof err) == NULL);
  CHECK(strstr(err, "model.merges[0]") != NULL);
  CHECK(lacuna_tokenizer_load_json("{", 1, err, sizeof err) == NULL);
  CHECK(strstr(err, "not valid JSON") != NULL);
}

static void test_lua(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_pushcfunction(L, lacuna_open_tokenizer);
  lua_call(L, 0, 1);
  lua_setglobal(L, "T");
  lua_pushstring(L, fixture("bytelevel.json"));
  lua_setglobal(L, "P");
  const char *code =
      "local t = assert(T.load(P))\n"
      "local ids, b, c = t:encode(' ab', false, true)\n"
      "assert(#ids == 2 and ids[1] == 3 and ids[2] == 4)\n"
      "assert(b[2][1] == 1 and b[2][2] == 3 and c[2][2] == 3)\n"
      "assert(t:count('ab abc') == 3 and t:count('ab', true) == 2)\n"
      "assert(t:decode({4, 3, 6}) == 'ab abc')\n"
      "local ok, err = T.load('/nonexistent/tokenizer.json')\n"
      "assert(ok == nil and err:find('cannot open', 1, true))\n"
      "t:close()\n"
      "assert(not pcall(t.encode, t, 'x'))\n";
  int rc = luaL_dostring(L, code);
  if (rc != LUA_OK) fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
  CHECK(rc == LUA_OK);
  lua_close(L);
}

/* lacuna_labels_from_spans on a hand-made encoding: tokens [0,2) [2,5) [5,6)
 * [6,6) (added by the post-processor) [6,9) <eot>[9,14) [14,16). */
static void test_labels(void) {
  size_t bs[] = {0, 2, 5, 6, 6, 9, 14}, be[] = {2, 5, 6, 6, 9, 14, 16};
  unsigned char special[] = {0, 0, 0, 1, 0, 1, 0};
  int32_t ids[] = {10, 11, 12, 13, 14, 15, 16};
  lacuna_encoding e = {ids, bs, be, bs, be, special, 7, 7};
  unsigned char train[7];
  lacuna_label_stats st;
  /* [2,6) holds tokens 1 and 2 wholly; [7,9) cuts token 4: it straddles */
  lacuna_span trained[] = {{2, 6}, {7, 9}}, eot[] = {{9, 16}};
  CHECK(lacuna_labels_from_spans(&e, trained, 2, eot, 1, train, &st) == 0);
  unsigned char want[] = {0, 1, 1, 0, 0, 1, 0};
  CHECK(memcmp(train, want, sizeof want) == 0);
  CHECK(st.straddling == 1 && st.first == 4);
  /* a span covering everything trains every token with text, nothing straddles */
  lacuna_span all[] = {{0, 16}};
  CHECK(lacuna_labels_from_spans(&e, all, 1, NULL, 0, train, &st) == 0);
  unsigned char want_all[] = {1, 1, 1, 0, 1, 1, 1};
  CHECK(memcmp(train, want_all, sizeof want_all) == 0 && st.straddling == 0 && st.first == SIZE_MAX);
  /* unsorted or overlapping spans are the caller's mistake */
  lacuna_span bad[] = {{5, 9}, {2, 6}};
  CHECK(lacuna_labels_from_spans(&e, bad, 2, NULL, 0, train, &st) == -1);
}

int main(void) {
  test_bytelevel();
  test_labels();
  test_sentencepiece();
  test_errors();
  test_lua();
  return CHECK_DONE();
}
