/* C-level tests of core/json.c: the UTF-8 validator, lacuna_json_decode
 * (values, error messages, stack balance, non-terminated input) and the two
 * encode entry points (luaL_Buffer and lacuna_jsonbuf). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "areas.h"
#include "check.h"
#include "json.h"

static int utf8_bad(const char *s, size_t n)
{
  size_t pos = (size_t)-1;
  if (lacuna_utf8_check(s, n, &pos))
    return -1;
  return (int)pos;
}

static void test_utf8(void)
{
  const char ok[] = "plain ascii, é, 中文, 😀 and \xF4\x8F\xBF\xBF (U+10FFFF) and \xEE\x80\x80";
  CHECK(utf8_bad(ok, sizeof ok - 1) == -1);
  CHECK(utf8_bad("", 0) == -1);
  CHECK(utf8_bad("\xF0\x9F\x98\x80", 4) == -1);     /* 4-byte emoji */
  CHECK(utf8_bad("\xED\x9F\xBF", 3) == -1);         /* U+D7FF, just below surrogates */
  CHECK(utf8_bad("\xE0\xA0\x80", 3) == -1);         /* U+0800, shortest 3-byte */
  CHECK(utf8_bad("a\0b", 3) == -1);                 /* NUL is valid UTF-8 */

  CHECK(utf8_bad("ab\x80", 3) == 2);                /* stray continuation */
  CHECK(utf8_bad("\xC0\xAF", 2) == 0);              /* overlong 2-byte */
  CHECK(utf8_bad("x\xC1\xBF", 3) == 1);             /* overlong 2-byte */
  CHECK(utf8_bad("\xE0\x9F\xBF", 3) == 0);          /* overlong 3-byte */
  CHECK(utf8_bad("\xF0\x8F\xBF\xBF", 4) == 0);      /* overlong 4-byte */
  CHECK(utf8_bad("ok\xED\xA0\x80", 5) == 2);        /* U+D800 encoded */
  CHECK(utf8_bad("\xED\xBF\xBF", 3) == 0);          /* U+DFFF encoded */
  CHECK(utf8_bad("\xF4\x90\x80\x80", 4) == 0);      /* U+110000 */
  CHECK(utf8_bad("\xF5\x80\x80\x80", 4) == 0);      /* lead byte past F4 */
  CHECK(utf8_bad("\xFF", 1) == 0);
  CHECK(utf8_bad("abc\xE2\x82", 5) == 3);           /* truncated at the end */
  CHECK(utf8_bad("\xF0\x9F\x98", 3) == 0);          /* truncated emoji */
  CHECK(utf8_bad("\xE2\x28\xA1", 3) == 0);          /* bad second byte */
  CHECK(utf8_bad("\xE2\x82\x28", 3) == 0);          /* bad third byte */
  CHECK(utf8_bad("\xF0\x9F\x98\x28", 4) == 0);      /* bad fourth byte */
  /* position after the eight-byte ASCII fast path */
  CHECK(utf8_bad("0123456789abcdef\xC3", 17) == 16);
  CHECK(utf8_bad("0123456789abcdef\xC3\xA9xyz\x80", 22) == 21);
  /* a long valid run, then a fault at an odd offset */
  char big[1001];
  memset(big, 'a', sizeof big);
  memcpy(big + 500, "\xE4\xB8\xAD", 3);
  CHECK(utf8_bad(big, 1000) == -1);
  big[777] = (char)0xC2;
  big[778] = 'z';
  CHECK(utf8_bad(big, 1000) == 777);
}

/* Decodes s[0..n) and returns the error (static buffer) or NULL on success
 * with the value left on the stack. */
static const char *dec(lua_State *L, const char *s, size_t n, int depth)
{
  static char err[256];
  int top = lua_gettop(L);
  if (lacuna_json_decode(L, s, n, depth, err, sizeof err)) {
    CHECK(lua_gettop(L) == top + 1);
    return NULL;
  }
  CHECK(lua_gettop(L) == top); /* nothing pushed on failure */
  return err;
}

