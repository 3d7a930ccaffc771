/* core/text: hand-computed sentence, word and segment cases; the pool's
 * reservoir (determinism, uniformity, compaction); draws without replacement
 * with excluded documents; contexts (length window, exact needle spans and
 * token offsets, depths uniform over 10,000 contexts by a chi-square test).
 * Exact counts use tests/fixtures/text/words.json: a tokenizer whose every
 * pre-token (a \w+ run or a run of punctuation) is one token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "text/text.h"
#include "utf8.h"

static lacuna_tokenizer *words_tokenizer(void) {
  const char *dir = getenv("LACUNA_FIXTURES");
  char path[1024], err[256];
  snprintf(path, sizeof path, "%s/text/words.json", dir ? dir : "tests/fixtures");
  lacuna_tokenizer *t = lacuna_tokenizer_load(path, err, sizeof err);
  if (!t) fprintf(stderr, "%s: %s\n", path, err);
  return t;
}

/* Compares the sentences of text with want[] (NULL-terminated). */
static void check_sentences(const char *text, const char *const *want) {
  size_t n = strlen(text), a, b, i = 0;
  for (size_t pos = 0; lacuna_next_sentence(text, n, pos, &a, &b); pos = b, i++) {
    char got[256];
    snprintf(got, sizeof got, "%.*s", (int)(b - a), text + a);
    CHECK_STR(got, want[i] ? want[i] : "(no more)");
    if (!want[i]) return;
  }
  CHECK_STR("(no more)", want[i] ? want[i] : "(no more)");
}

static void test_sentences(void) {
  check_sentences("Hello world. Mr. Smith met Dr. J. Doe at 3.14 p.m. today! Really? \"Yes.\" She left.",
                  (const char *const[]){"Hello world.", "Mr. Smith met Dr. J. Doe at 3.14 p.m. today!",
                                        "Really?", "\"Yes.\"", "She left.", NULL});
  check_sentences(
      "e.g. this stays. The U.S. Army came. I saw the U.S. The end.",
      (const char *const[]){"e.g. this stays.", "The U.S. Army came.", "I saw the U.S.", "The end.", NULL});
  check_sentences(
      "See Fig. 3 and No. 5 here. I said no. Then it ended (finally.) More vs. Less et al. (2020) agree.",
      (const char *const[]){"See Fig. 3 and No. 5 here.", "I said no.", "Then it ended (finally.)",
                            "More vs. Less et al. (2020) agree.", NULL});
  check_sentences("Wait... what? Yes!! Go. \xe2\x80\x9cWhy?\xe2\x80\x9d she asked.",
                  (const char *const[]){"Wait... what?", "Yes!!", "Go.",
                                        "\xe2\x80\x9cWhy?\xe2\x80\x9d she asked.", NULL});
  check_sentences("\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82\xe4\xb8\x96\xe7\x95\x8c\xef\xbc\x81\xe5\xa5\xbd\xe5"
                  "\x90\x97\xef\xbc\x9f"
                  "\xe3\x80\x8d",
                  (const char *const[]){"\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82",
                                        "\xe4\xb8\x96\xe7\x95\x8c\xef\xbc\x81",
                                        "\xe5\xa5\xbd\xe5\x90\x97\xef\xbc\x9f\xe3\x80\x8d", NULL});
  check_sentences(
      "Line one\nline two goes on.\nNew line\n\n  para two\nthe end  ",
      (const char *const[]){"Line one\nline two goes on.", "New line", "para two\nthe end", NULL});
  check_sentences("Version 2.5.1 of example.com is out. \xc3\x87"
                  "a va.",
                  (const char *const[]){"Version 2.5.1 of example.com is out.",
                                        "\xc3\x87"
                                        "a va.",
                                        NULL});
  check_sentences("   \n\t ", (const char *const[]){NULL});
}

