// Reference renderer for the chat-template conformance test: renders each
// job with @huggingface/jinja and writes the results as JSON.
//
//   node render_ref.mjs NPM_PREFIX JOBS.json OUT.json
//
// JOBS.json: [{ "id": ..., "template": "...", "vars": {...} }]
// OUT.json:  [{ "id": ..., "ok": "rendered text" } | { "id": ..., "err": "message" }]
//
// Object keys in vars are sorted (recursively) before rendering: the Lua side
// receives JSON-decoded tables, whose key order is sorted, so both engines see
// the same dict order (it shows in `tools | tojson`).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [prefix, jobsPath, outPath] = process.argv.slice(2);
if (!prefix || !jobsPath || !outPath) {
  console.error("usage: node render_ref.mjs NPM_PREFIX JOBS.json OUT.json");
  process.exit(2);
}
const pkgDir = path.join(prefix, "node_modules", "@huggingface", "jinja");
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8"));
const entry = (pkg.exports && pkg.exports["."] && (pkg.exports["."].import || pkg.exports["."].default)) || pkg.module || pkg.main;
const { Template } = await import(pathToFileURL(path.join(pkgDir, typeof entry === "string" ? entry : entry.default)).href);

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
    return out;
  }
  return v;
}

const jobs = JSON.parse(fs.readFileSync(jobsPath, "utf8"));
const cache = new Map();
const results = jobs.map((job) => {
  try {
    let tpl = cache.get(job.template);
    if (!tpl) {
      tpl = new Template(job.template);
      cache.set(job.template, tpl);
    }
    return { id: job.id, ok: tpl.render(sortKeys(job.vars)) };
  } catch (e) {
    return { id: job.id, err: String(e && e.message ? e.message : e) };
  }
});
fs.writeFileSync(outPath, JSON.stringify({ version: pkg.version, results }));