static void test_decode(lua_State *L)
{
  CHECK(dec(L, "9007199254740993", 16, 128) == NULL);
  CHECK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == 9007199254740993LL);
  lua_pop(L, 1);
  CHECK(dec(L, "-9223372036854775808", 20, 128) == NULL);
  CHECK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == LUA_MININTEGER);
  lua_pop(L, 1);
  CHECK(dec(L, "18446744073709551616", 20, 128) == NULL);
  CHECK(!lua_isinteger(L, -1) && lua_tonumber(L, -1) == 18446744073709551616.0);
  lua_pop(L, 1);
  CHECK(dec(L, "2.0", 3, 128) == NULL);
  CHECK(!lua_isinteger(L, -1) && lua_tonumber(L, -1) == 2.0);
  lua_pop(L, 1);

  /* an object: markers, null, the last duplicate wins */
  const char *doc = "{\"a\":[],\"n\":null,\"d\":1,\"d\":2,\"s\":\"x\\u0000y\"}";
  CHECK(dec(L, doc, strlen(doc), 128) == NULL);
  CHECK(lua_getfield(L, -1, "a") == LUA_TTABLE);
  CHECK(lua_getmetatable(L, -1));
  luaL_getmetatable(L, LACUNA_JSON_ARRAY_MT);
  CHECK(lua_rawequal(L, -1, -2));
  lua_pop(L, 3);
  CHECK(lua_getmetatable(L, -1));
  luaL_getmetatable(L, LACUNA_JSON_OBJECT_MT);
  CHECK(lua_rawequal(L, -1, -2));
  lua_pop(L, 2);
  CHECK(lua_getfield(L, -1, "n") == LUA_TLIGHTUSERDATA && lua_touserdata(L, -1) == NULL);
  lua_pop(L, 1);
  CHECK(lua_getfield(L, -1, "d") == LUA_TNUMBER && lua_tointeger(L, -1) == 2);
  lua_pop(L, 1);
  size_t len;
  lua_getfield(L, -1, "s");
  const char *s = lua_tolstring(L, -1, &len);
  CHECK(len == 3 && memcmp(s, "x\0y", 3) == 0);
  lua_pop(L, 2);

  /* input that is not NUL-terminated: only n bytes count */
  const char slice[] = "[1,2]garbage";
  CHECK(dec(L, slice, 5, 128) == NULL);
  CHECK(lua_rawlen(L, -1) == 2);
  lua_pop(L, 1);
  CHECK_STR(dec(L, slice, 4, 128), "byte 5: unexpected end of input");
  CHECK_STR(dec(L, slice, 6, 128), "byte 6: unexpected 'g' after the JSON value");

  CHECK_STR(dec(L, "{\"a\" 1}", 7, 128), "byte 6: unexpected '1'");
  CHECK_STR(dec(L, "[1,]", 4, 128), "byte 4: unexpected ']'");
  CHECK_STR(dec(L, "[-01]", 5, 128), "byte 2: invalid number");
  CHECK_STR(dec(L, "[1e]", 4, 128), "byte 2: invalid number");
  CHECK_STR(dec(L, "[1.5.2]", 7, 128), "byte 2: invalid number");
  CHECK_STR(dec(L, "\"\\u12x4\"", 8, 128), "byte 2: invalid escape sequence in string");
  CHECK_STR(dec(L, "[\"\xC3\"]", 4, 128), "invalid UTF-8 at byte 3");
  CHECK_STR(dec(L, "[[[]]]", 6, 2), "nesting deeper than 2 at byte 3");
  CHECK_STR(dec(L, "  ", 2, 128), "byte 3: unexpected end of input");
  CHECK_STR(dec(L, "[\"a\0\"]", 6, 128), "byte 4: unescaped control character 0x00 in string");
  CHECK_STR(dec(L, "[1\0]", 4, 128), "byte 3: unexpected control character 0x00");
  /* depths beyond cJSON's own limit are caught by the pre-pass */
  size_t deep = 3000;
  char *p = (char *)malloc(2 * deep);
  memset(p, '[', deep);
  memset(p + deep, ']', deep);
  CHECK_STR(dec(L, p, 2 * deep, 1000), "nesting deeper than 1000 at byte 1001");
  CHECK(dec(L, p + deep - 1000, 2000, 1000) == NULL);
  lua_pop(L, 1);
  free(p);
}

static const char *encode_str(lua_State *L, const char *code)
{
  /* code is a Lua chunk returning the value */
  if (luaL_dostring(L, code) != LUA_OK)
    return lua_tostring(L, -1);
  int v = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "<");
  lacuna_json_encode(L, v, &b);
  luaL_addstring(&b, ">");
  luaL_pushresult(&b);
  lua_replace(L, v);
  return lua_tostring(L, -1);
}