static void test_words(void) {
  const char *s = "Hello,  world \xe4\xbd\xa0\xe5\xa5\xbd ok";
  const char *want[] = {"Hello,", "world", "\xe4\xbd\xa0", "\xe5\xa5\xbd", "ok", NULL};
  size_t n = strlen(s), a, b, i = 0;
  for (size_t pos = 0; lacuna_next_word(s, n, pos, &a, &b); pos = b, i++) {
    char got[64];
    snprintf(got, sizeof got, "%.*s", (int)(b - a), s + a);
    CHECK_STR(got, want[i] ? want[i] : "(no more)");
  }
  CHECK(i == 5);
  CHECK(lacuna_next_char("\xe4\xbd\xa0x", 4, 0) == 3);
}

typedef struct {
  const char *text;
  size_t tokens;
} seg_want;

static void check_segments(lacuna_counter *c, const char *text, size_t max, const seg_want *want) {
  lacuna_pieces p = {0};
  CHECK(lacuna_segment(c, text, strlen(text), max, &p) == 0);
  size_t i = 0;
  for (; want[i].text; i++) {
    if (i >= p.n) {
      CHECK_STR("(missing)", want[i].text);
      break;
    }
    char got[256];
    snprintf(got, sizeof got, "%.*s", (int)(p.v[i].end - p.v[i].start), text + p.v[i].start);
    CHECK_STR(got, want[i].text);
    CHECK(p.v[i].tokens == want[i].tokens);
  }
  CHECK(p.n == i);
  lacuna_pieces_free(&p);
}

static void test_segment(lacuna_tokenizer *tok) {
  lacuna_counter c;
  lacuna_counter_init(&c, tok);
  const char *text =
      "One two three. Four five six seven. Eight nine ten eleven twelve thirteen fourteen. Fifteen.";
  check_segments(&c, text, 5,
                 (const seg_want[]){{"One two three.", 4},
                                    {"Four five six seven.", 5},
                                    {"Eight nine ten eleven twelve", 5},
                                    {"thirteen fourteen.", 3},
                                    {"Fifteen.", 2},
                                    {NULL, 0}});
  check_segments(&c, text, 9,
                 (const seg_want[]){{"One two three. Four five six seven.", 9},
                                    {"Eight nine ten eleven twelve thirteen fourteen.", 8},
                                    {"Fifteen.", 2},
                                    {NULL, 0}});
  /* A word longer than the limit is cut at code points. */
  check_segments(&c, "a-b-c-d-e-f", 4, (const seg_want[]){{"a-b-", 4}, {"c-d-", 4}, {"e-f", 3}, {NULL, 0}});
  /* Never inside a UTF-8 sequence. */
  const char *accents = "\xc3\xa9-\xc3\xa9-\xc3\xa9-\xc3\xa9";
  lacuna_pieces p = {0};
  CHECK(lacuna_segment(&c, accents, strlen(accents), 2, &p) == 0);
  CHECK(p.n == 4);
  for (size_t i = 0; i < p.n; i++) {
    size_t bad;
    CHECK(lacuna_utf8_check(accents + p.v[i].start, p.v[i].end - p.v[i].start, &bad));
    CHECK(p.v[i].tokens <= 2);
  }
  lacuna_pieces_free(&p);
  CHECK(lacuna_segment(&c, "x", 1, 0, &p) == -1);
  lacuna_counter_free(&c);
}

static void offer_numbers(lacuna_pool *p, int count) {
  int ok = 1;
  for (int i = 0; i < count; i++) {
    char s[32];
    int n = snprintf(s, sizeof s, "item %d", i);
    ok &= lacuna_pool_offer(p, s, (size_t)n, 2, i) == 0;
  }
  CHECK(ok);
}

