-- A Jinja subset for chat templates: lexer and parser here, values and
-- evaluation in lacuna.jinja.values.
--
-- The reference is what transformers' apply_chat_template does with Python's
-- Jinja2 (trim_blocks and lstrip_blocks on, the trailing newline of the source
-- dropped, Python truthiness and str()); @huggingface/jinja is the
-- conformance oracle for the real chat templates (tests/chat_template).
--
--   local jinja = require "lacuna.jinja"
--   local tpl, err = jinja.compile(source, { name = "qwen3" })
--   local text, err = tpl:render { messages = msgs, add_generation_prompt = true }
--
-- Errors in a template (syntax, an unsupported construct, raise_exception, a
-- type error while rendering) come back as nil, "name:line: message"; wrong
-- arguments to compile/render raise.
local R = require "lacuna.jinja.values"

local M = {}

-- ------------------------------------------------------------------ lexer

local function lexfail(name, line, msg) error({ jinja = true, msg = name .. ":" .. line .. ": " .. msg }, 0) end

local ESC = { n = "\n", t = "\t", r = "\r", a = "\a", b = "\b", f = "\f", v = "\v",
              ["\\"] = "\\", ["'"] = "'", ['"'] = '"', ["\n"] = "" }

-- Python's unicode-escape of a string literal's body: the known escapes,
-- \xHH, \uHHHH, \UHHHHHHHH and octal; an unknown escape stays as written.
local function unescape(s)
  if not s:find("\\", 1, true) then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c ~= "\\" or i == n then
      out[#out + 1] = c
      i = i + 1
    else
      local e = s:sub(i + 1, i + 1)
      local hexlen = (e == "x" and 2) or (e == "u" and 4) or (e == "U" and 8)
      if ESC[e] then
        out[#out + 1] = ESC[e]
        i = i + 2
      elseif hexlen and s:sub(i + 2, i + 1 + hexlen):match("^%x+$") and #s:sub(i + 2, i + 1 + hexlen) == hexlen then
        out[#out + 1] = utf8.char(tonumber(s:sub(i + 2, i + 1 + hexlen), 16))
        i = i + 2 + hexlen
      elseif e:match("[0-7]") then
        local oct = s:match("^[0-7][0-7]?[0-7]?", i + 1)
        out[#out + 1] = utf8.char(tonumber(oct, 8))
        i = i + 1 + #oct
      else
        out[#out + 1] = "\\" .. e
        i = i + 2
      end
    end
  end
  return table.concat(out)
end

local OPS2 = { ["**"] = true, ["//"] = true, ["=="] = true, ["!="] = true, ["<="] = true, [">="] = true }
local OPS1 = {}
for c in ("+-*/%~<>=()[]{},.:|"):gmatch(".") do OPS1[c] = true end

-- Lexes the tokens of one tag from position p (just after "{{" / "{%" and its
-- modifier). Returns the tokens, the position after the closing delimiter,
-- the closing modifier ("-", "+" or "") and the line reached.
local function lex_tag(src, p, kind, name, line)
  local toks, depth = {}, 0
  local close = kind == "var" and "}}" or "%}"
  while true do
    local ws = src:match("^[ \t\n\r\f\v]*", p)
    if #ws > 0 then
      local _, nl = ws:gsub("\n", "")
      line = line + nl
      p = p + #ws
    end
    if p > #src then lexfail(name, line, "unexpected end of template, expected '" .. close .. "'") end
    local c = src:sub(p, p)
    if (c == "-" or c == "+") and src:sub(p + 1, p + 2) == close and depth == 0 then
      return toks, p + 3, c, line
    end
    if src:sub(p, p + 1) == close and depth == 0 then return toks, p + 2, "", line end
    local tok
    if c:match("[%a_]") then
      local w = src:match("^[%w_]+", p)
      tok = { k = "name", v = w }
      p = p + #w
    elseif c:match("%d") then
      local num = src:match("^%d[%d_]*%.%d[%d_]*[eE][+-]?%d+", p) or src:match("^%d[%d_]*%.%d[%d_]*", p)
                  or src:match("^%d[%d_]*[eE][+-]?%d+", p) or src:match("^%d[%d_]*", p)
      p = p + #num
      local clean = num:gsub("_", "")
      local v = math.tointeger(tonumber(clean))
      if not v or clean:find("[.eE]") then v = tonumber(clean) + 0.0 end
      tok = { k = "num", v = v }
    elseif c == "'" or c == '"' then
      local q = p + 1
      while true do
        local a = src:find("[\\" .. c .. "]", q)
        if not a then lexfail(name, line, "unterminated string literal") end
        if src:sub(a, a) == "\\" then q = a + 2 else q = a; break end
      end
      local body = src:sub(p + 1, q - 1)
      local _, nl = body:gsub("\n", "")
      tok = { k = "str", v = unescape(body) }
      p = q + 1
      line = line + nl
    else
      local two = src:sub(p, p + 1)
      if OPS2[two] then
        tok = { k = "op", v = two }
        p = p + 2
      elseif OPS1[c] then
        tok = { k = "op", v = c }
        p = p + 1
        if c == "{" or c == "[" or c == "(" then depth = depth + 1
        elseif (c == "}" or c == "]" or c == ")") and depth > 0 then depth = depth - 1 end
      else
        lexfail(name, line, "unexpected character '" .. c .. "'")
      end
    end
    tok.line = line
    toks[#toks + 1] = tok
  end
end

-- Splits the source into text, {{ }} and {% %} chunks and applies the
-- whitespace rules: "-" strips all whitespace on that side, "+" keeps it,
-- trim_blocks drops the first newline after a block or comment tag and
-- lstrip_blocks drops spaces and tabs between a line start and a block or
-- comment tag.
local function lex(src, opts, name)
  src = src:gsub("\r\n", "\n"):gsub("\r", "\n")
  if not opts.keep_trailing_newline and src:sub(-1) == "\n" then src = src:sub(1, -2) end
  local chunks = {}
  local pos, line = 1, 1
  local pending = nil -- right-hand effect of the previous tag on the next text
  local function linecount(a, b)
    local _, n = src:sub(a, b):gsub("\n", "")
    return n
  end
  local function take_text(a, b, tagkind, lmod)
    -- text src[a..b) followed by a tag of kind tagkind with left modifier lmod
    local text = src:sub(a, b - 1)
    local start = a
    if pending == "-" then
      local ws = text:match("^[ \t\n\r\f\v]*")
      text = text:sub(#ws + 1)
      start = start + #ws
    elseif pending == "trim" and text:sub(1, 1) == "\n" then
      text = text:sub(2)
      start = start + 1
    end
    if lmod == "-" then
      text = text:match("^(.-)[ \t\n\r\f\v]*$")
    elseif lmod == "" and opts.lstrip_blocks and (tagkind == "block" or tagkind == "comment") then
      local head, tail = text:match("^(.*\n)([^\n]*)$")
      if not head and (start == 1 or src:sub(start - 1, start - 1) == "\n") then head, tail = "", text end
      if head and tail:match("^[ \t\f\v]*$") then text = head end
    end
    if text ~= "" then chunks[#chunks + 1] = { k = "text", v = text, line = line } end
  end
  while true do
    local s = src:find("{[{%%#]", pos)
    if not s then
      take_text(pos, #src + 1, nil, nil)
      line = line + linecount(pos, #src)
      break
    end
    local opener = src:sub(s + 1, s + 1)
    local mod = src:sub(s + 2, s + 2)
    if mod ~= "-" and mod ~= "+" then mod = "" end
    local kind = (opener == "{" and "var") or (opener == "%" and "block") or "comment"
    take_text(pos, s, kind, mod)
    line = line + linecount(pos, s - 1)
    local inner = s + 2 + #mod
    if kind == "comment" then
      local e = src:find("#}", inner, true)
      if not e then lexfail(name, line, "unterminated comment") end
      local rmod = src:sub(e - 1, e - 1)
      if (rmod ~= "-" and rmod ~= "+") or e - 1 < inner then rmod = "" end
      line = line + linecount(s, e)
      pos = e + 2
      pending = (rmod == "-" and "-") or (rmod == "" and opts.trim_blocks and "trim") or nil
    else
      local toks, after, rmod, endline = lex_tag(src, inner, kind, name, line)
      chunks[#chunks + 1] = { k = kind, toks = toks, line = line }
      line = endline
      pos = after
      pending = (rmod == "-" and "-") or (rmod == "" and kind == "block" and opts.trim_blocks and "trim") or nil
      if kind == "block" and toks[1] and toks[1].v == "raw" and toks[1].k == "name" then
        -- everything up to {% endraw %} is text, verbatim
        local a, b, lm, rm = src:find("{%%([-+]?)%s*endraw%s*([-+]?)%%}", pos)
        if not a then lexfail(name, line, "missing {% endraw %}") end
        chunks[#chunks] = nil
        take_text(pos, a, "block", lm)
        line = line + linecount(pos, b)
        pos = b + 1
        pending = (rm == "-" and "-") or (rm == "" and opts.trim_blocks and "trim") or nil
      end
    end
  end
  return chunks, line
end

-- ------------------------------------------------------------------ parser

local Parser = {}
Parser.__index = Parser

function Parser:fail(msg, line)
  lexfail(self.name, line or self.line, msg)
end

-- Token access within the current tag.
function Parser:peek(o) return self.toks[self.i + (o or 0)] end
function Parser:next()
  local t = self.toks[self.i]
  self.i = self.i + 1
  return t
end
function Parser:at(k, v, o)
  local t = self.toks[self.i + (o or 0)]
  return t and t.k == k and (v == nil or t.v == v)
end
function Parser:accept(k, v)
  if self:at(k, v) then return self:next() end
end
local function describe(t)
  if not t then return "end of tag" end
  if t.k == "str" then return "string literal" end
  return "'" .. tostring(t.v) .. "'"
end
function Parser:expect(k, v)
  local t = self:peek()
  if not (t and t.k == k and (v == nil or t.v == v)) then
    self:fail("expected " .. (v and ("'" .. v .. "'") or k) .. ", got " .. describe(t), t and t.line)
  end
  return self:next()
end
function Parser:done()
  local t = self:peek()
  if t then self:fail("unexpected " .. describe(t) .. " at the end of the tag", t.line) end
end

local function node(k, line, t)
  t = t or {}
  t.k, t.line = k, line
  return t
end

-- Expressions, with Jinja2's precedence: conditional < or < and < not <
-- comparisons < + - < ~ < * / // % < ** < unary - + < postfix (. [] ())
-- and filters/tests.
function Parser:expression(with_cond)
  if with_cond == false then return self:parse_or() end
  local e = self:parse_or()
  while self:at("name", "if") do
    local line = self:next().line
    local test = self:parse_or()
    local other
    if self:accept("name", "else") then other = self:expression() end
    e = node("cond", line, { test = test, a = e, b = other })
  end
  return e
end

function Parser:parse_or()
  local e = self:parse_and()
  while self:at("name", "or") do
    local line = self:next().line
    e = node("or", line, { a = e, b = self:parse_and() })
  end
  return e
end

function Parser:parse_and()
  local e = self:parse_not()
  while self:at("name", "and") do
    local line = self:next().line
    e = node("and", line, { a = e, b = self:parse_not() })
  end
  return e
end

function Parser:parse_not()
  if self:at("name", "not") then
    local line = self:next().line
    return node("not", line, { e = self:parse_not() })
  end
  return self:parse_compare()
end

local CMP = { ["=="] = true, ["!="] = true, ["<"] = true, [">"] = true, ["<="] = true, [">="] = true }

function Parser:parse_compare()
  local e = self:parse_math1()
  local ops
  while true do
    local t = self:peek()
    local op
    if t and t.k == "op" and CMP[t.v] then
      op = t.v
      self:next()
    elseif t and t.k == "name" and t.v == "in" then
      op = "in"
      self:next()
    elseif t and t.k == "name" and t.v == "not" and self:at("name", "in", 1) then
      op = "not in"
      self.i = self.i + 2
    else
      break
    end
    ops = ops or {}
    ops[#ops + 1] = { op = op, e = self:parse_math1() }
  end
  if ops then return node("compare", e.line, { first = e, ops = ops }) end
  return e
end

function Parser:binloop(sub, set)
  local e = sub(self)
  while true do
    local t = self:peek()
    if not (t and t.k == "op" and set[t.v]) then return e end
    self:next()
    e = node("bin", t.line, { op = t.v, a = e, b = sub(self) })
  end
end

local ADD, CAT, MUL, POW = { ["+"] = true, ["-"] = true }, { ["~"] = true },
  { ["*"] = true, ["/"] = true, ["//"] = true, ["%"] = true }, { ["**"] = true }
function Parser:parse_math1() return self:binloop(Parser.parse_concat, ADD) end
function Parser:parse_concat() return self:binloop(Parser.parse_math2, CAT) end
function Parser:parse_math2() return self:binloop(Parser.parse_pow, MUL) end
function Parser:parse_pow() return self:binloop(Parser.parse_unary, POW) end

function Parser:parse_unary(with_filter)
  local t = self:peek()
  local e
  if t and t.k == "op" and (t.v == "-" or t.v == "+") then
    self:next()
    e = node(t.v == "-" and "neg" or "pos", t.line, { e = self:parse_unary(false) })
  else
    e = self:parse_postfix(self:parse_primary())
  end
  if with_filter ~= false then e = self:parse_filter_expr(e) end
  return e
end

function Parser:parse_primary()
  local t = self:next()
  if not t then self:fail("expected an expression, got end of tag") end
  if t.k == "name" then
    local v = t.v
    if v == "true" or v == "True" then return node("const", t.line, { v = true }) end
    if v == "false" or v == "False" then return node("const", t.line, { v = false }) end
    if v == "none" or v == "None" then return node("const", t.line, { v = R.NONE }) end
    return node("name", t.line, { v = v })
  elseif t.k == "str" then
    local s = t.v
    while self:at("str") do s = s .. self:next().v end -- "a" "b" is "ab"
    return node("const", t.line, { v = s })
  elseif t.k == "num" then
    return node("const", t.line, { v = t.v })
  elseif t.k == "op" and t.v == "(" then
    return self:parse_tuple(true, t.line)
  elseif t.k == "op" and t.v == "[" then
    local items = {}
    while not self:at("op", "]") do
      if #items > 0 then self:expect("op", ",") end
      if self:at("op", "]") then break end
      items[#items + 1] = self:expression()
    end
    self:expect("op", "]")
    return node("list", t.line, { items = items })
  elseif t.k == "op" and t.v == "{" then
    local keys, vals = {}, {}
    while not self:at("op", "}") do
      if #keys > 0 then self:expect("op", ",") end
      if self:at("op", "}") then break end
      keys[#keys + 1] = self:expression()
      self:expect("op", ":")
      vals[#vals + 1] = self:expression()
    end
    self:expect("op", "}")
    return node("dict", t.line, { keys = keys, vals = vals })
  end
  self:fail("unexpected " .. describe(t), t.line)
end

-- A tuple without parentheses (a, b = ...; for k, v in ...) or, when
-- `paren` is set, the inside of "( ... )" (the "(" already consumed).
function Parser:parse_tuple(paren, line, with_cond, simple)
  local items, comma = {}, false
  local function ends()
    local t = self:peek()
    if not t then return true end
    if paren then return t.k == "op" and t.v == ")" end
    return (t.k == "name" and (t.v == "in" or t.v == "if" or t.v == "recursive")) or (t.k == "op" and t.v == "=")
  end
  while not ends() do
    if #items > 0 then
      if not self:accept("op", ",") then break end
      comma = true
      if ends() then break end
    end
    if simple then
      local t = self:expect("name")
      items[#items + 1] = node("name", t.line, { v = t.v })
    else
      items[#items + 1] = self:expression(with_cond)
    end
  end
  if paren then self:expect("op", ")") end
  if #items == 0 and not paren then self:fail("expected an expression, got " .. describe(self:peek())) end
  if #items == 1 and not comma then return items[1] end
  return node("tuple", line or (items[1] and items[1].line) or self.line, { items = items })
end

function Parser:parse_args()
  -- after "(": positional and keyword arguments up to ")"
  local args, kwargs, kwnames = {}, {}, {}
  while not self:at("op", ")") do
    if #args + #kwnames > 0 then self:expect("op", ",") end
    if self:at("op", ")") then break end
    if self:at("op", "*") or self:at("op", "**") then
      self:fail("unsupported: *args / **kwargs in a call")
    end
    if self:at("name") and self:at("op", "=", 1) then
      local k = self:next().v
      self:next()
      kwnames[#kwnames + 1] = k
      kwargs[k] = self:expression()
    else
      if #kwnames > 0 then self:fail("positional argument after a keyword argument") end
      args[#args + 1] = self:expression()
    end
  end
  self:expect("op", ")")
  return args, kwargs, kwnames
end

function Parser:parse_postfix(e)
  while true do
    local t = self:peek()
    if not t or t.k ~= "op" then return e end
    if t.v == "." then
      self:next()
      local a = self:next()
      if a and a.k == "name" then
        e = node("getattr", t.line, { obj = e, name = a.v })
      elseif a and a.k == "num" and math.type(a.v) == "integer" then
        e = node("getitem", t.line, { obj = e, key = node("const", a.line, { v = a.v }) })
      else
        self:fail("expected an attribute name after '.', got " .. describe(a), t.line)
      end
    elseif t.v == "[" then
      self:next()
      local parts, colon = { nil, nil, nil }, 0
      local idx = 1
      while not self:at("op", "]") do
        if self:accept("op", ":") then
          colon = colon + 1
          idx = idx + 1
          if idx > 3 then self:fail("too many ':' in a slice") end
        else
          if parts[idx] then self:fail("expected ']' or ':', got " .. describe(self:peek())) end
          parts[idx] = self:expression()
        end
      end
      self:expect("op", "]")
      if colon == 0 then
        if not parts[1] then self:fail("empty subscript", t.line) end
        e = node("getitem", t.line, { obj = e, key = parts[1] })
      else
        e = node("slice", t.line, { obj = e, start = parts[1], stop = parts[2], step = parts[3] })
      end
    elseif t.v == "(" then
      self:next()
      local args, kwargs, kwnames = self:parse_args()
      e = node("call", t.line, { fn = e, args = args, kwargs = kwargs, kwnames = kwnames })
    else
      return e
    end
  end
end

function Parser:parse_filter(e)
  -- after "|": name[(args)]
  local t = self:expect("name")
  local fname = t.v
  while self:at("op", ".") and self:at("name", nil, 1) do
    self:next()
    fname = fname .. "." .. self:next().v
  end
  if not R.filters[fname] then self:fail("unsupported filter '" .. fname .. "'", t.line) end
  local args, kwargs, kwnames = {}, {}, {}
  if self:accept("op", "(") then args, kwargs, kwnames = self:parse_args() end
  return node("filter", t.line, { e = e, name = fname, args = args, kwargs = kwargs, kwnames = kwnames })
end

-- as Jinja2, plus the keywords Jinja2 would choke on there
local TEST_ARG_STOP = { ["else"] = true, ["or"] = true, ["and"] = true, ["if"] = true, ["in"] = true, ["is"] = true }

function Parser:parse_filter_expr(e)
  while true do
    local t = self:peek()
    if t and t.k == "op" and t.v == "|" then
      self:next()
      e = self:parse_filter(e)
    elseif t and t.k == "name" and t.v == "is" then
      self:next()
      local negate = self:accept("name", "not") ~= nil
      local nt = self:expect("name")
      local tname = nt.v
      if not R.tests[tname] then self:fail("unsupported test '" .. tname .. "'", nt.line) end
      local args, kwargs, kwnames = {}, {}, {}
      local nx = self:peek()
      if nx and nx.k == "op" and nx.v == "(" then
        self:next()
        args, kwargs, kwnames = self:parse_args()
      elseif nx and (nx.k == "str" or nx.k == "num" or (nx.k == "name" and not TEST_ARG_STOP[nx.v])
                     or (nx.k == "op" and (nx.v == "[" or nx.v == "{"))) then
        args = { self:parse_postfix(self:parse_primary()) }
      end
      e = node("test", t.line, { e = e, name = tname, args = args, kwargs = kwargs, kwnames = kwnames, negate = negate })
    elseif t and t.k == "op" and t.v == "(" then
      self:next()
      local args, kwargs, kwnames = self:parse_args()
      e = node("call", t.line, { fn = e, args = args, kwargs = kwargs, kwnames = kwnames })
    else
      return e
    end
  end
end

-- ------------------------------------------------------------------ statements

local UNSUPPORTED_TAGS = { include = true, import = true, from = true, extends = true, block = true,
                           autoescape = true, trans = true, pluralize = true, ["do"] = true }

function Parser:begin_tag(chunk)
  self.toks, self.i, self.line = chunk.toks, 1, chunk.line
end

-- Parses chunks until a block tag whose name is in `stop`; returns the body
-- and that tag's name (the tag's tokens stay current for the caller).
function Parser:body(stop)
  local out = {}
  while true do
    local c = self.chunks[self.ci]
    if not c then
      if stop then
        local names = {}
        for k in pairs(stop) do names[#names + 1] = "'" .. k .. "'" end
        table.sort(names)
        self:fail("unexpected end of template, expected " .. table.concat(names, " or "), self.end_line)
      end
      return out
    end
    self.ci = self.ci + 1
    if c.k == "text" then
      out[#out + 1] = node("text", c.line, { v = c.v })
    elseif c.k == "var" then
      self:begin_tag(c)
      local e = self:parse_tuple(false, c.line, true)
      self:done()
      out[#out + 1] = node("output", c.line, { e = e })
    else
      self:begin_tag(c)
      local t = self:expect("name")
      if stop and stop[t.v] then return out, t.v end
      out[#out + 1] = self:statement(t)
    end
  end
end

function Parser:statement(t)
  local kw, line = t.v, t.line
  if kw == "if" then
    local branches = {}
    local cond = self:expression()
    self:done()
    while true do
      local body, ended = self:body({ elif = true, ["else"] = true, endif = true })
      branches[#branches + 1] = { cond = cond, body = body }
      if ended == "elif" then
        cond = self:expression()
        self:done()
      elseif ended == "else" then
        self:done()
        local els = self:body({ endif = true })
        self:done()
        return node("if", line, { branches = branches, else_body = els })
      else
        self:done()
        return node("if", line, { branches = branches })
      end
    end
  elseif kw == "for" then
    local target = self:parse_tuple(false, line, nil, true)
    self:expect("name", "in")
    local iter = self:parse_tuple(false, line, false)
    local cond
    if self:accept("name", "if") then cond = self:expression() end
    if self:at("name", "recursive") then self:fail("unsupported: recursive for loops") end
    self:done()
    local body, ended = self:body({ ["else"] = true, endfor = true })
    local els
    self:done()
    if ended == "else" then
      els = self:body({ endfor = true })
      self:done()
    end
    return node("for", line, { target = target, iter = iter, cond = cond, body = body, else_body = els })
  elseif kw == "set" then
    local target
    local nt = self:expect("name")
    if self:at("op", ".") then
      self:next()
      local attr = self:expect("name")
      target = node("getattr", nt.line, { obj = node("name", nt.line, { v = nt.v }), name = attr.v })
    else
      self.i = self.i - 1
      target = self:parse_tuple(false, line, nil, true)
    end
    if self:accept("op", "=") then
      local e = self:parse_tuple(false, line, true)
      self:done()
      return node("set", line, { target = target, e = e })
    end
    local filters = {}
    while self:accept("op", "|") do filters[#filters + 1] = self:parse_filter(nil) end
    self:done()
    local body = self:body({ endset = true })
    self:done()
    return node("setblock", line, { target = target, body = body, filters = filters })
  elseif kw == "macro" then
    local name = self:expect("name").v
    self:expect("op", "(")
    local params = self:params()
    self:done()
    local body = self:body({ endmacro = true })
    self:accept("name", name)
    self:done()
    return node("macro", line, { name = name, params = params, body = body })
  elseif kw == "call" then
    local params = {}
    if self:accept("op", "(") then params = self:params() end
    local call = self:expression()
    if call.k ~= "call" then self:fail("{% call %} needs a macro call") end
    self:done()
    local body = self:body({ endcall = true })
    self:done()
    return node("callblock", line, { call = call, params = params, body = body })
  elseif kw == "filter" then
    local filters = { self:parse_filter(nil) }
    while self:accept("op", "|") do filters[#filters + 1] = self:parse_filter(nil) end
    self:done()
    local body = self:body({ endfilter = true })
    self:done()
    return node("filterblock", line, { filters = filters, body = body })
  elseif kw == "with" then
    local names, vals = {}, {}
    while self:at("name") do
      if #names > 0 then self:expect("op", ",") end
      names[#names + 1] = self:expect("name").v
      self:expect("op", "=")
      vals[#vals + 1] = self:expression()
      self:accept("op", ",")
    end
    self:done()
    local body = self:body({ endwith = true })
    self:done()
    return node("with", line, { names = names, vals = vals, body = body })
  elseif kw == "generation" then
    -- transformers' {% generation %} marks assistant text for masks; it
    -- renders its body unchanged
    self:done()
    local body = self:body({ endgeneration = true })
    self:done()
    return node("with", line, { names = {}, vals = {}, body = body })
  elseif kw == "break" or kw == "continue" then
    self:done()
    return node(kw, line)
  elseif UNSUPPORTED_TAGS[kw] then
    self:fail("unsupported tag '" .. kw .. "'", line)
  end
  self:fail("unknown tag '" .. kw .. "'", line)
end

function Parser:params()
  -- after "(": name[=default], ... ")"
  local params = {}
  while not self:at("op", ")") do
    if #params > 0 then self:expect("op", ",") end
    if self:at("op", ")") then break end
    local p = { name = self:expect("name").v }
    if self:accept("op", "=") then p.default = self:expression() end
    params[#params + 1] = p
  end
  self:expect("op", ")")
  return params
end

-- ------------------------------------------------------------------ API

local Template = {}
Template.__index = Template
Template.__name = "lacuna.jinja.Template"

local DEFAULTS = { trim_blocks = true, lstrip_blocks = true, keep_trailing_newline = false }

-- jinja.compile(source[, opts]) -> template | nil, message
-- opts: name (used in messages, default "template"), trim_blocks,
-- lstrip_blocks (default true, as transformers sets them),
-- keep_trailing_newline (default false).
function M.compile(source, opts)
  if type(source) ~= "string" then error("jinja.compile: source must be a string, got " .. type(source), 2) end
  if opts ~= nil and type(opts) ~= "table" then error("jinja.compile: opts must be a table", 2) end
  opts = opts or {}
  local o = {}
  for k, v in pairs(DEFAULTS) do
    if opts[k] == nil then o[k] = v else o[k] = opts[k] and true or false end
  end
  local name = opts.name or "template"
  local ok, res = pcall(function()
    local chunks, end_line = lex(source, o, name)
    local p = setmetatable({ name = name, chunks = chunks, ci = 1, end_line = end_line }, Parser)
    return p:body(nil)
  end)
  if not ok then
    if type(res) == "table" and res.jinja then return nil, res.msg end
    error(res, 0)
  end
  return setmetatable({ name = name, source = source, body = res }, Template)
end

-- tpl:render([vars]) -> string | nil, message
-- vars: the template's variables. Lua values map to Python's: tables with
-- only 1..n keys are lists, other tables dicts (keys in their metatable's
-- __jsonorder first, the rest sorted, as lacuna.json encodes them),
-- lacuna.null is None, a Lua function is callable.
function Template:render(vars)
  if vars ~= nil and type(vars) ~= "table" then error("render: vars must be a table", 2) end
  return R.render(self, vars or {})
end

function M.render(source, vars, opts)
  local tpl, err = M.compile(source, opts)
  if not tpl then return nil, err end
  return tpl:render(vars)
end

M.null = R.NONE
M.Template = Template
return M
