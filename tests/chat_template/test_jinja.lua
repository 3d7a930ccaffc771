-- lacuna.jinja: the Jinja subset chat templates use, with Python Jinja2's
-- semantics as transformers configures it (trim_blocks, lstrip_blocks).
-- Expected strings were checked against Jinja2 3.1.
local t = require "testlib"
local lc = require "lacuna"
local jinja = require "lacuna.jinja"

local function R(src, vars, opts)
  local out, err = jinja.render(src, vars or {}, opts)
  if out == nil then error("render failed: " .. tostring(err), 2) end
  return out
end

local function E(src, vars)
  local out, err = jinja.render(src, vars or {})
  if out ~= nil then error("expected a failure, got " .. string.format("%q", out), 2) end
  return err
end

-- ------------------------------------------------------------ whitespace

t.test("trim_blocks and lstrip_blocks as transformers sets them", function()
  t.eq(R("a\n{% if true %}\n  b\n{% endif %}\nc\n"), "a\n  b\nc")
  t.eq(R("  {% if true %}x{% endif %}\n  y"), "x  y")
  t.eq(R("a  {% if true %}  b  {% endif %}  c"), "a    b    c")
  t.eq(R("{# comment #}\nx\n  {# c2 #}\ny"), "x\ny")
  t.eq(R("{% for i in range(3) %}\n  {{ i }}\n{% endfor %}\n"), "  0\n  1\n  2\n")
  -- {{ }} is not a block: no lstrip, no trim
  t.eq(R("a\n  {{ 'x' }}\n  b"), "a\n  x\n  b")
end)

t.test("whitespace control - and +", function()
  t.eq(R("a\n    {%- if true -%}\n  b  \n{%- endif %}\nc"), "abc")
  t.eq(R("a {{- ' b ' -}} c"), "a b c")
  t.eq(R("{#- c -#}  \n  z"), "z")
  t.eq(R("{% for i in range(3) +%}\n  {{ i }}\n{%+ endfor %}"), "\n  0\n\n  1\n\n  2\n")
end)

t.test("options, trailing newline, CRLF, raw", function()
  t.eq(R("text\n\n"), "text\n")
  t.eq(R("x\n", {}, { keep_trailing_newline = true }), "x\n")
  t.eq(R("a\n{% if 1 %}\nb\n{% endif %}\n", {}, { trim_blocks = false, lstrip_blocks = false }), "a\n\nb\n")
  t.eq(R("line1\r\nline2\r\n{% if 1 %}\r\nx\r\n{% endif %}\r\n"), "line1\nline2\nx\n")
  t.eq(R("{% raw %}{{ not }} {% evaluated %}{% endraw %}\nx"), "{{ not }} {% evaluated %}x")
end)

-- ------------------------------------------------------------ values

t.test("Python str() of values", function()
  t.eq(R("{{ [1, 2.5, 'a', none, true, {'k': [1, 2]}] }}"), "[1, 2.5, 'a', None, True, {'k': [1, 2]}]")
  t.eq(R("{{ none }} {{ true }} {{ False }} {{ 1.0 }} {{ 1e20 }} {{ 1e-5 }} {{ 0.1 + 0.2 }} {{ 123456789012345.6 }}"),
       "None True False 1.0 1e+20 1e-05 0.30000000000000004 123456789012345.6")
  t.eq(R([[{{ {'a': "it's", 'b': 'q"', 'c': 'x\ny'} }}]]), [[{'a': "it's", 'b': 'q"', 'c': 'x\ny'}]])
  t.eq(R("{{ ('a', 1) }} {{ (1,) }} {{ () }} {{ {} }} {{ [] }}"), "('a', 1) (1,) () {} []")
  t.eq(R("[{{ undefined_thing }}]"), "[]")
  t.eq(R("{{ namespace(a=1) }}"), "<Namespace {'a': 1}>")
end)

t.test("arithmetic and operators", function()
  t.eq(R("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 / 4 }} {{ 10 // 4 }} {{ -7 % 3 }} {{ 1.5 + 1 }}"),
       "7 9 64 4 2.5 2 2 2.5")
  t.eq(R("{{ 'a' ~ 1 ~ none ~ true }} {{ 'ab' * 3 }} {{ [1] * 2 }} {{ [1] + [2] }} {{ 'a' + 'b' }}"),
       "a1NoneTrue ababab [1, 1] [1, 2] ab")
  t.eq(R("{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1,2] < [1,3] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}"),
       "True True True True True False")
  t.eq(R("{{ 'a' in 'cat' }} {{ 2 in [1,2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ 'x' in nothing }}"),
       "True True True True False")
  t.eq(R("{{ 0 or 'b' }} {{ 1 and 'c' }} {{ [] or {} }} {{ not [] }} {{ '' and 1 }}|"), "b c {} True |")
  t.eq(R("{{ 'yes' if 1 else 'no' }} {{ 'yes' if 0 }}|{{ x if x is defined else 'undef' }}"), "yes |undef")
  t.eq(R("{{ (1, 2) == [1, 2] }} {{ {'a': 1} == {'a': 1} }} {{ none == none }}"), "False True True")
end)