static void test_reservoir(void) {
  lacuna_rng g;
  lacuna_rng_seed(&g, 11, 0);
  lacuna_pool a, b;
  lacuna_pool_init(&a, 100, &g, NULL);
  lacuna_pool_init(&b, 100, &g, NULL);
  offer_numbers(&a, 10000);
  offer_numbers(&b, 10000);
  CHECK(a.n == 100 && a.offered == 10000);
  int same = 1;
  for (size_t i = 0; i < a.n; i++) same &= a.seg[i].doc == b.seg[i].doc;
  CHECK(same);
  /* Every slot's text still belongs to its document. */
  int intact = 1;
  for (size_t i = 0; i < a.n; i++) {
    char s[32];
    int n = snprintf(s, sizeof s, "item %d", (int)a.seg[i].doc);
    intact &= a.seg[i].len == (uint32_t)n && memcmp(lacuna_pool_text(&a, i), s, (size_t)n) == 0;
  }
  CHECK(intact);
  lacuna_pool_free(&b);
  lacuna_rng_seed(&g, 12, 0);
  lacuna_pool_init(&b, 100, &g, NULL);
  offer_numbers(&b, 10000);
  int differ = 0;
  for (size_t i = 0; i < a.n; i++) differ += a.seg[i].doc != b.seg[i].doc;
  CHECK(differ > 50);
  lacuna_pool_free(&a);
  lacuna_pool_free(&b);

  /* Uniform: over 400 seeds, the kept items fall evenly into the deciles of
   * the stream (chi-square, 9 degrees of freedom, p = 0.001 -> 27.88). */
  double bins[10] = {0};
  for (int seed = 0; seed < 400; seed++) {
    lacuna_rng_seed(&g, (uint64_t)seed, 1);
    lacuna_pool_init(&a, 100, &g, NULL);
    offer_numbers(&a, 10000);
    for (size_t i = 0; i < a.n; i++) bins[a.seg[i].doc / 1000]++;
    lacuna_pool_free(&a);
  }
  double chi = 0;
  for (int i = 0; i < 10; i++) chi += (bins[i] - 4000) * (bins[i] - 4000) / 4000;
  CHECK(chi < 27.88);

  /* Compaction: replaced texts are dropped once they outweigh the live ones. */
  lacuna_rng_seed(&g, 3, 0);
  lacuna_pool_init(&a, 50, &g, NULL);
  char big[4096];
  int offered = 1;
  for (int i = 0; i < 20000; i++) {
    memset(big, 'a' + i % 26, sizeof big);
    offered &= lacuna_pool_offer(&a, big, sizeof big, 1, i) == 0;
  }
  CHECK(offered);
  CHECK(a.arena_cap < 20000 * sizeof big / 16); /* 82 MB offered, a few MB held */
  intact = 1;
  for (size_t i = 0; i < a.n; i++)
    intact &= lacuna_pool_text(&a, i)[0] == 'a' + a.seg[i].doc % 26 &&
              lacuna_pool_text(&a, i)[4095] == 'a' + a.seg[i].doc % 26;
  CHECK(intact);
  lacuna_pool_free(&a);
}

/* Prefix counts in one pass equal counting each prefix on its own, for
 * texts of every kind of run (letters, digits, spaces, newlines, punctuation,
 * CJK, kana, other UTF-8, cut and broken sequences), at every byte. */
static void test_approx_prefix(void) {
  static const char *const PARTS[] = {"a",
                                      "Word",
                                      "xylophonesque",
                                      "7",
                                      "12345",
                                      " ",
                                      "   ",
                                      "\n",
                                      "\n\n",
                                      ",",
                                      ".",
                                      "\t",
                                      "\xe4\xbd\xa0",     /* 你 */
                                      "\xe3\x81\x82",     /* あ */
                                      "\xc3\xa9",         /* é */
                                      "\xf0\x9f\x98\x80", /* an emoji */
                                      "\xe2\x80\x94",     /* an em dash */
                                      "\xe4\xbd",         /* cut */
                                      "\x80",             /* stray */
                                      "\x7f"};
  lacuna_rng g;
  lacuna_rng_seed(&g, 11, 0);
  char s[512];
  int same = 1;
  for (int round = 0; round < 300; round++) {
    size_t n = 0;
    while (n < sizeof s - 8) {
      const char *part = PARTS[lacuna_rng_below(&g, sizeof PARTS / sizeof *PARTS)];
      size_t len = strlen(part);
      memcpy(s + n, part, len);
      n += len;
      if (lacuna_rng_below(&g, 40) == 0) break;
    }
    lacuna_approx_scan a;
    lacuna_approx_scan_init(&a, s, n);
    /* every byte in some rounds, random increasing steps in the others */
    for (size_t p = 0; p <= n; p += round % 2 ? 1 + lacuna_rng_below(&g, 9) : 1)
      same &= lacuna_approx_prefix(&a, p) == lacuna_tokens_approx(s, p);
    same &= lacuna_approx_prefix(&a, n + 5) == lacuna_tokens_approx(s, n);
  }
  CHECK(same);
}

