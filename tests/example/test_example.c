/* Unit tests of core/example.c: span validation rules, UTF-8 checks, segments
 * and character offsets over multi-byte text, and the C interface. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "areas.h"
#include "check.h"
#include "example.h"
#include "utf8.h"

static lua_State *L;

/* Runs a chunk with `E` = core.example; returns NULL on success or the error. */
static const char *run(const char *code) {
  lua_settop(L, 0);
  if (luaL_dostring(L, code) != LUA_OK) return lua_tostring(L, -1);
  return NULL;
}

/* Runs a chunk that must fail; returns the message ("" if it did not fail). */
static const char *fails(const char *code) {
  const char *err = run(code);
  return err ? err : "";
}

/* Runs a chunk returning a string. */
static const char *str(const char *code) {
  const char *err = run(code);
  if (err) return err;
  return lua_isstring(L, -1) ? lua_tostring(L, -1) : "(not a string)";
}

#define HAS(hay, needle) CHECK(strstr((hay), (needle)) != NULL)

static void test_span_rules(void) {
  /* "aé中😀b": a(0) é(1..3) 中(3..6) 😀(6..10) b(10..11) */
  CHECK(run("ex = E.new(); ex:add_message('assistant', 'a\\u{e9}\\u{4e2d}\\u{1f600}b')") == NULL);
  CHECK(run("ex:set_spans(1, {{0, 1, true}, {3, 6, false}, {6, 11}})") == NULL);

  HAS(fails("ex:set_spans(1, {{0, 1}, {4, 6}})"), "span 2: begin 4 is inside a UTF-8 character");
  HAS(fails("ex:set_spans(1, {{0, 5}})"), "span 1: end 5 is inside a UTF-8 character");
  HAS(fails("ex:set_spans(1, {{0, 7}})"), "span 1: end 7 is inside a UTF-8 character");
  HAS(fails("ex:set_spans(1, {{3, 6}, {0, 1}})"), "span 2: spans must be in order (begin 0 is before span 1's begin 3)");
  HAS(fails("ex:set_spans(1, {{0, 3}, {0, 6}})"), "span 2: overlaps span 1");
  HAS(fails("ex:set_spans(1, {{0, 6}, {3, 10}})"), "span 2: overlaps span 1");
  HAS(fails("ex:set_spans(1, {{0, 12}})"), "span 1: end 12 is beyond the content (11 bytes)");
  HAS(fails("ex:set_spans(1, {{-1, 1}})"), "span 1: begin -1 is negative");
  HAS(fails("ex:set_spans(1, {{3, 3}})"), "span 1: end 3 must be greater than begin 3");
  HAS(fails("ex:set_spans(1, {{1, 0}})"), "end 0 must be greater than begin 1");
  HAS(fails("ex:set_spans(1, {{0, 1, 'yes'}})"), "span 1: train must be a boolean or nil");
  HAS(fails("ex:set_spans(1, {{0, 'x'}})"), "span 1: e must be an integer");
  HAS(fails("ex:set_spans(1, {{0, 1.5}})"), "span 1: e must be an integer");
  HAS(fails("ex:set_spans(1, {5})"), "span 1: expected a table");
  HAS(fails("ex:set_spans(2, {})"), "message index 2 out of range (1..1)");
  /* A failed set_spans leaves the previous spans in place. */
  CHECK_STR(str("local s = ex:message(1).spans; return #s .. ':' .. s[3][1] .. '-' .. s[3][2]"),
            "3:6-11");
  /* Named fields are accepted too. */
  CHECK(run("ex:set_spans(1, {{b = 1, e = 3, train = true}})") == NULL);
  CHECK_STR(str("local s = ex:segments(1); return #s .. ' ' .. s[2].b .. ' ' .. s[2].e .. ' ' .. tostring(s[2].train)"),
            "3 1 3 true");
}

static void test_char_offsets(void) {
  CHECK(run("ex = E.new(); ex:add_message('user', 'a\\u{e9}\\u{4e2d}\\u{1f600}b')") == NULL);
  CHECK_STR(str("local t = {} for _, b in ipairs{0, 1, 3, 6, 10, 11} do "
                "t[#t + 1] = ex:char_offset(1, b) end return table.concat(t, ',')"),
            "0,1,2,3,4,5");
  HAS(fails("ex:char_offset(1, 2)"), "inside a UTF-8 character");
  HAS(fails("ex:char_offset(1, 8)"), "inside a UTF-8 character");
  HAS(fails("ex:char_offset(1, 12)"), "out of range");
  HAS(fails("ex:char_offset(1, -1)"), "out of range");

  /* Segments carry both byte and character offsets. */
  CHECK(run("ex:set_spans(1, {{1, 3, true}, {6, 10, true}})") == NULL);
  CHECK_STR(str("local t = {} for _, s in ipairs(ex:segments(1)) do "
                "t[#t + 1] = string.format('%d-%d/%d-%d/%s', s.b, s.e, s.cb, s.ce, s.train) end "
                "return table.concat(t, ' ')"),
            "0-1/0-1/false 1-3/1-2/true 3-6/2-3/false 6-10/3-4/true 10-11/4-5/false");
}

