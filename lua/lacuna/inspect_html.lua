-- `lacuna inspect OUT --html FILE`: one self-contained page (no network, no
-- files beside it): the examples as conversations with trained and masked
-- text styled, each with its metadata; the charts of `lacuna stats`; the
-- manifest; and a filter box that takes --where's language
-- (inspect_where.lua), run in the browser over each line's own JSON.
-- The page opens with the filter of its address's #where=... fragment.
local json = require("lacuna.core").json
local stats = require "lacuna.stats"
local stats_svg = require "lacuna.stats_svg"

local M = {}

local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
local function esc(s) return (tostring(s):gsub("[&<>\"']", ESC)) end

-- JSON text inside <script type="application/json">: "</" cannot end the
-- element, nor "<!--" open a comment (both stay the same JSON).
local function script_json(text)
  return (text:gsub("</", "<\\/"):gsub("<!%-%-", "<\\u0021--"))
end

local CSS = [[
body{font-family:system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{padding:12px 20px;background:#fff;border-bottom:1px solid #ddd;position:sticky;top:0;z-index:1}
h1{font-size:18px;margin:0 0 6px}
h2{font-size:16px;margin:22px 20px 8px}
#lc-filter{width:min(640px,90%);font:14px monospace;padding:4px 6px}
#lc-filter.lc-bad{outline:2px solid #c33}
#lc-shown{margin-left:10px;font-size:13px;color:#555}
#lc-error{color:#c33;font-size:13px;margin-left:10px}
.lc-legend{font-size:13px;margin-top:6px}
main{padding:0 20px 30px}
.lc-ex{background:#fff;border:1px solid #ddd;border-radius:6px;margin:12px 0;padding:10px 14px}
.lc-ex[hidden]{display:none}
.lc-head{font-size:12px;color:#666;margin-bottom:6px}
.lc-msg{display:grid;grid-template-columns:96px 1fr;gap:8px;padding:3px 0;border-top:1px dashed #eee}
.lc-role{font-weight:600;font-size:13px;color:#444}
.lc-text{white-space:pre-wrap;word-break:break-word;font:13px/1.45 ui-monospace,monospace}
.lc-trained{background:#d9f5dd;color:#0b5d1e;border-bottom:2px solid #2e9e4a}
.lc-masked{color:#777}
.lc-meta{font:12px monospace;background:#f4f4f4;padding:4px 6px;margin:6px 0 0;white-space:pre-wrap}
.lc-note{font-size:12px;color:#a15c00}
#lc-charts,#lc-manifest{padding:0 20px}
#lc-manifest pre{font:12px monospace;background:#fff;border:1px solid #ddd;padding:8px;overflow:auto}
]]

-- The filter: the same language as --where (lua/lacuna/inspect_where.lua);
-- conditions are separated by && in the box.
local JS = [[
(function () {
  "use strict";
  var lines = JSON.parse(document.getElementById("lc-lines").textContent);
  var box = document.getElementById("lc-filter");
  var shown = document.getElementById("lc-shown");
  var errorEl = document.getElementById("lc-error");
  var OPS = ["!=", "<=", ">=", "=", "<", ">", "~"];
  function parse(text) {
    var s = text.trim(), best = null, negate = false, path, op = null, value;
    OPS.forEach(function (o) {
      var a = s.indexOf(o);
      if (a >= 0 && (!best || a < best.at || (a === best.at && o.length > best.op.length))) best = {at: a, op: o};
    });
    if (best) {
      path = s.slice(0, best.at).trim(); op = best.op; value = s.slice(best.at + op.length).trim();
    } else {
      path = s;
      if (path.charAt(0) === "!") { negate = true; path = path.slice(1).trim(); }
    }
    if (!/^[\w-]+[\w.-]*$/.test(path) || path.indexOf("..") >= 0 || path.slice(-1) === ".")
      throw new Error("'" + path + "' is not a field path (like meta.case)");
    var c = {keys: path.split("."), op: op, negate: negate};
    if (op === "<" || op === "<=" || op === ">" || op === ">=") {
      c.number = Number(value);
      if (value === "" || isNaN(c.number)) throw new Error(op + " needs a number, got '" + value + "'");
    } else if (op) {
      c.values = value.split("|");
    }
    return c;
  }
  function get(obj, keys) {
    var v = obj;
    for (var i = 0; i < keys.length; i++) {
      if (v === null || typeof v !== "object") return undefined;
      var k = keys[i];
      if (Array.isArray(v)) { var n = Number(k); v = Number.isInteger(n) ? v[n - 1] : undefined; }
      else v = v[k];
    }
    return v;
  }
  function textOf(v) {
    if (typeof v === "string") return v;
    if (v === null) return "null";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }
  function test(c, obj) {
    var v = get(obj, c.keys);
    if (!c.op) { var present = v !== undefined && v !== null && v !== false; return present !== c.negate; }
    if (c.number !== undefined) {
      if (typeof v !== "number") return false;
      return c.op === "<" ? v < c.number : c.op === "<=" ? v <= c.number : c.op === ">" ? v > c.number : v >= c.number;
    }
    if (v === undefined) return c.op === "!=";
    var any = c.values.some(function (w) {
      if (c.op === "~") return textOf(v).indexOf(w) >= 0;
      if (typeof v === "number" && w !== "" && !isNaN(Number(w))) return v === Number(w);
      return textOf(v) === w;
    });
    return c.op === "!=" ? !any : any;
  }
  function apply() {
    var conds;
    try {
      conds = box.value.split("&&").filter(function (t) { return t.trim() !== ""; }).map(parse);
      box.classList.remove("lc-bad"); errorEl.textContent = "";
    } catch (e) {
      box.classList.add("lc-bad"); errorEl.textContent = e.message; return;
    }
    var n = 0;
    document.querySelectorAll(".lc-ex").forEach(function (el) {
      var obj = lines[Number(el.getAttribute("data-index"))];
      var ok = conds.every(function (c) { return test(c, obj); });
      el.hidden = !ok;
      if (ok) n++;
    });
    shown.textContent = n + " of " + lines.length + " shown";
  }
  var m = /[#&]where=([^&]*)/.exec(location.hash);
  if (m) box.value = decodeURIComponent(m[1]);
  box.addEventListener("input", apply);
  var manifest = document.getElementById("lc-manifest-json");
  if (manifest) {
    document.getElementById("lc-manifest-text").textContent =
      JSON.stringify(JSON.parse(manifest.textContent), null, 2);
  }
  apply();
})();
]]

local function example_html(i, it, path)
  local c = it.conv
  local out = { string.format('<article class="lc-ex" data-index="%d" data-line="%d">', i - 1, it.line) }
  local trained, masked = require("lacuna.inspect_conv").counts(c)
  out[#out + 1] = string.format('<div class="lc-head">%s:%d · %s · %d characters trained, %d masked</div>',
    esc(path), it.line, esc(c.format), trained, masked)
  if c.note then out[#out + 1] = '<div class="lc-note">' .. esc(c.note) .. "</div>" end
  for _, msg in ipairs(c.messages) do
    local spans = {}
    for _, p in ipairs(msg.parts) do
      spans[#spans + 1] = string.format('<span class="%s">%s</span>', p.train and "lc-trained" or "lc-masked",
        esc(p.text))
    end
    out[#out + 1] = string.format('<div class="lc-msg" data-role="%s"><div class="lc-role">%s</div>' ..
      '<div class="lc-text">%s</div></div>', esc(msg.role), esc(msg.role), table.concat(spans))
  end
  if c.meta then
    local ok, text = pcall(json.encode, c.meta)
    out[#out + 1] = '<pre class="lc-meta">meta ' .. esc(ok and text or "?") .. "</pre>"
  end
  out[#out + 1] = "</article>"
  return table.concat(out, "\n")
end

-- Suggestions for the filter box: meta.KEY=VALUE for the scalar metadata
-- of the examples on the page, at most 12 values a key, 200 in all.
local function suggestions(items)
  local seen, list, per_key = {}, {}, {}
  for _, it in ipairs(items) do
    local meta = it.conv.meta
    if type(meta) == "table" then
      for k, v in pairs(meta) do
        local t = type(v)
        if type(k) == "string" and (t == "string" or t == "number" or t == "boolean") and #list < 200 then
          local text = "meta." .. k .. "=" .. tostring(v)
          if not seen[text] and (per_key[k] or 0) < 12 and not text:find("[|&]") then
            seen[text], per_key[k] = true, (per_key[k] or 0) + 1
            list[#list + 1] = text
          end
        end
      end
    end
  end
  table.sort(list)
  local out = {}
  for i, text in ipairs(list) do out[i] = '<option value="' .. esc(text) .. '">' end
  return '<datalist id="lc-suggest">' .. table.concat(out) .. "</datalist>"
end

-- The page for a selection of inspect.select.
function M.page(sel)
  local parts = {}
  local function add(s) parts[#parts + 1] = s end
  add("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
  add("<title>lacuna inspect " .. esc(sel.path) .. "</title>")
  add("<style>" .. CSS .. "</style></head><body>")
  add("<header><h1>lacuna inspect " .. esc(sel.path) .. "</h1>")
  add('<label>filter <input id="lc-filter" type="text" spellcheck="false" list="lc-suggest" ' ..
    'placeholder="meta.case=bad &amp;&amp; meta.n&gt;=3   (PATH OP VALUE: = != &lt; &lt;= &gt; &gt;= ~; a|b; !PATH)">' ..
    '</label><span id="lc-shown"></span><span id="lc-error"></span>')
  add(suggestions(sel.items))
  add(string.format('<div class="lc-legend"><span class="lc-trained">trained</span> / ' ..
    '<span class="lc-masked">masked</span> · %d lines in the file, %d matching%s, %d on this page</div></header>',
    sel.lines, sel.matched, sel.bad > 0 and string.format(" (%d malformed)", sel.bad) or "", #sel.items))
  add("<main>")
  local objs = {}
  for i, it in ipairs(sel.items) do
    objs[i] = it.obj
    add(example_html(i, it, sel.path))
  end
  add("</main>")
  add('<h2>Statistics of the whole file</h2><div id="lc-charts">')
  local s = stats.collect(sel.path, {})
  if s then
    add((stats_svg.render(s):gsub("^<%?xml[^\n]*\n", "")))
  else
    add("<p>no statistics</p>")
  end
  add("</div>")
  add('<h2>Manifest</h2><div id="lc-manifest">')
  if sel.manifest then
    add("<p>" .. esc(sel.manifest_path) .. "</p>")
    -- the file's own text, so the page shows its key order
    local text = sel.manifest_text:gsub("%s+$", "")
    add('<pre id="lc-manifest-text">' .. esc(text) .. "</pre>")
    add('<script type="application/json" id="lc-manifest-json">' ..
      script_json(text) .. "</script>")
  else
    add("<p>no manifest at " .. esc(sel.manifest_path) .. "</p>")
  end
  add("</div>")
  add('<script type="application/json" id="lc-lines">' .. script_json(json.encode(json.array(objs))) .. "</script>")
  add("<script>" .. JS .. "</script>")
  add("</body></html>\n")
  return table.concat(parts, "\n")
end

return M