/* The draws' inline multiply-and-reject gives lacuna_rng_below's numbers,
 * for bounds of every size (rejections are frequent just above 2^63). */
static void test_draw_below(void) {
  lacuna_rng a, b;
  lacuna_rng_seed(&a, 21, 3);
  b = a;
  int same = 1;
  const uint64_t big[] = {1,
                          2,
                          3,
                          7,
                          1000,
                          1000003,
                          UINT32_MAX,
                          (uint64_t)1 << 32,
                          ((uint64_t)1 << 63) + 1,
                          ((uint64_t)1 << 63) + 12345,
                          UINT64_MAX - 1,
                          UINT64_MAX};
  for (size_t k = 0; k < sizeof big / sizeof *big; k++)
    for (int i = 0; i < 2000; i++) same &= lacuna_draw_below(&a, big[k]) == lacuna_rng_below(&b, big[k]);
  for (int i = 0; i < 20000; i++) {
    uint64_t bits = lacuna_rng_next(&a), shift = lacuna_rng_next(&a) % 64, n = (bits >> shift) | 1;
    lacuna_rng_next(&b);
    lacuna_rng_next(&b);
    same &= lacuna_draw_below(&a, n) == lacuna_rng_below(&b, n);
  }
  same &= lacuna_rng_next(&a) == lacuna_rng_next(&b); /* the same number of draws consumed */
  CHECK(same);
}

static void test_draw(void) {
  lacuna_rng g, h;
  lacuna_rng_seed(&g, 5, 0);
  lacuna_pool p;
  lacuna_pool_init(&p, 1000, &g, NULL);
  for (int i = 0; i < 50; i++) CHECK(lacuna_pool_offer(&p, "x", 1, 1, i / 5) == 0); /* docs 0..9, 5 each */
  const int64_t ex[] = {3, 7};
  lacuna_draw d;
  CHECK(lacuna_draw_init(&d, ex, 2) == 0);
  lacuna_rng_seed(&g, 9, 0);
  h = g;
  int seen[50] = {0}, n = 0, ok = 1;
  size_t first[40];
  for (size_t s; (s = lacuna_draw_next(&d, &p, &g)) != SIZE_MAX; n++) {
    ok &= s < 50 && !seen[s] && p.seg[s].doc != 3 && p.seg[s].doc != 7;
    if (s < 50) seen[s] = 1;
    if (n < 40) first[n] = s;
  }
  CHECK(ok);
  CHECK(n == 40);
  lacuna_draw_free(&d);
  /* The same rng state draws the same order. */
  CHECK(lacuna_draw_init(&d, ex, 2) == 0);
  int same = 1;
  for (int i = 0; i < 40; i++) same &= lacuna_draw_next(&d, &p, &h) == first[i];
  CHECK(same);
  lacuna_draw_free(&d);
  lacuna_pool_free(&p);
}

static const char *const WORDS[] = {"river",  "stone",  "cloud",  "paper",  "seven",  "number",
                                    "bright", "under",  "market", "winter", "garden", "signal",
                                    "copper", "yellow", "forest", "engine"};

/* A document of `sentences` sentences of 5..15 words. */
static size_t make_doc(lacuna_rng *g, char *out, size_t cap, int sentences) {
  size_t n = 0;
  for (int s = 0; s < sentences; s++) {
    int words = 5 + (int)lacuna_rng_below(g, 11);
    for (int w = 0; w < words && n + 16 < cap; w++) {
      const char *word = WORDS[lacuna_rng_below(g, 16)];
      n += (size_t)snprintf(out + n, cap - n, "%s%c%s", n ? " " : "", w == 0 ? word[0] - 32 : word[0],
                            word + 1);
    }
    if (n + 2 < cap) out[n++] = '.';
  }
  out[n] = '\0';
  return n;
}