static int encode_in_pcall(lua_State *L)
{
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lacuna_json_encode(L, 1, &b);
  luaL_pushresult(&b);
  return 1;
}

static void test_encode(lua_State *L)
{
  CHECK_STR(encode_str(L, "return {b=1, a={1,2.5,'x'}, c={}, d=setmetatable({}, "
                          "{__jsonorder={'z'}})}"),
            "<{\"a\":[1,2.5,\"x\"],\"b\":1,\"c\":{},\"d\":{}}>");
  lua_pop(L, 1);
  CHECK_STR(encode_str(L, "return 'tab\\tnl\\n\\0'"), "<\"tab\\tnl\\n\\u0000\">");
  lua_pop(L, 1);
  CHECK_STR(encode_str(L, "return 3.0"), "<3.0>");
  lua_pop(L, 1);

  /* a value larger than the buffer's first block: the buffer moves to a box
   * on the stack, and encode must keep the stack balanced around it */
  int top = lua_gettop(L);
  CHECK(luaL_dostring(L, "local t = {} for i = 1, 5000 do t[i] = 'item' .. i end return t") == LUA_OK);
  CHECK(luaL_dostring(L, "return {k = 'v'}") == LUA_OK);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lacuna_json_encode(L, top + 1, &b);
  luaL_addchar(&b, '|');
  lacuna_json_encode(L, top + 2, &b);
  luaL_pushresult(&b);
  size_t len;
  const char *s = lua_tolstring(L, -1, &len);
  CHECK(len > 40000);
  CHECK(strncmp(s, "[\"item1\",\"item2\",", 17) == 0);
  CHECK(len > 11 && strcmp(s + len - 11, "]|{\"k\":\"v\"}") == 0);
  CHECK(lua_gettop(L) == top + 3);
  lua_settop(L, top);

  /* errors raise through lua_error with the path */
  lua_pushcfunction(L, encode_in_pcall);
  CHECK(luaL_dostring(L, "return {messages = {{content = 'a'}, {content = print}}}") == LUA_OK);
  CHECK(lua_pcall(L, 1, 1, 0) != LUA_OK);
  CHECK_STR(lua_tostring(L, -1), "json.encode: cannot encode a function at messages[2].content");
  lua_pop(L, 1);

  /* lacuna_jsonbuf: appends, reusable */
  lacuna_jsonbuf jb = {0};
  lua_pushinteger(L, -42);
  lacuna_json_encode_into(L, -1, &jb);
  lua_pushboolean(L, 1);
  lacuna_json_encode_into(L, -1, &jb);
  CHECK(jb.len == 7 && memcmp(jb.data, "-42true", 7) == 0);
  jb.len = 0;
  lua_pushlightuserdata(L, NULL);
  lacuna_json_encode_into(L, -1, &jb);
  CHECK(jb.len == 4 && memcmp(jb.data, "null", 4) == 0);
  lua_pop(L, 3);
  lacuna_jsonbuf_free(&jb);
  CHECK(jb.data == NULL && jb.cap == 0);
}

static void test_module(lua_State *L)
{
  CHECK(lacuna_open_json(L) == 1);
  CHECK(lua_istable(L, -1));
  lua_getfield(L, -1, "null");
  CHECK(lua_islightuserdata(L, -1) && lua_touserdata(L, -1) == NULL);
  lua_pop(L, 1);
  const char *names[] = {"decode", "encode", "array", "object", "is_array"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    lua_getfield(L, -1, names[i]);
    CHECK(lua_iscfunction(L, -1));
    lua_pop(L, 1);
  }
  lua_setglobal(L, "json");
  CHECK(luaL_dostring(L, "local v, e = json.decode('[1,') return e") == LUA_OK);
  CHECK_STR(lua_tostring(L, -1), "byte 4: unexpected end of input");
  lua_pop(L, 1);
  CHECK(luaL_dostring(L, "return json.encode(json.decode('{\"a\":[],\"b\":{},\"c\":[1,2.0]}'))") ==
        LUA_OK);
  CHECK_STR(lua_tostring(L, -1), "{\"a\":[],\"b\":{},\"c\":[1,2.0]}");
  lua_pop(L, 1);
}

