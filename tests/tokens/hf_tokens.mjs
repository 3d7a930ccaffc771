// An independent reference for `--format tokens`, the tokenizing half:
// render_ref.py renders each case with Python's Jinja2 as transformers does
// and places every message by rendering differences (never by searching the
// text); this encodes the text with Hugging Face tokenizers (native binding)
// and computes the labels from the character masks and HF's own offsets:
//   * a token is trained when every character it covers is trained; one that
//     covers trained and untrained characters straddles a boundary (counted);
//   * the first special token after a trained assistant turn, before the
//     next printed content, is trained too.
// lacuna places by a sentinel render and exact frame matching instead
// (lua/lacuna/tokens.lua); the two must agree token for token.
//   node hf_tokens.mjs TOKENIZER_DIR RENDERED.jsonl OUT.jsonl
// Writes one line per case: {"id", "input_ids", "labels", "straddling"}, or
// {"id", "error"} passed through from render_ref.py, or when no token is
// trained (phi-3's "." answer merges with the "<|end|>" text after it).
import fs from 'node:fs';
import path from 'node:path';
import { loadBinding } from '../tokenizer/hf_dump.mjs';

const [dir, renderedPath, outPath] = process.argv.slice(2);
const tokJson = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
const specialIds = new Set(tokJson.added_tokens.filter((t) => t.special).map((t) => t.id));
const { Tokenizer } = loadBinding();
const tokenizer = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));

const out = [];
for (const line of fs.readFileSync(renderedPath, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  if (c.error !== undefined) {
    out.push(JSON.stringify({ id: c.id, error: c.error }));
    continue;
  }
  const text = c.text;
  const textMask = new Array(Array.from(text).length).fill(false);
  for (const p of c.places) {
    for (let k = p.start; k < p.end; k++) if (p.train[k - p.start + p.lead]) textMask[k] = true;
  }
  const [enc] = await tokenizer.encodeBatch([text], { addSpecialTokens: false });
  const ids = enc.getIds();
  const offsets = enc.getOffsets();
  let straddling = 0;
  const labels = ids.map((id, t) => {
    const [s, e] = offsets[t];
    if (e <= s) return -100;
    let n = 0;
    for (let k = s; k < e; k++) if (textMask[k]) n++;
    if (n > 0 && n < e - s) straddling++;
    return n === e - s ? id : -100;
  });
  for (const p of c.places) {
    if (c.roles[p.msg] !== 'assistant' || p.train.length === 0 || !p.train[p.train.length - 1]) continue;
    const next = c.places.map((q) => q.start).filter((s) => s >= p.end && s > p.start).sort((a, b) => a - b)[0];
    const before = next === undefined ? Infinity : next;
    for (let t = 0; t < ids.length; t++) {
      const s = offsets[t][0];
      if (s >= p.end && s < before && specialIds.has(ids[t])) { labels[t] = ids[t]; break; }
    }
  }
  // an example without a trained token teaches nothing: lacuna fails it
  if (labels.every((l) => l === -100)) {
    out.push(JSON.stringify({ id: c.id, error: 'no token of this example is trained after tokenization' }));
    continue;
  }
  out.push(JSON.stringify({ id: c.id, input_ids: Array.from(ids), labels, straddling }));
}
fs.writeFileSync(outPath, out.join('\n') + '\n');
