-- A model's chat template, rendered as transformers' apply_chat_template
-- renders it (tokenize=False).
--
--   local chat_template = require "lacuna.chat_template"
--   local tpl = assert(chat_template.load("models/qwen3"))   -- dir or tokenizer_config.json
--   local text = assert(tpl:render(messages, { add_generation_prompt = true, enable_thinking = false }))
--
-- load() reads `chat_template` from tokenizer_config.json (a string, or a
-- list of {name, template}: "default" is used, "tool_use" when tools are
-- given and it exists) or from chat_template.jinja beside it, and the
-- special tokens (bos_token, eos_token, unk_token, pad_token).
-- Files that are missing or malformed, and templates that fail, give
-- nil, message; wrong arguments raise.
local jinja = require "lacuna.jinja"
local json = require("lacuna.core").json

local M = {}

local ChatTemplate = {}
ChatTemplate.__index = ChatTemplate
ChatTemplate.__name = "lacuna.ChatTemplate"

local SPECIAL = { "bos_token", "eos_token", "unk_token", "pad_token" }

local function readfile(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  if not s then return nil, path .. ": cannot read" end
  return s
end

local function isdir(path)
  local f = io.open(path .. "/.", "rb")
  if f then f:close() return true end
  return false
end

-- A token in tokenizer_config.json: "text" or an AddedToken {content=...}.
local function token_text(v)
  if type(v) == "string" then return v end
  if type(v) == "table" and type(v.content) == "string" then return v.content end
  return nil
end

-- chat_template.new(source_or_named, opts) -> template | nil, message
-- source_or_named: a template string, or a table {name = source, ...};
-- opts: bos_token, eos_token, unk_token, pad_token, name (for messages).
function M.new(source, opts)
  if type(source) ~= "string" and type(source) ~= "table" then
    error("chat_template.new: source must be a string or a table of named templates", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then error("chat_template.new: opts must be a table", 2) end
  opts = opts or {}
  local label = opts.name or "chat template"
  local named = type(source) == "string" and { default = source } or source
  local self = setmetatable({ templates = {}, names = {}, path = opts.path }, ChatTemplate)
  for name, src in pairs(named) do
    if type(name) ~= "string" or type(src) ~= "string" then
      error("chat_template.new: named templates must map names to strings", 2)
    end
    local tname = name == "default" and label or (label .. " [" .. name .. "]")
    local tpl, err = jinja.compile(src, { name = tname })
    if not tpl then return nil, err end
    self.templates[name] = tpl
    self.names[#self.names + 1] = name
  end
  table.sort(self.names)
  if not self.templates.default then
    if #self.names == 1 then
      self.templates.default = self.templates[self.names[1]]
    else
      return nil, label .. ": no template named 'default' among " .. table.concat(self.names, ", ")
    end
  end
  self.source = self.templates.default.source
  for _, k in ipairs(SPECIAL) do self[k] = token_text(opts[k]) end
  return self
end

-- chat_template.load(path) -> template | nil, message
-- path: a model directory, its tokenizer_config.json, or a .jinja file.
function M.load(path, opts)
  if type(path) ~= "string" then error("chat_template.load: path must be a string", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("chat_template.load: opts must be a table", 2) end
  local dir, config_path, jinja_path
  if isdir(path) then
    dir = path
    config_path = path .. "/tokenizer_config.json"
    jinja_path = path .. "/chat_template.jinja"
  elseif path:match("%.jinja$") then
    dir = path:match("^(.*)/[^/]*$") or "."
    config_path = dir .. "/tokenizer_config.json"
    jinja_path = path
  else
    config_path = path
  end
  local config = {}
  local text, rerr = readfile(config_path)
  if text then
    local c, jerr = json.decode(text)
    if c == nil then return nil, config_path .. ": " .. jerr end
    if type(c) ~= "table" then return nil, config_path .. ": not a JSON object" end
    config = c
  elseif not jinja_path then
    return nil, rerr
  end
  local source
  if jinja_path then
    -- transformers saves the template here (newer layouts); it wins over
    -- tokenizer_config.json
    source = readfile(jinja_path)
  end
  if not source then
    local ct = config.chat_template
    if type(ct) == "string" then
      source = ct
    elseif type(ct) == "table" and #ct > 0 then
      source = {}
      for i, entry in ipairs(ct) do
        if type(entry) ~= "table" or type(entry.name) ~= "string" or type(entry.template) ~= "string" then
          return nil, config_path .. ": chat_template[" .. i .. "] is not a {name, template} object"
        end
        source[entry.name] = entry.template
      end
    elseif ct == nil or ct == json.null then
      return nil, (text and config_path or path) .. ": no chat_template (tokenizer_config.json has none"
        .. (jinja_path and ", and there is no " .. jinja_path or "") .. ")"
    else
      return nil, config_path .. ": chat_template must be a string or a list of {name, template}"
    end
  end
  local o = { name = (opts and opts.name) or path, path = path }
  for _, k in ipairs(SPECIAL) do o[k] = config[k] end
  return M.new(source, o)
end

local RESERVED = { messages = true, tools = true, documents = true, add_generation_prompt = true,
                   continue_final_message = true, template = true }

-- tpl:render(messages[, opts]) -> string | nil, message
-- opts: add_generation_prompt (false), continue_final_message (false),
-- tools, documents, template (a name, for multi-template configs),
-- bos_token/eos_token/... (override the loaded ones), and any other key as
-- a template variable (enable_thinking, date_string, ...).
function ChatTemplate:render(messages, opts)
  if type(messages) ~= "table" then error("render: messages must be a list of message tables", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("render: opts must be a table", 2) end
  opts = opts or {}
  local name = opts.template
  if name == nil then
    name = (opts.tools ~= nil and self.templates.tool_use) and "tool_use" or "default"
  end
  local tpl = self.templates[name]
  if not tpl then error("render: no template named '" .. tostring(name) .. "'", 2) end
  if opts.add_generation_prompt and opts.continue_final_message then
    error("render: add_generation_prompt and continue_final_message cannot both be set", 2)
  end
  local vars = {}
  for _, k in ipairs(SPECIAL) do vars[k] = self[k] end
  for k, v in pairs(opts) do
    if not RESERVED[k] then vars[k] = v end
  end
  vars.messages = messages
  -- transformers passes tools=None and documents=None when absent, so
  -- `tools is defined` holds and `tools is none` tells
  vars.tools = opts.tools == nil and json.null or opts.tools
  vars.documents = opts.documents == nil and json.null or opts.documents
  vars.add_generation_prompt = opts.add_generation_prompt and true or false
  local text, err = tpl:render(vars)
  if not text then return nil, err end
  if opts.continue_final_message then
    -- as transformers: cut the text after the final message's content
    local last = messages[#messages]
    local final = type(last) == "table" and last.content
    if type(final) == "table" and final[#final] then final = final[#final].text end
    if type(final) ~= "string" then return nil, "continue_final_message: the final message has no text content" end
    local function cut(s)
      if s == "" then return nil end
      local at, stop
      local from = 1
      while true do
        local a, b = text:find(s, from, true)
        if not a then break end
        at, stop, from = a, b, a + 1
      end
      if at then return text:sub(1, stop) end
    end
    local stripped = final:match("^%s*(.-)%s*$")
    local out = cut(final) or cut(stripped)
    if not out then return nil, "continue_final_message: the final message does not appear in the rendered text" end
    text = out
  end
  return text
end

M.ChatTemplate = ChatTemplate
return M
