-- lacuna new NAME: a documented recipe to start from, which passes
-- `lacuna check` as it is (it carries sample records and needs no teacher
-- until -p use_teacher=true).
local usage = require "lacuna.usage"
local core = require "lacuna.core"

local M = {
  name = "new",
  summary = "Write NAME.lua, a documented recipe to start from (it passes lacuna check as it is).",
  usage = { "lacuna new NAME [--force]" },
  operands = { { key = "name", name = "NAME" } },
  groups = {
    { title = "new options",
      { "--force", key = "force", kind = "flag", doc = "overwrite NAME.lua if it exists" },
    },
  },
  notes = function()
    return "NAME is the recipe's name (letters, digits, '_', '-'); NAME may also be a path ending in .lua."
  end,
}

-- @NAME@ and @VERSION@ are replaced; the rest is the recipe as written.
M.TEMPLATE = [==[
-- @NAME@: <say in one line what data this recipe makes, and from what>.
--
--   lacuna check @NAME@.lua                          runs map on the sample records below
--   lacuna run @NAME@.lua -i INPUT.jsonl -o OUT.jsonl
--   lacuna run @NAME@.lua -i INPUT.jsonl -o OUT.jsonl -p use_teacher=true --model MODEL
--     (the teacher: any OpenAI-compatible server, OPENAI_BASE_URL and OPENAI_API_KEY)
--   lacuna info @NAME@.lua                           its card: params, input fields
--
-- A recipe runs sandboxed: no files, no network, no os.execute; the
-- runtime gives it records, the teacher and deterministic random streams.
local lc = require "lacuna"

return lc.recipe {
  name = "@NAME@", version = "0.1.0",
  requires = ">=@VERSION@", -- the oldest lacuna this recipe runs on
  summary = "Question/answer pairs as chat examples, trained on the answer only",

  -- Params: typed and documented; set with -p key=value; `lacuna info` lists them.
  params = {
    system = lc.string("You are a helpful assistant.", "system message of every example"),
    use_teacher = lc.bool(false, "answer with the teacher instead of the record's answer (needs --model)"),
    max_tokens = lc.int(512, "longest teacher answer, in tokens", { min = 1 }),
  },

  -- Input fields, checked record by record: a record that does not match
  -- fails with its file:line and the field, and the run goes on.
  input = { question = "string", answer = "string?" },

  -- Sample records: `lacuna check` runs map on them when no -i is given.
  examples = {
    { question = "What is 2 + 2?", answer = "2 + 2 = 4." },
    { question = "Name a primary colour.", answer = "Red is a primary colour." },
    { question = "A question nobody answered." },
  },

  -- map runs once per record, in its own coroutine (a teacher call waits
  -- without blocking the other records). It returns an example, a list of
  -- examples, or lc.skip(reason); every record ends up counted as one.
  map = function(rec, ctx)
    local answer = rec.answer ~= lc.null and rec.answer or nil
    if ctx.params.use_teacher then
      -- Replies are cached by request (.lacuna/cache.db): a rerun pays nothing.
      local reply = ctx.teacher:chat {
        messages = { { role = "user", content = rec.question } },
        temperature = 0, max_tokens = ctx.params.max_tokens,
      }
      answer = reply.text
    end
    if not answer then return lc.skip("no answer") end
    -- The loss mask: system and user turns are context (not trained), the
    -- assistant turn is trained. lc.part(text, false) masks part of a turn.
    return lc.example()
      :system(ctx.params.system)
      :user(rec.question)
      :assistant(answer)
  end,
}
]==]

function M.main(o)
  local name = o.name
  if not name then usage.error("new: which name? (lacuna new NAME)") end
  local path = name
  if name:match("%.lua$") then
    name = name:match("([^/]*)%.lua$")
  else
    path = name .. ".lua"
  end
  if not name:match("^[%w_%-]+$") then
    usage.error("new: '%s' is not a recipe name (letters, digits, '_', '-')", name)
  end
  if not o.force and io.open(path, "rb") then usage.error("new: %s exists (--force overwrites it)", path) end
  local version = core.version:match("^(%d+%.%d+)") or core.version
  local text = M.TEMPLATE:gsub("@NAME@", name):gsub("@VERSION@", version)
  local f, err = io.open(path, "wb")
  if not f then usage.error("new: %s", err) end
  local ok, werr = f:write(text)
  local cok, cerr = f:close()
  if not ok or not cok then usage.error("new: %s: %s", path, tostring(werr or cerr)) end
  io.stderr:write("lacuna: wrote ", path, "; try: lacuna check ", path, "\n")
  return 0
end

return M