static int set_direct(lua_State *L)
{
  lacuna_json_direct = lua_toboolean(L, 1);
  return 0;
}

/* The direct pass gives what the cJSON path gives: the same value, or the
 * same message when it gives up; and a decode nested in another's building
 * (a __gc that decodes) leaves the outer value whole. Needs the json global
 * test_module sets. */
static void test_direct_agrees(lua_State *L)
{
  lua_register(L, "json_direct", set_direct);
  const char *code =
      "local function same(a, b)\n"
      "  if type(a) ~= type(b) then return false end\n"
      "  if type(a) == 'number' then return math.type(a) == math.type(b) and (a == b or a ~= a) end\n"
      "  if type(a) ~= 'table' then return a == b end\n"
      "  if getmetatable(a) ~= getmetatable(b) then return false end\n"
      "  for k, x in pairs(a) do if not same(x, b[k]) then return false end end\n"
      "  for k in pairs(b) do if a[k] == nil then return false end end\n"
      "  return true\n"
      "end\n"
      "local big = {} for i = 1, 200000 do big[i] = tostring(i) end\n"
      "local inputs = {\n"
      "  '{\"a\":[],\"b\":{},\"c\":[1,2.0,-0,1e999,-1.5e-3,9223372036854775808],\"d\":1,\"d\":2}',\n"
      "  '\"\\\\\" \\\\\\\\ \\\\/ \\\\b \\\\f \\\\n \\\\r \\\\t \\\\u00e9 \\\\u4e2d \\\\ud83d\\\\ude00\"',\n"
      "  '\"x\\\\u0000y\"', '\"\\\\ud800\"', '\"\\\\udc00\"', '\"\\\\ud800\\\\u0041\"', '\"\\\\ud800x\"',\n"
      "  '\\239\\187\\191 [true,false,null] ', ' \\t\\r\\n{ \"k\" : [ 1 , { } ] } \\n',\n"
      "  '[1,]', '{\"a\" 1}', '[01]', '[1.]', '[tru]', '[truex]', 'nul', '\"abc', '[\"a\\0\"]', '[1\\0]',\n"
      "  '{\"a\":1}x', '[1] [2]', '', '  ', '{,}', '{\"a\":}', '[\"\\\\x\"]', '\"\\\\u12\"', '[[[[1]]]]',\n"
      "  '[' .. table.concat(big, ',') .. ']',\n"
      "  string.rep('[', 1000) .. string.rep(']', 1000), string.rep('[', 1001) .. string.rep(']', 1001),\n"
      "}\n"
      "for i, s in ipairs(inputs) do\n"
      "  for _, depth in ipairs({ 128, 1000, 2 }) do\n"
      "    json_direct(false)\n"
      "    local v0, e0 = json.decode(s, { max_depth = depth })\n"
      "    json_direct(true)\n"
      "    local v, e = json.decode(s, { max_depth = depth })\n"
      "    if e ~= e0 or not same(v, v0) then\n"
      "      return 'input ' .. i .. ' at depth ' .. depth .. ': ' .. tostring(e) .. ' vs ' .. tostring(e0)\n"
      "    end\n"
      "  end\n"
      "end\n"
      "json_direct(false)\n"
      "local doc = '{\"s\":\"\\\\u0000\",\"list\":[' .. table.concat(big, ',', 1, 20000) .. ']}'\n"
      "for round = 1, 20 do\n"
      "  for _ = 1, 50 do setmetatable({}, { __gc = function() json.decode('[\"\\\\u0000\",{\"a\":[2,3]}]') end }) end\n"
      "  local v = json.decode(doc)\n"
      "  if #v.list ~= 20000 or v.list[20000] ~= 20000 or v.s ~= '\\0' then\n"
      "    json_direct(true)\n"
      "    return 'nested decode broke round ' .. round\n"
      "  end\n"
      "end\n"
      "json_direct(true)\n"
      "return 'ok'\n";
  CHECK(luaL_dostring(L, code) == LUA_OK);
  CHECK_STR(lua_tostring(L, -1), "ok");
  lua_pop(L, 1);
  CHECK(lacuna_json_direct == 1);
}

int main(void)
{
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  test_utf8();
  test_decode(L);
  test_encode(L);
  test_module(L);
  test_direct_agrees(L);
  CHECK(lua_gettop(L) == 0);
  lua_close(L);
  return CHECK_DONE();
}
