-- A Jinja subset for chat templates: the API over lacuna.jinja.lexer,
-- .parser, .values (Python's values in Lua), .filters and .eval.
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
local lexer = require "lacuna.jinja.lexer"
local parser = require "lacuna.jinja.parser"
local values = require "lacuna.jinja.values"
local eval = require "lacuna.jinja.eval"

local M = {}

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
    local chunks, end_line = lexer.lex(source, o, name)
    return parser.parse(chunks, name, end_line)
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
  return eval.render(self, vars or {})
end

function M.render(source, vars, opts)
  local tpl, err = M.compile(source, opts)
  if not tpl then return nil, err end
  return tpl:render(vars)
end

M.null = values.NONE
M.Template = Template
return M
