-- Reading VAL probes for `lacuna eval`: recipes/val_probe.lua's lines (any chat
-- format, the probe under meta.probe) or FILM's own VaLProbing lines
-- ({prompt, completion, position_id, set_id, label?, description?}).
local metrics = require "lacuna.eval.metrics"

local M = {}

-- The kind of FILM's own probe line: from its fields, else the file name.
local function film_kind(obj, path, given)
  if given then return given end
  if obj.label ~= nil and obj.description ~= nil then return "database" end
  for _, k in ipairs({ "document", "code", "database" }) do
    if path:find(k, 1, true) then return k end
  end
end

-- M.read(obj, path, o) -> messages, probe | nil, why for one probe line (o.kind: the
-- kind of FILM's own lines).
function M.read(obj, path, o)
  if type(obj) ~= "table" then return nil, "not a JSON object" end
  local meta = type(obj.meta) == "table" and obj.meta.probe
  local msgs = {}
  local function add(list)
    for _, m in ipairs(list) do
      if type(m) ~= "table" or type(m.role) ~= "string" or type(m.content) ~= "string" then
        return nil, "a message without a string role and content"
      end
      msgs[#msgs + 1] = { role = m.role, content = m.content }
    end
    return true
  end
  local ok, why
  if type(obj.prompt) == "string" then
    msgs[1] = { role = "user", content = obj.prompt }
  elseif type(obj.prompt) == "table" then
    ok, why = add(obj.prompt)
  elseif type(obj.messages) == "table" then
    local list = {}
    for i, m in ipairs(obj.messages) do list[i] = m end
    while #list > 0 and type(list[#list]) == "table" and list[#list].role == "assistant" do list[#list] = nil end
    ok, why = add(list)
  else
    return nil, "no prompt: expected prompt (a string or messages) or messages"
  end
  if why then return nil, why end
  if #msgs == 0 then return nil, "no prompt message" end
  local probe
  if type(meta) == "table" then
    probe = meta
  else
    local kind = film_kind(obj, path, o.kind)
    if not kind then return nil, "unknown probe kind: give --kind document|code|database" end
    probe = { kind = kind, family = "film", completion = obj.completion, label = obj.label,
              description = obj.description, set_id = obj.set_id, position_id = obj.position_id }
  end
  if not metrics.KINDS[probe.kind] then return nil, "unknown probe kind '" .. tostring(probe.kind) .. "'" end
  if probe.kind == "database" and not probe.answers and
    (type(probe.label) ~= "string" or type(probe.description) ~= "string") then
    return nil, "a database probe needs label and description"
  end
  if probe.kind ~= "database" and not probe.answers and type(probe.completion) ~= "string" then
    return nil, "the probe has no gold completion"
  end
  local family = probe.family or (probe.grid and "grid" or "film")
  if family == "film" and (math.type(probe.set_id) ~= "integer" or math.type(probe.position_id) ~= "integer") then
    return nil, "a FILM probe needs integer set_id and position_id"
  end
  probe.family = family
  return msgs, probe
end

-- What a skipped line's output shows of it (its kind and place), best effort.
function M.meta(obj, path, o)
  local _, probe = M.read(obj, path, o)
  return type(probe) == "table" and probe or {}
end

return M