static void test_segments_merge_and_defaults(void) {
  /* No spans: the whole content takes the message flag or the role default. */
  CHECK(run("ex = E.new(); ex:add_message('user', 'hi'); ex:add_message('assistant', 'yo');"
            "ex:add_message('assistant', 'no', false); ex:add_message('system', '')") == NULL);
  CHECK_STR(str("return tostring(ex:segments(1)[1].train) .. tostring(ex:segments(2)[1].train) .."
                "tostring(ex:segments(3)[1].train) .. #ex:segments(4)"),
            "falsetruefalse0");
  /* Parts with the same flag merge; an unset part takes the message flag. */
  CHECK(run("ex = E.new(); local i = ex:add_message('assistant', '');"
            "ex:append_part(i, 'ab', true); ex:append_part(i, 'cd'); ex:append_part(i, 'ef', false);"
            "ex:append_part(i, '', true); ex:append_part(i, 'gh', false)") == NULL);
  CHECK_STR(str("local t = {} for _, s in ipairs(ex:segments(1)) do "
                "t[#t + 1] = s.b .. '-' .. s.e .. tostring(s.train) end return table.concat(t, ' ')"),
            "0-4true 4-8false");
  /* Content given before the first part keeps the message's own flag. */
  CHECK(run("ex = E.new(); local i = ex:add_message('user', 'Q: ', true);"
            "ex:append_part(i, 'x', false)") == NULL);
  CHECK_STR(str("local s = ex:segments(1) return #s .. tostring(s[1].train) .. s[1].e .. tostring(s[2].train)"),
            "2true3false");
  /* Text left uncovered by explicit spans is untrained, even for assistant. */
  CHECK(run("ex = E.new(); ex:add_message('assistant', 'abcdef'); ex:set_spans(1, {{2, 4}})") == NULL);
  CHECK_STR(str("local t = {} for _, s in ipairs(ex:segments(1)) do "
                "t[#t + 1] = s.b .. '-' .. s.e .. tostring(s.train) end return table.concat(t, ' ')"),
            "0-2false 2-4true 4-6false");
  CHECK(run("ex:set_spans(1, {})") == NULL);
  CHECK_STR(str("local s = ex:segments(1) return #s .. tostring(s[1].train)"), "1false");
}

static void test_validate(void) {
  CHECK(run("ex = E.new(); ex:add_message('user', 'ok \\u{e9}'); return ex:validate()") == NULL);
  CHECK(lua_toboolean(L, -1));
  HAS(fails("ex:add_message('assistant', 'ab\\xe4\\xb8')"),
      "message 2 (assistant): invalid UTF-8 at byte offset 2");
  HAS(fails("ex = E.new(); ex:add_message('user', 'x\\xc0\\xafy')"),
      "invalid UTF-8 at byte offset 1"); /* overlong '/' */
  HAS(fails("ex = E.new(); ex:add_message('user', '\\xed\\xa0\\x80')"),
      "invalid UTF-8 at byte offset 0"); /* surrogate */
  HAS(fails("ex = E.new(); ex:add_message('user', 'abc\\xf4\\x90\\x80\\x80')"),
      "byte offset 3"); /* beyond U+10FFFF */
  HAS(fails("ex = E.new(); ex:add_message('user', '\\x80')"), "byte offset 0");

  size_t bad = 99;
  CHECK(lacuna_utf8_check("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", 10, &bad));
  CHECK(!lacuna_utf8_check("a\xc3", 2, &bad) && bad == 1);
  CHECK(!lacuna_utf8_check("\xf8\x88\x80\x80\x80", 5, &bad) && bad == 0);
  CHECK(lacuna_utf8_check("", 0, &bad));
}

static void test_caller_mistakes(void) {
  HAS(fails("E.new():add_message('', 'x')"), "role must not be empty");
  HAS(fails("E.new():add_message('user', 'x', 1)"), "boolean or nil expected");
  HAS(fails("E.new():add_message('user')"), "string expected");
  HAS(fails("E.new():append_part(1, 'x', true)"), "message index 1 out of range (1..0)");
  HAS(fails("E.new().count({})"), "lacuna.Example expected");
}