static void fill_pool(lacuna_pool *p, lacuna_counter *c, int docs, size_t seg_tokens) {
  lacuna_rng g;
  lacuna_rng_seed(&g, 77, 0);
  char doc[8192];
  for (int d = 0; d < docs; d++) {
    size_t n = make_doc(&g, doc, sizeof doc, 30);
    lacuna_pieces pc = {0};
    CHECK(lacuna_segment(c, doc, n, seg_tokens, &pc) == 0);
    for (size_t i = 0; i < pc.n; i++)
      CHECK(lacuna_pool_offer(p, doc + pc.v[i].start, pc.v[i].end - pc.v[i].start, pc.v[i].tokens, d) == 0);
    lacuna_pieces_free(&pc);
  }
}

static void test_context(lacuna_tokenizer *tok) {
  for (int exact = 0; exact < 2; exact++) {
    lacuna_rng g;
    lacuna_rng_seed(&g, 1, 0);
    lacuna_pool p;
    lacuna_pool_init(&p, 100000, &g, exact ? tok : NULL);
    fill_pool(&p, &p.counter, 300, 64);
    lacuna_counter check;
    lacuna_counter_init(&check, tok);
    lacuna_context ctx = {0};
    char err[256];
    int window = 1, spans = 1, offsets = 1, counts = 1, excluded_ok = 1;
    for (int i = 0; i < 200; i++) {
      lacuna_needle nd[2] = {{.text = "The secret code is 4242.", .len = 24, .depth = -1},
                             {.text = "Needle two is here.", .len = 19, .depth = i % 2 ? 0.5 : -1}};
      const int64_t ex[] = {4, 5};
      lacuna_context_opts o = {
          .target = 100 + (size_t)i * 37, .sep = "\n", .sep_len = 1, .exclude = ex, .nexclude = 2};
      CHECK(lacuna_context_build(&p, &g, nd, 2, &o, &ctx, err, sizeof err) == 0);
      window &= ctx.tokens <= o.target && ctx.tokens + 16 >= o.target;
      for (int j = 0; j < 2; j++) {
        spans &= nd[j].byte_end - nd[j].byte_start == nd[j].len &&
                 memcmp(ctx.text + nd[j].byte_start, nd[j].text, nd[j].len) == 0;
        /* The words tokenizer never merges across a join: the offset is the
         * prefix's count, and the needle keeps its own count. */
        size_t t;
        if (!exact) continue;
        lacuna_count(&check, ctx.text, nd[j].byte_start, &t);
        offsets &= t == nd[j].token;
        lacuna_count(&check, nd[j].text, nd[j].len, &t);
        offsets &= t == nd[j].tokens;
      }
      size_t total;
      lacuna_count(&check, ctx.text, ctx.len, &total);
      counts &= !exact || total == ctx.tokens;
      excluded_ok &= strstr(ctx.text, "\n\n") == NULL;
    }
    CHECK(window);
    CHECK(spans);
    CHECK(offsets);
    CHECK(counts);
    CHECK(excluded_ok);
    /* The pool cannot fill a target past its contents. */
    lacuna_needle none = {0};
    lacuna_context_opts huge = {.target = 10000000, .sep = "\n", .sep_len = 1};
    CHECK(lacuna_context_build(&p, &g, &none, 0, &huge, &ctx, err, sizeof err) == -1);
    CHECK(strstr(err, "too few segments") != NULL);
    lacuna_context_free(&ctx);
    lacuna_counter_free(&check);
    lacuna_pool_free(&p);
  }
}

/* A pool keeps a context's buffers (draw table, fillers, word ends) for the
 * next one: a context that outgrew them (over 512 draws) leaves nothing that
 * changes the next context, which equals the same context on a fresh pool. */