t.test("literals: strings, numbers, escapes", function()
  t.eq(R([[{{ "\u00e9\x41\t|\q" }}]]), "éA\t|\\q")
  t.eq(R("{{ 'multi' 'part' }} {{ 1_000 }} {{ 0.5e1 }} {{ -3 }} {{ -1.5 }}"), "multipart 1000 5.0 -3 -1.5")
end)

t.test("subscripts, slices, attribute/item fallback", function()
  local v = { x = { a = 1, c = { 1, 2 } }, y = { 10, 20, 30 } }
  t.eq(R("{{ 'abcdef'[1:3] }} {{ 'abcdef'[::2] }} {{ 'abcdef'[::-1] }} {{ [1,2,3,4][-2:] }} {{ [1,2,3][5:] }} {{ 'héllo wörld'[3:8] }}"),
       "bc ace fedcba [3, 4] [] lo wö")
  t.eq(R("{{ y[::-1] }} {{ y[0] }} {{ y[-1] }} {{ y[9] is defined }} {{ y.0 }} {{ 'héllo'[1] }}", v), "[30, 20, 10] 10 30 False 10 é")
  t.eq(R("{{ x.a }} {{ x['a'] }} {{ x.b is defined }} {{ x.get('a') }} {{ x.get('z', 5) }} {{ x.get('z') }}", v),
       "1 1 False 1 5 None")
  t.eq(R("{{ x.items() | list }} {{ x.keys() | list }} {{ x.values() | list }}", v), "[('a', 1), ('c', [1, 2])] ['a', 'c'] [1, [1, 2]]")
  -- None has no attributes but that is not an error, as in Jinja2
  t.eq(R("[{{ none.foo }}]"), "[]")
end)

t.test("dict key order: __jsonorder first, then sorted", function()
  local d = setmetatable({ b = 1, a = 2, c = 3 }, { __jsonorder = { "c", "b" } })
  t.eq(R("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", { d = d }), "c=3;b=1;a=2;")
  t.eq(R("{% for k in d %}{{ k }}{% endfor %}", { d = { z = 1, y = 2 } }), "yz")
  -- JSON-decoded input: empty arrays/objects keep their kind
  local msg = lc.json.decode('{"content": "hi", "tool_calls": [], "extra": {}}')
  t.eq(R("{{ m.tool_calls }} {{ m.extra }} {{ m.tool_calls is mapping }} {{ m.extra is mapping }}", { m = msg }),
       "[] {} False True")
  t.eq(R("{{ n is none }} {{ n }}", { n = lc.null }), "True None")
end)

-- ------------------------------------------------------------ strings