static void test_misc(void) {
  CHECK(run("ex = E.new(); ex:add_message('system', 'S'); ex:add_message('user', 'U', true)") == NULL);
  CHECK_STR(str("return tostring(ex)"), "Example (2 messages: system, user)");
  CHECK_STR(str("return #ex .. ex:count()"), "22");
  CHECK_STR(str("local m = ex:message(2) return m.role .. m.content .. tostring(m.train) .. tostring(m.spans)"),
            "userUtruenil");
  CHECK_STR(str("ex:meta().k = 'v' return ex:meta().k"), "v");
  CHECK_STR(str("return tostring(rawequal(ex:meta(), ex:meta())) .. tostring(E.is(ex)) .. tostring(E.is({}))"),
            "truetruefalse");
  CHECK_STR(str("ex:pop() return tostring(ex)"), "Example (1 message: system)");
  /* <close> frees now; later use is a clear error. */
  HAS(fails("do local c <close> = ex end ex:count()"), "closed Example");
  CHECK_STR(str("return tostring(ex)"), "Example (closed)");
}

static void test_c_interface(void) {
  lacuna_example *ex;
  lacuna_mask_run runs[8];
  size_t len, n;
  CHECK(run("ex = E.new(); local i = ex:add_message('assistant', '');"
            "ex:append_part(i, 'abc', false); ex:append_part(i, 'def', true);"
            "ex:append_part(i, 'gh', false); return ex") == NULL);
  ex = lacuna_check_example(L, -1);
  CHECK(lacuna_example_count(ex) == 1);
  CHECK_STR(lacuna_example_role(ex, 0, &len), "assistant");
  CHECK(len == 9);
  CHECK(lacuna_example_role(ex, 1, NULL) == NULL);
  CHECK(lacuna_example_state(ex, 0) == LACUNA_PARTIAL);
  CHECK(memcmp(lacuna_example_content(ex, 0, &len), "abcdefgh", 8) == 0 && len == 8);
  n = lacuna_example_runs(ex, 0, NULL, 0);
  CHECK(n == 3);
  CHECK(lacuna_example_runs(ex, 0, runs, 2) == 3); /* truncated copy, full count */
  CHECK(lacuna_example_runs(ex, 0, runs, 8) == 3);
  CHECK(runs[1].b == 3 && runs[1].e == 6 && runs[1].train == 1);
  CHECK(runs[2].b == 6 && runs[2].e == 8 && runs[2].train == 0);
  CHECK(lacuna_example_range_trained(ex, 0, 3, 6));
  CHECK(lacuna_example_range_trained(ex, 0, 4, 5));
  CHECK(!lacuna_example_range_trained(ex, 0, 2, 6)); /* starts in masked text */
  CHECK(!lacuna_example_range_trained(ex, 0, 3, 7)); /* ends in masked text */
  CHECK(!lacuna_example_range_trained(ex, 0, 4, 4)); /* empty */
  CHECK(!lacuna_example_range_trained(ex, 0, 6, 9)); /* beyond the content */
  /* Gaps between explicit spans are untrained. */
  CHECK(run("ex = E.new(); ex:add_message('user', 'abcdefgh');"
            "ex:set_spans(1, {{1, 3, true}, {5, 8, true}}); return ex") == NULL);
  ex = lacuna_check_example(L, -1);
  CHECK(lacuna_example_range_trained(ex, 0, 1, 3));
  CHECK(lacuna_example_range_trained(ex, 0, 5, 8));
  CHECK(!lacuna_example_range_trained(ex, 0, 2, 6));
  CHECK(!lacuna_example_range_trained(ex, 0, 0, 2));
  CHECK(run("ex = E.new(); ex:add_message('assistant', 'abcdefgh');"
            "ex:set_spans(1, {{0, 4}}); return ex") == NULL);
  ex = lacuna_check_example(L, -1);
  CHECK(lacuna_example_range_trained(ex, 0, 0, 4));
  CHECK(!lacuna_example_range_trained(ex, 0, 3, 5)); /* uncovered tail */
}

static void test_many_messages(void) {
  /* Growth past the first allocations, and long parts. */
  CHECK(run("ex = E.new(); for k = 1, 300 do local i = ex:add_message(k % 2 == 0 and 'assistant' or 'user', '');"
            "for p = 1, 20 do ex:append_part(i, string.rep('x', p), p % 3 == 0) end end") == NULL);
  CHECK_STR(str("local s = ex:segments(300) return #ex .. ' ' .. #s .. ' ' .. s[#s].e"), "300 13 210");
}

int main(void) {
  L = luaL_newstate();
  luaL_openlibs(L);
  lacuna_open_example(L);
  lua_setglobal(L, "E");
  test_span_rules();
  test_char_offsets();
  test_segments_merge_and_defaults();
  test_validate();
  test_caller_mistakes();
  test_misc();
  test_c_interface();
  test_many_messages();
  lua_close(L);
  return CHECK_DONE();
}
