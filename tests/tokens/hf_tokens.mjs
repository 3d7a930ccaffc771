// An independent reference for `--format tokens`: renders each case with
// @huggingface/jinja (the model's chat template from tokenizer_config.json),
// encodes it with Hugging Face tokenizers (native binding), and computes the
// labels itself from character masks and the tokenizer's character offsets:
// a token is trained when every character it covers is trained; the first
// special token after a trained assistant turn is trained too.
//   node hf_tokens.mjs MODEL_DIR CASES.jsonl OUT.jsonl
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { npmDir, loadBinding } from '../tokenizer/hf_dump.mjs';

const [dir, casesPath, outPath] = process.argv.slice(2);
const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
const tokJson = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
const specialIds = new Set(tokJson.added_tokens.filter((t) => t.special).map((t) => t.id));
const tokenText = (v) => (typeof v === 'string' ? v : v && v.content) || '';

const jinjaDir = path.join(npmDir(), 'node_modules', '@huggingface', 'jinja');
const pkg = JSON.parse(fs.readFileSync(path.join(jinjaDir, 'package.json'), 'utf8'));
const entry = (pkg.exports && pkg.exports['.'] && (pkg.exports['.'].import || pkg.exports['.'].default)) || pkg.module || pkg.main;
const { Template } = await import(pathToFileURL(path.join(jinjaDir, typeof entry === 'string' ? entry : entry.default)).href);
let source = cfg.chat_template;
if (Array.isArray(source)) source = source.find((t) => t.name === 'default').template;
const template = new Template(source);
const { Tokenizer } = loadBinding();
const tokenizer = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));

const cps = (s) => Array.from(s);
const out = [];
for (const line of fs.readFileSync(casesPath, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  const msgs = [];
  const masks = []; // per message: per code point, trained?
  for (const m of c.messages) {
    const parts = m.parts || [{ text: m.content, train: m.train !== undefined ? m.train : m.role === 'assistant' }];
    let content = '';
    const mask = [];
    for (const p of parts) {
      content += p.text;
      for (let i = 0; i < cps(p.text).length; i++) mask.push(!!p.train);
    }
    msgs.push({ role: m.role, content });
    masks.push(mask);
  }
  const text = template.render({
    messages: msgs, add_generation_prompt: false,
    bos_token: tokenText(cfg.bos_token), eos_token: tokenText(cfg.eos_token),
  });
  const chars = cps(text);
  const textMask = new Array(chars.length).fill(false);
  // Place each content in the rendered text, in order (trimmed if the template trims).
  const places = [];
  let from = 0; // UTF-16 index
  msgs.forEach((m, i) => {
    let matched = m.content;
    let at = text.indexOf(matched, from);
    let lead = 0;
    if (at < 0 || m.content === '') {
      matched = m.content.trim();
      lead = cps(m.content.slice(0, m.content.length - m.content.trimStart().length)).length;
      at = matched === '' ? from : text.indexOf(matched, from);
      if (at < 0) throw new Error(`message ${i + 1} not found in the rendered text`);
    }
    const len = cps(matched).length;
    const startCp = cps(text.slice(0, at)).length;
    for (let k = 0; k < len; k++) if (masks[i][k + lead]) textMask[startCp + k] = true;
    places.push({ startCp, endCp: startCp + len, lastTrained: masks[i].length > 0 && masks[i][masks[i].length - 1] });
    from = at + matched.length;
  });
  const [enc] = await tokenizer.encodeBatch([text], { addSpecialTokens: false });
  const ids = enc.getIds();
  const offsets = enc.getOffsets();
  const labels = ids.map((id, t) => {
    const [s, e] = offsets[t];
    if (e <= s) return -100;
    for (let k = s; k < e; k++) if (!textMask[k]) return -100;
    return id;
  });
  msgs.forEach((m, i) => {
    if (m.role !== 'assistant' || !places[i].lastTrained) return;
    const after = places[i].endCp;
    const before = i + 1 < places.length ? places[i + 1].startCp : chars.length;
    for (let t = 0; t < ids.length; t++) {
      const s = offsets[t][0];
      if (s >= after && s < before && specialIds.has(ids[t])) { labels[t] = ids[t]; break; }
    }
  });
  out.push(JSON.stringify({ input_ids: Array.from(ids), labels }));
}
fs.writeFileSync(outPath, out.join('\n') + '\n');