static void test_scratch_reuse(void) {
  lacuna_rng g;
  lacuna_rng_seed(&g, 1, 0);
  lacuna_pool used, fresh;
  lacuna_pool_init(&used, 100000, &g, NULL);
  lacuna_pool_init(&fresh, 100000, &g, NULL);
  fill_pool(&used, &used.counter, 300, 8);
  fill_pool(&fresh, &fresh.counter, 300, 8);
  CHECK(used.n > 2000);
  lacuna_context big = {0}, a = {0}, b = {0};
  char err[256];
  lacuna_rng g1, g2;
  lacuna_rng_seed(&g1, 5, 0);
  lacuna_context_opts big_o = {.target = 12000, .sep = "\n", .sep_len = 1};
  CHECK(lacuna_context_build(&used, &g1, NULL, 0, &big_o, &big, err, sizeof err) == 0);
  CHECK(big.fillers > 1000);
  lacuna_needle n1 = {.text = "Needle.", .len = 7, .depth = 0.3}, n2 = n1;
  const int64_t ex[] = {7};
  lacuna_context_opts o = {.target = 900, .sep = "\n", .sep_len = 1, .exclude = ex, .nexclude = 1};
  lacuna_rng_seed(&g1, 9, 0);
  lacuna_rng_seed(&g2, 9, 0);
  CHECK(lacuna_context_build(&used, &g1, &n1, 1, &o, &a, err, sizeof err) == 0);
  CHECK(lacuna_context_build(&fresh, &g2, &n2, 1, &o, &b, err, sizeof err) == 0);
  CHECK(a.len == b.len && memcmp(a.text, b.text, a.len) == 0);
  CHECK(a.tokens == b.tokens && n1.byte_start == n2.byte_start && n1.token == n2.token);
  CHECK(lacuna_rng_next(&g1) == lacuna_rng_next(&g2));
  lacuna_context_free(&big);
  lacuna_context_free(&a);
  lacuna_context_free(&b);
  lacuna_pool_free(&used);
  lacuna_pool_free(&fresh);
}

/* Depths drawn uniformly: over 10,000 contexts the reported depths fall
 * evenly into deciles, for the first and the second of two independent
 * needles (chi-square, 9 degrees of freedom, p = 0.001 -> 27.88). */
static void test_depth_uniformity(lacuna_tokenizer *tok) {
  lacuna_rng g;
  lacuna_rng_seed(&g, 2024, 0);
  lacuna_pool p;
  lacuna_pool_init(&p, 100000, &g, tok);
  fill_pool(&p, &p.counter, 200, 48);
  lacuna_context ctx = {0};
  char err[256];
  double bins[2][10] = {{0}};
  for (int i = 0; i < 10000; i++) {
    lacuna_needle nd[2] = {{.text = "Alpha needle.", .len = 13, .depth = -1},
                           {.text = "Beta needle.", .len = 12, .depth = -1}};
    lacuna_context_opts o = {.target = 400 + (size_t)(i % 7) * 100, .sep = "\n", .sep_len = 1};
    if (lacuna_context_build(&p, &g, nd, 2, &o, &ctx, err, sizeof err) < 0) {
      CHECK(0);
      break;
    }
    for (int j = 0; j < 2; j++) {
      int d = (int)(nd[j].actual_depth * 10);
      bins[j][d > 9 ? 9 : d]++;
    }
  }
  for (int j = 0; j < 2; j++) {
    double chi = 0;
    for (int i = 0; i < 10; i++) chi += (bins[j][i] - 1000) * (bins[j][i] - 1000) / 1000;
    printf("depth deciles, needle %d: chi-square %.2f (< 27.88)\n", j + 1, chi);
    CHECK(chi < 27.88);
  }
  lacuna_context_free(&ctx);
  lacuna_pool_free(&p);
}

int main(void) {
  lacuna_tokenizer *tok = words_tokenizer();
  CHECK(tok != NULL);
  if (!tok) return CHECK_DONE();
  test_sentences();
  test_words();
  test_segment(tok);
  test_reservoir();
  test_approx_prefix();
  test_draw_below();
  test_draw();
  test_context(tok);
  test_scratch_reuse();
  test_depth_uniformity(tok);
  lacuna_tokenizer_free(tok);
  return CHECK_DONE();
}