t.test("string methods", function()
  t.eq(R([[{{ '  pad  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '\n\nA\n'.lstrip('\n') }}|{{ 'a\n\n'.rstrip() }}|{{ ' \u3000x\u00a0'.strip() }}|]]),
       "pad|hi|A\n|a|x|")
  t.eq(R("{{ 'a b  c'.split() }} {{ 'a,b'.split(',') }} {{ 'a b c'.split(' ', 1) }} {{ '  a  b '.split(None, 1) }}"),
       "['a', 'b', 'c'] ['a', 'b'] ['a', 'b c'] ['a', 'b ']")
  t.eq(R("{{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('x', 'lo')) }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }}"),
       "True True Hello World Hello")
  t.eq(R("{{ 'aaa'.replace('a', 'b', 2) }} {{ 'abc'.upper() }} {{ 'ABC'.lower() }} {{ '-'.join(['a','b']) }} {{ 'abcabc'.find('c') }} {{ 'abcabc'.count('b') }}"),
       "bba ABC abc a-b 2 2")
  t.eq(R([[{{ "they're".title() }} {{ "they're bill's" | title }} {{ 'hello-world (x)' | title }}]]),
       "They'Re They're Bill's Hello-World (X)")
  -- Qwen3's <think> extraction
  local c = "<think>\nreasoning\n</think>\n\nanswer"
  t.eq(R([[{{ c.split('</think>')[-1].lstrip('\n') }}|{{ c.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') }}]], { c = c }),
       "answer|reasoning")
end)

-- ------------------------------------------------------------ filters

t.test("filters on strings and numbers", function()
  t.eq(R("{{ '  x  ' | trim }}|{{ 'héé' | length }}|{{ [1,2] | count }}|{{ {'a':1} | length }}|{{ 'abc' | upper }}|{{ 'ABC' | lower }}|{{ 'abc' | capitalize }}"),
       "x|3|2|1|ABC|abc|Abc")
  t.eq(R("{{ 'a b' | replace(' ', '_') }} {{ u | default('dflt') }} {{ '' | default('e', true) }} {{ none | default('n') }} {{ u | d('z') }}"),
       "a_b dflt e None z")
  t.eq(R("{{ 42 | string }} {{ '42' | int + 1 }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ '2.5' | float }} {{ 3 | float }} {{ -3.7 | int }} {{ true | int }}"),
       "42 43 4 0 7 2.5 3.0 -3 1")
  t.eq(R([[{{ 'a\nb\n\nc' | indent }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent(2, blank=true) }}]]),
       "a\n    b\n\n    c|  a\n  b|a\n  \n  b")
  t.eq(R([[{{ ('<a href="x">&' ~ "'") | e }} {{ '<a>' ~ "'" | e }} {{ '<b>' | safe }} {{ 'a b c' | wordcount }} {{ -3 | abs }} {{ 2.567 | round(1) }}]]),
       "&lt;a href=&#34;x&#34;&gt;&amp;&#39; <a>&#39; <b> 3 3 2.6")
end)

t.test("filters on sequences", function()
  t.eq(R("{{ [1,2,3] | join(', ') }} {{ [1,2,3] | first }} {{ [1,2,3] | last }} {{ 'abc' | list }} {{ [3,1,2] | sort }} {{ [1,2] | reverse | list }} {{ 'abc' | reverse }}"),
       "1, 2, 3 1 3 ['a', 'b', 'c'] [1, 2, 3] [2, 1] cba")
  t.eq(R("{{ ['a','A','b','a'] | unique | list }} {{ ['b','A','a'] | sort }} {{ ['b','A','a'] | sort(case_sensitive=true) }} {{ [3,1] | sort(reverse=true) }}"),
       "['a', 'b'] ['A', 'a', 'b'] ['A', 'a', 'b'] [3, 1]")
  t.eq(R("{{ [1,2,3] | sum }} {{ [3,1,2] | max }} {{ [3,1,2] | min }} {{ d | items | list }} {{ d | dictsort }}", { d = { b = 2, a = 1 } }),
       "6 3 1 [('a', 1), ('b', 2)] [('a', 1), ('b', 2)]")
  local people = { { name = "bo", age = 3 }, { name = "al", age = 0 }, { name = "cy" } }
  t.eq(R("{{ people | selectattr('age') | map(attribute='name') | list }} {{ people | rejectattr('age') | map(attribute='name') | join(',') }}",
         { people = people }), "['bo'] al,cy")
  t.eq(R("{{ people | selectattr('name', 'equalto', 'bo') | list | length }} {{ people | map(attribute='age', default=0) | list }} {{ people | map(attribute='name') | map('upper') | list }}",
         { people = people }), "1 [3, 0, 0] ['BO', 'AL', 'CY']")
  t.eq(R("{{ [1,2,3,4] | select('odd') | list }} {{ [1,2,3,4] | reject('even') | list }} {{ [0,1,''] | select | list }} {{ msgs | selectattr('role', 'defined') | list | length }}",
         { msgs = { { role = "user" }, { content = "x" } } }), "[1, 3] [1, 3] [1] 1")
end)

t.test("tojson as transformers overrides it", function()
  local d = setmetatable({ b = 2, a = "é\"\n" }, { __jsonorder = { "b", "a" } })
  t.eq(R("{{ d | tojson }}", { d = d }), [[{"b": 2, "a": "é\"\n"}]])
  t.eq(R("{{ [1, 'é', none, true, 1.5, 2.0] | tojson }}"), '[1, "é", null, true, 1.5, 2.0]')
  t.eq(R("{{ d | tojson(indent=4) }}", { d = d }), '{\n    "b": 2,\n    "a": "é\\"\\n"\n}')
  t.eq(R("{{ {} | tojson(indent=2) }} {{ [[], {}] | tojson(indent=2) }}"), "{} [\n  [],\n  {}\n]")
  t.eq(R("{{ d | tojson(sort_keys=true) }} {{ 'é😀' | tojson(ensure_ascii=true) }}", { d = d }),
       [[{"a": "é\"\n", "b": 2} "\u00e9\ud83d\ude00"]])
  t.eq(R("{{ d | tojson(separators=(',', ':')) }}", { d = d }), [[{"b":2,"a":"é\"\n"}]])
  t.eq(R("{{ '</script>&' | tojson }} {{ '\x01\x7f' | tojson }}"), [["</script>&" "\u0001]] .. "\127" .. [["]])
  t.truthy(E("{{ u | tojson }}"):find("not JSON serializable", 1, true))
end)

-- ------------------------------------------------------------ tests

t.test("is tests", function()
  local v = { x = { a = 1 }, y = { 1 } }
  t.eq(R("{{ x is mapping }} {{ y is iterable }} {{ 'a' is string }} {{ 1 is number }} {{ 1.0 is float }} {{ 1 is integer }} {{ true is integer }} {{ true is number }} {{ none is none }} {{ u is undefined }} {{ u is iterable }}", v),
       "True True True True True True False True True True True")
  t.eq(R("{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(2) }} {{ 'a' is lower }} {{ 'A' is upper }} {{ 1 is eq 1 }} {{ 2 is gt 1 }} {{ 1 is in [1] }} {{ false is false }} {{ 0 is false }} {{ x is not none }}", v),
       "True True True False True True True True True True False True")
  t.eq(R("{{ not x is defined }} {{ x is defined and y is defined }}", v), "False True")
end)

-- ------------------------------------------------------------ statements

t.test("set: tuples, blocks, filters", function()
  t.eq(R("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 1, 2 %}{{ c }}"), "12(1, 2)")
  t.eq(R("{% set blk %}in {{ 1 + 1 }}{% endset %}[{{ blk }}]{% set up | upper %}shout{% endset %}{{ up }}"), "[in 2]SHOUT")
end)

t.test("for: loop variables, filter, else, break/continue", function()
  t.eq(R("{% for x in xs %}{{ loop.index }}:{{ x }}{% if not loop.last %}, {% endif %}{% endfor %}", { xs = { "a", "b", "c" } }),
       "1:a, 2:b, 3:c")
  t.eq(R("{% for i in range(5) if i is odd %}{{ loop.index }}/{{ loop.length }}:{{ i }} {% endfor %}"), "1/2:1 2/2:3 ")
  t.eq(R("{% for i in [] %}x{% else %}empty{% endfor %}"), "empty")
  t.eq(R("{% for i in range(10) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}"), "02")
  t.eq(R("{% for i in 'ab' %}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.cycle('x','y') }}{{ loop.previtem is defined }}{{ loop.nextitem }}|{% endfor %}"),
       "021TrueFalsexFalseb|110FalseTrueyTrue|")
  t.eq(R("{% for a in [1,2] %}{% for b in [3,4] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{% endfor %}"), "113 214 123 224 ")
  t.eq(R("{% for k, v in {'a': 1}.items() %}{{ k }}={{ v }}{% endfor %}"), "a=1")
  t.eq(R("{% for m in msgs[::-1] %}{{ m }}{% endfor %}", { msgs = { 1, 2, 3 } }), "321")
end)

t.test("scoping: loops do not leak, namespace carries state", function()
  t.eq(R("{% set x = 1 %}{% for i in range(2) %}{{ x }}{% set x = 5 %}{{ x }}{% endfor %}{{ x }}"), "15151")
  t.eq(R("{% for i in range(2) %}{% if i == 0 %}{% set y = 1 %}{% endif %}[{{ y }}]{% endfor %}"), "[1][]")
  t.eq(R("{% set ns = namespace(a=1) %}{% for i in range(3) %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}"), "4")
  t.eq(R("{% if true %}{% set z = 2 %}{% endif %}{{ z }}"), "2")
  t.eq(R("{% with a = 3 %}{{ a }}{% endwith %}{{ a is defined }}"), "3False")
end)

t.test("macros, call blocks, filter blocks", function()
  t.eq(R("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('bo') }} {{ greet('al', punct='?') }} {{ greet(name='z') }}"),
       "Hi bo! Hi al? Hi z!")
  t.eq(R("{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}inside{% endcall %}"), "[inside]")
  t.eq(R("{% macro row(x) %}<{{ caller(x * 2) }}>{% endmacro %}{% call(v) row(4) %}v={{ v }}{% endcall %}"), "<v=8>")
  t.eq(R("{% macro all() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ all(1, 2, k=3) }}"), "[1, 2]{'k': 3}")
  t.eq(R("{% filter upper %}hello {{ 'w' }}{% endfilter %}"), "HELLO W")
end)

t.test("globals: range, dict, namespace, strftime_now, raise_exception", function()
  t.eq(R("{{ range(2, 10, 3) | list }} {{ range(3) | list }} {{ range(3, 0, -1) | list }} {{ dict(a=1) }}"), "[2, 5, 8] [0, 1, 2] [3, 2, 1] {'a': 1}")
  t.eq(R("{{ strftime_now('%Y') }}"), os.date("%Y"))
  -- a caller-supplied function overrides the global (deterministic dates)
  t.eq(R("{{ strftime_now('%d %b %Y') }}", { strftime_now = function() return "26 Jul 2024" end }), "26 Jul 2024")
  t.eq(R("{{ f(2, k='x') }}", { f = function(a, kw) return a * 10 .. kw.k end }), "20x")
  t.eq(E("{% if true %}\n{{ raise_exception('Conversation roles must alternate') }}{% endif %}"),
       "template:2: Conversation roles must alternate")
end)

-- ------------------------------------------------------------ errors

t.test("errors name the construct and the line", function()
  t.eq(E("a\n\n{{ x | wordwrap }}"), "template:3: unsupported filter 'wordwrap'")
  t.eq(E("{{ x is prime }}"), "template:1: unsupported test 'prime'")
  t.eq(E("line\n{% include 'other.jinja' %}"), "template:2: unsupported tag 'include'")
  t.eq(E("{% frobnicate %}"), "template:1: unknown tag 'frobnicate'")
  t.eq(E("{% for x in y recursive %}{% endfor %}"), "template:1: unsupported: recursive for loops")
  t.eq(E("{% if x %}\nunclosed"), "template:2: unexpected end of template, expected 'elif' or 'else' or 'endif'")
  t.eq(E("{{ 1 + }}"), "template:1: expected an expression, got end of tag")
  t.eq(E("{{ 'unterminated }}"), "template:1: unterminated string literal")
  t.eq(E("x\n{{ u.attr }}"), "template:2: 'u' is undefined")
  t.eq(E("{{ d.nope.deeper }}", { d = { a = 1 } }), "template:1: 'dict object' has no attribute 'nope'")
  t.eq(E("{{ 'a' + 1 }}"), 'template:1: can only concatenate str (not "int") to str')
  t.eq(E("{{ u + 1 }}"), "template:1: 'u' is undefined")
  t.eq(E("{{ 1 / 0 }}"), "template:1: division by zero")
  t.eq(E("{{ '%s' % 1 }}"), "template:1: unsupported: string formatting with '%'")
  t.eq(E("{% set x = 1 %}{% set x.a = 2 %}"), "template:1: cannot assign attribute on non-namespace object")
  local _, err = jinja.compile("\n{{ x | nope }}", { name = "qwen3" })
  t.eq(err, "qwen3:2: unsupported filter 'nope'")
  t.raises(function() jinja.compile(42) end, "source must be a string")
  t.raises(function() jinja.compile("x"):render(5) end, "vars must be a table")
end)

t.test("a compiled template renders many times", function()
  local tpl = assert(jinja.compile("{% for m in messages %}{{ m.role }}:{{ m.content | trim }};{% endfor %}"))
  t.eq(tpl:render { messages = { { role = "user", content = " a " } } }, "user:a;")
  t.eq(tpl:render { messages = { { role = "assistant", content = "b" }, { role = "user", content = "c" } } }, "assistant:b;user:c;")
  t.eq(tpl:render {}, "")
end)

t.test("trim and strip remove what Python's str.strip removes, U+3000 included (issue 9)", function()
  -- Python 3: [c for c in map(chr, range(0x110000)) if c.isspace()]
  local py = { 0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002,
               0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F,
               0x3000 }
  for _, cp in ipairs(py) do
    local w = utf8.char(cp)
    t.eq(R("{{ s | trim }}|{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}", { s = w .. w .. "A" .. w }),
      "A|A|A" .. w .. "|" .. w .. w .. "A", string.format("U+%04X", cp))
  end
  -- not white space to Python (JavaScript's trim takes U+FEFF): kept
  for _, cp in ipairs { 0xFEFF, 0x200B, 0x180E, 0x2060 } do
    local w = utf8.char(cp)
    t.eq(R("{{ s | trim }}", { s = w .. "A" .. w }), w .. "A" .. w, string.format("U+%04X", cp))
  end
end)

t.test("a runaway recursive macro is the template's error, not eval.lua's", function()
  local tpl = assert(jinja.compile("{% macro f(n) %}{{ f(n) }}{% endmacro %}\n{{ f(1) }}", { name = "rec" }))
  local out, err = tpl:render {}
  t.eq(out, nil)
  t.truthy(err:find("^rec:%d+: "), err)
  t.truthy(not err:find("lua/lacuna/", 1, true), err)
end)

return t.done()
