-- The lexer of lacuna.jinja: splits a template's source into text, {{ }} and
-- {% %} chunks (with Jinja2's whitespace control) and a tag's inside into
-- tokens. Errors are raised as { jinja = true, msg = "name:line: message" }.
local M = {}

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

M.lex, M.fail = lex, lexfail
return M
