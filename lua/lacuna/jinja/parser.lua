-- The parser of lacuna.jinja: turns the lexer's chunks into the tree that
-- lacuna.jinja.eval walks. Errors are raised like the lexer's.
local R = require "lacuna.jinja.values"
local known = require "lacuna.jinja.filters" -- names the parser accepts
local lexfail = require("lacuna.jinja.lexer").fail

local M = {}

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

-- operand (word operand)*, left-associative: `or` over `and`, `and` over `not`.
local function left_assoc(self, word, operand)
  local e = operand(self)
  while self:at("name", word) do
    local line = self:next().line
    e = node(word, line, { a = e, b = operand(self) })
  end
  return e
end

function Parser:parse_or() return left_assoc(self, "or", Parser.parse_and) end
function Parser:parse_and() return left_assoc(self, "and", Parser.parse_not) end

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
      e = self:parse_call(e, t.line)
    else
      return e
    end
  end
end

-- At "(": the call of fn with the arguments up to ")".
function Parser:parse_call(fn, line)
  self:next()
  local args, kwargs, kwnames = self:parse_args()
  return node("call", line, { fn = fn, args = args, kwargs = kwargs, kwnames = kwnames })
end

function Parser:parse_filter(e)
  -- after "|": name[(args)]
  local t = self:expect("name")
  local fname = t.v
  while self:at("op", ".") and self:at("name", nil, 1) do
    self:next()
    fname = fname .. "." .. self:next().v
  end
  if not known.filters[fname] then self:fail("unsupported filter '" .. fname .. "'", t.line) end
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
      if not known.tests[tname] then self:fail("unsupported test '" .. tname .. "'", nt.line) end
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
      e = self:parse_call(e, t.line)
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

-- Ends the current tag and parses the block's body up to {% endtag %}.
function Parser:block_body(endtag)
  self:done()
  local body = self:body({ [endtag] = true })
  self:done()
  return body
end

-- One parser per statement tag, called once the tag's name is consumed.
local TAGS = {}

TAGS["if"] = function(self, line)
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
end

TAGS["for"] = function(self, line)
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
end

TAGS.set = function(self, line)
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
  local body = self:block_body("endset")
  return node("setblock", line, { target = target, body = body, filters = filters })
end

TAGS.macro = function(self, line)
  local name = self:expect("name").v
  self:expect("op", "(")
  local params = self:params()
  self:done()
  local body = self:body({ endmacro = true })
  self:accept("name", name)
  self:done()
  return node("macro", line, { name = name, params = params, body = body })
end

TAGS.call = function(self, line)
  local params = {}
  if self:accept("op", "(") then params = self:params() end
  local call = self:expression()
  if call.k ~= "call" then self:fail("{% call %} needs a macro call") end
  local body = self:block_body("endcall")
  return node("callblock", line, { call = call, params = params, body = body })
end

TAGS.filter = function(self, line)
  local filters = { self:parse_filter(nil) }
  while self:accept("op", "|") do filters[#filters + 1] = self:parse_filter(nil) end
  local body = self:block_body("endfilter")
  return node("filterblock", line, { filters = filters, body = body })
end

TAGS.with = function(self, line)
  local names, vals = {}, {}
  while self:at("name") do
    if #names > 0 then self:expect("op", ",") end
    names[#names + 1] = self:expect("name").v
    self:expect("op", "=")
    vals[#vals + 1] = self:expression()
    self:accept("op", ",")
  end
  local body = self:block_body("endwith")
  return node("with", line, { names = names, vals = vals, body = body })
end

TAGS.generation = function(self, line)
  -- transformers' {% generation %} marks assistant text for masks; it
  -- renders its body unchanged
  local body = self:block_body("endgeneration")
  return node("with", line, { names = {}, vals = {}, body = body })
end

TAGS["break"] = function(self, line, kw)
  self:done()
  return node(kw, line)
end
TAGS.continue = TAGS["break"]

function Parser:statement(t)
  local kw, line = t.v, t.line
  local parse = TAGS[kw]
  if parse then return parse(self, line, kw) end
  if UNSUPPORTED_TAGS[kw] then self:fail("unsupported tag '" .. kw .. "'", line) end
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

-- parser.parse(chunks, name, end_line) -> the template's body (a list of nodes)
function M.parse(chunks, name, end_line)
  local p = setmetatable({ name = name, chunks = chunks, ci = 1, end_line = end_line }, Parser)
  return p:body(nil)
end

return M
